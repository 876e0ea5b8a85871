package cli

import (
	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// The typed bodies the CLI sends to create things, shaped as az sends them:
// the FluxConfig API types (which are ARM's properties), plus the fields az
// always sends even when false, which the API types omit when empty. PATCH
// bodies of partial updates are maps (update.go), since only the flags given
// may appear in them.

// createRequest is the PUT body of flux create.
type createRequest struct {
	Properties createProperties `json:"properties"`
}

type createProperties struct {
	v1alpha1.FluxConfigSpec
	Namespace string `json:"namespace"`
	Suspend   bool   `json:"suspend"`

	Bucket         *bucketRequest                  `json:"bucket,omitempty"`
	AzureBlob      *azureBlobRequest               `json:"azureBlob,omitempty"`
	OCIRepository  *ociRequest                     `json:"ociRepository,omitempty"`
	Kustomizations map[string]kustomizationRequest `json:"kustomizations"`

	ConfigurationProtectedSettings map[string]string `json:"configurationProtectedSettings,omitempty"`
}

type bucketRequest struct {
	v1alpha1.BucketDefinition
	Insecure bool `json:"insecure"`
}

type azureBlobRequest struct {
	v1alpha1.AzureBlobDefinition
	ServicePrincipal *servicePrincipalRequest `json:"servicePrincipal,omitempty"`
}

type servicePrincipalRequest struct {
	v1alpha1.ServicePrincipalDefinition
	ClientCertificateSendChain bool `json:"clientCertificateSendChain"`
}

type ociRequest struct {
	v1alpha1.OCIRepositoryDefinition
	Insecure            bool `json:"insecure"`
	UseWorkloadIdentity bool `json:"useWorkloadIdentity"`
}

// kustomizationRequest is a whole kustomization, as flux create and
// kustomization create send it.
type kustomizationRequest struct {
	v1alpha1.KustomizationDefinition
	Path      string   `json:"path"`
	DependsOn []string `json:"dependsOn"`
	Prune     bool     `json:"prune"`
	Force     bool     `json:"force"`
	Wait      bool     `json:"wait"`
}

// newCreateRequest wraps a validated spec, its namespace and protected
// settings into the PUT body.
func newCreateRequest(spec *v1alpha1.FluxConfigSpec, namespace string, protected map[string]string) *createRequest {
	p := createProperties{FluxConfigSpec: *spec, Namespace: namespace, Suspend: spec.Suspend,
		Kustomizations: map[string]kustomizationRequest{}}
	if b := spec.Bucket; b != nil {
		p.Bucket = &bucketRequest{BucketDefinition: *b, Insecure: b.Insecure}
	}
	if b := spec.AzureBlob; b != nil {
		p.AzureBlob = &azureBlobRequest{AzureBlobDefinition: *b}
		if sp := b.ServicePrincipal; sp != nil {
			p.AzureBlob.ServicePrincipal = &servicePrincipalRequest{ServicePrincipalDefinition: *sp, ClientCertificateSendChain: sp.ClientCertificateSendChain}
		}
	}
	if o := spec.OCIRepository; o != nil {
		p.OCIRepository = &ociRequest{OCIRepositoryDefinition: *o, Insecure: o.Insecure, UseWorkloadIdentity: o.UseWorkloadIdentity}
	}
	for name, k := range spec.Kustomizations {
		p.Kustomizations[name] = newKustomizationRequest(k)
	}
	if len(protected) > 0 {
		p.ConfigurationProtectedSettings = protected
	}
	return &createRequest{Properties: p}
}

func newKustomizationRequest(k v1alpha1.KustomizationDefinition) kustomizationRequest {
	dependsOn := k.DependsOn
	if dependsOn == nil {
		dependsOn = []string{}
	}
	return kustomizationRequest{KustomizationDefinition: k, Path: k.Path, DependsOn: dependsOn, Prune: k.Prune, Force: k.Force,
		Wait: k.Wait == nil || *k.Wait}
}
