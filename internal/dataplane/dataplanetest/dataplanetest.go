// Package dataplanetest starts the real data plane in-process for the tests
// of its clients (the CLI, the bench's load agents). It is for tests only.
package dataplanetest

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/armclient"
	"github.com/arcgitops/arcgitops/internal/dataplane"
)

// New returns a data plane with its store in a temporary directory and no
// rate limit, closed when the test ends; mutate adjusts its options.
func New(tb testing.TB, mutate ...func(*dataplane.Options)) *dataplane.Server {
	tb.Helper()
	opts := dataplane.DefaultOptions()
	opts.DataDir = tb.TempDir()
	opts.RatePerSecond = 0
	for _, m := range mutate {
		m(&opts)
	}
	srv, err := dataplane.New(opts)
	if err != nil {
		tb.Fatalf("data plane: %v", err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	return srv
}

// TLS serves a new data plane over TLS on a loopback address known before
// it starts, which its issuer names (as clients that follow the issuer's
// metadata need); the server's Client trusts its certificate.
func TLS(tb testing.TB, mutate ...func(*dataplane.Options)) (*httptest.Server, *dataplane.Server) {
	tb.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	ts.Listener = l
	issuer := func(o *dataplane.Options) { o.Issuer = "https://" + l.Addr().String() + "/adfs" }
	srv := New(tb, append([]func(*dataplane.Options){issuer}, mutate...)...)
	ts.Config.Handler = srv.Handler()
	ts.StartTLS()
	tb.Cleanup(ts.Close)
	return ts, srv
}

// Owner reads the credentials of the owner a data plane made in dataDir at
// its first start.
func Owner(tb testing.TB, dataDir string) dataplane.Credentials {
	tb.Helper()
	c, err := dataplane.ReadCredentials(filepath.Join(dataDir, dataplane.OwnerCredentialsFile))
	if err != nil {
		tb.Fatalf("owner credentials: %v", err)
	}
	return c
}

// OwnerTokens signs in as srv's owner at the data plane served at baseURL.
func OwnerTokens(tb testing.TB, srv *dataplane.Server, baseURL string, hc *http.Client) oauth2.TokenSource {
	tb.Helper()
	c := Owner(tb, srv.DataDir())
	return armclient.ClientCredentials(baseURL+"/adfs/oauth2/token", c.AppID, c.Password, dataplane.DefaultAudience, hc)
}

// statusesOf is what the agent reports of a configuration's Flux objects
// once they are ready: its source, named after the configuration, and one
// Kustomization per kustomization, named configuration-kustomization.
func statusesOf(cfg agentapi.Configuration) json.RawMessage {
	var p agentapi.Properties
	if json.Unmarshal(cfg.Properties, &p) != nil {
		return nil
	}
	ready := []v1alpha1.ObjectStatusConditionDefinition{{Type: "Ready", Status: "True", Reason: "Succeeded"}}
	out := []v1alpha1.ObjectStatusDefinition{{Name: cfg.Name, Namespace: p.Namespace, Kind: string(p.SourceKind),
		ComplianceState: v1alpha1.ComplianceCompliant, StatusConditions: ready}}
	for _, k := range slices.Sorted(maps.Keys(p.Kustomizations)) {
		out = append(out, v1alpha1.ObjectStatusDefinition{Name: cfg.Name + "-" + k, Namespace: p.Namespace, Kind: "Kustomization",
			ComplianceState: v1alpha1.ComplianceCompliant, StatusConditions: ready})
	}
	b, _ := json.Marshal(out)
	return b
}

// Agent plays a cluster's agent against the data plane at baseURL until the
// test ends: it long-polls the desired state, reports every configuration's
// generation as applied (Compliant, provisioning Succeeded) and confirms
// deletions, as the agent in a cluster does, so that clients waiting on
// long-running operations see them end. hc sends its requests (nil: a
// default client).
func Agent(tb testing.TB, baseURL, clusterID, token string, hc *http.Client) {
	tb.Helper()
	c := &agentapi.Client{BaseURL: baseURL, ClusterID: clusterID, Token: token, HTTP: hc}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	tb.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		etag := ""
		for ctx.Err() == nil {
			state, next, notModified, err := c.List(ctx, etag, 10*time.Second)
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if notModified {
				continue
			}
			etag = next
			for _, cfg := range state.Configurations {
				if cfg.Deleting {
					err = c.ConfirmDeleted(ctx, cfg.Name)
				} else {
					err = c.ReportStatus(ctx, cfg.Name, &agentapi.StatusReport{Generation: cfg.Generation,
						ComplianceState: "Compliant", ProvisioningState: "Succeeded", Statuses: statusesOf(cfg)})
				}
				var se *agentapi.StatusError
				if errors.As(err, &se) && se.StatusCode == http.StatusNotFound {
					continue // deleted since the list (a forced delete): the real agent moves on too
				}
				if err != nil && ctx.Err() == nil {
					tb.Errorf("agent of %s: %s: %v", clusterID, cfg.Name, err)
				}
			}
		}
	}()
}
