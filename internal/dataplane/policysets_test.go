package dataplane

import (
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

const setPath = sub1 + "/providers/Microsoft.Authorization/policySetDefinitions/"

// auditSource audits configurations whose repository is not under a
// prefix given as a parameter.
const auditSource = `{"properties":{"mode":"Indexed","parameters":{"prefix":{"type":"String"}},"policyRule":{"if":{"allOf":[
	{"field":"type","equals":"Microsoft.KubernetesConfiguration/fluxConfigurations"},
	{"field":"Microsoft.KubernetesConfiguration/fluxConfigurations/gitRepository.url","notLike":"[concat(parameters('prefix'), '*')]"}]},
	"then":{"effect":"audit"}}}}`

func fleetSet(prefixParam string) string {
	return `{"properties":{"displayName":"Fleet baseline","metadata":{"category":"Kubernetes"},
		"parameters":{"allowedPrefix":{"type":"String","defaultValue":"https://github.com/"}},
		"policyDefinitions":[
			{"policyDefinitionId":"` + defPath + `enforce-gitops-baseline","policyDefinitionReferenceId":"baseline"},
			{"policyDefinitionId":"` + defPath + `audit-source","parameters":{"prefix":{"value":"` + prefixParam + `"}}}]}}`
}

func TestPolicySetDefinitions(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	g.Expect(f.do(http.MethodPut, defPath+"enforce-gitops-baseline"+policyAPI, correctedBaseline(t)).status).To(Equal(http.StatusCreated))
	g.Expect(f.do(http.MethodPut, defPath+"audit-source"+policyAPI, auditSource).status).To(Equal(http.StatusCreated))

	// Refused where broken, nothing stored.
	for _, tc := range []struct{ body, want string }{
		{`{"properties":{"policyDefinitions":[]}}`, "properties.policyDefinitions: is required"},
		{strings.Replace(fleetSet("[parameters('allowedPrefix')]"), "audit-source", "nope", 1), "properties.policyDefinitions[1].policyDefinitionId: the policy definition '" + defPath + "nope' could not be found"},
		{fleetSet("[parameters('prefix')]"), "parameters('prefix') names no parameter of the set (it has allowedPrefix)"},
	} {
		r := f.do(http.MethodPut, setPath+"fleet"+policyAPI, tc.body)
		g.Expect(r.code()).To(Equal("InvalidPolicySetDefinition"), string(r.body))
		g.Expect(r.message()).To(ContainSubstring(tc.want))
	}
	g.Expect(f.do(http.MethodGet, setPath+"fleet"+policyAPI, "").code()).To(Equal("PolicySetDefinitionNotFound"))

	r := f.do(http.MethodPut, setPath+"fleet"+policyAPI, fleetSet("[parameters('allowedPrefix')]"))
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	g.Expect(r.json(t)["type"]).To(Equal("Microsoft.Authorization/policySetDefinitions"))
	members := r.json(t)["properties"].(map[string]any)["policyDefinitions"].([]any)
	g.Expect(members[1].(map[string]any)["policyDefinitionReferenceId"]).To(Equal("audit-source"), "a reference ID is given")
	g.Expect(f.do(http.MethodGet, strings.TrimSuffix(setPath, "/")+policyAPI, "").json(t)["value"]).To(HaveLen(1))
	// A member definition cannot go while a set has it.
	r = f.do(http.MethodDelete, defPath+"audit-source"+policyAPI, "")
	g.Expect(r.code()).To(Equal("PolicyDefinitionInUse"))
	g.Expect(r.message()).To(ContainSubstring("is a member of policy set definitions (" + setPath + "fleet)"))

	// Assigned: a DINE member needs the identity, as a definition does.
	f.register(cluster("c0"))
	assign := `{"properties":{"policyDefinitionId":"` + setPath + `fleet","parameters":{"allowedPrefix":{"value":"https://github.com/mi-org/"}}}}`
	g.Expect(f.do(http.MethodPut, assignPath+"fleet"+policyAPI, assign).code()).To(Equal("InvalidCreatePolicyAssignmentRequest"))
	r = f.do(http.MethodPut, assignPath+"fleet"+policyAPI, `{"location":"westeurope","identity":{"type":"SystemAssigned"},`+assign[1:])
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	assignmentID := r.json(t)["id"].(string)
	f.assign(r.json(t)["identity"].(map[string]any)["principalId"].(string), "Contributor", sub1)
	g.Expect(f.do(http.MethodDelete, setPath+"fleet"+policyAPI, "").code()).To(Equal("PolicySetDefinitionInUse"))

	// A new cluster gets the baseline member's deployment; a configuration
	// from elsewhere is audited by the other member, with its parameter
	// from the set's.
	f.register(cluster("c1"))
	f.srv.policy.wait()
	g.Expect(f.do(http.MethodPut, av(cluster("c1")+fluxPath+"/elsewhere"), example(t, "create-git.json")).status).To(Equal(http.StatusCreated))
	f.srv.policy.wait()
	byRef := map[string]string{}
	for _, st := range values(t, f.query(setPath+"fleet", "queryResults")) {
		g.Expect(st["policySetDefinitionId"]).To(Equal(setPath + "fleet"))
		g.Expect(st["policySetDefinitionCategory"]).To(Equal("Kubernetes"))
		byRef[st["policyDefinitionReferenceId"].(string)+" "+lastSegment(st["resourceId"].(string))] = st["complianceState"].(string)
	}
	g.Expect(byRef).To(Equal(map[string]string{
		"baseline c0": "NonCompliant", "baseline c1": "Compliant",
		"audit-source corporate-baseline": "Compliant", "audit-source elsewhere": "NonCompliant",
	}))
	summary := values(t, f.query(sub1, "summarize"))[0]
	a := summary["policyAssignments"].([]any)[0].(map[string]any)
	g.Expect(a["policySetDefinitionId"]).To(Equal(strings.ToLower(setPath + "fleet")))
	g.Expect(a["policyDefinitions"]).To(HaveLen(2))
	g.Expect(summary["results"]).To(HaveKeyWithValue("nonCompliantPolicies", 2.0))

	// A set's remediation names its member.
	r = f.do(http.MethodPut, remediationPath(sub1, "fix"), `{"properties":{"policyAssignmentId":"`+assignmentID+`"}}`)
	g.Expect(r.code()).To(Equal("InvalidRemediation"))
	g.Expect(r.message()).To(ContainSubstring("one of baseline, audit-source"))
	r = f.do(http.MethodPut, remediationPath(sub1, "fix"), `{"properties":{"policyAssignmentId":"`+assignmentID+`","policyDefinitionReferenceId":"audit-source"}}`)
	g.Expect(r.message()).To(ContainSubstring("has effect Audit: only deployIfNotExists"))
	r = f.do(http.MethodPut, remediationPath(sub1, "fix"), `{"properties":{"policyAssignmentId":"`+assignmentID+`","policyDefinitionReferenceId":"baseline"}}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	props := f.remediation(sub1, "fix")
	g.Expect(props["deploymentStatus"]).To(HaveKeyWithValue("successfulDeployments", 1.0))
	g.Expect(props["policyDefinitionReferenceId"]).To(Equal("baseline"))
	g.Expect(f.generation(cluster("c0"))).To(Equal(int64(1)))
}
