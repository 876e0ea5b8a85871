package portal

import (
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"
)

func TestNewConfigurationPage(t *testing.T) {
	const id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/apps"
	for _, tc := range []struct {
		name, props    string
		source, ref    string
		kustomizations []KustomizationView
		boxes          int
	}{
		{name: "git, with states and messages from the agent's objects",
			props: `{"sourceKind":"GitRepository","gitRepository":{"url":"https://example.com/fleet","repositoryRef":{"branch":"main"}},
				"kustomizations":{"infra":{"path":"./infra","dependsOn":[]},"apps":{"path":"./apps","dependsOn":["infra"],"prune":true}},
				"statuses":[{"name":"apps","kind":"GitRepository","complianceState":"Compliant"},
					{"name":"apps-infra","kind":"Kustomization","complianceState":"Compliant","statusConditions":[{"type":"Healthy","status":"True","message":"healthy"},{"type":"Ready","status":"True","message":"Applied revision: main@sha1:abc"}]},
					{"name":"apps-apps","kind":"Kustomization","complianceState":"Non-Compliant","statusConditions":[{"type":"Reconciling","status":"False","message":"build failed"}]}]}`,
			source: "https://example.com/fleet", ref: "branch main",
			kustomizations: []KustomizationView{{Name: "apps", Path: "./apps", DependsOn: []string{"infra"}, Prune: true, State: "Non-Compliant", Message: "build failed"},
				{Name: "infra", Path: "./infra", DependsOn: []string{}, State: "Compliant", Message: "Applied revision: main@sha1:abc"}},
			boxes: 2},
		{name: "oci by digest; a Kustomization not reported yet is Pending",
			props:  `{"sourceKind":"OCIRepository","ociRepository":{"url":"oci://ghcr.io/org/manifests","repositoryRef":{"tag":"v1","digest":"sha256:1"}},"kustomizations":{"k":{"path":"./"}}}`,
			source: "oci://ghcr.io/org/manifests", ref: "digest sha256:1",
			kustomizations: []KustomizationView{{Name: "k", Path: "./", State: "Pending"}}, boxes: 1},
		{name: "bucket", props: `{"sourceKind":"Bucket","bucket":{"url":"https://s3.example.com","bucketName":"b"}}`,
			source: "https://s3.example.com", ref: "bucket b"},
		{name: "azure blob", props: `{"sourceKind":"AzureBlob","azureBlob":{"url":"https://a.blob.core.windows.net","containerName":"c"}}`,
			source: "https://a.blob.core.windows.net", ref: "container c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			p, err := NewConfigurationPage(Resource{ID: id, Name: "apps", Properties: json.RawMessage(tc.props)})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p.ClusterName).To(Equal("c1"))
			g.Expect(p.Source).To(Equal(tc.source))
			g.Expect(p.Ref).To(Equal(tc.ref))
			g.Expect(p.KustomizationList).To(Equal(tc.kustomizations))
			g.Expect(p.Graph.Boxes).To(HaveLen(tc.boxes))
		})
	}
	_, err := NewConfigurationPage(Resource{ID: id, Properties: json.RawMessage(`{"kustomizations":[]}`)})
	NewWithT(t).Expect(err).To(HaveOccurred())
}
