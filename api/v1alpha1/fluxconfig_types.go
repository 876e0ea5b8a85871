package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kind is the FluxConfig kind.
const Kind = "FluxConfig"

// ScopeType is where a configuration's Kustomizations may apply objects.
// +kubebuilder:validation:Enum=cluster;namespace
type ScopeType string

const (
	// ScopeCluster lets the configuration apply objects anywhere in the
	// cluster (flux-applier is bound to cluster-admin).
	ScopeCluster ScopeType = "cluster"
	// ScopeNamespace confines the configuration to its own namespace
	// (flux-applier is bound to admin in that namespace only).
	ScopeNamespace ScopeType = "namespace"
)

// SourceKindType is the kind of source a configuration reconciles from.
// +kubebuilder:validation:Enum=GitRepository;Bucket;AzureBlob;OCIRepository
type SourceKindType string

const (
	// SourceKindGitRepository reads from a Git repository (gitRepository).
	SourceKindGitRepository SourceKindType = "GitRepository"
	// SourceKindBucket reads from an S3-compatible bucket (bucket).
	SourceKindBucket SourceKindType = "Bucket"
	// SourceKindAzureBlob reads from an Azure Blob Storage container
	// (azureBlob); it becomes a Flux Bucket with provider azure.
	SourceKindAzureBlob SourceKindType = "AzureBlob"
	// SourceKindOCIRepository reads from an OCI artifact (ociRepository).
	SourceKindOCIRepository SourceKindType = "OCIRepository"
)

