package main_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armclient"
	"github.com/arcgitops/arcgitops/internal/dataplane"
	"github.com/arcgitops/arcgitops/internal/dataplane/store/storetest"
	"github.com/arcgitops/arcgitops/internal/tlsutil"
)

// faultAgents is how many agents long-poll the hub during the fault test.
const faultAgents = 200

// TestHubSurvivesLosingAMachine: a hub of two data plane replicas on a
// three-member etcd, under a steady stream of ARM writes through both and
// 200 agents long-polling both. One replica is killed (SIGKILL), then one
// etcd member; both start again; then a member is frozen (SIGSTOP), as a
// partitioned machine, and thawed. Every acknowledged write is there at the
// end, through either replica; no agent ever saw a configuration
// disappear; every agent's long poll came back to the latest state.
func TestHubSurvivesLosingAMachine(t *testing.T) {
	bin := buildDataplane(t)
	members, stop, err := storetest.Cluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	shared := replicaFlags(t, bin, strings.Join(storetest.Endpoints(members), ","))
	dirs, addrs := []string{t.TempDir(), t.TempDir()}, []string{freeAddr(t), freeAddr(t)}
	replicas := []*exec.Cmd{start(t, bin, addrs[0], dirs[0], shared...), start(t, bin, addrs[1], dirs[1], shared...)}
	urls := []string{"https://" + addrs[0], "https://" + addrs[1]}
	hc := trustBoth(t, dirs)

	// The owner's token, from the first replica's issuer: both accept it.
	owner, err := dataplane.ReadCredentials(filepath.Join(dirs[0], dataplane.OwnerCredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := armclient.ClientCredentials(urls[0]+"/adfs/oauth2/token", owner.AppID, owner.Password, dataplane.DefaultAudience, hc).Token()
	if err != nil {
		t.Fatal(err)
	}
	arms := []*armclient.Client{}
	for _, u := range urls {
		arms = append(arms, &armclient.Client{BaseURL: u, APIVersion: arm.FluxConfigAPIVersion, HTTP: hc, Token: oauth2.StaticTokenSource(tok)})
	}

	clusters := make([]string, faultAgents)
	tokens := make([]string, faultAgents)
	for i := range clusters {
		clusters[i] = fmt.Sprintf("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c%03d", i)
		var cl struct {
			Properties struct {
				AgentToken string `json:"agentToken"`
			} `json:"properties"`
		}
		if _, err := arms[i%2].Put(context.Background(), clusters[i], []byte(`{"location":"westeurope"}`), &cl); err != nil {
			t.Fatalf("register %s: %v", clusters[i], err)
		}
		tokens[i] = cl.Properties.AgentToken
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &writer{arms: arms, clusters: clusters, acked: map[string][]string{}, done: make(chan struct{}), stopped: make(chan struct{})}
	var wg sync.WaitGroup
	go w.run(ctx)
	agents := make([]*faultAgent, faultAgents)
	for i := range agents {
		order := []string{urls[i%2], urls[1-i%2]} // half start on each replica
		agents[i] = &faultAgent{c: &agentapi.Client{BaseURLs: order, ClusterID: clusters[i], Token: tokens[i], HTTP: hc}}
		wg.Go(func() { agents[i].run(ctx) })
	}

	step := func(what string, d time.Duration) {
		t.Logf("%s; %d writes acknowledged so far", what, w.count())
		time.Sleep(d)
	}
	step("writing through both replicas", 2*time.Second)
	if err := replicas[0].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = replicas[0].Process.Wait()
	step("replica 0 killed", 2*time.Second)
	members[0].Kill()
	step("etcd member 0 killed", 2*time.Second)
	if err := members[0].Start(); err != nil {
		t.Fatal(err)
	}
	replicas[0] = start(t, bin, addrs[0], dirs[0], shared...)
	step("etcd member 0 and replica 0 started again", 2*time.Second)
	if err := members[1].Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	step("etcd member 1 frozen", 3*time.Second)
	if err := members[1].Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	step("etcd member 1 thawed", time.Second)
	w.stop()

	// Every agent's long poll comes back to the latest state.
	deadline := time.Now().Add(60 * time.Second)
	for i, a := range agents {
		for !a.holds(w.ackedFor(clusters[i])) {
			if time.Now().After(deadline) {
				t.Fatalf("agent of %s holds %d of the %d configurations acknowledged for it", clusters[i], a.count(), len(w.ackedFor(clusters[i])))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	cancel()
	wg.Wait()

	// Every acknowledged write, through either replica.
	total := 0
	for _, c := range arms {
		for _, cluster := range clusters {
			configs, err := armclient.List[struct{ Name string }](context.Background(), c, arm.FluxConfigID(cluster, ""))
			if err != nil {
				t.Fatal(err)
			}
			found := map[string]bool{}
			for _, cfg := range configs {
				found[cfg.Name] = true
			}
			for _, name := range w.ackedFor(cluster) {
				if !found[name] {
					t.Errorf("%s: acknowledged configuration %s lost (through %s)", cluster, name, c.BaseURL)
				}
				total++
			}
		}
	}
	for _, a := range agents {
		if a.lost != "" {
			t.Errorf("an agent saw a configuration disappear: %s", a.lost)
		}
	}
	t.Logf("%d acknowledged writes found through both replicas; %d refused while machines were lost (retried by clients); every agent converged", total/2, w.failed)
}

// trustBoth trusts the local CAs the two replicas made.
func trustBoth(t *testing.T, dirs []string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	for _, d := range dirs {
		pem, err := os.ReadFile(filepath.Join(d, "tls", tlsutil.CAFile))
		if err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(pem)
	}
	return &http.Client{Timeout: agentapi.MaxWait + 30*time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 64}}
}

// writer PUTs configurations through the replicas in turn, trying the
// other when one fails, and keeps the acknowledged ones.
type writer struct {
	arms     []*armclient.Client
	clusters []string
	mu       sync.Mutex
	acked    map[string][]string
	failed   int
	// done asks run to end; stopped says it has.
	done, stopped chan struct{}
}

const configBody = `{"properties":{"gitRepository":{"url":"https://github.com/Azure/arc-k8s-demo","repositoryRef":{"branch":"main"}},"kustomizations":{"apps":{"path":"./apps"}}}}`

func (w *writer) run(ctx context.Context) {
	defer close(w.stopped)
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			return
		default:
		}
		cluster, name := w.clusters[i%len(w.clusters)], fmt.Sprintf("w%05d", i)
		ok := false
		for try := range 2 {
			rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			resp, err := w.arms[(i+try)%2].Put(rctx, arm.FluxConfigID(cluster, name), []byte(configBody), nil)
			cancel()
			if err == nil && resp != nil && resp.StatusCode < 300 {
				ok = true
				break
			}
		}
		w.mu.Lock()
		if ok {
			w.acked[cluster] = append(w.acked[cluster], name)
		} else {
			w.failed++
		}
		w.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

// stop ends the writes and waits for the one in flight.
func (w *writer) stop() {
	close(w.done)
	<-w.stopped
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, names := range w.acked {
		n += len(names)
	}
	return n
}

func (w *writer) ackedFor(cluster string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.acked[cluster]...)
}

// faultAgent long-polls its cluster's desired state through the replicas
// (failing over between them) and notes a configuration that disappears.
type faultAgent struct {
	c    *agentapi.Client
	mu   sync.Mutex
	seen map[string]bool
	lost string
}

func (a *faultAgent) run(ctx context.Context) {
	etag := ""
	for ctx.Err() == nil {
		state, next, notModified, err := a.c.List(ctx, etag, 10*time.Second)
		if err != nil {
			time.Sleep(100 * time.Millisecond) // the agent's backoff, shortened
			continue
		}
		if notModified {
			continue
		}
		etag = next
		now := map[string]bool{}
		for _, c := range state.Configurations {
			now[c.Name] = true
		}
		a.mu.Lock()
		for name := range a.seen {
			if !now[name] && a.lost == "" {
				a.lost = fmt.Sprintf("%s of %s (revision %d)", name, a.c.ClusterID, state.Revision)
			}
		}
		a.seen = now
		a.mu.Unlock()
	}
}

func (a *faultAgent) holds(names []string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range names {
		if !a.seen[n] {
			return false
		}
	}
	return true
}

func (a *faultAgent) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seen)
}
