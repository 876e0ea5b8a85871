package dataplane

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

const remediationAPI = "?api-version=2021-10-01"

func remediationPath(scope, name string) string {
	return scope + "/providers/Microsoft.PolicyInsights/remediations/" + name + remediationAPI
}

// baselineAssigned assigns the corrected baseline at the subscription with
// an identity allowed to deploy, and returns the assignment's ID.
func (f *fixture) baselineAssigned() string {
	f.t.Helper()
	if r := f.do(http.MethodPut, defPath+"enforce-gitops-baseline"+policyAPI, correctedBaseline(f.t)); r.status != http.StatusCreated {
		f.t.Fatalf("definition: %d %s", r.status, r.body)
	}
	r := f.do(http.MethodPut, assignPath+"gitops-baseline-assignment"+policyAPI, `{"location":"westeurope","identity":{"type":"SystemAssigned"},
		"properties":{"policyDefinitionId":"`+strings.TrimSuffix(defPath, "/")+`/enforce-gitops-baseline"}}`)
	if r.status != http.StatusCreated {
		f.t.Fatalf("assignment: %d %s", r.status, r.body)
	}
	f.assign(r.json(f.t)["identity"].(map[string]any)["principalId"].(string), "Contributor", sub1)
	return r.json(f.t)["id"].(string)
}

// remediation waits for the remediation to finish and returns it.
func (f *fixture) remediation(scope, name string) map[string]any {
	f.t.Helper()
	var props map[string]any
	NewWithT(f.t).Eventually(func() string {
		r := f.do(http.MethodGet, remediationPath(scope, name), "")
		if r.status != http.StatusOK {
			f.t.Fatalf("get remediation: %d %s", r.status, r.body)
		}
		props = r.json(f.t)["properties"].(map[string]any)
		return props["provisioningState"].(string)
	}, 10*time.Second, 10*time.Millisecond).Should(BeElementOf("Succeeded", "Failed", "Canceled"))
	return props
}

// generation is the generation of the cluster's baseline configuration,
// 0 when it does not exist.
func (f *fixture) generation(clusterID string) int64 {
	f.t.Helper()
	var gen int64
	_ = f.srv.store.View(func(tx store.Tx) error {
		if cfg, err := tx.Config(clusterID, "corporate-baseline"); err == nil {
			gen = cfg.Generation
		}
		return nil
	})
	return gen
}

