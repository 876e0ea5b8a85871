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

	GitRepository  *gitRequest       `json:"gitRepository,omitempty"`
	Bucket         *bucketRequest    `json:"bucket,omitempty"`
	AzureBlob      *azureBlobRequest `json:"azureBlob,omitempty"`
	OCIRepository  *ociRequest       `json:"ociRepository,omitempty"`
	Kustomizations map[string]any    `json:"kustomizations"`

	ConfigurationProtectedSettings map[string]string `json:"configurationProtectedSettings,omitempty"`
}

// gitRequest leaves out a reference not given (az sends none; the service
// defaults the branch).
type gitRequest struct {
	v1alpha1.GitRepositoryDefinition
	RepositoryRef *v1alpha1.RepositoryRefDefinition `json:"repositoryRef,omitempty"`
}

type bucketRequest struct {
	v1alpha1.BucketDefinition
	Insecure bool `json:"insecure"`
}

// azureBlobRequest carries the typed secrets (x-ms-secret properties) where
// az sends them: in the azureBlob block, not in configurationProtectedSettings.
type azureBlobRequest struct {
	v1alpha1.AzureBlobDefinition
	AccountKey       string                   `json:"accountKey,omitempty"`
	SASToken         string                   `json:"sasToken,omitempty"`
	ServicePrincipal *servicePrincipalRequest `json:"servicePrincipal,omitempty"`
}

type servicePrincipalRequest struct {
	v1alpha1.ServicePrincipalDefinition
	ClientSecret               string `json:"clientSecret,omitempty"`
	ClientCertificate          string `json:"clientCertificate,omitempty"`
	ClientCertificatePassword  string `json:"clientCertificatePassword,omitempty"`
	ClientCertificateSendChain bool   `json:"clientCertificateSendChain"`
}

type ociRequest struct {
	v1alpha1.OCIRepositoryDefinition
	Insecure            bool `json:"insecure"`
	UseWorkloadIdentity bool `json:"useWorkloadIdentity"`
}

// newCreateRequest wraps a validated spec, its namespace and protected
// settings into the PUT body; bodies are the kustomizations as they are sent.
func newCreateRequest(spec *v1alpha1.FluxConfigSpec, namespace string, protected map[string]string, bodies map[string]any) *createRequest {
	p := createProperties{FluxConfigSpec: *spec, Namespace: namespace, Suspend: spec.Suspend, Kustomizations: bodies}
	if g := spec.GitRepository; g != nil {
		p.GitRepository = &gitRequest{GitRepositoryDefinition: *g, RepositoryRef: g.RepositoryRef}
	}
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
	if len(protected) > 0 {
		p.ConfigurationProtectedSettings = protected
	}
	return &createRequest{Properties: p}
}
