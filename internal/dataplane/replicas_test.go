package dataplane

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/dataplane/store/storetest"
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
// then stops at its next batch.
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
