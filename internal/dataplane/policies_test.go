package dataplane

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

const (
	sub1        = "/subscriptions/00000000-0000-0000-0000-000000000000"
	defPath     = sub1 + "/providers/Microsoft.Authorization/policyDefinitions/"
	assignPath  = sub1 + "/providers/Microsoft.Authorization/policyAssignments/"
	policyAPI   = "?api-version=2021-06-01"
	contributor = "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"
)

// baselineDefinition is the brief's policy as a definition body:
// {"properties": {"displayName", "mode", "policyRule"}}.
func baselineDefinition(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../test/fixtures/azure-examples/policy-baseline.json")
	if err != nil {
		t.Fatal(err)
	}
	var def map[string]any
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"properties": map[string]any{"displayName": "Enforce GitOps Corporate Baseline on Arc Clusters",
		"mode": def["mode"], "policyRule": def["policyRule"]}})
	return string(body)
}

func TestPolicyDefinitions(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	r := f.do(http.MethodPut, defPath+"enforce-gitops-baseline"+policyAPI, baselineDefinition(t))
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	got := r.json(t)
	g.Expect(got["type"]).To(Equal("Microsoft.Authorization/policyDefinitions"))
	g.Expect(got["properties"]).To(HaveKeyWithValue("policyType", "Custom"))
	g.Expect(f.do(http.MethodPut, defPath+"enforce-gitops-baseline"+policyAPI, baselineDefinition(t)).status).To(Equal(http.StatusOK))
	g.Expect(f.do(http.MethodGet, defPath+"enforce-gitops-baseline"+policyAPI, "").status).To(Equal(http.StatusOK))
	list := f.do(http.MethodGet, strings.TrimSuffix(defPath, "/")+policyAPI, "").json(t)["value"].([]any)
	g.Expect(list).To(HaveLen(1 + len(builtinDefinitions))) // with the built-ins

	// A broken rule is refused where it is broken, and nothing is stored.
	bad := strings.Replace(baselineDefinition(t), `"equals":"Microsoft.Kubernetes/connectedClusters"`, `"equal":"Microsoft.Kubernetes/connectedClusters"`, 1)
	r = f.do(http.MethodPut, defPath+"broken"+policyAPI, bad)
	g.Expect(r.status).To(Equal(http.StatusBadRequest), string(r.body))
	g.Expect(r.message()).To(ContainSubstring("properties.policyRule.if.equal: unknown key"))
	g.Expect(f.do(http.MethodGet, defPath+"broken"+policyAPI, "").status).To(Equal(http.StatusNotFound))

	// Definitions live in a subscription; the api-version is checked.
	g.Expect(f.do(http.MethodPut, sub1+"/resourceGroups/rg1/providers/Microsoft.Authorization/policyDefinitions/x"+policyAPI, baselineDefinition(t)).status).To(Equal(http.StatusBadRequest))
	g.Expect(f.do(http.MethodGet, defPath+"enforce-gitops-baseline?api-version=2010-01-01", "").status).To(Equal(http.StatusBadRequest))
}

