package dataplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/client-go/util/workqueue"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

// correctedBaseline is the brief's policy with what Azure needs
// (docs/policy/gitops-baseline.rule.json): the template's clusterName
// passed ([field('name')]) and an existence condition naming the
// configuration it deploys and its repository.
func correctedBaseline(tb testing.TB) string {
	tb.Helper()
	rule, err := os.ReadFile("../../docs/policy/gitops-baseline.rule.json")
	if err != nil {
		tb.Fatal(err)
	}
	return `{"properties":{"displayName":"Enforce GitOps Corporate Baseline on Arc Clusters","mode":"Indexed","policyRule":` + string(rule) + `}}`
}

func cluster(name string) string {
	return sub1 + "/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/" + name
}

// states are the policy states of an assignment, by resource name.
func (f *fixture) states(assignmentID string) map[string]store.PolicyState {
	f.t.Helper()
	f.srv.policy.wait()
	out := map[string]store.PolicyState{}
	err := f.srv.store.View(func(tx store.Tx) error {
		all, err := tx.PolicyStates(assignmentID)
		for _, st := range all {
			out[st.ResourceID[strings.LastIndex(st.ResourceID, "/")+1:]] = st
		}
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func TestPolicyEvaluationAndDeployment(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	for _, c := range []string{"c1", "c2", "c3"} {
		f.register(cluster(c))
	}
	g.Expect(f.do(http.MethodPut, defPath+"enforce-gitops-baseline"+policyAPI, correctedBaseline(t)).status).To(Equal(http.StatusCreated))
	r := f.do(http.MethodPut, assignPath+"gitops-baseline-assignment"+policyAPI, `{"location":"westeurope","identity":{"type":"SystemAssigned"},
		"properties":{"policyDefinitionId":"`+strings.TrimSuffix(defPath, "/")+`/enforce-gitops-baseline"}}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	assignmentID := r.json(t)["id"].(string)
	principal := r.json(t)["identity"].(map[string]any)["principalId"].(string)

	// Existing clusters are evaluated, not changed: NonCompliant.
	states := f.states(assignmentID)
	g.Expect(states).To(HaveLen(3))
	for _, st := range states {
		g.Expect(st.ComplianceState).To(Equal("NonCompliant"))
		g.Expect(st.Effect).To(Equal("DeployIfNotExists"))
	}

	// A new cluster gets its configuration at once, once the identity may
	// write it; before, the state says what to grant.
	f.register(cluster("c4"))
	g.Expect(f.states(assignmentID)["c4"].Error).To(ContainSubstring("has no role allowing Microsoft.KubernetesConfiguration/fluxConfigurations/write"))
	f.assign(principal, "Contributor", sub1)
	token := f.register(cluster("c5"))
	f.srv.policy.wait()
	cfg := f.do(http.MethodGet, av(cluster("c5")+fluxPath+"/corporate-baseline"), "")
	g.Expect(cfg.status).To(Equal(http.StatusOK), string(cfg.body))
	props := cfg.json(t)["properties"].(map[string]any)
	g.Expect(props["gitRepository"].(map[string]any)["url"]).To(Equal("https://github.com/mi-org/corporate-baseline"))
	g.Expect(props["kustomizations"].(map[string]any)).To(HaveKey("baseline"))
	g.Expect(f.states(assignmentID)["c5"].ComplianceState).To(Equal("Compliant"))

	// The agent reports; compliance stays; a configuration changed so that
	// the existence condition fails... is deleted here: NonCompliant again.
	report := `{"generation":1,"complianceState":"Compliant","provisioningState":"Succeeded"}`
	g.Expect(f.do(http.MethodPut, agentapi.PathPrefix+cluster("c5")+"/fluxConfigurations/corporate-baseline/status", report, "Authorization", "Bearer "+token).status).To(Equal(http.StatusNoContent))
	g.Expect(f.states(assignmentID)["c5"].ComplianceState).To(Equal("Compliant"))
	g.Expect(f.do(http.MethodDelete, av(cluster("c5")+fluxPath+"/corporate-baseline")+"&forceDelete=true", "").status).To(Equal(http.StatusOK))
	g.Expect(f.states(assignmentID)["c5"].ComplianceState).To(Equal("NonCompliant"))

	// Deleting the assignment leaves what it deployed and drops its states.
	g.Expect(f.do(http.MethodDelete, assignPath+"gitops-baseline-assignment"+policyAPI, "").status).To(Equal(http.StatusOK))
	g.Expect(f.states(assignmentID)).To(BeEmpty())
}

// TestNoPolicyWorkWithoutAssignments: status reports queue nothing when no
// assignment exists.
func TestNoPolicyWorkWithoutAssignments(t *testing.T) {
	f := newFixture(t)
	token := f.register(cluster("c1"))
	f.do(http.MethodPut, av(cluster("c1")+fluxPath+"/cfg"), example(t, "create-git.json"))
	for i := 0; i < 3; i++ {
		report := fmt.Sprintf(`{"generation":1,"complianceState":"Compliant","statuses":%s}`, json.RawMessage(`[]`))
		f.do(http.MethodPut, agentapi.PathPrefix+cluster("c1")+"/fluxConfigurations/cfg/status", report, "Authorization", "Bearer "+token)
	}
	f.srv.policy.mu.Lock()
	queued := len(f.srv.policy.order)
	f.srv.policy.mu.Unlock()
	if queued != 0 || f.srv.policy.active.Load() {
		t.Errorf("queued %d evaluations without any assignment", queued)
	}
}

// TestDenyPolicy: a deny assignment refuses a fluxConfiguration that breaks
// its guardrail with ARM's RequestDisallowedByPolicy body, and changes
// nothing; DoNotEnforce lets it through.
func TestDenyPolicy(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	f.register(cluster("c1"))
	def := `{"properties":{"displayName":"Only GitHub sources","mode":"Indexed","policyRule":{"if":{"allOf":[
		{"field":"type","equals":"Microsoft.KubernetesConfiguration/fluxConfigurations"},
		{"field":"Microsoft.KubernetesConfiguration/fluxConfigurations/gitRepository.url","notLike":"https://github.com/*"}]},
		"then":{"effect":"deny"}}}}`
	g.Expect(f.do(http.MethodPut, defPath+"github-only"+policyAPI, def).status).To(Equal(http.StatusCreated))
	r := f.do(http.MethodPut, assignPath+"github-only"+policyAPI, `{"properties":{"displayName":"GitHub only","policyDefinitionId":"`+strings.TrimSuffix(defPath, "/")+`/github-only"}}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))

	before := f.snapshot()
	bad := strings.Replace(example(t, "create-git.json"), "https://github.com/Azure/arc-k8s-demo", "https://gitlab.example.com/org/repo", 1)
	r = f.do(http.MethodPut, av(cluster("c1")+fluxPath+"/elsewhere"), bad)
	g.Expect(r.status).To(Equal(http.StatusForbidden), string(r.body))
	e := r.json(t)["error"].(map[string]any)
	g.Expect(e["code"]).To(Equal("RequestDisallowedByPolicy"))
	g.Expect(e["target"]).To(Equal("elsewhere"))
	g.Expect(e["message"]).To(And(ContainSubstring("Resource 'elsewhere' was disallowed by policy."), ContainSubstring(assignPath+"github-only")))
	info := e["additionalInfo"].([]any)[0].(map[string]any)
	g.Expect(info["type"]).To(Equal("PolicyViolation"))
	g.Expect(info["info"]).To(HaveKeyWithValue("policyDefinitionEffect", "deny"))
	g.Expect(f.snapshot()).To(Equal(before))

	g.Expect(f.do(http.MethodPut, av(cluster("c1")+fluxPath+"/github"), example(t, "create-git.json")).status).To(Equal(http.StatusCreated))
	// A PATCH that breaks it is refused too.
	r = f.do(http.MethodPatch, av(cluster("c1")+fluxPath+"/github"), `{"properties":{"gitRepository":{"url":"https://gitlab.example.com/org/repo"}}}`)
	g.Expect(r.status).To(Equal(http.StatusForbidden))

	r = f.do(http.MethodPut, assignPath+"github-only"+policyAPI, `{"properties":{"enforcementMode":"DoNotEnforce","policyDefinitionId":"`+strings.TrimSuffix(defPath, "/")+`/github-only"}}`)
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	g.Expect(f.do(http.MethodPut, av(cluster("c1")+fluxPath+"/elsewhere"), bad).status).To(Equal(http.StatusCreated))
}

// TestRepeatedReportIsNotEvaluated: with an assignment in place, a status
// report that says what the last one said queues no evaluation.
func TestRepeatedReportIsNotEvaluated(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	token := f.register(cluster("c1"))
	f.baselineAssigned()
	g.Expect(f.do(http.MethodPut, av(cluster("c1")+fluxPath+"/cfg"), example(t, "create-git.json")).status).To(Equal(http.StatusCreated))
	report := `{"generation":1,"complianceState":"Compliant","provisioningState":"Succeeded"}`
	evaluations := func() float64 {
		f.srv.policy.wait()
		return testutil.ToFloat64(f.srv.metrics.evaluations)
	}
	send := func() {
		g.Expect(f.do(http.MethodPut, agentapi.PathPrefix+cluster("c1")+"/fluxConfigurations/cfg/status", report, "Authorization", "Bearer "+token).status).To(Equal(http.StatusNoContent))
	}
	send()
	before := evaluations()
	send()
	send()
	g.Expect(evaluations()).To(Equal(before))
	report = `{"generation":1,"complianceState":"Non-Compliant","provisioningState":"Succeeded"}`
	send()
	g.Expect(evaluations()).To(Equal(before + 1))
}

// TestFailedEvaluationsRunAgain: an evaluation that fails (the store away
// for a moment) is queued again after a backoff, and waiting for the
// engine waits for it: a remediation's re-evaluation misses no cluster.
func TestFailedEvaluationsRunAgain(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	e := f.srv.policy
	e.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, 10*time.Millisecond)
	var failures atomic.Int32
	failures.Store(3)
	e.evaluate = func(id string, deploy bool) error {
		if failures.Add(-1) >= 0 {
			return errors.New("etcd: context deadline exceeded")
		}
		return e.evaluateCluster(id, deploy)
	}
	f.register(cluster("c1"))
	g.Expect(f.do(http.MethodPut, defPath+"enforce-gitops-baseline"+policyAPI, correctedBaseline(t)).status).To(Equal(http.StatusCreated))
	r := f.do(http.MethodPut, assignPath+"a"+policyAPI, `{"location":"westeurope","identity":{"type":"SystemAssigned"},
		"properties":{"policyDefinitionId":"`+strings.TrimSuffix(defPath, "/")+`/enforce-gitops-baseline"}}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	g.Expect(f.states(r.json(t)["id"].(string))).To(HaveKeyWithValue("c1", HaveField("ComplianceState", "NonCompliant")),
		"three failures, then the evaluation went through, and states() waited for it")
	g.Expect(failures.Load()).To(BeNumerically("<", 0))
}

// TestWaitForIsNotHeldByOthers: waiting for some clusters' evaluations
// returns once they are done, although others keep the queue from ever
// being empty (a steady stream of writes), and "mine" itself is queued
// again as soon as it is evaluated.
func TestWaitForIsNotHeldByOthers(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	e := f.srv.policy
	e.active.Store(true)
	var stop atomic.Bool
	defer stop.Store(true)
	e.evaluate = func(id string, _ bool) error {
		if !stop.Load() {
			e.enqueue(id, false) // written again meanwhile
		}
		return nil
	}
	since := e.mark()
	e.enqueue("busy", false)
	e.enqueue("mine", false)
	done := make(chan struct{})
	go func() { e.waitFor(t.Context(), since, []string{"mine"}); close(done) }()
	g.Eventually(done, 10*time.Second).Should(BeClosed())
	e.mu.Lock()
	defer e.mu.Unlock()
	g.Expect(len(e.order) > 0 || e.current == "busy").To(BeTrue(), "the queue never emptied meanwhile")
}
