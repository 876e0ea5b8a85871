package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armclient"
	"github.com/arcgitops/arcgitops/internal/dataplane/dataplanetest"
)

// TestRunLoad runs the load process's agents against the real data plane,
// in-process, for a short window: every agent long-polls and reports, and
// no request fails.
func TestRunLoad(t *testing.T) {
	srv := dataplanetest.New(t)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	c := &armclient.Client{BaseURL: ts.URL, APIVersion: arm.FluxConfigAPIVersion, Token: dataplanetest.OwnerTokens(t, srv, ts.URL, ts.Client())}

	var lines []string
	for i := 0; i < 3; i++ {
		cluster := clusterPath(fmt.Sprintf("load-%d", i))
		var out struct {
			Properties struct {
				AgentToken string `json:"agentToken"`
			} `json:"properties"`
		}
		if _, err := c.Put(context.Background(), cluster, map[string]any{"location": "bench"}, &out); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Put(context.Background(), arm.FluxConfigID(cluster, "fleet"), armConfig("fleet"), nil); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, cluster+" "+out.Properties.AgentToken+" fleet")
	}
	agentsFile := filepath.Join(t.TempDir(), "agents")
	if err := os.WriteFile(agentsFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	res, err := runLoad(ts.URL, agentsFile, 3, 300*time.Millisecond, time.Second, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.FirstError != "" {
		t.Errorf("%d requests failed, the first with %q", res.Errors, res.FirstError)
	}
	// Three agents, each reporting about three times and long-polling
	// about three times in one second.
	if res.Requests < 9 || res.StatusP99 <= 0 {
		t.Errorf("requests %d, status p99 %.1f ms: the agents did not run", res.Requests, res.StatusP99)
	}
	if _, err := runLoad(ts.URL, agentsFile, 4, time.Second, time.Second, "127.0.0.1"); err == nil {
		t.Error("asking for more agents than the file has is not an error")
	}
}
