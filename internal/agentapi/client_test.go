package agentapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestListRefusesAnOversizedDesiredState: the agent reads at most
// MaxDesiredStateBytes of a desired state, whatever the server sends.
func TestListRefusesAnOversizedDesiredState(t *testing.T) {
	size := MaxDesiredStateBytes
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("ETag", `"1"`)
		_, _ = io.WriteString(w, `{"revision":1,"configurations":[],"padding":"`)
		_, _ = io.Copy(w, io.LimitReader(zeros{}, int64(size)))
		_, _ = io.WriteString(w, `"}`)
	}))
	defer ts.Close()
	c := &Client{BaseURL: ts.URL, ClusterID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/c", Token: "t"}
	_, _, _, err := c.List(context.Background(), "", 0)
	if err == nil || !strings.Contains(err.Error(), "larger than 64 MiB") {
		t.Fatalf("error = %v, want the size refused", err)
	}

	size = 1 << 10 // a normal answer still decodes
	state, etag, _, err := c.List(context.Background(), "", 0)
	if err != nil || state.Revision != 1 || etag != `"1"` {
		t.Fatalf("a small desired state: %+v %q %v", state, etag, err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// TestTokenFileIsReadAgainWhenItChanges: a token written over the file is
// used from the next request on, without a restart.
func TestTokenFileIsReadAgainWhenItChanges(t *testing.T) {
	var seen []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer ts.Close()
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Client{BaseURL: ts.URL, ClusterID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/c", TokenFile: file}
	ctx := context.Background()
	if err := c.ConfirmDeleted(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfirmDeleted(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	// A regenerated token, written as Kubernetes updates a Secret volume:
	// a new file renamed over the old one.
	next := file + ".new"
	if err := os.WriteFile(next, []byte("second-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, file); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfirmDeleted(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	want := []string{"Bearer first", "Bearer first", "Bearer second-token"}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("tokens sent = %q, want %q", seen, want)
	}
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfirmDeleted(ctx, "x"); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("an emptied token file: %v", err)
	}
}

// TestFailover: with several replicas the client keeps to one while it
// answers, moves on when it cannot be reached or is unavailable, and
// comes around to the first again.
func TestFailover(t *testing.T) {
	replica := func(name string, status *int) *httptest.Server {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if *status != http.StatusOK {
				w.WriteHeader(*status)
				return
			}
			w.Header().Set("ETag", `"1"`)
			_, _ = io.WriteString(w, `{"revision":1,"configurations":[{"name":"`+name+`","generation":1,"properties":{}}]}`)
		}))
		t.Cleanup(ts.Close)
		return ts
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // nothing listens there any more
	okB, okC := http.StatusOK, http.StatusOK
	b, c := replica("b", &okB), replica("c", &okC)
	cl := &Client{BaseURLs: []string{gone.URL, b.URL, c.URL}, ClusterID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/c", Token: "t"}
	list := func() (string, error) {
		st, _, _, err := cl.List(context.Background(), "", 0)
		if err != nil {
			return "", err
		}
		return st.Configurations[0].Name, nil
	}
	steps := []struct {
		before  func()
		want    string // the replica that answers; "" for an error
		current string
	}{
		{nil, "", b.URL},  // the first is gone: an error, and the next one in use
		{nil, "b", b.URL}, // b answers, and stays in use
		{nil, "b", b.URL}, //
		{func() { okB = http.StatusServiceUnavailable }, "", c.URL}, // b is unavailable: c next
		{nil, "c", c.URL}, //
		{func() { okC = http.StatusBadGateway }, "", gone.URL}, // around again
	}
	for i, s := range steps {
		if s.before != nil {
			s.before()
		}
		got, err := list()
		if (s.want == "") != (err != nil) || got != s.want || cl.Current() != s.current {
			t.Fatalf("step %d: answered by %q (%v), now using %s; want %q, then %s", i, got, err, cl.Current(), s.want, s.current)
		}
	}
}
