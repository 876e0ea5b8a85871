package dataplane

import (
	"encoding/json"
	"testing"
)

func TestARMShape(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"git with a bare kustomization",
			`{"sourceKind":"GitRepository","gitRepository":{"url":"u"},"kustomizations":{"k":{"path":"./"}}}`,
			`{"azureBlob":null,"bucket":null,"gitRepository":{"url":"u"},"kustomizations":{"k":{"dependsOn":[],"force":false,"path":"./","prune":false}},"ociRepository":null,"sourceKind":"GitRepository","suspend":false}`},
		{"values given are kept",
			`{"suspend":true,"bucket":{"insecure":true},"kustomizations":{"k":{"dependsOn":["a"],"prune":true,"force":true}}}`,
			`{"azureBlob":null,"bucket":{"insecure":true},"gitRepository":null,"kustomizations":{"k":{"dependsOn":["a"],"force":true,"prune":true}},"ociRepository":null,"suspend":true}`},
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
