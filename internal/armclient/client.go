// Package armclient is the one small typed client of an ARM-shaped endpoint
// that this project's CLI, bench and tests use: a context on every request,
// the api-version added when the path has none, ARM error bodies decoded into
// *Error, nextLink paging and long-running operation polling.
//
// The agent speaks another protocol to the data plane, with its own client
// (internal/agentapi).
package armclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/arcgitops/arcgitops/internal/arm"
)

// MaxResponseBytes caps the body of one answer.
const MaxResponseBytes = 64 << 20

// Client sends ARM requests to one endpoint.
type Client struct {
	// BaseURL is the endpoint, e.g. https://management.azure.com or the data
	// plane's URL.
	BaseURL string
	// APIVersion is added to paths that carry no api-version; when empty,
	// paths are sent as they are.
	APIVersion string
	// HTTP is the client (http.DefaultClient when nil).
	HTTP *http.Client
	// Token, when set, signs every request in with its access token
	// (Authorization: Bearer), unless the request has an Authorization
	// header of its own.
	Token oauth2.TokenSource
	// PollInterval is the wait between polls of a long-running operation
	// when the server sends no Retry-After (1s when zero).
	PollInterval time.Duration
}

// Request is one ARM request.
type Request struct {
	Method string
	// Path is the path and query, relative to BaseURL; an absolute URL (a
	// nextLink, a Location) is sent to BaseURL with its path and query.
	Path string
	// Body is nil (no body), []byte or json.RawMessage (sent as is), or any
	// other value, sent as JSON.
	Body any
	// Header is added to the request; a Host in it sets the request's Host
	// (which net/http otherwise takes from the URL).
	Header http.Header
}

// Response is an answer: its status, headers and body.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Error is an ARM error answer (status 400 or more).
type Error struct {
	StatusCode int
	Code       string
	Message    string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("the server answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("(%s) %s", e.Code, e.Message)
}

// IsNotFound reports whether err is an ARM 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// SignInError is a failure to get an access token.
type SignInError struct{ Err error }

func (e *SignInError) Error() string {
	var re *oauth2.RetrieveError
	if errors.As(e.Err, &re) {
		msg := re.ErrorDescription
		if msg == "" {
			msg = http.StatusText(re.Response.StatusCode)
		}
		return fmt.Sprintf("sign-in failed (%s): %s", re.ErrorCode, msg)
	}
	return "sign-in failed: " + e.Err.Error()
}

func (e *SignInError) Unwrap() error { return e.Err }

// ClientCredentials signs in as a service principal at an OAuth 2 token
// endpoint (the data plane's /adfs/oauth2/token, or Entra ID's), asking
// for audience's default scope as az does, and keeps the token until
// shortly before it expires. hc sends the token requests.
func ClientCredentials(tokenURL, clientID, secret, audience string, hc *http.Client) oauth2.TokenSource {
	cfg := clientcredentials.Config{
		ClientID: clientID, ClientSecret: secret, TokenURL: tokenURL,
		Scopes:    []string{strings.TrimSuffix(audience, "/") + "/.default"},
		AuthStyle: oauth2.AuthStyleInParams,
	}
	ctx := context.Background()
	if hc != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	}
	return cfg.TokenSource(ctx)
}

// Do sends req. The Response is returned whenever the server answered, with
// an *Error for a status of 400 or more; out (when not nil) receives the
// JSON body of a successful answer.
func (c *Client) Do(ctx context.Context, req Request, out any) (*Response, error) {
	u, err := c.url(req.Path)
	if err != nil {
		return nil, err
	}
	var body io.Reader
	switch b := req.Body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case json.RawMessage:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("failed to encode the request body: %w", err)
		}
		body = bytes.NewReader(raw)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, u, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hreq.Header.Add(k, v)
		}
	}
	if h := req.Header.Get("Host"); h != "" {
		hreq.Host = h
	}
	if c.Token != nil && hreq.Header.Get("Authorization") == "" {
		tok, err := c.Token.Token()
		if err != nil {
			return nil, &SignInError{Err: err}
		}
		hreq.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	}
	if body != nil && hreq.Header.Get("Content-Type") == "" {
		hreq.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	hresp, err := hc.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer hresp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(hresp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read the answer to %s %s: %w", req.Method, req.Path, err)
	}
	if len(raw) > MaxResponseBytes {
		return nil, fmt.Errorf("the answer to %s %s is larger than %d bytes", req.Method, req.Path, MaxResponseBytes)
	}
	resp := &Response{StatusCode: hresp.StatusCode, Header: hresp.Header, Body: raw}
	if resp.StatusCode >= http.StatusBadRequest {
		var e arm.ErrorResponse
		_ = json.Unmarshal(raw, &e)
		return resp, &Error{StatusCode: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp, fmt.Errorf("the answer to %s %s is not the expected JSON: %w", req.Method, req.Path, err)
		}
	}
	return resp, nil
}

