package agentapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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