// FluxConfigSpec is the desired state of a FluxConfig. It mirrors the
// properties of the ARM resource fluxConfigurations, field for field.
//
// +kubebuilder:validation:XValidation:rule="has(self.gitRepository) == (self.sourceKind == 'GitRepository')",messageExpression="self.sourceKind == 'GitRepository' ? 'sourceKind is GitRepository: set gitRepository' : 'gitRepository is set but sourceKind is ' + self.sourceKind + ': remove gitRepository or set sourceKind to GitRepository'",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.bucket) == (self.sourceKind == 'Bucket')",messageExpression="self.sourceKind == 'Bucket' ? 'sourceKind is Bucket: set bucket' : 'bucket is set but sourceKind is ' + self.sourceKind + ': remove bucket or set sourceKind to Bucket'",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.azureBlob) == (self.sourceKind == 'AzureBlob')",messageExpression="self.sourceKind == 'AzureBlob' ? 'sourceKind is AzureBlob: set azureBlob' : 'azureBlob is set but sourceKind is ' + self.sourceKind + ': remove azureBlob or set sourceKind to AzureBlob'",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="has(self.ociRepository) == (self.sourceKind == 'OCIRepository')",messageExpression="self.sourceKind == 'OCIRepository' ? 'sourceKind is OCIRepository: set ociRepository' : 'ociRepository is set but sourceKind is ' + self.sourceKind + ': remove ociRepository or set sourceKind to OCIRepository'",reason=FieldValueInvalid
type FluxConfigSpec struct {
	// scope is where the configuration's Kustomizations may apply objects:
	// "cluster" (anywhere) or "namespace" (only in the FluxConfig's
	// namespace). It cannot change after creation.
	// +kubebuilder:default=cluster
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="scope cannot be changed after creation: delete the configuration and create it again"
	// +optional
	Scope ScopeType `json:"scope,omitempty"`

	// sourceKind is the kind of source: GitRepository, Bucket, AzureBlob or
	// OCIRepository. Exactly the matching source block must be set.
	// +kubebuilder:default=GitRepository
	// +optional
	SourceKind SourceKindType `json:"sourceKind,omitempty"`

	// suspend stops reconciliation of the source and every Kustomization
	// while true; the configuration's complianceState becomes Suspended.
	// +kubebuilder:default=false
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// gitRepository is the Git source; set it when sourceKind is GitRepository.
	// +optional
	GitRepository *GitRepositoryDefinition `json:"gitRepository,omitempty"`

	// bucket is the S3-compatible bucket source; set it when sourceKind is Bucket.
	// +optional
	Bucket *BucketDefinition `json:"bucket,omitempty"`

	// azureBlob is the Azure Blob Storage source; set it when sourceKind is AzureBlob.
	// +optional
	AzureBlob *AzureBlobDefinition `json:"azureBlob,omitempty"`

	// ociRepository is the OCI artifact source; set it when sourceKind is OCIRepository.
	// +optional
	OCIRepository *OCIRepositoryDefinition `json:"ociRepository,omitempty"`

	// kustomizations are the Flux Kustomizations to create, keyed by name
	// (1-30 lowercase letters, digits and '-'). Each becomes a Kustomization
	// named <config>-<name>, which must fit in 63 characters.
	// +kubebuilder:validation:MaxProperties=50
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?$'))",message="kustomization names must be 1-30 characters of lowercase letters, digits and '-', starting and ending with a letter or digit"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !has(self[k].dependsOn) || self[k].dependsOn.all(d, d in self))",message="dependsOn must name another kustomization of this configuration"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !has(self[k].dependsOn) || !(k in self[k].dependsOn))",message="a kustomization cannot depend on itself: remove its own name from dependsOn"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !has(self[k].name) || self[k].name == k)",message="a kustomization's name, when given, must equal its key in kustomizations"
	// +optional
	Kustomizations map[string]KustomizationDefinition `json:"kustomizations,omitempty"`

	// waitForReconciliation makes the configuration wait, up to
	// reconciliationWaitDuration, for its Kustomizations to reconcile before
	// reporting provisioningState Succeeded.
	// +optional
	WaitForReconciliation *bool `json:"waitForReconciliation,omitempty"`

	// reconciliationWaitDuration is how long to wait for the Kustomizations
	// when waitForReconciliation is true, as an ISO 8601 duration such as
	// PT30M (default PT10M).
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^P(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$`
	// +optional
	ReconciliationWaitDuration string `json:"reconciliationWaitDuration,omitempty"`

	// configurationProtectedSettingsRef names the Secret, in the FluxConfig's
	// namespace, that holds the configuration's protected settings
	// (sshPrivateKey, httpsKey, bucketSecretKey, accountKey, sasToken,
	// clientSecret, clientCertificate, clientCertificatePassword,
	// tlsConfig keys), each base64-encoded as in ARM. The agent writes it as
	// <config>-protected-parameters. Extension: ARM sends the values inline
	// as configurationProtectedSettings, which a spec never holds.
	// +optional
	ConfigurationProtectedSettingsRef *LocalSecretReference `json:"configurationProtectedSettingsRef,omitempty"`
}

// LocalSecretReference names a Secret in the FluxConfig's namespace.
type LocalSecretReference struct {
	// name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// GitRepositoryDefinition is a Git source, as in ARM.
//
// +kubebuilder:validation:XValidation:rule="!(self.url.startsWith('ssh://') || self.url.matches('^[A-Za-z0-9._~-]+@[^/:]+:')) || (!has(self.httpsUser) && !has(self.httpsCACert))",message="httpsUser and httpsCACert apply to http(s) URLs only: remove them, or use an https:// URL",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!self.url.matches('^https?://') || !has(self.sshKnownHosts)",message="sshKnownHosts applies to SSH URLs only: remove it, or use an ssh:// or git@host:path URL",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!self.url.matches('^https?://') || !has(self.sshKeyRotation)",message="sshKeyRotation applies to SSH URLs only: it rotates the key pair generated for an ssh:// or git@host:path URL",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!self.url.startsWith('http://') || !has(self.httpsUser)",message="httpsUser sends credentials, which http:// carries in clear: use an https:// URL",reason=FieldValueForbidden
type GitRepositoryDefinition struct {
	// url of the repository: http(s)://host/path, ssh://user@host/path or
	// the scp-like user@host:path.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^(https?|ssh)://[^/]+') || self.matches('^[A-Za-z0-9._~-]+@[^/:]+:[^/].*')",message="url must start with http://, https:// or ssh://, or be of the form user@host:path"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]*@')",message="url must not contain a password: for HTTPS put the user in httpsUser and the token in the protected setting httpsKey, for SSH use the protected setting sshPrivateKey"
	// +required
	URL string `json:"url"`

	// timeoutInSeconds is the maximum time for a Git operation, in seconds.
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=35791394
	// +optional
	TimeoutInSeconds *int64 `json:"timeoutInSeconds,omitempty"`

	// syncIntervalInSeconds is how often the repository is fetched, in seconds.
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=35791394
	// +optional
	SyncIntervalInSeconds *int64 `json:"syncIntervalInSeconds,omitempty"`

	// repositoryRef is the branch, tag, semver range or commit to check out.
	// +required
	RepositoryRef *RepositoryRefDefinition `json:"repositoryRef"`

	// sshKnownHosts is a base64-encoded known_hosts file for SSH URLs. When
	// absent, a built-in list for GitHub, GitLab, Bitbucket and Azure DevOps
	// is used.
	// +kubebuilder:validation:MaxLength=65536
	// +optional
	SSHKnownHosts string `json:"sshKnownHosts,omitempty"`

	// httpsUser is the user name for HTTPS authentication; its password or
	// token is the protected setting httpsKey.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	HTTPSUser string `json:"httpsUser,omitempty"`

	// httpsCACert is a base64-encoded PEM CA certificate for HTTPS.
	// +kubebuilder:validation:MaxLength=65536
	// +optional
	HTTPSCACert string `json:"httpsCACert,omitempty"`

	// localAuthRef names a Secret in the configuration's namespace that holds
	// Flux's authentication keys (identity, known_hosts, username, password,
	// ca.crt); it is used as is, instead of any other credential.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	LocalAuthRef string `json:"localAuthRef,omitempty"`

	// provider is the OIDC provider for authentication: Azure, GitHub or
	// Generic (the default, which uses the Secret credentials).
	// +kubebuilder:validation:Enum=Azure;GitHub;Generic
	// +optional
	Provider string `json:"provider,omitempty"`

	// sshKeyRotation rotates the generated SSH key pair, which Azure keeps
	// for the life of a configuration (an arcgitops extension; only for an
	// SSH URL with a generated key).
	// +optional
	SSHKeyRotation *SSHKeyRotationDefinition `json:"sshKeyRotation,omitempty"`
}

// SSHKeyRotationDefinition asks for a new generated SSH key pair. A new
// requestedAt generates the pair and publishes its public key in
// status.sshKey.pendingPublicKey while the old pair stays in use; the new
// pair replaces it once confirmedAt equals requestedAt or the grace period
// has passed, and only once the new key can read the repository. Removing
// requestedAt before the switch cancels the rotation.
// +kubebuilder:validation:XValidation:rule="!has(self.confirmedAt) || (has(self.requestedAt) && self.confirmedAt == self.requestedAt)",message="confirmedAt must equal requestedAt: it confirms that rotation request (remove confirmedAt when requesting a new rotation)"
type SSHKeyRotationDefinition struct {
	// requestedAt identifies a rotation request: any new value (the CLI
	// writes the time, RFC 3339) asks for a new key pair.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	RequestedAt string `json:"requestedAt,omitempty"`

	// confirmedAt, set to requestedAt, says the new public key is a deploy
	// key of the repository: the switch does not wait for the grace period.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	ConfirmedAt string `json:"confirmedAt,omitempty"`

	// gracePeriodInSeconds is how long the new public key is published
	// before it replaces the old one unconfirmed (default 86400, a day).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=31536000
	// +optional
	GracePeriodInSeconds *int64 `json:"gracePeriodInSeconds,omitempty"`

	// maxKeyAgeInDays, when set, raises the KeyRotationDue condition and a
	// Warning event once the key pair in use is older.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3650
	// +optional
	MaxKeyAgeInDays *int64 `json:"maxKeyAgeInDays,omitempty"`
}

// RepositoryRefDefinition selects what to check out of a Git repository:
// exactly one of branch, tag and semver, or a commit (optionally with the
// branch it is on).
//
// +kubebuilder:validation:XValidation:rule="(has(self.branch) ? 1 : 0) + (has(self.tag) ? 1 : 0) + (has(self.semver) ? 1 : 0) <= 1",message="set only one of branch, tag and semver"
// +kubebuilder:validation:XValidation:rule="has(self.branch) || has(self.tag) || has(self.semver) || has(self.commit)",message="set one of branch, tag, semver or commit"
// +kubebuilder:validation:XValidation:rule="!has(self.commit) || !(has(self.tag) || has(self.semver))",message="commit can be combined only with branch, not with tag or semver"
type RepositoryRefDefinition struct {
	// branch to check out.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Branch string `json:"branch,omitempty"`

	// tag to check out.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Tag string `json:"tag,omitempty"`

	// semver range of tags to check out the newest match of, e.g. ">=1.0.0 <2.0.0".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Semver string `json:"semver,omitempty"`

	// commit SHA to check out; with a branch, the commit must be on it.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{7,64}$`
	// +optional
	Commit string `json:"commit,omitempty"`
}

// BucketDefinition is an S3-compatible bucket source, as in ARM.
type BucketDefinition struct {
	// url is the bucket endpoint: http(s)://host[:port] or a bare host[:port].
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="!self.contains('://') || self.matches('^https?://[^/]+')",message="url must be an http:// or https:// endpoint, or a bare host[:port]"
	// +required
	URL string `json:"url"`

	// bucketName is the name of the bucket.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	// +required
	BucketName string `json:"bucketName"`

	// insecure allows plain HTTP to the endpoint. It defaults to false here;
	// ARM defaults it to true.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// timeoutInSeconds is the maximum time for a fetch, in seconds.
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=35791394
	// +optional
	TimeoutInSeconds *int64 `json:"timeoutInSeconds,omitempty"`

	// syncIntervalInSeconds is how often the bucket is fetched, in seconds.
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=35791394
	// +optional
	SyncIntervalInSeconds *int64 `json:"syncIntervalInSeconds,omitempty"`

	// accessKey is the access key ID; its secret is the protected setting
	// bucketSecretKey.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	AccessKey string `json:"accessKey,omitempty"`

	// localAuthRef names a Secret in the configuration's namespace that holds
	// Flux's keys (accesskey, secretkey); it is used as is.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	LocalAuthRef string `json:"localAuthRef,omitempty"`
}

// AzureBlobDefinition is an Azure Blob Storage container source, as in ARM.
// Its secrets (accountKey, sasToken, clientSecret, clientCertificate,
// clientCertificatePassword) are protected settings.
type AzureBlobDefinition struct {
	// url of the storage account's blob endpoint, e.g.
	// https://account.blob.core.windows.net.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/]+')",message="url must start with https:// (or http:// for a local emulator)"
	// +required
	URL string `json:"url"`

	// containerName is the blob container to read.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`
	// +required
	ContainerName string `json:"containerName"`

	// timeoutInSeconds is the maximum time for a fetch, in seconds.
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=35791394
	// +optional
	TimeoutInSeconds *int64 `json:"timeoutInSeconds,omitempty"`

	// syncIntervalInSeconds is how often the container is fetched, in seconds.
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=35791394
	// +optional
	SyncIntervalInSeconds *int64 `json:"syncIntervalInSeconds,omitempty"`

	// servicePrincipal authenticates with an Entra ID service principal; its
	// clientSecret or clientCertificate is a protected setting.
	// +optional
	ServicePrincipal *ServicePrincipalDefinition `json:"servicePrincipal,omitempty"`

	// managedIdentity authenticates with a managed identity.
	// +optional
	ManagedIdentity *ManagedIdentityDefinition `json:"managedIdentity,omitempty"`

	// localAuthRef names a Secret in the configuration's namespace that holds
	// Flux's Azure keys; it is used as is.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	LocalAuthRef string `json:"localAuthRef,omitempty"`
}

// ServicePrincipalDefinition is an Entra ID service principal.
type ServicePrincipalDefinition struct {
	// clientId of the service principal.
	// +kubebuilder:validation:MaxLength=64
	// +required
	ClientID string `json:"clientId"`

	// tenantId of the service principal.
	// +kubebuilder:validation:MaxLength=64
	// +required
	TenantID string `json:"tenantId"`

	// clientCertificateSendChain sends the certificate chain with the
	// client certificate (for subject name / issuer authentication).
	// +optional
	ClientCertificateSendChain bool `json:"clientCertificateSendChain,omitempty"`
}

// ManagedIdentityDefinition is a managed identity.
type ManagedIdentityDefinition struct {
	// clientId of the managed identity.
	// +kubebuilder:validation:MaxLength=64
	// +required
	ClientID string `json:"clientId"`
}

// OCIRepositoryDefinition is an OCI artifact source, as in ARM.
type OCIRepositoryDefinition struct {
	// url of the artifact repository, oci://host/path.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^oci://[^/]+/.+')",message="url must be of the form oci://host/repository"
	// +required
	URL string `json:"url"`

	// timeoutInSeconds is the maximum time for a pull, in seconds.
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=35791394
	// +optional
	TimeoutInSeconds *int64 `json:"timeoutInSeconds,omitempty"`

	// syncIntervalInSeconds is how often the repository is checked, in seconds.
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=35791394
	// +optional
	SyncIntervalInSeconds *int64 `json:"syncIntervalInSeconds,omitempty"`

	// repositoryRef selects the artifact: a tag (default latest), a semver
	// range or a digest.
	// +optional
	RepositoryRef *OCIRepositoryRefDefinition `json:"repositoryRef,omitempty"`

	// layerSelector picks the layer to use, by media type.
	// +optional
	LayerSelector *LayerSelectorDefinition `json:"layerSelector,omitempty"`

	// verify checks the artifact's signature before use.
	// +optional
	Verify *VerifyDefinition `json:"verify,omitempty"`

	// insecure allows plain HTTP to the registry.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// useWorkloadIdentity authenticates with the cluster's workload identity.
	// +optional
	UseWorkloadIdentity bool `json:"useWorkloadIdentity,omitempty"`

	// serviceAccountName names a ServiceAccount in the configuration's
	// namespace whose image pull secrets authenticate to the registry.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// tlsConfig turns on mutual TLS; the client certificate, private key and
	// CA certificate are the protected settings tlsConfig.clientCertificate,
	// tlsConfig.privateKey and tlsConfig.caCertificate.
	// +optional
	TLSConfig *TLSConfigDefinition `json:"tlsConfig,omitempty"`

	// localAuthRef names a Secret in the configuration's namespace that holds
	// a Docker config (.dockerconfigjson); it is used as is.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	LocalAuthRef string `json:"localAuthRef,omitempty"`
}

// OCIRepositoryRefDefinition selects an OCI artifact.
//
// +kubebuilder:validation:XValidation:rule="(has(self.tag) ? 1 : 0) + (has(self.semver) ? 1 : 0) + (has(self.digest) ? 1 : 0) <= 1",message="set only one of tag, semver and digest"
type OCIRepositoryRefDefinition struct {
	// tag of the artifact (default latest).
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Tag string `json:"tag,omitempty"`

	// semver range of tags to use the newest match of.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Semver string `json:"semver,omitempty"`

	// digest of the artifact, e.g. sha256:<hex>.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+:[a-f0-9]{32,}$`
	// +optional
	Digest string `json:"digest,omitempty"`
}

// LayerSelectorDefinition selects one layer of an OCI artifact.
type LayerSelectorDefinition struct {
	// mediaType of the layer to use.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	MediaType string `json:"mediaType,omitempty"`

	// operation on the layer: extract (the default) or copy.
	// +kubebuilder:validation:Enum=extract;copy
	// +optional
	Operation string `json:"operation,omitempty"`
}

// VerifyDefinition configures signature verification of an OCI artifact.
type VerifyDefinition struct {
	// provider of the signature: cosign or notation.
	// +kubebuilder:validation:Enum=cosign;notation
	// +required
	Provider string `json:"provider"`

	// verificationConfig maps file names to base64-encoded public keys or
	// trust policies, stored in a Secret for the verifier.
	// +kubebuilder:validation:MaxProperties=32
	// +optional
	VerificationConfig map[string]string `json:"verificationConfig,omitempty"`

	// matchOidcIdentity lists the OIDC issuers and subjects (regular
	// expressions) that keyless cosign signatures must match.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	MatchOIDCIdentity []MatchOIDCIdentityDefinition `json:"matchOidcIdentity,omitempty"`
}

// MatchOIDCIdentityDefinition is an OIDC identity to match.
type MatchOIDCIdentityDefinition struct {
	// issuer regular expression.
	// +kubebuilder:validation:MaxLength=1024
	// +required
	Issuer string `json:"issuer"`
	// subject regular expression.
	// +kubebuilder:validation:MaxLength=1024
	// +required
	Subject string `json:"subject"`
}

// TLSConfigDefinition turns on mutual TLS to an OCI registry. The material
// itself lives in the protected settings; this block only has to be present.
type TLSConfigDefinition struct{}

// KustomizationDefinition is one Flux Kustomization of a configuration, as in ARM.
type KustomizationDefinition struct {
	// name is the kustomization's key in kustomizations (read-only in ARM;
	// accepted here so that an ARM GET body can be applied as is).
	// +kubebuilder:validation:MaxLength=30
	// +optional
	Name string `json:"name,omitempty"`

	// path in the source to apply, relative to its root ("" or "./" for the
	// root). It cannot be absolute or contain '..' segments, backslashes or
	// percent-encoding.
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/')",message="path must be relative to the source root: remove the leading '/'"
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.](/|$)')",message="path cannot contain a '..' segment: it must stay inside the source"
	// +kubebuilder:validation:XValidation:rule="!self.contains('\\\\') && !self.contains('%')",message="path cannot contain backslashes or percent-encoding: use plain '/'-separated directory names"
	// +optional
	Path string `json:"path,omitempty"`

	// dependsOn lists kustomizations of this configuration that must be
	// ready before this one is applied.
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=30
	// +optional
	DependsOn []string `json:"dependsOn,omitempty"`

	// timeoutInSeconds is the maximum time to apply and wait, in seconds.
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=35791394
	// +optional
	TimeoutInSeconds *int64 `json:"timeoutInSeconds,omitempty"`

	// syncIntervalInSeconds is how often the kustomization is applied, in seconds.
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=35791394
	// +optional
	SyncIntervalInSeconds *int64 `json:"syncIntervalInSeconds,omitempty"`

	// retryIntervalInSeconds is how soon a failed apply is retried, in
	// seconds (default: syncIntervalInSeconds).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=35791394
	// +optional
	RetryIntervalInSeconds *int64 `json:"retryIntervalInSeconds,omitempty"`

	// prune deletes the objects this kustomization applied when they leave
	// the source or the kustomization is deleted.
	// +kubebuilder:default=false
	// +optional
	Prune bool `json:"prune,omitempty"`

	// force recreates objects whose immutable fields changed.
	// +kubebuilder:default=false
	// +optional
	Force bool `json:"force,omitempty"`

	// wait makes the kustomization ready only when every object it applied
	// is ready.
	// +kubebuilder:default=true
	// +optional
	Wait *bool `json:"wait,omitempty"`

	// postBuild substitutes variables in the built manifests.
	// +optional
	PostBuild *PostBuildDefinition `json:"postBuild,omitempty"`
}

