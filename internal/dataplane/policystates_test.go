package dataplane

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

const statesAPI = "?api-version=2019-10-01"

func statesPath(scope, action string) string {
	return scope + "/providers/Microsoft.PolicyInsights/policyStates/latest/" + action + statesAPI
}

// query posts a policy states query with OData options (name, value pairs).
func (f *fixture) query(scope, action string, options ...string) response {
	f.t.Helper()
	q := url.Values{}
	for i := 0; i+1 < len(options); i += 2 {
		q.Set(options[i], options[i+1])
	}
	path := statesPath(scope, action)
	if len(q) > 0 {
		path += "&" + q.Encode()
	}
	return f.do(http.MethodPost, path, "")
}

func values(t *testing.T, r response) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, v := range r.json(t)["value"].([]any) {
		rec := v.(map[string]any)
		delete(rec, "@odata.id")
		delete(rec, "@odata.context")
		out = append(out, rec)
	}
	return out
}

// fleetWithOneRemediated: three clusters under the baseline, c1 remediated
// (Compliant), c2 and c3 NonCompliant.
func fleetWithOneRemediated(f *fixture) string {
	f.t.Helper()
	for _, c := range []string{"c1", "c2", "c3"} {
		f.register(cluster(c))
	}
	assignmentID := f.baselineAssigned()
	if r := f.do(http.MethodPut, remediationPath(cluster("c1"), "c1"), `{"properties":{"policyAssignmentId":"`+assignmentID+`"}}`); r.status != http.StatusCreated {
		f.t.Fatalf("remediation: %d %s", r.status, r.body)
	}
	f.remediation(cluster("c1"), "c1")
	f.srv.policy.wait()
	return assignmentID
}

func TestPolicyStatesQuery(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	assignmentID := fleetWithOneRemediated(f)

	r := f.query(sub1, "queryResults")
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	g.Expect(r.json(t)["@odata.count"]).To(Equal(3.0))
	states := values(t, r)
	g.Expect(states).To(HaveLen(3))
	byName := map[string]map[string]any{}
	for _, st := range states {
		byName[lastSegment(st["resourceId"].(string))] = st
	}
	c1 := byName["c1"]
	g.Expect(c1).To(And(
		HaveKeyWithValue("complianceState", "Compliant"), HaveKeyWithValue("isCompliant", true),
		HaveKeyWithValue("policyAssignmentId", assignmentID), HaveKeyWithValue("policyAssignmentName", "gitops-baseline-assignment"),
		HaveKeyWithValue("policyAssignmentScope", sub1), HaveKeyWithValue("policyDefinitionName", "enforce-gitops-baseline"),
		HaveKeyWithValue("policyDefinitionAction", "deployifnotexists"), HaveKeyWithValue("resourceGroup", "fleet"),
		HaveKeyWithValue("resourceLocation", "eastus"), HaveKeyWithValue("resourceType", "Microsoft.Kubernetes/connectedClusters"),
		HaveKeyWithValue("subscriptionId", sub1[len("/subscriptions/"):]), HaveKey("timestamp")))
	g.Expect(r.json(t)["value"].([]any)[0]).To(HaveKey("@odata.context"))
	g.Expect(byName["c2"]).To(HaveKeyWithValue("complianceState", "NonCompliant"))

	// The options az passes: filter, order, select, top, apply.
	r = f.query(sub1, "queryResults", "$filter", "complianceState eq 'NonCompliant' and resourceGroup eq 'fleet'",
		"$orderby", "resourceId desc", "$select", "resourceId, complianceState")
	g.Expect(values(t, r)).To(Equal([]map[string]any{
		{"resourceId": cluster("c3"), "complianceState": "NonCompliant"},
		{"resourceId": cluster("c2"), "complianceState": "NonCompliant"}}))
	g.Expect(values(t, f.query(sub1, "queryResults", "$top", "1"))).To(HaveLen(1))
	g.Expect(values(t, f.query(sub1, "queryResults", "$apply", "groupby((complianceState), aggregate($count as n))", "$orderby", "complianceState"))).
		To(ConsistOf(map[string]any{"complianceState": "Compliant", "n": 1.0}, map[string]any{"complianceState": "NonCompliant", "n": 2.0}))

	// Scopes: a resource group, a resource, the assignment, the definition.
	for scope, want := range map[string]int{
		sub1 + "/resourceGroups/fleet":          3,
		sub1 + "/resourceGroups/elsewhere":      0,
		cluster("c2"):                           1,
		assignmentID:                            3,
		defPath + "enforce-gitops-baseline":     3,
		assignPath + "someone-elses-assignment": 0,
	} {
		r := f.query(scope, "queryResults")
		g.Expect(r.status).To(Equal(http.StatusOK), scope+": "+string(r.body))
		g.Expect(r.json(t)["value"]).To(HaveLen(want), scope)
	}

	// Pages: @odata.nextLink, posted as az does, leads to the rest.
	statesPage = 2
	t.Cleanup(func() { statesPage = 1000 })
	r = f.query(sub1, "queryResults")
	g.Expect(values(t, r)).To(HaveLen(2))
	next, _ := url.Parse(r.json(t)["@odata.nextLink"].(string))
	r = f.do(http.MethodPost, next.RequestURI(), "")
	g.Expect(values(t, r)).To(HaveLen(1))
	g.Expect(r.json(t)).NotTo(HaveKey("@odata.nextLink"))
}

