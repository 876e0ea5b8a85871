package agentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client is the agent's client of the data plane.
type Client struct {
	// BaseURL of the data plane, e.g. https://127.0.0.1:8090.
	BaseURL string
	// BaseURLs, when set, are the data plane's replicas (BaseURL is then
	// unused): the client keeps to one while it answers, and moves to the
	// next when it cannot be reached or answers 502, 503 or 504, so that
	// the agent's retry goes to another replica.
	BaseURLs []string
	// at is the index of the replica in use.
	at atomic.Int32
	// ClusterID is the cluster's ARM resource ID.
	ClusterID string
	// Token is the cluster's agent token, when TokenFile is empty.
	Token string
	// TokenFile holds the token instead: it is read again whenever it
	// changes (a regenerated token written over it, or a Secret volume
	// updated), so the agent needs no restart.
	TokenFile string

	cache tokenCache
	// HTTP is the client to use (a default with timeouts when nil).
	HTTP *http.Client
}

// tokenCache remembers TokenFile's content by size and modification time.
type tokenCache struct {
	mu      sync.Mutex
	token   string
	size    int64
	modTime time.Time
}

// token is Token, or TokenFile's content, read again when the file changed.
func (c *Client) token() (string, error) {
	if c.TokenFile == "" {
		return c.Token, nil
	}
	fi, err := os.Stat(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("failed to read the agent token: %w", err)
	}
	tc := &c.cache
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.token != "" && fi.Size() == tc.size && fi.ModTime().Equal(tc.modTime) {
		return tc.token, nil
	}
	raw, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("failed to read the agent token: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		return "", fmt.Errorf("the agent token file %s is empty", c.TokenFile)
	}
	tc.token, tc.size, tc.modTime = token, fi.Size(), fi.ModTime()
	return token, nil
}

// StatusError is a non-success answer of the data plane.
type StatusError struct {
	StatusCode int
	Code       string
	Message    string
}

func (e *StatusError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("data plane answered %d %s: %s", e.StatusCode, e.Code, e.Message)
	}
	return fmt.Sprintf("data plane answered %d", e.StatusCode)
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: MaxWait + 30*time.Second}
}

// url is the path of the cluster's configurations (or one's parts), to
// which do puts the replica in use in front.
func (c *Client) url(parts ...string) string {
	p := PathPrefix + c.ClusterID + "/fluxConfigurations"
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// Current is the URL of the data plane (replica) in use.
func (c *Client) Current() string {
	if len(c.BaseURLs) == 0 {
		return c.BaseURL
	}
	return c.BaseURLs[int(c.at.Load())%len(c.BaseURLs)]
}

// failover moves to the next replica, if the one that failed (at) is
// still the one in use.
func (c *Client) failover(at int32) {
	if n := len(c.BaseURLs); n > 1 {
		c.at.CompareAndSwap(at, (at+1)%int32(n))
	}
}

func (c *Client) do(ctx context.Context, method, path string, body any, header http.Header) (*http.Response, error) {
	at := c.at.Load()
	base := c.Current()
	u := strings.TrimSuffix(base, "/") + path
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	token, err := c.token()
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http().Do(req)
	if err != nil {
		if ctx.Err() == nil {
			c.failover(at)
		}
		// The URL, not the request (which holds the token), is in the error.
		return nil, fmt.Errorf("failed to reach the data plane at %s: %w", base, unwrapURLError(err))
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		c.failover(at)
	}
	return resp, nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

func statusError(resp *http.Response) error {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(b, &e)
	return &StatusError{StatusCode: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
}

// List returns the desired state. With etag and wait, the data plane holds
// the request until the state changes; notModified is true when it did not.
func (c *Client) List(ctx context.Context, etag string, wait time.Duration) (state *DesiredState, newETag string, notModified bool, err error) {
	u := c.url()
	if wait > 0 {
		u += "?wait=" + url.QueryEscape(wait.String())
	}
	h := http.Header{}
	if etag != "" {
		h.Set("If-None-Match", etag)
	}
	resp, err := c.do(ctx, http.MethodGet, u, nil, h)
	if err != nil {
		return nil, "", false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil, etag, true, nil
	case http.StatusOK:
		raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxDesiredStateBytes+1))
		if err != nil {
			return nil, "", false, fmt.Errorf("failed to read the desired state: %w", err)
		}
		if len(raw) > MaxDesiredStateBytes {
			return nil, "", false, fmt.Errorf("the desired state is larger than %d MiB: the agent refuses it (too many or too large configurations for one cluster)", MaxDesiredStateBytes>>20)
		}
		state = &DesiredState{}
		if err := json.Unmarshal(raw, state); err != nil {
			return nil, "", false, fmt.Errorf("failed to decode the desired state: %w", err)
		}
		return state, resp.Header.Get("ETag"), false, nil
	default:
		return nil, "", false, statusError(resp)
	}
}

func (c *Client) expectNoContent(ctx context.Context, method, u string, body any) error {
	resp, err := c.do(ctx, method, u, body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return statusError(resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// ReportStatus reports the status of configuration name.
func (c *Client) ReportStatus(ctx context.Context, name string, report *StatusReport) error {
	return c.expectNoContent(ctx, http.MethodPut, c.url(name, "status"), report)
}

// Ack acknowledges protected settings version of configuration name.
func (c *Client) Ack(ctx context.Context, name string, version int64) error {
	return c.expectNoContent(ctx, http.MethodPost, c.url(name, "protectedSettings", "ack"), Ack{Version: version})
}

// ConfirmDeleted tells the data plane that the cluster removed configuration name.
func (c *Client) ConfirmDeleted(ctx context.Context, name string) error {
	return c.expectNoContent(ctx, http.MethodPost, c.url(name, "deleted"), nil)
}
