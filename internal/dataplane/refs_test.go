package dataplane

import (
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
)

// TestGitRefDefaultsAndPatchesWhole: a Git source without a reference
// takes Azure's default branch, and a PATCH's reference replaces the
// stored one rather than merging into it (a branch and a tag together are
// refused).
func TestGitRefDefaultsAndPatchesWhole(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	f.register(clusterA)
	cfg := clusterA + fluxPath + "/noref"
	r := f.do(http.MethodPut, av(cfg), `{"properties":{"gitRepository":{"url":"https://github.com/Azure/arc-k8s-demo"},
		"kustomizations":{"k":{}}}}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	ref := func() map[string]any {
		git := f.do(http.MethodGet, av(cfg), "").json(t)["properties"].(map[string]any)["gitRepository"].(map[string]any)
		return git["repositoryRef"].(map[string]any)
	}
	g.Expect(ref()).To(HaveKeyWithValue("branch", "master"))

	r = f.do(http.MethodPatch, av(cfg), `{"properties":{"gitRepository":{"repositoryRef":{"tag":"v1.0.0"}}}}`)
	g.Expect(r.status).To(Equal(http.StatusAccepted), string(r.body))
	g.Expect(ref()).To(HaveKeyWithValue("tag", "v1.0.0"))
	g.Expect(ref()["branch"]).To(BeNil(), "the new reference replaces the old one whole")

	r = f.do(http.MethodPatch, av(cfg), `{"properties":{"gitRepository":{"url":"https://github.com/Azure/other"}}}`)
	g.Expect(r.status).To(Equal(http.StatusAccepted), string(r.body))
	g.Expect(ref()).To(HaveKeyWithValue("tag", "v1.0.0"), "a PATCH without a reference keeps it")
}

// TestPatchChangesSourceKind: a PATCH to another source kind (as az sends
// it, the other blocks empty) leaves only the new kind's block.
func TestPatchChangesSourceKind(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	f.register(clusterA)
	cfg := clusterA + fluxPath + "/swap"
	g.Expect(f.do(http.MethodPut, av(cfg), example(t, "create-git.json")).status).To(Equal(http.StatusCreated))
	r := f.do(http.MethodPatch, av(cfg), `{"properties":{"sourceKind":"Bucket","bucket":{"url":"https://minio.example.com","bucketName":"configs"},
		"gitRepository":{},"azureBlob":{},"ociRepository":{}}}`)
	g.Expect(r.status).To(Equal(http.StatusAccepted), string(r.body))
	props := f.do(http.MethodGet, av(cfg), "").json(t)["properties"].(map[string]any)
	g.Expect(props["sourceKind"]).To(Equal("Bucket"))
	g.Expect(props["bucket"]).To(HaveKeyWithValue("bucketName", "configs"))
	g.Expect(props["gitRepository"]).To(BeNil(), "the old kind's block is dropped")

	before := f.snapshot()
	r = f.do(http.MethodPatch, av(cfg), `{"properties":{"sourceKind":"AzureBlob"}}`)
	g.Expect(r.status).To(Equal(http.StatusBadRequest), "a new kind without its block")
	g.Expect(f.snapshot()).To(Equal(before))
}
