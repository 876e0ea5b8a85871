// Package validationtest holds the table of invalid configurations that the
// FluxConfig CRD (api/v1alpha1's tests, against a real API server) and
// internal/validation (the data plane's and the CLI's checks) must both
// refuse with the same messages. It is for tests only.
package validationtest

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// Case is an invalid configuration and the message a user gets for it.
type Case struct {
	Name    string
	Mutate  func(fc *v1alpha1.FluxConfig)
	Message string
}

// Valid returns a valid configuration for the cases to break.
func Valid(namespace, name string) *v1alpha1.FluxConfig {
	return &v1alpha1.FluxConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: v1alpha1.FluxConfigSpec{
			GitRepository: &v1alpha1.GitRepositoryDefinition{
				URL:           "https://github.com/Azure/arc-k8s-demo",
				RepositoryRef: &v1alpha1.RepositoryRefDefinition{Branch: "main"},
			},
			Kustomizations: map[string]v1alpha1.KustomizationDefinition{
				"infra": {Path: "./infra"},
				"apps":  {Path: "./apps", DependsOn: []string{"infra"}},
			},
		},
	}
}

// Cases is the table that the CRD (api/v1alpha1 tests, against a real API
// server) and this package must both refuse, with these messages.
var Cases = []Case{
	{"git source missing", func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository = nil },
		"sourceKind is GitRepository: set gitRepository"},
	{"second source block", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.Bucket = &v1alpha1.BucketDefinition{URL: "https://s3.example.com", BucketName: "configs"}
	}, "bucket is set but sourceKind is GitRepository: remove bucket or set sourceKind to Bucket"},
	{"bucket kind without bucket", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.SourceKind = v1alpha1.SourceKindBucket
		fc.Spec.GitRepository = nil
	},
		"sourceKind is Bucket: set bucket"},
	{"oci block with azure blob kind", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.SourceKind = v1alpha1.SourceKindAzureBlob
		fc.Spec.GitRepository = nil
		fc.Spec.AzureBlob = &v1alpha1.AzureBlobDefinition{URL: "https://a.blob.core.windows.net", ContainerName: "abc"}
		fc.Spec.OCIRepository = &v1alpha1.OCIRepositoryDefinition{URL: "oci://r.example.com/x"}
	}, "ociRepository is set but sourceKind is AzureBlob: remove ociRepository or set sourceKind to OCIRepository"},
	{"branch and tag", func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository.RepositoryRef.Tag = "v1.0.0" },
		"set only one of branch, tag and semver"},
	{"empty repositoryRef", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.RepositoryRef = &v1alpha1.RepositoryRefDefinition{}
	},
		"set one of branch, tag, semver or commit"},
	{"commit with a tag", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.RepositoryRef = &v1alpha1.RepositoryRefDefinition{Tag: "v1", Commit: "0ba6f0d30760d567de0bac86c8c4eec13ce1a590"}
	}, "commit can be combined only with branch, not with tag or semver"},
	{"ftp url", func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository.URL = "ftp://example.com/repo" },
		"url must start with http://, https:// or ssh://, or be of the form user@host:path"},
	{"https user with ssh url", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.URL = "git@github.com:org/repo"
		fc.Spec.GitRepository.HTTPSUser = "bot"
	}, "httpsUser and httpsCACert apply to http(s) URLs only: remove them, or use an https:// URL"},
	{"known hosts with https url", func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository.SSHKnownHosts = "Z2l0aHViLmNvbQ==" },
		"sshKnownHosts applies to SSH URLs only: remove it, or use an ssh:// or git@host:path URL"},
	{"key rotation with https url", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.SSHKeyRotation = &v1alpha1.SSHKeyRotationDefinition{RequestedAt: "2026-11-27T05:00:00Z"}
	}, "sshKeyRotation applies to SSH URLs only: it rotates the key pair generated for an ssh:// or git@host:path URL"},
	{"key rotation confirming another request", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.URL = "git@github.com:org/repo"
		fc.Spec.GitRepository.SSHKeyRotation = &v1alpha1.SSHKeyRotationDefinition{RequestedAt: "2026-11-27T05:00:00Z", ConfirmedAt: "2026-11-01T05:00:00Z"}
	}, "confirmedAt must equal requestedAt: it confirms that rotation request (remove confirmedAt when requesting a new rotation)"},
	{"https user over plain http", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.URL = "http://git.example.com/org/repo"
		fc.Spec.GitRepository.HTTPSUser = "bot"
	}, "httpsUser sends credentials, which http:// carries in clear: use an https:// URL"},
	{"password in an https url", func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository.URL = "https://bot:s3cret@github.com/org/repo" },
		"url must not contain a password"},
	{"password in an ssh url", func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository.URL = "ssh://git:s3cret@github.com/org/repo" },
		"url must not contain a password"},
	{"configuration name longer than 30", func(fc *v1alpha1.FluxConfig) { fc.Name = strings.Repeat("a", 31) },
		"metadata.name must be 1-30 characters of lowercase letters, digits and '-', starting and ending with a letter or digit (the fluxConfigurations name rule)"},
	{"configuration name with a dot", func(fc *v1alpha1.FluxConfig) { fc.Name = "my.config" },
		"metadata.name must be 1-30 characters of lowercase letters, digits and '-'"},
	{"kustomization name with capitals", func(fc *v1alpha1.FluxConfig) { fc.Spec.Kustomizations["Apps"] = v1alpha1.KustomizationDefinition{} },
		"kustomization names must be 1-30 characters of lowercase letters, digits and '-', starting and ending with a letter or digit"},
	{"kustomization name longer than 30", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.Kustomizations[strings.Repeat("k", 31)] = v1alpha1.KustomizationDefinition{}
	}, "kustomization names must be 1-30 characters"},
	{"path escaping the source", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.Kustomizations["apps"] = v1alpha1.KustomizationDefinition{Path: "./apps/../../etc"}
	},
		"path cannot contain a '..' segment: it must stay inside the source"},
	{"absolute path", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.Kustomizations["apps"] = v1alpha1.KustomizationDefinition{Path: "/etc"}
	},
		"path must be relative to the source root: remove the leading '/'"},
	{"percent-encoded dots", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.Kustomizations["apps"] = v1alpha1.KustomizationDefinition{Path: "%2e%2e/x"}
	},
		"path cannot contain backslashes or percent-encoding: use plain '/'-separated directory names"},
	{"backslash path", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.Kustomizations["apps"] = v1alpha1.KustomizationDefinition{Path: `apps\..\x`}
	},
		"path cannot contain backslashes or percent-encoding"},
	{"dependsOn an unknown kustomization", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.Kustomizations["apps"] = v1alpha1.KustomizationDefinition{DependsOn: []string{"nope"}}
	}, "dependsOn must name another kustomization of this configuration"},
	{"dependsOn itself", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.Kustomizations["apps"] = v1alpha1.KustomizationDefinition{DependsOn: []string{"apps"}}
	}, "a kustomization cannot depend on itself: remove its own name from dependsOn"},
	{"kustomization name that differs from its key", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.Kustomizations["apps"] = v1alpha1.KustomizationDefinition{Name: "other"}
	}, "a kustomization's name, when given, must equal its key in kustomizations"},
	{"interval zero", func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository.SyncIntervalInSeconds = ptr.To[int64](0) },
		"syncIntervalInSeconds in body should be greater than or equal to 1"},
	{"interval too long", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.Kustomizations["apps"] = v1alpha1.KustomizationDefinition{TimeoutInSeconds: ptr.To[int64](35791395)}
	}, "should be less than or equal to 35791394"},
	{"bucket url scheme", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.SourceKind = v1alpha1.SourceKindBucket
		fc.Spec.GitRepository = nil
		fc.Spec.Bucket = &v1alpha1.BucketDefinition{URL: "s3://bucket", BucketName: "configs"}
	}, "url must be an http:// or https:// endpoint, or a bare host[:port]"},
	{"azure blob url scheme", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.SourceKind = v1alpha1.SourceKindAzureBlob
		fc.Spec.GitRepository = nil
		fc.Spec.AzureBlob = &v1alpha1.AzureBlobDefinition{URL: "acct.blob.core.windows.net", ContainerName: "abc"}
	}, "url must start with https:// (or http:// for a local emulator)"},
	{"oci url scheme", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.SourceKind = v1alpha1.SourceKindOCIRepository
		fc.Spec.GitRepository = nil
		fc.Spec.OCIRepository = &v1alpha1.OCIRepositoryDefinition{URL: "https://registry.example.com/x"}
	}, "url must be of the form oci://host/repository"},
	{"oci tag and digest", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.SourceKind = v1alpha1.SourceKindOCIRepository
		fc.Spec.GitRepository = nil
		fc.Spec.OCIRepository = &v1alpha1.OCIRepositoryDefinition{URL: "oci://r.example.com/x",
			RepositoryRef: &v1alpha1.OCIRepositoryRefDefinition{Tag: "v1", Digest: "sha256:0123456789abcdef0123456789abcdef"}}
	}, "set only one of tag, semver and digest"},
	{"unknown scope", func(fc *v1alpha1.FluxConfig) { fc.Spec.Scope = "global" },
		`Unsupported value: "global": supported values: "cluster", "namespace"`},
	{"wait duration not ISO 8601", func(fc *v1alpha1.FluxConfig) { fc.Spec.ReconciliationWaitDuration = "30m" },
		`reconciliationWaitDuration: Invalid value: "30m"`},
}
