package dataplane

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/dataplane/store/storetest"
	"github.com/arcgitops/arcgitops/internal/portal"
)

// TestReplicasShareTheStore: two data planes on one etcd (their keys
// shared through one data directory): an agent's long poll on one wakes
// when a configuration is written through the other, and the other's
// Resource Graph shows it.
func TestReplicasShareTheStore(t *testing.T) {
	g := NewWithT(t)
	a, b := replicas(t)

	id := sub1 + "/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/c1"
	token := a.register(id)
	agent := &agentapi.Client{BaseURL: b.ts.URL, ClusterID: id, Token: token}
	ctx := context.Background()
	state, etag, _, err := agent.List(ctx, "", 0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(state.Configurations).To(BeEmpty())

	type poll struct {
		state *agentapi.DesiredState
		err   error
	}
	woke := make(chan poll, 1)
	go func() {
		st, _, notModified, err := agent.List(ctx, etag, 20*time.Second)
		if err == nil && notModified {
			st = nil
		}
		woke <- poll{st, err}
	}()
	time.Sleep(200 * time.Millisecond) // the long poll waits on b
	r := a.do(http.MethodPut, av(id+fluxPath+"/apps"), example(t, "create-git.json"))
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	var p poll
	g.Eventually(woke, 10*time.Second).Should(Receive(&p))
	g.Expect(p.err).NotTo(HaveOccurred())
	g.Expect(p.state).NotTo(BeNil(), "the long poll on b ended without the change made through a")
	g.Expect(p.state.Configurations).To(ConsistOf(HaveField("Name", "apps")))

	// b's Resource Graph index has it too.
	g.Eventually(func() any {
		return b.do(http.MethodPost, graphPath, `{"query":"KubernetesConfigurationResources | where name == 'apps' | count"}`).json(t)["data"]
	}, 10*time.Second, 50*time.Millisecond).Should(Equal([]any{map[string]any{"Count": float64(1)}}))
}

// replicas are two data planes on one etcd, their keys shared through one
// data directory, each with a clock of its own.
func replicas(t *testing.T) (a, b *fixture) {
	t.Helper()
	endpoint := testEtcd
	if endpoint == "" {
		var stop func()
		var err error
		if endpoint, stop, err = storetest.Etcd(t.TempDir()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
	}
	dir := t.TempDir()
	prefix := "/replicas-" + uuid.NewString() + "/"
	a = newFixture(t, func(o *Options) {
		o.DataDir = dir
		o.Etcd = &store.EtcdOptions{Endpoints: []string{endpoint}, Prefix: prefix}
	})
	b = newFixture(t, func(o *Options) { now := o.Now; *o = a.srv.opts; o.Now = now })
	return a, b
}

// TestRemediationRunsOnceAcrossReplicas: the replica that claims a
// remediation runs it; the other may not while the claim is renewed, takes
// it over once the runner has gone quiet for RunnerTTL, and the old runner
// then deploys nothing more and stops at its next batch.
func TestRemediationRunsOnceAcrossReplicas(t *testing.T) {
	g := NewWithT(t)
	a, b := replicas(t)
	id := sub1 + "/providers/Microsoft.PolicyInsights/remediations/fleet"
	g.Expect(a.srv.store.Update(func(tx store.Tx) error {
		return tx.PutRemediation(&store.Remediation{ID: id, ProvisioningState: "Evaluating"})
	})).To(Succeed())
	runner := func() string {
		var r *store.Remediation
		g.Expect(b.srv.store.View(func(tx store.Tx) (err error) { r, err = tx.Remediation(id); return err })).To(Succeed())
		return r.Runner
	}

	g.Expect(a.srv.policy.claim(id)).To(BeTrue())
	g.Expect(b.srv.policy.claim(id)).To(BeFalse(), "a runs it")
	a.advance(RunnerTTL / 2)
	g.Expect((&remediationProgress{e: a.srv.policy, id: id}).flush()).To(BeFalse(), "a renews its claim with progress")
	b.advance(RunnerTTL - time.Second)
	g.Expect(b.srv.policy.claim(id)).To(BeFalse(), "a was heard from less than RunnerTTL ago")

	b.advance(RunnerTTL)
	g.Expect(b.srv.policy.claim(id)).To(BeTrue(), "a went quiet")
	g.Expect(runner()).To(Equal(b.srv.policy.boot))
	// a's deployments are fenced off from now on; b's go through.
	g.Expect(a.srv.store.Update(a.srv.policy.holdsClaim(id))).To(MatchError(errLostClaim))
	g.Expect(b.srv.store.Update(b.srv.policy.holdsClaim(id))).To(Succeed())
	stopped, err := (&remediationProgress{e: a.srv.policy, id: id, batch: []remediated{{cluster: "c1"}}}).flush()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(stopped).To(BeTrue(), "a stops at its next batch")
	g.Expect(runner()).To(Equal(b.srv.policy.boot))
	g.Expect(b.srv.store.View(func(tx store.Tx) error {
		done, err := tx.Remediated(id)
		g.Expect(done).To(BeEmpty(), "the stopped runner's batch is not recorded")
		return err
	})).To(Succeed())
}

// TestExpiryRacesAReapplyAcrossReplicas: both replicas expire protected
// settings at once while a user gives half of them again through one of
// them. Whatever the order, settings given again survive (an expiry that
// read them before they were given again runs again, on fresh reads), and
// the others expire.
func TestExpiryRacesAReapplyAcrossReplicas(t *testing.T) {
	g := NewWithT(t)
	a, b := replicas(t)
	id := sub1 + "/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/c1"
	a.register(id)
	const n = 20
	put := func(f *fixture, i int) {
		body := `{"properties":{"namespace":"ns","gitRepository":{"url":"https://github.com/org/r","repositoryRef":{"branch":"main"},"httpsUser":"bot"},` +
			`"configurationProtectedSettings":{"httpsKey":"c2VjcmV0"}}}`
		if r := f.do(http.MethodPut, av(fmt.Sprintf("%s%s/c%02d", id, fluxPath, i)), body); r.status != http.StatusCreated && r.status != http.StatusOK {
			t.Errorf("put c%02d: %d %s", i, r.status, r.body)
		}
	}
	for i := range n {
		put(a, i)
	}
	a.advance(a.srv.opts.ProtectedSettingsTTL + time.Minute)
	b.advance(b.srv.opts.ProtectedSettingsTTL + time.Minute)

	var wg sync.WaitGroup
	expired := make(chan error, 2)
	for _, f := range []*fixture{a, b} {
		wg.Go(func() { expired <- f.srv.ExpireProtectedSettings() })
	}
	for i := 0; i < n; i += 2 {
		wg.Go(func() { put(b, i) })
	}
	wg.Wait()
	close(expired)
	for err := range expired {
		g.Expect(err).NotTo(HaveOccurred())
	}

	g.Expect(a.srv.store.View(func(tx store.Tx) error {
		for i := range n {
			cfg, err := tx.Config(id, fmt.Sprintf("c%02d", i))
			if err != nil {
				return err
			}
			if i%2 == 0 {
				g.Expect(cfg.Protected).NotTo(BeNil(), "c%02d was given again: its settings must stay", i)
			} else {
				g.Expect(cfg.Protected).To(BeNil(), "c%02d waited past the TTL", i)
				g.Expect(cfg.Error).To(ContainSubstring("expired"))
			}
		}
		return nil
	})).To(Succeed())
}

// TestHeartbeatsReachEveryReplica: an agent that calls one replica is seen
// by the other (its portal, its lastConnectivityTime), through a heartbeat
// written at most once a HeartbeatInterval, not a write per call.
func TestHeartbeatsReachEveryReplica(t *testing.T) {
	g := NewWithT(t)
	a, b := replicas(t)
	id := sub1 + "/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/c1"
	agent := &agentapi.Client{BaseURL: b.ts.URL, ClusterID: id, Token: a.register(id)}
	call := func() {
		_, _, _, err := agent.List(context.Background(), "", 0)
		g.Expect(err).NotTo(HaveOccurred())
	}
	lastSeen := func() time.Time {
		fleet, err := portalBackend{a.srv}.Fleet(context.Background(), ownerPrincipal(t, a))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(fleet.Clusters).To(HaveLen(1))
		return fleet.Clusters[0].LastSeen
	}
	stored := func() time.Time {
		var c *store.Cluster
		g.Expect(a.srv.store.View(func(tx store.Tx) (err error) { c, err = tx.Cluster(id); return err })).To(Succeed())
		g.Expect(c.AgentSeenAt).NotTo(BeNil())
		return *c.AgentSeenAt
	}

	t0 := b.srv.opts.Now().UTC()
	call() // the first call: Connected at once
	g.Eventually(lastSeen, 10*time.Second, 20*time.Millisecond).Should(BeTemporally("==", t0))
	g.Expect(a.do(http.MethodGet, av(id), "").json(t)["properties"]).To(HaveKeyWithValue("connectivityStatus", "Connected"))

	b.advance(HeartbeatInterval - time.Second)
	call()
	g.Consistently(stored, 300*time.Millisecond, 20*time.Millisecond).Should(BeTemporally("==", t0), "a call within the interval writes nothing")

	b.advance(time.Second)
	call()
	t1 := t0.Add(HeartbeatInterval)
	g.Eventually(lastSeen, 10*time.Second, 20*time.Millisecond).Should(BeTemporally("==", t1))
	g.Expect(a.do(http.MethodGet, av(id), "").json(t)["properties"]).To(HaveKeyWithValue("lastConnectivityTime", t1.Format(time.RFC3339Nano)))
}

// ownerPrincipal is the hub's owner, as the portal signs it in.
func ownerPrincipal(t *testing.T, f *fixture) portal.Principal {
	t.Helper()
	creds, err := ReadCredentials(filepath.Join(f.srv.opts.DataDir, OwnerCredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	return portal.Principal{ObjectID: creds.ObjectID, AppID: creds.AppID}
}

// TestRunnerKeepsItsClaimWhileItWorks: a runner renews its claim while it
// runs, even when it writes no batch (its scope's evaluation can outlast
// the claim's TTL), so that no other replica takes over a live runner;
// once another has taken it over anyway, the runner's run ends.
func TestRunnerKeepsItsClaimWhileItWorks(t *testing.T) {
	g := NewWithT(t)
	a, b := replicas(t)
	id := sub1 + "/providers/Microsoft.PolicyInsights/remediations/long"
	g.Expect(a.srv.store.Update(func(tx store.Tx) error {
		return tx.PutRemediation(&store.Remediation{ID: id, ProvisioningState: "Evaluating"})
	})).To(Succeed())
	g.Expect(a.srv.policy.claim(id)).To(BeTrue())
	seen := func() time.Time {
		var r *store.Remediation
		g.Expect(b.srv.store.View(func(tx store.Tx) (err error) { r, err = tx.Remediation(id); return err })).To(Succeed())
		return r.RunnerSeen
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.srv.policy.keepClaim(ctx, cancel, id, 20*time.Millisecond) // RunnerTTL/3 in a run

	a.advance(time.Hour) // a works on, writing nothing else
	g.Eventually(seen, 10*time.Second, 50*time.Millisecond).Should(BeTemporally("==", a.srv.opts.Now().UTC()), "a renewed its claim")
	b.advance(time.Hour + RunnerTTL/2)
	g.Expect(b.srv.policy.claim(id)).To(BeFalse(), "a was heard from within the TTL")

	b.advance(time.Hour) // a goes quiet from b's view: b takes over, and a's run ends
	g.Expect(b.srv.policy.claim(id)).To(BeTrue())
	g.Eventually(ctx.Done(), 10*time.Second).Should(BeClosed())
}
