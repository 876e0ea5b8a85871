package dataplane

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/agentapi"
)

// TestOldAPIVersionsKeepTheirShape: a body of 2022-03-01 (dependsOn as
// objects, a kustomization's validation) is taken, and answered in that
// version's shape; the same configuration read with a current version has
// the current shape.
func TestOldAPIVersionsKeepTheirShape(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	token := f.register(clusterA)
	cfg := clusterA + fluxPath + "/old"
	old := "?api-version=2022-03-01"
	body := `{"properties":{"scope":"cluster","namespace":"old","sourceKind":"GitRepository",
		"gitRepository":{"url":"https://github.com/Azure/arc-k8s-demo","repositoryRef":{"branch":"main"}},
		"kustomizations":{"infra":{"path":"./infra","validation":"client"},
			"apps":{"path":"./apps","dependsOn":[{"kustomizationName":"infra"}],"validation":"none"}}}}`
	r := f.do(http.MethodPut, cfg+old, body)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	apps := r.json(t)["properties"].(map[string]any)["kustomizations"].(map[string]any)["apps"].(map[string]any)
	g.Expect(apps["dependsOn"]).To(Equal([]any{map[string]any{"kustomizationName": "infra"}}))
	g.Expect(apps).NotTo(HaveKey("validation"), "Flux's Kustomization has no validation: taken, not kept")

	r = f.do(http.MethodGet, av(cfg), "")
	apps = r.json(t)["properties"].(map[string]any)["kustomizations"].(map[string]any)["apps"].(map[string]any)
	g.Expect(apps["dependsOn"]).To(Equal([]any{"infra"}), "the current version's shape")

	report := `{"generation":1,"complianceState":"Compliant","provisioningState":"Succeeded","sourceSyncedCommitId":"main@sha1:abc"}`
	g.Expect(f.do(http.MethodPut, agentapi.PathPrefix+clusterA+"/fluxConfigurations/old/status", report, "Authorization", "Bearer "+token).status).To(Equal(http.StatusNoContent))
	props := f.do(http.MethodGet, cfg+old, "").json(t)["properties"].(map[string]any)
	g.Expect(props["lastSourceUpdatedCommitId"]).To(Equal("main@sha1:abc"))
	g.Expect(props).NotTo(HaveKey("sourceSyncedCommitId"))
	props = f.do(http.MethodGet, cfg+"?api-version=2022-01-01-preview", "").json(t)["properties"].(map[string]any)
	g.Expect(props["lastSourceSyncedCommitId"]).To(Equal("main@sha1:abc"), "2021-11 and 2022-01 say Synced where 2022-03 says Updated")
	g.Expect(props).NotTo(HaveKey("azureBlob"), "a source the version does not have")

	// A PATCH in the old shape.
	r = f.do(http.MethodPatch, cfg+old, `{"properties":{"kustomizations":{"apps":{"dependsOn":[]}}}}`)
	g.Expect(r.status).To(Equal(http.StatusAccepted), string(r.body))

	before := f.snapshot()
	r = f.do(http.MethodPut, cfg+old, `{"properties":{"kustomizations":{"infra":{"validation":"strict"}}}}`)
	g.Expect(r.status).To(Equal(http.StatusBadRequest))
	g.Expect(r.message()).To(ContainSubstring("kustomizations.infra.validation: must be none, client or server"))
	r = f.do(http.MethodPut, av(cfg), body)
	g.Expect(r.status).To(Equal(http.StatusBadRequest), "the current version has neither shape")
	g.Expect(f.snapshot()).To(Equal(before))
}

// TestNamespacesAsARMTakesThem: ARM takes up to 253 characters with
// periods; the cluster then says what it cannot create.
func TestNamespacesAsARMTakesThem(t *testing.T) {
	f := newFixture(t)
	f.register(clusterA)
	for ns, want := range map[string]int{
		"team.a":                 http.StatusCreated,
		strings.Repeat("n", 100): http.StatusCreated,
		strings.Repeat("n", 254): http.StatusBadRequest,
		"Bad_NS":                 http.StatusBadRequest,
		"-lead":                  http.StatusBadRequest,
		"kube-system":            http.StatusBadRequest,
	} {
		name := fmt.Sprintf("ns%d", len(ns))
		body := strings.Replace(example(t, "create-git.json"), `"namespace": "srs-namespace"`, `"namespace": "`+ns+`"`, 1)
		if r := f.do(http.MethodPut, av(clusterA+fluxPath+"/"+name), body); r.status != want {
			t.Errorf("namespace %q: %d %s, want %d", ns, r.status, r.message(), want)
		}
	}
}