// restart closes the server and opens a new one on the same data directory.
func (f *fixture) restart() {
	f.t.Helper()
	f.ts.Close()
	if err := f.srv.Close(); err != nil {
		f.t.Fatal(err)
	}
	srv, err := New(f.srv.opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.srv, f.ts = srv, httptest.NewServer(srv.Handler())
}

// TestRemediation: existing non-compliant clusters get the assignment's
// deployment from a remediation, one deployment each; a configuration
// edited so that the existence condition fails is restored by the next.
func TestRemediation(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	for _, c := range []string{"c1", "c2", "c3"} {
		f.register(cluster(c))
	}
	assignmentID := f.baselineAssigned()
	for _, st := range f.states(assignmentID) {
		g.Expect(st.ComplianceState).To(Equal("NonCompliant"))
	}

	body := `{"properties":{"policyAssignmentId":"` + assignmentID + `"}}`
	r := f.do(http.MethodPut, remediationPath(sub1, "fix-all"), body)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	g.Expect(r.json(t)["properties"]).To(HaveKeyWithValue("provisioningState", "Accepted"))
	props := f.remediation(sub1, "fix-all")
	g.Expect(props["provisioningState"]).To(Equal("Succeeded"), "%v", props)
	g.Expect(props["deploymentStatus"]).To(Equal(map[string]any{"totalDeployments": 3.0, "successfulDeployments": 3.0, "failedDeployments": 0.0}))
	for _, c := range []string{"c1", "c2", "c3"} {
		g.Expect(f.generation(cluster(c))).To(Equal(int64(1)), c)
		g.Expect(f.states(assignmentID)[c].ComplianceState).To(Equal("Compliant"), c)
	}

	// Edited away from the baseline: NonCompliant, and not redeployed by
	// the edit itself.
	r = f.do(http.MethodPatch, av(cluster("c2")+fluxPath+"/corporate-baseline"), `{"properties":{"gitRepository":{"url":"https://github.com/someone/else"}}}`)
	g.Expect(r.status).To(BeElementOf(http.StatusOK, http.StatusAccepted), string(r.body))
	g.Expect(f.states(assignmentID)["c2"].ComplianceState).To(Equal("NonCompliant"))

	// The same name again once finished, scoped to the resource group:
	// only c2 is deployed.
	r = f.do(http.MethodPut, remediationPath(sub1+"/resourceGroups/fleet", "fix-all"), body)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	props = f.remediation(sub1+"/resourceGroups/fleet", "fix-all")
	g.Expect(props["deploymentStatus"]).To(HaveKeyWithValue("totalDeployments", 1.0))
	url := f.do(http.MethodGet, av(cluster("c2")+fluxPath+"/corporate-baseline"), "").json(t)["properties"].(map[string]any)["gitRepository"].(map[string]any)["url"]
	g.Expect(url).To(Equal("https://github.com/mi-org/corporate-baseline"))
	g.Expect(f.generation(cluster("c1"))).To(Equal(int64(1)))
	g.Expect(f.states(assignmentID)["c2"].ComplianceState).To(Equal("Compliant"))

	// Listed at the subscription: both.
	list := f.do(http.MethodGet, sub1+"/providers/Microsoft.PolicyInsights/remediations"+remediationAPI, "").json(t)["value"].([]any)
	g.Expect(list).To(HaveLen(2))
	g.Expect(f.do(http.MethodDelete, remediationPath(sub1, "fix-all"), "").status).To(Equal(http.StatusOK))
	g.Expect(f.do(http.MethodGet, remediationPath(sub1, "fix-all"), "").code()).To(Equal("RemediationNotFound"))
}

// TestRemediationRefusals: what cannot be remediated is refused with what
// to fix, and nothing is stored.
func TestRemediationRefusals(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	f.register(cluster("c1"))
	assignmentID := f.baselineAssigned()
	def := `{"properties":{"mode":"Indexed","policyRule":{"if":{"field":"type","equals":"Microsoft.KubernetesConfiguration/fluxConfigurations"},"then":{"effect":"audit"}}}}`
	g.Expect(f.do(http.MethodPut, defPath+"audit-all"+policyAPI, def).status).To(Equal(http.StatusCreated))
	audit := f.do(http.MethodPut, assignPath+"audit-all"+policyAPI, `{"properties":{"policyDefinitionId":"`+strings.TrimSuffix(defPath, "/")+`/audit-all"}}`).json(t)["id"].(string)

	for _, tc := range []struct{ scope, body, code, message string }{
		{sub1, `{"properties":{}}`, "InvalidRequestContent", "properties.policyAssignmentId is required"},
		{sub1, `{"properties":{"policyAssignmentId":"` + assignPath + `nope"}}`, "PolicyAssignmentNotFound", "nope"},
		{sub1, `{"properties":{"policyAssignmentId":"` + audit + `"}}`, "InvalidRemediation", "only deployIfNotExists assignments"},
		{sub1, `{"properties":{"policyAssignmentId":"` + assignmentID + `","resourceDiscoveryMode":"Sometimes"}}`, "InvalidRequestContent", "ExistingNonCompliant or ReEvaluateCompliance"},
		{"/subscriptions/11111111-1111-1111-1111-111111111111", `{"properties":{"policyAssignmentId":"` + assignmentID + `"}}`, "SubscriptionNotFound", ""},
	} {
		r := f.do(http.MethodPut, remediationPath(tc.scope, "r"), tc.body)
		g.Expect(r.code()).To(Equal(tc.code), string(r.body))
		g.Expect(r.message()).To(ContainSubstring(tc.message))
	}
	g.Expect(f.do(http.MethodGet, sub1+"/providers/Microsoft.PolicyInsights/remediations"+remediationAPI, "").json(t)["value"]).To(BeEmpty())
}

// TestRemediationResumesAfterRestart: a remediation the data plane stopped
// in the middle of is finished by the next start, and what it had already
// deployed is not deployed again.
func TestRemediationResumesAfterRestart(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	for _, c := range []string{"c1", "c2", "c3"} {
		f.register(cluster(c))
	}
	assignmentID := f.baselineAssigned()
	// c1 is deployed by a remediation of its own...
	body := `{"properties":{"policyAssignmentId":"` + assignmentID + `"}}`
	g.Expect(f.do(http.MethodPut, remediationPath(cluster("c1"), "c1-only"), body).status).To(Equal(http.StatusCreated))
	g.Expect(f.remediation(cluster("c1"), "c1-only")["provisioningState"]).To(Equal("Succeeded"))
	g.Expect(f.generation(cluster("c1"))).To(Equal(int64(1)))

	// ...and the subscription's remediation stopped after it had done c1,
	// as a crash would leave it.
	f.ts.Close()
	g.Expect(f.srv.Close()).To(Succeed())
	st := f.openStore()
	id := sub1 + "/providers/Microsoft.PolicyInsights/remediations/fleet"
	g.Expect(st.Update(func(tx store.Tx) error {
		if err := tx.MarkRemediated(id, cluster("c1")); err != nil {
			return err
		}
		return tx.PutRemediation(&store.Remediation{ID: id, Name: "fleet", Scope: sub1, AssignmentID: assignmentID,
			DiscoveryMode: "ExistingNonCompliant", ProvisioningState: "Evaluating", Total: 3, Succeeded: 1, CreatedOn: f.now, LastUpdatedOn: f.now})
	})).To(Succeed())
	g.Expect(st.Close()).To(Succeed())

	srv, err := New(f.srv.opts)
	g.Expect(err).NotTo(HaveOccurred())
	f.srv, f.ts = srv, httptest.NewServer(srv.Handler())
	props := f.remediation(sub1, "fleet")
	g.Expect(props["provisioningState"]).To(Equal("Succeeded"), "%v", props)
	g.Expect(props["deploymentStatus"]).To(Equal(map[string]any{"totalDeployments": 3.0, "successfulDeployments": 3.0, "failedDeployments": 0.0}))
	for _, c := range []string{"c1", "c2", "c3"} {
		g.Expect(f.generation(cluster(c))).To(Equal(int64(1)), c)
	}

	// A finished remediation is not run again by a later start.
	f.restart()
	g.Expect(f.remediation(sub1, "fleet")["deploymentStatus"]).To(HaveKeyWithValue("totalDeployments", 3.0))
}

// TestRemediationCancel: a canceled remediation deploys nothing more, and
// its name can be used again.
func TestRemediationCancel(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	f.register(cluster("c1"))
	assignmentID := f.baselineAssigned()
	id := sub1 + "/providers/Microsoft.PolicyInsights/remediations/later"
	// Stored before the engine sees it, as a remediation waiting its turn.
	g.Expect(f.srv.store.Update(func(tx store.Tx) error {
		return tx.PutRemediation(&store.Remediation{ID: id, Name: "later", Scope: sub1, AssignmentID: assignmentID,
			DiscoveryMode: "ExistingNonCompliant", ProvisioningState: "Accepted", CreatedOn: f.now, LastUpdatedOn: f.now})
	})).To(Succeed())
	r := f.do(http.MethodPut, remediationPath(sub1, "later"), `{"properties":{"policyAssignmentId":"`+assignmentID+`"}}`)
	g.Expect(r.code()).To(Equal("RemediationInProgress"))
	r = f.do(http.MethodPost, sub1+"/providers/Microsoft.PolicyInsights/remediations/later/cancel"+remediationAPI, "")
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	g.Expect(r.json(t)["properties"]).To(HaveKeyWithValue("provisioningState", "Canceled"))
	f.restart()
	g.Expect(f.remediation(sub1, "later")["provisioningState"]).To(Equal("Canceled"))
	g.Expect(f.generation(cluster("c1"))).To(BeZero())
	g.Expect(f.do(http.MethodPut, remediationPath(sub1, "later"), `{"properties":{"policyAssignmentId":"`+assignmentID+`"}}`).status).To(Equal(http.StatusOK))
	g.Expect(f.remediation(sub1, "later")["provisioningState"]).To(Equal("Succeeded"))
	g.Expect(f.generation(cluster("c1"))).To(Equal(int64(1)))
}

func TestClaimable(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		r      store.Remediation
		shared bool
		want   bool
	}{
		{"nobody runs it", store.Remediation{ProvisioningState: "Accepted"}, true, true},
		{"this process runs it", store.Remediation{ProvisioningState: "Evaluating", Runner: "me", RunnerSeen: now}, true, true},
		{"another replica renewed it just now", store.Remediation{ProvisioningState: "Evaluating", Runner: "other", RunnerSeen: now.Add(-time.Second)}, true, false},
		{"another replica went quiet", store.Remediation{ProvisioningState: "Evaluating", Runner: "other", RunnerSeen: now.Add(-RunnerTTL)}, true, true},
		{"an earlier run of a store nobody shares", store.Remediation{ProvisioningState: "Evaluating", Runner: "other", RunnerSeen: now}, false, true},
		{"finished", store.Remediation{ProvisioningState: "Succeeded"}, true, false},
		{"canceled", store.Remediation{ProvisioningState: "Canceled"}, false, false},
	} {
		if got := claimable(&tc.r, "me", tc.shared, now, RunnerTTL); got != tc.want {
			t.Errorf("%s: claimable = %v, want %v", tc.name, got, tc.want)
		}
	}
}
