package dataplane

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

func TestARMShape(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"git with a bare kustomization",
			`{"sourceKind":"GitRepository","gitRepository":{"url":"u"},"kustomizations":{"k":{"path":"./"}}}`,
			`{"azureBlob":null,"bucket":null,"gitRepository":{"url":"u"},"kustomizations":{"k":{"dependsOn":[],"force":false,"path":"./","prune":false}},"ociRepository":null,"sourceKind":"GitRepository","suspend":false}`},
		{"values given are kept",
			`{"suspend":true,"bucket":{"insecure":true},"kustomizations":{"k":{"dependsOn":["a"],"prune":true,"force":true}}}`,
			`{"azureBlob":null,"bucket":{"insecure":true},"gitRepository":null,"kustomizations":{"k":{"dependsOn":["a"],"force":true,"path":"","prune":true}},"ociRepository":null,"suspend":true}`},
		{"OCI",
			`{"ociRepository":{"url":"oci://x"}}`,
			`{"azureBlob":null,"bucket":null,"gitRepository":null,"ociRepository":{"insecure":false,"url":"oci://x","useWorkloadIdentity":false},"suspend":false}`},
	} {
		var props map[string]any
		if err := json.Unmarshal([]byte(tc.in), &props); err != nil {
			t.Fatal(err)
		}
		armShape(props)
		got, _ := json.Marshal(props)
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestCanonicalEnums(t *testing.T) {
	var spec v1alpha1.FluxConfigSpec
	raw := `{"scope":"Cluster","sourceKind":"gitrepository","gitRepository":{"url":"u","provider":"azure"},
		"ociRepository":{"layerSelector":{"operation":"Copy"},"verify":{"provider":"Cosign"}},
		"kustomizations":{"k":{"postBuild":{"substituteFrom":[{"kind":"configmap","name":"x"},{"kind":"SECRET","name":"y"}]}}}}`
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	canonicalEnums(&spec)
	sf := spec.Kustomizations["k"].PostBuild.SubstituteFrom
	got := []string{string(spec.Scope), string(spec.SourceKind), spec.GitRepository.Provider,
		spec.OCIRepository.LayerSelector.Operation, spec.OCIRepository.Verify.Provider, sf[0].Kind, sf[1].Kind}
	want := []string{"cluster", "GitRepository", "Azure", "copy", "cosign", "ConfigMap", "Secret"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %v, want %v", got, want)
	}
	spec.Scope = "region"
	canonicalEnums(&spec)
	if spec.Scope != "region" {
		t.Error("an unknown value was changed; validation must see it as given")
	}
}

// TestARMEnumsIgnoreCase: a body with provider "azure" (ARM takes any case)
// is accepted and stored as the CRD spells it.
func TestARMEnumsIgnoreCase(t *testing.T) {
	f := newFixture(t)
	f.register(clusterA)
	body := strings.Replace(example(t, "create-git.json"), `"url": "https://github.com/Azure/arc-k8s-demo",`,
		`"url": "https://github.com/Azure/arc-k8s-demo", "provider": "azure",`, 1)
	r := f.do(http.MethodPut, av(clusterA+fluxPath+"/cfg"), strings.Replace(body, `"scope": "cluster"`, `"scope": "Cluster"`, 1))
	if r.status != http.StatusCreated {
		t.Fatalf("%d %s", r.status, r.body)
	}
	props := r.json(t)["properties"].(map[string]any)
	if props["scope"] != "cluster" || props["gitRepository"].(map[string]any)["provider"] != "Azure" {
		t.Errorf("scope %v, provider %v", props["scope"], props["gitRepository"].(map[string]any)["provider"])
	}
}