func TestPolicyStatesBadQueries(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	fleetWithOneRemediated(f)
	for _, tc := range []struct {
		options        []string
		code, contains string
	}{
		{[]string{"$filter", "complianceState equals 'x'"}, "InvalidQueryParameterValue", "$filter: at 17: expected eq, ne"},
		{[]string{"$filter", "owner eq 'me'"}, "InvalidQueryParameterValue", "unknown property 'owner'"},
		{[]string{"$top", "0"}, "InvalidQueryParameterValue", "$top: '0' is not a whole number from 1 to 1000"},
		{[]string{"$apply", "aggregate(resourceId with max as m)"}, "InvalidQueryParameterValue", "only counts are aggregated"},
		{[]string{"$from", "yesterday"}, "InvalidQueryParameterValue", "$from: 'yesterday' is not a date-time"},
		{[]string{"$expand", "PolicyEvaluationDetails"}, "InvalidQueryParameterValue", "$expand: 'PolicyEvaluationDetails' is not served"},
	} {
		r := f.query(sub1, "queryResults", tc.options...)
		g.Expect(r.status).To(Equal(http.StatusBadRequest), strings.Join(tc.options, " "))
		g.Expect(r.code()).To(Equal(tc.code))
		g.Expect(r.message()).To(ContainSubstring(tc.contains))
	}
	r := f.do(http.MethodPost, sub1+"/providers/Microsoft.PolicyInsights/policyStates/newest/queryResults"+statesAPI, "")
	g.Expect(r.code()).To(Equal("InvalidPolicyStatesResource"))
	g.Expect(f.do(http.MethodGet, statesPath(sub1, "queryResults"), "").status).To(Equal(http.StatusMethodNotAllowed))
	g.Expect(f.query("/providers/Microsoft.Management/managementGroups/mg1", "queryResults").code()).To(Equal("InvalidScope"))
	g.Expect(f.query(sub1+"/providers/Microsoft.Authorization/policySetDefinitions/set1", "queryResults").json(t)["value"]).To(BeEmpty())
}

func TestPolicyStatesSummarize(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	assignmentID := fleetWithOneRemediated(f)
	r := f.query(sub1, "summarize")
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	summary := values(t, r)
	g.Expect(summary).To(HaveLen(1))
	results := summary[0]["results"].(map[string]any)
	g.Expect(results).To(And(HaveKeyWithValue("nonCompliantResources", 2.0), HaveKeyWithValue("nonCompliantPolicies", 1.0)))
	g.Expect(results["resourceDetails"]).To(ConsistOf(
		map[string]any{"complianceState": "compliant", "count": 1.0}, map[string]any{"complianceState": "noncompliant", "count": 2.0}))
	g.Expect(results["policyDetails"]).To(ConsistOf(map[string]any{"complianceState": "noncompliant", "count": 1.0}))
	g.Expect(results["queryResultsUri"]).To(ContainSubstring("/policyStates/latest/queryResults?api-version=2019-10-01&$filter=IsCompliant+eq+false"))
	assignments := summary[0]["policyAssignments"].([]any)
	g.Expect(assignments).To(HaveLen(1))
	a := assignments[0].(map[string]any)
	g.Expect(a["policyAssignmentId"]).To(Equal(strings.ToLower(assignmentID)))
	g.Expect(a["results"]).To(HaveKeyWithValue("nonCompliantResources", 2.0))
	def := a["policyDefinitions"].([]any)[0].(map[string]any)
	g.Expect(def).To(And(HaveKeyWithValue("effect", "deployifnotexists"),
		HaveKeyWithValue("policyDefinitionId", strings.ToLower(strings.TrimSuffix(defPath, "/")+"/enforce-gitops-baseline"))))

	// A filter narrows what is counted; the resource group's summary counts
	// its own.
	r = f.query(sub1, "summarize", "$filter", "resourceId eq '"+cluster("c1")+"'")
	g.Expect(values(t, r)[0]["results"]).To(HaveKeyWithValue("nonCompliantResources", 0.0))
	r = f.query(sub1+"/resourceGroups/elsewhere", "summarize")
	g.Expect(values(t, r)[0]["results"]).To(HaveKeyWithValue("resourceDetails", BeEmpty()))
}

// TestTriggerEvaluation: an on-demand evaluation re-evaluates every cluster
// of the scope; its operation answers 202 until done, then 200.
func TestTriggerEvaluation(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	assignmentID := fleetWithOneRemediated(f)
	// A state lost, as if never evaluated.
	g.Expect(f.srv.store.Update(func(tx store.Tx) error { return tx.DeletePolicyState(assignmentID, cluster("c2"), "") })).To(Succeed())
	g.Expect(f.query(sub1, "queryResults").json(t)["value"]).To(HaveLen(2))

	r := f.query(sub1+"/resourceGroups/fleet", "triggerEvaluation")
	g.Expect(r.status).To(Equal(http.StatusAccepted), string(r.body))
	loc, err := url.Parse(r.header.Get("Location"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(loc.Path).To(HavePrefix(sub1 + "/providers/Microsoft.PolicyInsights/asyncOperationResults/"))
	g.Eventually(func() int { return f.do(http.MethodGet, loc.RequestURI(), "").status }, 10*time.Second, 10*time.Millisecond).Should(Equal(http.StatusOK))
	g.Expect(f.query(sub1, "queryResults").json(t)["value"]).To(HaveLen(3))

	// Only a subscription or a resource group is evaluated on demand.
	g.Expect(f.query(cluster("c1"), "triggerEvaluation").code()).To(Equal("InvalidScope"))
	// Without any assignment there is nothing to evaluate: done at once.
	g.Expect(f.do(http.MethodDelete, assignPath+"gitops-baseline-assignment"+policyAPI, "").status).To(Equal(http.StatusOK))
	r = f.query(sub1, "triggerEvaluation")
	loc, _ = url.Parse(r.header.Get("Location"))
	g.Eventually(func() int { return f.do(http.MethodGet, loc.RequestURI(), "").status }, 10*time.Second, 10*time.Millisecond).Should(Equal(http.StatusOK))
}
