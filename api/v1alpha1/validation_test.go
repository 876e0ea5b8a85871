package v1alpha1_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/testenv"
)

var (
	env *testenv.Env
	ns  string
)

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		os.Exit(1)
	}
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "cel-"}}
	if err := env.Client.Create(context.Background(), n); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ns = n.Name
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

func valid(name string) *v1alpha1.FluxConfig {
	return &v1alpha1.FluxConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
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

// TestCELValidation asserts the exact message a user gets for each invalid spec.
func TestCELValidation(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(fc *v1alpha1.FluxConfig)
		message string
	}{
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
			"spec.gitRepository.syncIntervalInSeconds: Invalid value: 0: spec.gitRepository.syncIntervalInSeconds in body should be greater than or equal to 1"},
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
			`spec.scope: Unsupported value: "global": supported values: "cluster", "namespace"`},
		{"wait duration not ISO 8601", func(fc *v1alpha1.FluxConfig) { fc.Spec.ReconciliationWaitDuration = "30m" },
			`spec.reconciliationWaitDuration: Invalid value: "30m": spec.reconciliationWaitDuration in body should match`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			fc := valid(fmt.Sprintf("invalid-%d", i))
			tt.mutate(fc)
			err := env.Client.Create(context.Background(), fc)
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).To(ContainSubstring(tt.message))
		})
	}
	if len(tests) < 20 {
		t.Fatalf("the issue asks for at least 20 invalid specs, have %d", len(tests))
	}
}

func TestScopeIsImmutable(t *testing.T) {
	g := NewWithT(t)
	fc := valid("immutable-scope")
	g.Expect(env.Client.Create(context.Background(), fc)).To(Succeed())
	fc.Spec.Scope = v1alpha1.ScopeNamespace
	err := env.Client.Update(context.Background(), fc)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("scope cannot be changed after creation: delete the configuration and create it again"))
}

// TestAzureCreateExampleIsAccepted pastes the properties of Azure's own
// create request (minus namespace) into a FluxConfig spec.
func TestAzureCreateExampleIsAccepted(t *testing.T) {
	g := NewWithT(t)
	raw, err := os.ReadFile("../../test/fixtures/azure-examples/create-git.json")
	g.Expect(err).NotTo(HaveOccurred())
	var body struct {
		Properties map[string]any `json:"properties"`
	}
	g.Expect(json.Unmarshal(raw, &body)).To(Succeed())
	delete(body.Properties, "namespace")
	obj := map[string]any{
		"apiVersion": "clusterconfig.azure.com/v1alpha1",
		"kind":       "FluxConfig",
		"metadata":   map[string]any{"name": "srs-fluxconfig", "namespace": ns},
		"spec":       body.Properties,
	}
	g.Expect(env.Client.Create(context.Background(), &unstructured.Unstructured{Object: obj})).To(Succeed())

	got := &v1alpha1.FluxConfig{}
	g.Expect(env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "srs-fluxconfig"}, got)).To(Succeed())
	g.Expect(got.Spec.Scope).To(Equal(v1alpha1.ScopeCluster))
	g.Expect(got.Spec.Kustomizations).To(HaveLen(2))
	g.Expect(got.Spec.Kustomizations["srs-kustomization2"].DependsOn).To(Equal([]string{"srs-kustomization1"}))
	g.Expect(*got.Spec.Kustomizations["srs-kustomization1"].Wait).To(BeTrue())
	g.Expect(got.Spec.ReconciliationWaitDuration).To(Equal("PT30M"))
}

func TestDefaults(t *testing.T) {
	g := NewWithT(t)
	fc := &v1alpha1.FluxConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "defaults", Namespace: ns},
		Spec: v1alpha1.FluxConfigSpec{
			GitRepository:  &v1alpha1.GitRepositoryDefinition{URL: "https://github.com/o/r", RepositoryRef: &v1alpha1.RepositoryRefDefinition{Branch: "main"}},
			Kustomizations: map[string]v1alpha1.KustomizationDefinition{"k": {}},
		},
	}
	g.Expect(env.Client.Create(context.Background(), fc)).To(Succeed())
	g.Expect(fc.Spec.Scope).To(Equal(v1alpha1.ScopeCluster))
	g.Expect(fc.Spec.SourceKind).To(Equal(v1alpha1.SourceKindGitRepository))
	g.Expect(*fc.Spec.GitRepository.SyncIntervalInSeconds).To(Equal(int64(600)))
	g.Expect(*fc.Spec.GitRepository.TimeoutInSeconds).To(Equal(int64(600)))
	k := fc.Spec.Kustomizations["k"]
	g.Expect(*k.SyncIntervalInSeconds).To(Equal(int64(600)))
	g.Expect(*k.TimeoutInSeconds).To(Equal(int64(600)))
	g.Expect(*k.Wait).To(BeTrue())
	g.Expect(k.Prune).To(BeFalse())
}

// TestCRDCarriesFieldDocs is what `kubectl explain fluxconfig.spec.gitRepository` reads.
func TestCRDCarriesFieldDocs(t *testing.T) {
	g := NewWithT(t)
	crd := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: "fluxconfigs.clusterconfig.azure.com"}, crd)).To(Succeed())
	g.Expect(crd.Spec.Names.ShortNames).To(ContainElement("fc"))
	schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	git := schema.Properties["spec"].Properties["gitRepository"]
	g.Expect(git.Description).To(ContainSubstring("gitRepository is the Git source"))
	g.Expect(git.Properties["url"].Description).To(ContainSubstring("url of the repository"))
	g.Expect(git.Properties["sshKnownHosts"].Description).To(ContainSubstring("known_hosts"))
	var columns []string
	for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
		columns = append(columns, c.Name)
	}
	g.Expect(columns).To(ContainElements("Scope", "Source", "Compliance", "Ready", "Age"))
}
