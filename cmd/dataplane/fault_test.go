package main_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
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

	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armclient"
	"github.com/arcgitops/arcgitops/internal/armrbac"
	"github.com/arcgitops/arcgitops/internal/dataplane"
	"github.com/arcgitops/arcgitops/internal/dataplane/store/storetest"
	"github.com/arcgitops/arcgitops/internal/tlsutil"
)

// faultAgents is how many agents long-poll the hub during the fault test.
const faultAgents = 200

// TestHubSurvivesLosingAMachine: a hub of two data plane replicas on a
// three-member etcd, under a steady stream of ARM writes through both and
// 200 agents long-polling both. A remediation of every cluster runs on one
// replica, which is killed (SIGKILL) mid-run; then one etcd member is
// killed; both start again; then a member is frozen (SIGSTOP), as a
// partitioned machine, and thawed. Every acknowledged write is there at the
// end, through either replica; no agent ever saw a configuration
// disappear; every agent's long poll came back to the latest state; the
// remediation was taken over and finished, deploying to every cluster
// exactly once.
func TestHubSurvivesLosingAMachine(t *testing.T) {
	bin := buildDataplane(t)
	members, stop, err := storetest.Cluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	dirs, addrs := []string{t.TempDir(), t.TempDir()}, []string{freeAddr(t), freeAddr(t)}
	t.Cleanup(func() { logOnFailure(t, dirs) })
	shared := append(replicaFlags(t, bin, strings.Join(storetest.Endpoints(members), ",")), "--remediation-claim-ttl=3s")
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
		clusters[i] = fmt.Sprintf("%s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c%03d", faultSubscription, i)
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

	remediation := assignBaseline(t, arms[0])

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
	// Replica 0 runs the remediation; it is killed once some clusters are
	// done, and replica 1 takes over when the claim goes unrenewed.
	runRemediation(t, arms, remediation)
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
	r := deployedOnce(t, arms[1], remediation, agents, deadline)
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
	t.Logf("%d acknowledged writes found through both replicas; %d refused while machines were lost (retried by clients); every agent converged; "+
		"the remediation deployed the baseline once to each of %d clusters (%d deployments counted: a killed runner's last batch goes uncounted)", total/2, w.failed, faultAgents, r.succeeded)
}

// The fault test's fleet is in the hub's default subscription, and its
// policy the brief's baseline (docs/policy) assigned there with an
// identity allowed to deploy.
const (
	faultSubscription  = "/subscriptions/" + dataplane.DefaultSubscriptionID
	baselineAssignment = faultSubscription + "/providers/Microsoft.Authorization/policyAssignments/baseline"
)

// assignBaseline assigns the baseline and returns the ID of the
// remediation to run for it.
func assignBaseline(t *testing.T, c *armclient.Client) string {
	t.Helper()
	ctx := t.Context()
	rule, err := os.ReadFile("../../docs/policy/gitops-baseline.rule.json")
	if err != nil {
		t.Fatal(err)
	}
	definition := faultSubscription + "/providers/Microsoft.Authorization/policyDefinitions/baseline"
	if _, err := c.Put(ctx, definition+"?api-version=2021-06-01", map[string]any{"properties": map[string]any{
		"mode": "Indexed", "policyRule": json.RawMessage(rule)}}, nil); err != nil {
		t.Fatal(err)
	}
	var assignment struct {
		Identity struct {
			PrincipalID string `json:"principalId"`
		} `json:"identity"`
	}
	if _, err := c.Put(ctx, baselineAssignment+"?api-version=2021-06-01", map[string]any{"location": "westeurope",
		"identity": map[string]any{"type": "SystemAssigned"}, "properties": map[string]any{"policyDefinitionId": definition}}, &assignment); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, faultSubscription+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01",
		map[string]any{"properties": map[string]any{"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + armrbac.Contributor.ID,
			"principalId": assignment.Identity.PrincipalID, "principalType": "ServicePrincipal"}}, nil); err != nil {
		t.Fatal(err)
	}
	return faultSubscription + "/providers/Microsoft.PolicyInsights/remediations/baseline?api-version=2021-10-01"
}

// logOnFailure shows, when the test failed, what the replicas logged of
// remediations and policy.
func logOnFailure(t *testing.T, dirs []string) {
	t.Helper()
	if !t.Failed() {
		return
	}
	for i, d := range dirs {
		t.Logf("replica %d's log of remediations and policy:\n%s", i, grepFile(filepath.Join(d, "dataplane.log"), "emediation", "policy", "claim"))
	}
}