func TestPolicyAssignments(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	g.Expect(f.do(http.MethodPut, defPath+"enforce-gitops-baseline"+policyAPI, baselineDefinition(t)).status).To(Equal(http.StatusCreated))
	defID := strings.TrimSuffix(defPath, "/") + "/enforce-gitops-baseline"

	// As the brief writes it: no identity. Refused with what to add.
	r := f.do(http.MethodPut, assignPath+"gitops-baseline-assignment"+policyAPI, `{"properties":{"policyDefinitionId":"`+defID+`"}}`)
	g.Expect(r.status).To(Equal(http.StatusBadRequest), string(r.body))
	g.Expect(r.json(t)["error"].(map[string]any)["code"]).To(Equal("InvalidCreatePolicyAssignmentRequest"))
	g.Expect(r.message()).To(And(ContainSubstring(`"identity": {"type": "SystemAssigned"}`), ContainSubstring("--mi-system-assigned"), ContainSubstring(contributor)))

	r = f.do(http.MethodPut, assignPath+"gitops-baseline-assignment"+policyAPI, `{"identity":{"type":"SystemAssigned"},"properties":{"policyDefinitionId":"`+defID+`"}}`)
	g.Expect(r.status).To(Equal(http.StatusBadRequest))
	g.Expect(r.message()).To(ContainSubstring(`needs a "location"`))

	r = f.do(http.MethodPut, assignPath+"gitops-baseline-assignment"+policyAPI, `{"location":"westeurope","identity":{"type":"SystemAssigned"},"properties":{"policyDefinitionId":"`+defID+`"}}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	a := r.json(t)
	ident := a["identity"].(map[string]any)
	g.Expect(ident["type"]).To(Equal("SystemAssigned"))
	principalID := ident["principalId"].(string)
	g.Expect(principalID).NotTo(BeEmpty())
	g.Expect(a["properties"]).To(And(HaveKeyWithValue("enforcementMode", "Default"), HaveKeyWithValue("scope", sub1)))
	// The identity is a principal that roles can be given to.
	f.assign(principalID, "Contributor", sub1)
	// A second PUT keeps the identity.
	r = f.do(http.MethodPut, assignPath+"gitops-baseline-assignment"+policyAPI, `{"location":"westeurope","identity":{"type":"SystemAssigned"},"properties":{"policyDefinitionId":"`+defID+`","enforcementMode":"doNotEnforce"}}`)
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	g.Expect(r.json(t)["identity"].(map[string]any)["principalId"]).To(Equal(principalID))

	list := f.do(http.MethodGet, sub1+"/resourceGroups/rg1/providers/Microsoft.Authorization/policyAssignments"+policyAPI, "").json(t)["value"].([]any)
	g.Expect(list).To(HaveLen(1), "an assignment to the subscription applies to its resource groups")

	// An assigned definition cannot go; the assignment can.
	r = f.do(http.MethodDelete, defPath+"enforce-gitops-baseline"+policyAPI, "")
	g.Expect(r.status).To(Equal(http.StatusConflict))
	g.Expect(r.message()).To(ContainSubstring("gitops-baseline-assignment"))
	g.Expect(f.do(http.MethodDelete, assignPath+"gitops-baseline-assignment"+policyAPI, "").status).To(Equal(http.StatusOK))
	g.Expect(f.do(http.MethodGet, "/v1.0/servicePrincipals/"+principalID, "").status).To(Equal(http.StatusNotFound), "the identity goes with its assignment")
	g.Expect(f.do(http.MethodDelete, assignPath+"gitops-baseline-assignment"+policyAPI, "").status).To(Equal(http.StatusNoContent))
	g.Expect(f.do(http.MethodDelete, defPath+"enforce-gitops-baseline"+policyAPI, "").status).To(Equal(http.StatusOK))
}

func TestPolicyAssignmentParameters(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	def := `{"properties":{"mode":"Indexed","parameters":{"effect":{"type":"String","allowedValues":["Audit","Disabled"],"defaultValue":"Audit"},
		"url":{"type":"String"}},
		"policyRule":{"if":{"field":"Microsoft.KubernetesConfiguration/fluxConfigurations/gitRepository.url","notEquals":"[parameters('url')]"},
		"then":{"effect":"[parameters('effect')]"}}}}`
	g.Expect(f.do(http.MethodPut, defPath+"audit-url"+policyAPI, def).status).To(Equal(http.StatusCreated))
	defID := strings.TrimSuffix(defPath, "/") + "/audit-url"
	for _, tc := range []struct{ params, want string }{
		{`{}`, `properties.parameters.url: has no value and no default: give it in the assignment's parameters as {"url": {"value": ...}}`},
		{`{"url":{"value":"https://x"},"effect":{"value":"Deny"}}`, `"Deny" is not one of the allowed values ["Audit", "Disabled"]`},
		{`{"url":{"value":"https://x"},"colour":{"value":"red"}}`, "the definition has no such parameter (it has effect, url)"},
	} {
		r := f.do(http.MethodPut, assignPath+"a1"+policyAPI, `{"properties":{"policyDefinitionId":"`+defID+`","parameters":`+tc.params+`}}`)
		g.Expect(r.status).To(Equal(http.StatusBadRequest), tc.params)
		g.Expect(r.message()).To(ContainSubstring(tc.want))
	}
	// Audit needs no identity.
	r := f.do(http.MethodPut, assignPath+"a1"+policyAPI, `{"properties":{"policyDefinitionId":"`+defID+`","parameters":{"url":{"value":"https://x"}}}}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	r = f.do(http.MethodPut, assignPath+"a2"+policyAPI, `{"properties":{"policyDefinitionId":"`+defPath+`ghost"}}`)
	g.Expect(r.status).To(Equal(http.StatusNotFound))
}

// TestPolicyRoles: Contributor cannot write policy (Azure's
// Microsoft.Authorization/*/Write NotAction); Owner can; Reader reads.
func TestPolicyRoles(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	_, contrib := f.principal("contrib", "Contributor", sub1)
	_, reader := f.principal("reader", "Reader", sub1)
	g.Expect(f.as(contrib, http.MethodPut, defPath+"x"+policyAPI, baselineDefinition(t)).status).To(Equal(http.StatusForbidden))
	g.Expect(f.do(http.MethodPut, defPath+"x"+policyAPI, baselineDefinition(t)).status).To(Equal(http.StatusCreated))
	g.Expect(f.as(reader, http.MethodGet, defPath+"x"+policyAPI, "").status).To(Equal(http.StatusOK))
	g.Expect(f.as(reader, http.MethodDelete, defPath+"x"+policyAPI, "").status).To(Equal(http.StatusForbidden))
}
