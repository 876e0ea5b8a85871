package armclient

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcgitops/arcgitops/internal/arm"
)

// recorder is a fake ARM endpoint that answers from a table and records
// what it was sent.
type recorder struct {
	mu     sync.Mutex
	sent   []string // method path?query
	bodies []string
	answer func(w http.ResponseWriter, r *http.Request)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.sent = append(rec.sent, r.Method+" "+r.URL.RequestURI())
	b, _ := io.ReadAll(r.Body)
	rec.bodies = append(rec.bodies, r.Header.Get("Content-Type")+" "+string(b))
	rec.mu.Unlock()
	rec.answer(w, r)
}

func newClient(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{answer: answer}
	ts := httptest.NewServer(rec)
	t.Cleanup(ts.Close)
	return &Client{BaseURL: ts.URL + "/", APIVersion: arm.FluxConfigAPIVersion, PollInterval: time.Millisecond}, rec
}

func TestDoAddsAPIVersionAndDecodes(t *testing.T) {
	ctx := context.Background()
	c, rec := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"name":"x"}`))
	})
	cases := []struct {
		path string
		body any
		want string // the request line sent
	}{
		{"/subscriptions/s/x", nil, "GET /subscriptions/s/x?api-version=" + arm.FluxConfigAPIVersion},
		{"/subscriptions/s/x?api-version=2022-03-01", nil, "GET /subscriptions/s/x?api-version=2022-03-01"},
		{"/subscriptions/s/x?forceDelete=true", nil, "GET /subscriptions/s/x?forceDelete=true&api-version=" + arm.FluxConfigAPIVersion},
		{"http://elsewhere.example/subscriptions/s/y?$skipToken=b&api-version=2024-11-01", nil, "GET /subscriptions/s/y?$skipToken=b&api-version=2024-11-01"},
	}
	for _, tc := range cases {
		var out struct{ Name string }
		if _, err := c.Get(ctx, tc.path, &out); err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if out.Name != "x" {
			t.Errorf("%s: decoded %+v", tc.path, out)
		}
		if got := rec.sent[len(rec.sent)-1]; got != tc.want {
			t.Errorf("%s: sent %q, want %q", tc.path, got, tc.want)
		}
	}

	// Without an APIVersion, paths go as they are.
	plain := *c
	plain.APIVersion = ""
	if _, err := plain.Get(ctx, "/healthz", nil); err != nil {
		t.Fatal(err)
	}
	if got := rec.sent[len(rec.sent)-1]; got != "GET /healthz" {
		t.Errorf("sent %q, want GET /healthz", got)
	}

	// Bodies: values as JSON, raw bytes as they are, always as JSON.
	if _, err := c.Put(ctx, "/a", map[string]int{"n": 1}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Patch(ctx, "/a", []byte(`{"raw": true}`), nil); err != nil {
		t.Fatal(err)
	}
	want := []string{`application/json {"n":1}`, `application/json {"raw": true}`}
	if got := rec.bodies[len(rec.bodies)-2:]; got[0] != want[0] || got[1] != want[1] {
		t.Errorf("bodies sent = %q, want %q", got, want)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name     string
		status   int
		body     string
		wantErr  string
		notFound bool
	}{
		{"ARM error body", 400, `{"error":{"code":"InvalidParameter","message":"properties.scope: bad"}}`, "(InvalidParameter) properties.scope: bad", false},
		{"not found", 404, `{"error":{"code":"ResourceNotFound","message":"gone"}}`, "(ResourceNotFound) gone", true},
		{"no body", 502, ``, "the server answered 502 Bad Gateway", false},
		{"success that is not JSON", 200, `<html>`, "is not the expected JSON", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newClient(t, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			var out map[string]any
			resp, err := c.Get(ctx, "/x", &out)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Errorf("the response is not returned with the error: %+v", resp)
			}
			if IsNotFound(err) != tc.notFound {
				t.Errorf("IsNotFound = %v, want %v", IsNotFound(err), tc.notFound)
			}
		})
	}

	// A server that cannot be reached is an error without a response.
	c := &Client{BaseURL: "http://127.0.0.1:1"}
	if resp, err := c.Get(ctx, "/x", nil); err == nil || resp != nil {
		t.Errorf("unreachable server: resp %v, err %v", resp, err)
	}
	if _, err := (&Client{BaseURL: "not a url"}).Get(ctx, "/x", nil); err == nil {
		t.Error("a BaseURL that is not a URL is accepted")
	}
}

func TestListFollowsNextLink(t *testing.T) {
	c, rec := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("$skipToken") {
		case "":
			_, _ = w.Write([]byte(`{"value":[{"name":"a"},{"name":"b"}],"nextLink":"http://other.host/list?api-version=2024-11-01&$skipToken=b"}`))
		case "b":
			_, _ = w.Write([]byte(`{"value":[{"name":"c"}]}`))
		}
	})
	items, err := List[struct{ Name string }](context.Background(), c, "/list")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, it := range items {
		names = append(names, it.Name)
	}
	if strings.Join(names, ",") != "a,b,c" || len(rec.sent) != 2 {
		t.Errorf("listed %v in %d requests (%v), want a,b,c in 2", names, len(rec.sent), rec.sent)
	}
}

func TestWait(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		// polls answers the n-th poll (from 1).
		polls     func(n int, w http.ResponseWriter)
		header    string // the header the operation starts with
		wantPolls int
		wantErr   string
	}{
		{"async operation succeeds", func(n int, w http.ResponseWriter) {
			st := arm.OperationInProgress
			if n == 3 {
				st = arm.OperationSucceeded
			}
			_ = json.NewEncoder(w).Encode(Operation{Status: st})
		}, "Azure-AsyncOperation", 3, ""},
		{"async operation fails with its error", func(n int, w http.ResponseWriter) {
			_ = json.NewEncoder(w).Encode(Operation{Status: arm.OperationFailed, Error: &arm.ErrorDetail{Code: "DeployFailed", Message: "no"}})
		}, "Azure-AsyncOperation", 1, "(DeployFailed) no"},
		{"async operation canceled", func(n int, w http.ResponseWriter) {
			_ = json.NewEncoder(w).Encode(Operation{Status: arm.OperationCanceled})
		}, "Azure-AsyncOperation", 1, "the operation canceled"},
		{"location: 202 until done", func(n int, w http.ResponseWriter) {
			if n < 2 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusAccepted)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}, "Location", 2, ""},
		{"location ends in an error", func(n int, w http.ResponseWriter) {
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":{"code":"Conflict","message":"busy"}}`))
		}, "Location", 1, "(Conflict) busy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			polls := 0
			c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodDelete {
					w.Header().Set(tc.header, "/operations/1")
					w.WriteHeader(http.StatusAccepted)
					return
				}
				mu.Lock()
				polls++
				n := polls
				mu.Unlock()
				tc.polls(n, w)
			})
			resp, err := c.Delete(ctx, "/thing")
			if err != nil || !IsLongRunning(resp) {
				t.Fatalf("delete: %v, long-running %v", err, IsLongRunning(resp))
			}
			_, err = c.Wait(ctx, resp)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Wait error = %v, want %q", err, tc.wantErr)
			}
			if polls != tc.wantPolls {
				t.Errorf("polled %d times, want %d", polls, tc.wantPolls)
			}
		})
	}

	// Wait stops with its context.
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/operations/1")
		w.WriteHeader(http.StatusAccepted)
	})
	resp, _ := c.Delete(ctx, "/thing")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.Wait(short, resp); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait past its context = %v, want deadline exceeded", err)
	}
	// A plain answer is no operation.
	if IsLongRunning(&Response{StatusCode: http.StatusOK, Header: http.Header{"Location": {"/x"}}}) {
		t.Error("a 200 is taken for a long-running operation")
	}
}