// grepFile is the lines of the file that hold any of words.
func grepFile(path string, words ...string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var out []string
	for line := range strings.Lines(string(raw)) {
		for _, w := range words {
			if strings.Contains(line, w) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "")
}

// runRemediation starts the remediation through the first replica and
// returns once it has deployed to some clusters, not all.
func runRemediation(t *testing.T, arms []*armclient.Client, remediation string) {
	t.Helper()
	if _, err := arms[0].Put(t.Context(), remediation, map[string]any{"properties": map[string]any{
		"policyAssignmentId": baselineAssignment, "resourceDiscoveryMode": "ReEvaluateCompliance"}}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for deployed := 0; deployed == 0; deployed = remediated(t, arms[1], remediation).succeeded {
		if time.Now().After(deadline) {
			t.Fatalf("the remediation deployed nothing in 2 minutes: %+v", remediated(t, arms[1], remediation))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := remediated(t, arms[1], remediation); r.state != "Evaluating" || r.succeeded >= faultAgents {
		t.Fatalf("the remediation is %s with %d of %d clusters done before replica 0 is killed: the test needs it running", r.state, r.succeeded, faultAgents)
	}
}

// deployedOnce waits for the remediation to finish, and checks that every
// cluster got the baseline from exactly one deployment (a second would
// have made it generation 2).
func deployedOnce(t *testing.T, c *armclient.Client, remediation string, agents []*faultAgent, deadline time.Time) remediationState {
	t.Helper()
	var r remediationState
	for r = remediated(t, c, remediation); r.state == "Evaluating" || r.state == "Accepted"; r = remediated(t, c, remediation) {
		if time.Now().After(deadline) {
			t.Fatalf("the remediation is still %s with %d deployments after the faults", r.state, r.succeeded)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r.state != "Succeeded" || r.failed != 0 {
		t.Fatalf("the remediation ended %s, %d deployments failed", r.state, r.failed)
	}
	var raw struct{ Properties map[string]any }
	_, _ = c.Get(t.Context(), remediation, &raw)
	t.Logf("the remediation ended: %v", raw.Properties["deploymentStatus"])
	for _, a := range agents {
		for !a.holds([]string{"corporate-baseline"}) {
			if time.Now().After(deadline) {
				resp, err := c.Get(t.Context(), arm.FluxConfigID(a.c.ClusterID, "corporate-baseline"), nil)
				code := 0
				if resp != nil {
					code = resp.StatusCode
				}
				var states any
				_, _ = c.Do(t.Context(), armclient.Request{Method: http.MethodPost, Path: a.c.ClusterID +
					"/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?api-version=2019-10-01"}, &states)
				t.Fatalf("the agent of %s never got the baseline (the hub answers its GET %d %v; policy states %v)", a.c.ClusterID, code, err, states)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if gen := a.generation("corporate-baseline"); gen != 1 {
			t.Errorf("%s: the baseline is at generation %d: deployed more than once", a.c.ClusterID, gen)
		}
	}
	return r
}

// remediationState is what a remediation's GET says of its progress.
type remediationState struct {
	state             string
	succeeded, failed int
}

func remediated(t *testing.T, c *armclient.Client, id string) remediationState {
	t.Helper()
	var r struct {
		Properties struct {
			ProvisioningState string `json:"provisioningState"`
			DeploymentStatus  struct {
				Successful int `json:"successfulDeployments"`
				Failed     int `json:"failedDeployments"`
			} `json:"deploymentStatus"`
		} `json:"properties"`
	}
	if _, err := c.Get(t.Context(), id, &r); err != nil {
		t.Fatalf("the remediation: %v", err)
	}
	return remediationState{r.Properties.ProvisioningState, r.Properties.DeploymentStatus.Successful, r.Properties.DeploymentStatus.Failed}
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
	c  *agentapi.Client
	mu sync.Mutex
	// seen are the configurations of the latest state, with their
	// generations.
	seen map[string]int64
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
		now := map[string]int64{}
		for _, c := range state.Configurations {
			now[c.Name] = c.Generation
		}
		a.mu.Lock()
		for name := range a.seen {
			if _, ok := now[name]; !ok && a.lost == "" {
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
		if _, ok := a.seen[n]; !ok {
			return false
		}
	}
	return true
}

func (a *faultAgent) generation(name string) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[name]
}

func (a *faultAgent) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seen)
}