// PostBuildDefinition is Flux's post-build variable substitution.
type PostBuildDefinition struct {
	// substitute maps variable names to values, used as ${name} in manifests.
	// +kubebuilder:validation:MaxProperties=256
	// +optional
	Substitute map[string]string `json:"substitute,omitempty"`

	// substituteFrom lists ConfigMaps and Secrets, in the configuration's
	// namespace, whose data are variables.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	SubstituteFrom []SubstituteFromDefinition `json:"substituteFrom,omitempty"`
}

// SubstituteFromDefinition names a ConfigMap or Secret of variables.
type SubstituteFromDefinition struct {
	// kind of the object: ConfigMap or Secret.
	// +kubebuilder:validation:Enum=ConfigMap;Secret
	// +required
	Kind string `json:"kind"`

	// name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// optional lets the kustomization apply when the object does not exist.
	// +optional
	Optional bool `json:"optional,omitempty"`
}

// FluxConfigStatus is the observed state of a FluxConfig, in the shape of
// the read-only ARM properties plus Kubernetes conditions.
type FluxConfigStatus struct {
	// observedGeneration is the last generation fully reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready is always present; Reconciling and Stalled only
	// while true.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// complianceState is the worst compliance of the configuration's
	// objects: Compliant, Non-Compliant, Pending, Suspended or Unknown.
	// +optional
	ComplianceState ComplianceStateType `json:"complianceState,omitempty"`

	// provisioningState is Succeeded, Failed, Creating, Updating or Deleting.
	// +optional
	ProvisioningState ProvisioningStateType `json:"provisioningState,omitempty"`

	// statuses has one entry per Flux object of the configuration (the
	// source, each Kustomization, the HelmRepositories and HelmReleases
	// they applied, and each release's HelmChart).
	// +optional
	Statuses []ObjectStatusDefinition `json:"statuses,omitempty"`

	// sourceSyncedCommitId is the source revision the configuration last
	// synced, e.g. main@sha1:<sha>.
	// +optional
	SourceSyncedCommitID string `json:"sourceSyncedCommitId,omitempty"`

	// sourceUpdatedAt is when the source last produced a new revision.
	// +optional
	SourceUpdatedAt *metav1.Time `json:"sourceUpdatedAt,omitempty"`

	// statusUpdatedAt is when this status last changed.
	// +optional
	StatusUpdatedAt *metav1.Time `json:"statusUpdatedAt,omitempty"`

	// repositoryPublicKey is the public key (OpenSSH authorized_keys format)
	// of the generated SSH key pair: add it to the repository as a deploy key.
	// +optional
	RepositoryPublicKey string `json:"repositoryPublicKey,omitempty"`

	// sshKey describes the generated SSH key pair and its rotation, when the
	// configuration has one.
	// +optional
	SSHKey *SSHKeyStatus `json:"sshKey,omitempty"`

	// errorMessage says what is wrong and what to fix, when something is.
	// +optional
	ErrorMessage string `json:"errorMessage,omitempty"`

	// lastHandledReconcileAt is the reconcile.fluxcd.io/requestedAt value
	// last passed on to the Flux objects.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// SSHKeyStatus is the state of a generated SSH key pair. Only public keys
// appear here; the private keys stay in the <config>-ssh-key Secret.
type SSHKeyStatus struct {
	// createdAt is when the key pair in use was generated.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`

	// lastRotatedAt is when the key pair in use replaced the one before.
	// +optional
	LastRotatedAt *metav1.Time `json:"lastRotatedAt,omitempty"`

	// lastHandledRotationRequest is the sshKeyRotation.requestedAt the key
	// pair in use answered.
	// +optional
	LastHandledRotationRequest string `json:"lastHandledRotationRequest,omitempty"`

	// pendingPublicKey is the public key of the next key pair, during a
	// rotation: add it to the repository as a deploy key.
	// +optional
	PendingPublicKey string `json:"pendingPublicKey,omitempty"`

	// pendingSince is when pendingPublicKey was published.
	// +optional
	PendingSince *metav1.Time `json:"pendingSince,omitempty"`

	// switchAfter is when the pending key pair replaces the one in use
	// without confirmation, once it can read the repository.
	// +optional
	SwitchAfter *metav1.Time `json:"switchAfter,omitempty"`
}

// ComplianceStateType is the compliance of a configuration or object.
type ComplianceStateType string

// Compliance states, as Azure reports them (api-reference's compliance rules
// decide which one a configuration is in: internal/compliance).
const (
	// ComplianceCompliant: every object is ready at the current revision.
	ComplianceCompliant ComplianceStateType = "Compliant"
	// ComplianceNonCompliant: an object failed (its message is errorMessage).
	ComplianceNonCompliant ComplianceStateType = "Non-Compliant"
	// CompliancePending: objects are being reconciled or wait for others.
	CompliancePending ComplianceStateType = "Pending"
	// ComplianceSuspended: the configuration or an object is suspended.
	ComplianceSuspended ComplianceStateType = "Suspended"
	// ComplianceUnknown: Flux has not reported on an object yet.
	ComplianceUnknown ComplianceStateType = "Unknown"
)

// ProvisioningStateType is the ARM provisioning state.
type ProvisioningStateType string

// Provisioning states, ARM's: whether the cluster has taken the
// configuration, not whether its objects are healthy (that is compliance).
const (
	ProvisioningSucceeded ProvisioningStateType = "Succeeded"
	ProvisioningFailed    ProvisioningStateType = "Failed"
	ProvisioningCanceled  ProvisioningStateType = "Canceled"
	ProvisioningCreating  ProvisioningStateType = "Creating"
	ProvisioningUpdating  ProvisioningStateType = "Updating"
	ProvisioningDeleting  ProvisioningStateType = "Deleting"
)

// ObjectStatusDefinition is the status of one Flux object, as in ARM's statuses[].
type ObjectStatusDefinition struct {
	// name of the object.
	Name string `json:"name"`
	// namespace of the object.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// kind of the object: GitRepository, Bucket, OCIRepository,
	// Kustomization, HelmRepository, HelmRelease or HelmChart.
	Kind string `json:"kind"`
	// complianceState of the object.
	// +optional
	ComplianceState ComplianceStateType `json:"complianceState,omitempty"`
	// appliedBy is the Kustomization that applied this object (for a
	// HelmChart, the one that applied its HelmRelease), if any.
	// +optional
	AppliedBy *ObjectReferenceDefinition `json:"appliedBy,omitempty"`
	// statusConditions are the object's conditions.
	// +optional
	StatusConditions []ObjectStatusConditionDefinition `json:"statusConditions,omitempty"`
	// helmReleaseProperties, for a HelmRelease.
	// +optional
	HelmReleaseProperties *HelmReleasePropertiesDefinition `json:"helmReleaseProperties,omitempty"`
}

// ObjectReferenceDefinition names an object.
type ObjectReferenceDefinition struct {
	// name of the object.
	Name string `json:"name"`
	// namespace of the object.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// ObjectStatusConditionDefinition is one condition of a Flux object.
type ObjectStatusConditionDefinition struct {
	// lastTransitionTime of the condition.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
	// message of the condition.
	// +optional
	Message string `json:"message,omitempty"`
	// reason of the condition.
	// +optional
	Reason string `json:"reason,omitempty"`
	// status of the condition: True, False or Unknown.
	// +optional
	Status string `json:"status,omitempty"`
	// type of the condition.
	// +optional
	Type string `json:"type,omitempty"`
}

// HelmReleasePropertiesDefinition describes a HelmRelease that a
// Kustomization applied.
type HelmReleasePropertiesDefinition struct {
	// lastRevisionApplied is the Helm release revision last applied.
	// +optional
	LastRevisionApplied int64 `json:"lastRevisionApplied,omitempty"`
	// helmChartRef is the HelmChart object of the release.
	// +optional
	HelmChartRef *ObjectReferenceDefinition `json:"helmChartRef,omitempty"`
	// failureCount is the number of failed reconciliations.
	// +optional
	FailureCount int64 `json:"failureCount,omitempty"`
	// installFailureCount is the number of failed installs.
	// +optional
	InstallFailureCount int64 `json:"installFailureCount,omitempty"`
	// upgradeFailureCount is the number of failed upgrades.
	// +optional
	UpgradeFailureCount int64 `json:"upgradeFailureCount,omitempty"`
}

// FluxConfig is an Azure-style GitOps configuration: a source and the Flux
// Kustomizations to apply from it, with keys, RBAC and compliance status
// managed for you.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=fc,categories=flux
// +kubebuilder:printcolumn:name="Scope",type=string,JSONPath=`.spec.scope`
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.sourceKind`
// +kubebuilder:printcolumn:name="Compliance",type=string,JSONPath=`.status.complianceState`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?$')",message="metadata.name must be 1-30 characters of lowercase letters, digits and '-', starting and ending with a letter or digit (the fluxConfigurations name rule)"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.kustomizations) || self.spec.kustomizations.all(k, size(self.metadata.name) + 1 + size(k) <= 63)",message="every <configuration name>-<kustomization name> must fit in 63 characters: shorten the configuration or kustomization name"
type FluxConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec FluxConfigSpec `json:"spec"`
	// +optional
	Status FluxConfigStatus `json:"status,omitempty"`
}

// FluxConfigList is a list of FluxConfigs.
//
// +kubebuilder:object:root=true
type FluxConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []FluxConfig `json:"items"`
}

// GetConditions returns the status conditions (fluxcd/pkg/runtime/conditions.Getter).
func (in *FluxConfig) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions (fluxcd/pkg/runtime/conditions.Setter).
func (in *FluxConfig) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}
