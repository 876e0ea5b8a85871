package dataplane

import (
	"net/http"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/agentapi"
)

const extAPI = "?api-version=2023-05-01"

func extPath(clusterID, name string) string {
	return clusterID + "/providers/Microsoft.KubernetesConfiguration/extensions/" + name + extAPI
}

// agentCalls makes the cluster's agent call once, as it does on start.
func (f *fixture) agentCalls(clusterID, token string) {
	f.t.Helper()
	if r := f.do(http.MethodGet, agentapi.PathPrefix+clusterID+"/fluxConfigurations", "", "Authorization", "Bearer "+token); r.status != http.StatusOK {
		f.t.Fatalf("agent list: %d %s", r.status, r.body)
	}
}

func TestFluxExtension(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	token := f.register(cluster("c1"))
	g.Expect(f.do(http.MethodGet, av(cluster("c1")), "").json(t)["properties"]).To(HaveKeyWithValue("connectivityStatus", "Connecting"))

	for _, tc := range []struct{ body, code, message string }{
		{`{"properties":{}}`, "InvalidExtension", "properties.extensionType is required"},
		{`{"properties":{"extensionType":"microsoft.azuremonitor.containers"}}`, "ExtensionTypeNotSupported", "only microsoft.flux"},
		{`{"properties":{"extensionType":"microsoft.flux","version":"1.8.0"}}`, "InvalidExtension", "version is set only with autoUpgradeMinorVersion false"},
		{`{"properties":{"extensionType":"microsoft.flux","configurationProtectedSettings":{"k":"v"}}}`, "InvalidExtension", "takes none"},
	} {
		r := f.do(http.MethodPut, extPath(cluster("c1"), "flux"), tc.body)
		g.Expect(r.code()).To(Equal(tc.code), string(r.body))
		g.Expect(r.message()).To(ContainSubstring(tc.message))
	}
	r := f.do(http.MethodPut, extPath(cluster("c1"), "flux"), `{"identity":{"type":"SystemAssigned"},"properties":{"extensionType":"microsoft.flux",
		"autoUpgradeMinorVersion":false,"version":"1.8.0","configurationSettings":{"helm-controller.enabled":false}}}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	props := r.json(t)["properties"].(map[string]any)
	g.Expect(props).To(And(HaveKeyWithValue("provisioningState", "Creating"), HaveKeyWithValue("releaseTrain", "Stable"),
		HaveKeyWithValue("version", "1.8.0"), HaveKeyWithValue("configurationSettings", HaveKeyWithValue("helm-controller.enabled", "false"))))
	g.Expect(r.json(t)["identity"]).To(HaveKey("principalId"))
	g.Expect(f.do(http.MethodPut, extPath(cluster("c1"), "flux2"), `{"properties":{"extensionType":"microsoft.flux"}}`).code()).To(Equal("ExtensionAlreadyExists"))

	// The agent calls: the cluster is connected, the extension installed.
	f.agentCalls(cluster("c1"), token)
	g.Expect(f.do(http.MethodGet, extPath(cluster("c1"), "flux"), "").json(t)["properties"]).To(HaveKeyWithValue("provisioningState", "Succeeded"))
	g.Expect(f.do(http.MethodGet, av(cluster("c1")), "").json(t)["properties"]).To(HaveKeyWithValue("connectivityStatus", "Connected"))
	g.Expect(f.do(http.MethodGet, cluster("c1")+"/providers/Microsoft.KubernetesConfiguration/extensions"+extAPI, "").json(t)["value"]).To(HaveLen(1))

	g.Expect(f.do(http.MethodDelete, extPath(cluster("c1"), "flux"), "").status).To(Equal(http.StatusOK))
	g.Expect(f.do(http.MethodGet, extPath(cluster("c1"), "flux"), "").status).To(Equal(http.StatusNotFound))
	g.Expect(f.do(http.MethodPut, extPath(cluster("nope"), "flux"), `{"properties":{"extensionType":"microsoft.flux"}}`).status).To(Equal(http.StatusNotFound))
}

// TestBuiltinFluxExtensionPolicy: Azure's built-in "Configure installation
// of Flux extension on Kubernetes cluster" deploys the extension to a new
// cluster, which is compliant once the cluster's agent has connected (the
// existence condition asks for provisioningState Succeeded).
func TestBuiltinFluxExtensionPolicy(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	r := f.do(http.MethodPut, assignPath+"flux-extension"+policyAPI, `{"location":"westeurope","identity":{"type":"SystemAssigned"},
		"properties":{"policyDefinitionId":"`+builtinPath+`f9175d5f-abc8-1dc3-bd3c-5d7476ada3d1"}}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	assignmentID := r.json(t)["id"].(string)
	f.assign(r.json(t)["identity"].(map[string]any)["principalId"].(string), "Contributor", sub1)

	token := f.register(cluster("c1"))
	st := f.states(assignmentID)["c1"]
	g.Expect(st.Error).To(BeEmpty())
	ext := f.do(http.MethodGet, extPath(cluster("c1"), "flux"), "")
	g.Expect(ext.status).To(Equal(http.StatusOK), string(ext.body))
	g.Expect(ext.json(t)["properties"]).To(And(HaveKeyWithValue("extensionType", "microsoft.flux"),
		HaveKeyWithValue("configurationSettings", HaveKeyWithValue("image-automation-controller.enabled", "false"))))
	g.Expect(f.states(assignmentID)["c1"].ComplianceState).To(Equal("NonCompliant"), "installed, not yet connected")

	f.agentCalls(cluster("c1"), token)
	g.Expect(f.states(assignmentID)["c1"].ComplianceState).To(Equal("Compliant"))
}
