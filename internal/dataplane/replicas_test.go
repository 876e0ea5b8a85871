package dataplane

import (
	"context"
	"net/http"
	"testing"
	"time"

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
	endpoint := testEtcd
	if endpoint == "" {
		var stop func()
		var err error
		endpoint, stop, err = storetest.Etcd(t.TempDir())
		g.Expect(err).NotTo(HaveOccurred())
		t.Cleanup(stop)
	}
	dir := t.TempDir()
	shared := func(o *Options) {
		o.DataDir = dir
		o.Etcd = &store.EtcdOptions{Endpoints: []string{endpoint}, Prefix: "/replicas-" + time.Now().Format("150405.000000000") + "/"}
	}
	a := newFixture(t, shared)
	b := newFixture(t, func(o *Options) { *o = a.srv.opts; o.Now = time.Now })

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