// Get sends a GET.
func (c *Client) Get(ctx context.Context, path string, out any) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodGet, Path: path}, out)
}

// Put sends a PUT with body.
func (c *Client) Put(ctx context.Context, path string, body, out any) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodPut, Path: path, Body: body}, out)
}

// Patch sends a PATCH with body.
func (c *Client) Patch(ctx context.Context, path string, body, out any) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodPatch, Path: path, Body: body}, out)
}

// Delete sends a DELETE.
func (c *Client) Delete(ctx context.Context, path string) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodDelete, Path: path}, nil)
}

// List gets every item of a collection, following nextLink.
func List[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	items := []T{}
	for next := path; next != ""; {
		var page struct {
			Value    []T    `json:"value"`
			NextLink string `json:"nextLink"`
		}
		if _, err := c.Get(ctx, next, &page); err != nil {
			return nil, err
		}
		items = append(items, page.Value...)
		next = page.NextLink
	}
	return items, nil
}

// url resolves a path, or an absolute URL's path and query, against
// BaseURL, adding the api-version when the query has none.
func (c *Client) url(path string) (string, error) {
	if u, err := url.Parse(path); err == nil && u.IsAbs() {
		path = u.RequestURI()
	}
	base, err := url.Parse(strings.TrimSuffix(c.BaseURL, "/"))
	if err != nil || base.Host == "" {
		return "", fmt.Errorf("the ARM endpoint %q is not a URL", c.BaseURL)
	}
	ref, err := url.Parse(path)
	if err != nil {
		return "", fmt.Errorf("the path %q is not valid: %w", path, err)
	}
	if c.APIVersion != "" && ref.Query().Get("api-version") == "" {
		// Appended, so that the query keeps the caller's order.
		if ref.RawQuery != "" {
			ref.RawQuery += "&"
		}
		ref.RawQuery += "api-version=" + url.QueryEscape(c.APIVersion)
	}
	u := base.Scheme + "://" + base.Host + base.Path + ref.EscapedPath()
	if ref.RawQuery != "" {
		u += "?" + ref.RawQuery
	}
	return u, nil
}

// Operation is the body of an Azure-AsyncOperation status resource.
type Operation = arm.OperationStatus

// IsLongRunning reports whether resp starts a long-running operation: a 201
// or 202 with an Azure-AsyncOperation or Location header.
func IsLongRunning(resp *Response) bool {
	if resp == nil || (resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusAccepted) {
		return false
	}
	return resp.Header.Get("Azure-AsyncOperation") != "" || resp.Header.Get("Location") != ""
}

// Wait polls the long-running operation that resp started until it ends,
// as ARM documents: the Azure-AsyncOperation URL until its status is
// terminal (Failed and Canceled become an *Error), else the Location URL
// while it answers 202. It honours Retry-After and ctx, and returns the
// last answer. A resp that started no operation is returned as is.
func (c *Client) Wait(ctx context.Context, resp *Response) (*Response, error) {
	if !IsLongRunning(resp) {
		return resp, nil
	}
	if op := resp.Header.Get("Azure-AsyncOperation"); op != "" {
		return c.waitAsyncOperation(ctx, op, resp)
	}
	loc := resp.Header.Get("Location")
	for resp.StatusCode == http.StatusAccepted {
		if err := c.sleep(ctx, resp); err != nil {
			return resp, err
		}
		next, err := c.Get(ctx, loc, nil)
		if err != nil {
			return next, err
		}
		if l := next.Header.Get("Location"); l != "" {
			loc = l
		}
		resp = next
	}
	return resp, nil
}

func (c *Client) waitAsyncOperation(ctx context.Context, op string, resp *Response) (*Response, error) {
	for {
		if err := c.sleep(ctx, resp); err != nil {
			return resp, err
		}
		var st Operation
		next, err := c.Get(ctx, op, &st)
		if err != nil {
			return next, err
		}
		resp = next
		switch st.Status {
		case arm.OperationSucceeded:
			return resp, nil
		case arm.OperationFailed, arm.OperationCanceled:
			e := &Error{StatusCode: resp.StatusCode, Code: "Operation" + st.Status, Message: "the operation " + strings.ToLower(st.Status)}
			if st.Error != nil {
				e.Code, e.Message = st.Error.Code, st.Error.Message
			}
			return resp, e
		case "":
			return resp, fmt.Errorf("the operation status at %s has no status", op)
		}
	}
}

// sleep waits for the Retry-After of resp, or the poll interval.
func (c *Client) sleep(ctx context.Context, resp *Response) error {
	d := c.PollInterval
	if d <= 0 {
		d = time.Second
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		d = time.Duration(s) * time.Second
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
