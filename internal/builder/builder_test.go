package builder

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// armExample reads the properties of an ARM request body from the fixtures
// into a FluxConfig named name in namespace ns.
func armExample(t *testing.T, file, ns, name string) *v1alpha1.FluxConfig {
	t.Helper()
	raw, err := os.ReadFile("../../test/fixtures/azure-examples/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	fc := &v1alpha1.FluxConfig{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: "uid-1"}}
	if err := json.Unmarshal(body.Properties, &fc.Spec); err != nil {
		t.Fatal(err)
	}
	return fc
}

func TestBuildAzureCreateExample(t *testing.T) {
	g := NewWithT(t)
	fc := armExample(t, "create-git.json", "srs-namespace", "srs-fluxconfig")
	fc.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "2026-11-22T10:00:00Z"}

	objs, err := Build(fc, Options{MultiTenancy: true, HasAuthSecret: true})
	g.Expect(err).NotTo(HaveOccurred())

	repo, ok := objs.Source.(*sourcev1.GitRepository)
	g.Expect(ok).To(BeTrue(), "source is a GitRepository")
	g.Expect(repo.Name).To(Equal("srs-fluxconfig"))
	g.Expect(repo.Namespace).To(Equal("srs-namespace"))
	g.Expect(repo.Labels).To(Equal(map[string]string{
		"clusterconfig.azure.com/is-managed": "true",
		"clusterconfig.azure.com/name":       "srs-fluxconfig",
		"clusterconfig.azure.com/namespace":  "srs-namespace",
	}))
	g.Expect(repo.OwnerReferences).To(HaveLen(1))
	g.Expect(repo.OwnerReferences[0].Kind).To(Equal("FluxConfig"))
	g.Expect(*repo.OwnerReferences[0].Controller).To(BeTrue())
	g.Expect(repo.Annotations).To(HaveKeyWithValue(meta.ReconcileRequestAnnotation, "2026-11-22T10:00:00Z"))
	g.Expect(repo.Spec.URL).To(Equal("https://github.com/Azure/arc-k8s-demo"))
	g.Expect(repo.Spec.Reference.Branch).To(Equal("master"))
	g.Expect(repo.Spec.Interval.Duration).To(Equal(10 * time.Minute))
	g.Expect(repo.Spec.Timeout.Duration).To(Equal(10 * time.Minute))
	g.Expect(repo.Spec.SecretRef).To(Equal(&meta.LocalObjectReference{Name: "srs-fluxconfig-auth"}))
	g.Expect(repo.Spec.Suspend).To(BeFalse())

	g.Expect(objs.Kustomizations).To(HaveLen(2))
	k1, k2 := objs.Kustomizations[0], objs.Kustomizations[1]
	g.Expect(k1.Name).To(Equal("srs-fluxconfig-srs-kustomization1"))
	g.Expect(k2.Name).To(Equal("srs-fluxconfig-srs-kustomization2"))
	g.Expect(k1.Spec.SourceRef).To(Equal(kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "srs-fluxconfig"}))
	g.Expect(k1.Spec.Path).To(Equal("./test/path"))
	g.Expect(k1.Spec.DependsOn).To(BeEmpty())
	g.Expect(k1.Spec.Wait).To(BeTrue())
	g.Expect(k1.Spec.RetryInterval).To(BeNil())
	g.Expect(k1.Spec.ServiceAccountName).To(Equal("flux-applier"))
	g.Expect(k1.Spec.TargetNamespace).To(BeEmpty(), "cluster scope has no target namespace")
	g.Expect(k1.Spec.PostBuild.Substitute).To(Equal(map[string]string{"cluster_env": "prod", "replica_count": "2"}))
	g.Expect(k1.Spec.PostBuild.SubstituteFrom).To(Equal([]kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "cluster-test", Optional: true}}))
	g.Expect(k1.Annotations).To(HaveKeyWithValue(meta.ReconcileRequestAnnotation, "2026-11-22T10:00:00Z"))

	g.Expect(k2.Spec.DependsOn).To(Equal([]kustomizev1.DependencyReference{{Name: "srs-fluxconfig-srs-kustomization1"}}))
	g.Expect(k2.Spec.Wait).To(BeFalse())
	g.Expect(k2.Spec.Prune).To(BeFalse())
	g.Expect(k2.Spec.RetryInterval.Duration).To(Equal(10 * time.Minute))
	g.Expect(k2.Spec.PostBuild.Substitute).To(BeEmpty())
	g.Expect(k2.Spec.PostBuild.SubstituteFrom).To(HaveLen(2))

	// Azure's patch for HelmReleases annotated use-managed-source=true,
	// on every Kustomization of a Git configuration.
	for _, k := range objs.Kustomizations {
		g.Expect(k.Spec.Patches).To(Equal([]kustomize.Patch{{
			Patch: "- op: add\n  path: /spec/chart/spec/sourceRef\n" +
				`  value: {"name": "srs-fluxconfig", "namespace": "srs-namespace", "kind": "GitRepository"}` + "\n",
			Target: &kustomize.Selector{Group: "helm.toolkit.fluxcd.io", Kind: "HelmRelease",
				AnnotationSelector: "clusterconfig.azure.com/use-managed-source=true"},
		}}))
	}
}

// TestUseManagedSourceOnlyForGit: "Currently, only GitRepository source is
// supported" (Azure's documentation): other sources' Kustomizations get no
// patch.
func TestUseManagedSourceOnlyForGit(t *testing.T) {
	g := NewWithT(t)
	fc := gitConfig(func(fc *v1alpha1.FluxConfig) {
		fc.Spec.SourceKind, fc.Spec.GitRepository = v1alpha1.SourceKindOCIRepository, nil
		fc.Spec.OCIRepository = &v1alpha1.OCIRepositoryDefinition{URL: "oci://ghcr.io/o/manifests"}
	})
	objs, err := Build(fc, Options{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(objs.Kustomizations[0].Spec.Patches).To(BeEmpty())
}

func gitConfig(mut func(*v1alpha1.FluxConfig)) *v1alpha1.FluxConfig {
	fc := &v1alpha1.FluxConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "team-a", UID: "uid-1"},
		Spec: v1alpha1.FluxConfigSpec{
			Scope:      v1alpha1.ScopeCluster,
			SourceKind: v1alpha1.SourceKindGitRepository,
			GitRepository: &v1alpha1.GitRepositoryDefinition{
				URL: "https://github.com/o/r", RepositoryRef: &v1alpha1.RepositoryRefDefinition{Branch: "main"},
			},
			Kustomizations: map[string]v1alpha1.KustomizationDefinition{"apps": {Path: "./apps"}},
		},
	}
	if mut != nil {
		mut(fc)
	}
	return fc
}

func TestBuildSources(t *testing.T) {
	tests := []struct {
		name    string
		fc      *v1alpha1.FluxConfig
		opts    Options
		check   func(g Gomega, o *Objects)
		wantErr string
	}{
		{
			name: "scp-like SSH URL is normalized, generated key secret referenced",
			fc: gitConfig(func(fc *v1alpha1.FluxConfig) {
				fc.Spec.GitRepository.URL = "git@github.com:o/r.git"
				fc.Spec.GitRepository.SyncIntervalInSeconds = ptr.To[int64](60)
				fc.Spec.GitRepository.TimeoutInSeconds = ptr.To[int64](30)
			}),
			opts: Options{HasAuthSecret: true},
			check: func(g Gomega, o *Objects) {
				r := o.Source.(*sourcev1.GitRepository)
				g.Expect(r.Spec.URL).To(Equal("ssh://git@github.com/o/r.git"))
				g.Expect(r.Spec.Interval.Duration).To(Equal(time.Minute))
				g.Expect(r.Spec.Timeout.Duration).To(Equal(30 * time.Second))
				g.Expect(r.Spec.SecretRef.Name).To(Equal("cfg-auth"))
			},
		},
		{
			name: "public repository has no secretRef; tag, commit and provider",
			fc: gitConfig(func(fc *v1alpha1.FluxConfig) {
				fc.Spec.GitRepository.RepositoryRef = &v1alpha1.RepositoryRefDefinition{Branch: "main", Commit: "0ba6f0d30760d567de0bac86c8c4eec13ce1a590"}
				fc.Spec.GitRepository.Provider = "Azure"
			}),
			check: func(g Gomega, o *Objects) {
				r := o.Source.(*sourcev1.GitRepository)
				g.Expect(r.Spec.SecretRef).To(BeNil())
				g.Expect(r.Spec.Reference).To(Equal(&sourcev1.GitRepositoryRef{Branch: "main", Commit: "0ba6f0d30760d567de0bac86c8c4eec13ce1a590"}))
				g.Expect(r.Spec.Provider).To(Equal("azure"))
			},
		},
		{
			name: "localAuthRef is used as is",
			fc:   gitConfig(func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository.LocalAuthRef = "my-creds" }),
			opts: Options{HasAuthSecret: false},
			check: func(g Gomega, o *Objects) {
				g.Expect(o.Source.(*sourcev1.GitRepository).Spec.SecretRef.Name).To(Equal("my-creds"))
			},
		},
		{
			name: "bucket",
			fc: gitConfig(func(fc *v1alpha1.FluxConfig) {
				fc.Spec.SourceKind = v1alpha1.SourceKindBucket
				fc.Spec.GitRepository = nil
				fc.Spec.Bucket = &v1alpha1.BucketDefinition{URL: "https://s3.example.com:9000", BucketName: "configs", AccessKey: "AK"}
			}),
			opts: Options{HasAuthSecret: true},
			check: func(g Gomega, o *Objects) {
				b := o.Source.(*sourcev1.Bucket)
				g.Expect(b.Kind).To(Equal("Bucket"))
				g.Expect(b.Name).To(Equal("cfg"))
				g.Expect(b.Spec.Provider).To(Equal("generic"))
				g.Expect(b.Spec.Endpoint).To(Equal("s3.example.com:9000"))
				g.Expect(b.Spec.BucketName).To(Equal("configs"))
				g.Expect(b.Spec.Insecure).To(BeFalse())
				g.Expect(b.Spec.SecretRef.Name).To(Equal("cfg-auth"))
				g.Expect(o.Kustomizations[0].Spec.SourceRef.Kind).To(Equal("Bucket"))
			},
		},
		{
			name: "plain http bucket needs insecure",
			fc: gitConfig(func(fc *v1alpha1.FluxConfig) {
				fc.Spec.SourceKind = v1alpha1.SourceKindBucket
				fc.Spec.GitRepository = nil
				fc.Spec.Bucket = &v1alpha1.BucketDefinition{URL: "http://minio:9000", BucketName: "configs"}
			}),
			wantErr: "bucket.url is http:// but bucket.insecure is false",
		},
		{
			name: "azure blob becomes a Bucket with provider azure",
			fc: gitConfig(func(fc *v1alpha1.FluxConfig) {
				fc.Spec.SourceKind = v1alpha1.SourceKindAzureBlob
				fc.Spec.GitRepository = nil
				fc.Spec.AzureBlob = &v1alpha1.AzureBlobDefinition{URL: "https://acct.blob.core.windows.net/", ContainerName: "configs"}
			}),
			opts: Options{HasAuthSecret: true},
			check: func(g Gomega, o *Objects) {
				b := o.Source.(*sourcev1.Bucket)
				g.Expect(b.Spec.Provider).To(Equal("azure"))
				g.Expect(b.Spec.Endpoint).To(Equal("https://acct.blob.core.windows.net"))
				g.Expect(b.Spec.BucketName).To(Equal("configs"))
				g.Expect(b.Spec.SecretRef.Name).To(Equal("cfg-auth"))
			},
		},
		{
			name: "oci with defaults, tls and verification",
			fc: gitConfig(func(fc *v1alpha1.FluxConfig) {
				fc.Spec.SourceKind = v1alpha1.SourceKindOCIRepository
				fc.Spec.GitRepository = nil
				fc.Spec.OCIRepository = &v1alpha1.OCIRepositoryDefinition{
					URL: "oci://registry.example.com/manifests", UseWorkloadIdentity: true,
					LayerSelector: &v1alpha1.LayerSelectorDefinition{MediaType: "application/vnd.cncf.flux.content.v1.tar+gzip", Operation: "copy"},
					TLSConfig:     &v1alpha1.TLSConfigDefinition{},
					Verify: &v1alpha1.VerifyDefinition{Provider: "cosign",
						VerificationConfig: map[string]string{"cosign.pub": "cHVibGljIGtleQ=="},
						MatchOIDCIdentity:  []v1alpha1.MatchOIDCIdentityDefinition{{Issuer: "^https://token.actions.githubusercontent.com$", Subject: ".*"}}},
				}
			}),
			opts: Options{HasAuthSecret: true},
			check: func(g Gomega, o *Objects) {
				r := o.Source.(*sourcev1.OCIRepository)
				g.Expect(r.Spec.URL).To(Equal("oci://registry.example.com/manifests"))
				g.Expect(r.Spec.Reference.Tag).To(Equal("latest"))
				g.Expect(r.Spec.Provider).To(Equal("azure"))
				g.Expect(r.Spec.CertSecretRef.Name).To(Equal("cfg-auth"))
				g.Expect(r.Spec.SecretRef).To(BeNil())
				g.Expect(r.Spec.LayerSelector.Operation).To(Equal("copy"))
				g.Expect(r.Spec.Verify.Provider).To(Equal("cosign"))
				g.Expect(r.Spec.Verify.SecretRef.Name).To(Equal("cfg-verify"))
				g.Expect(r.Spec.Verify.MatchOIDCIdentity).To(HaveLen(1))
				g.Expect(string(o.VerifySecretData["cosign.pub"])).To(Equal("public key"))
			},
		},
		{
			name: "oci verification key that is not base64",
			fc: gitConfig(func(fc *v1alpha1.FluxConfig) {
				fc.Spec.SourceKind = v1alpha1.SourceKindOCIRepository
				fc.Spec.GitRepository = nil
				fc.Spec.OCIRepository = &v1alpha1.OCIRepositoryDefinition{URL: "oci://r.example.com/m",
					Verify: &v1alpha1.VerifyDefinition{Provider: "cosign", VerificationConfig: map[string]string{"k": "%%%"}}}
			}),
			wantErr: "verificationConfig[k] is not valid base64",
		},
		{
			name: "namespace scope targets the namespace and applies as flux-applier; suspend propagates",
			fc: gitConfig(func(fc *v1alpha1.FluxConfig) {
				fc.Spec.Scope = v1alpha1.ScopeNamespace
				fc.Spec.Suspend = true
			}),
			opts: Options{MultiTenancy: true},
			check: func(g Gomega, o *Objects) {
				g.Expect(o.Source.(*sourcev1.GitRepository).Spec.Suspend).To(BeTrue())
				k := o.Kustomizations[0]
				g.Expect(k.Spec.TargetNamespace).To(Equal("team-a"))
				g.Expect(k.Spec.Suspend).To(BeTrue())
				g.Expect(k.Spec.ServiceAccountName).To(Equal("flux-applier"))
			},
		},
		{
			// targetNamespace alone bounds nothing: kustomize-controller's own
			// ServiceAccount would apply anything the repository holds.
			name:    "namespace scope without multi-tenancy is refused",
			fc:      gitConfig(func(fc *v1alpha1.FluxConfig) { fc.Spec.Scope = v1alpha1.ScopeNamespace }),
			opts:    Options{MultiTenancy: false},
			wantErr: "scope namespace needs multi-tenancy",
		},
		{
			name: "cluster scope without multi-tenancy applies as kustomize-controller",
			fc:   gitConfig(func(fc *v1alpha1.FluxConfig) { fc.Spec.Scope = v1alpha1.ScopeCluster }),
			opts: Options{MultiTenancy: false},
			check: func(g Gomega, o *Objects) {
				g.Expect(o.Kustomizations[0].Spec.ServiceAccountName).To(BeEmpty())
				g.Expect(o.Kustomizations[0].Spec.TargetNamespace).To(BeEmpty())
			},
		},
		{
			name: "dependsOn cycle",
			fc: gitConfig(func(fc *v1alpha1.FluxConfig) {
				fc.Spec.Kustomizations = map[string]v1alpha1.KustomizationDefinition{
					"a": {DependsOn: []string{"b"}}, "b": {DependsOn: []string{"c"}}, "c": {DependsOn: []string{"a"}}, "d": {},
				}
			}),
			wantErr: "cycle: a -> b -> c -> a",
		},
		{
			name: "dependsOn an unknown kustomization",
			fc: gitConfig(func(fc *v1alpha1.FluxConfig) {
				fc.Spec.Kustomizations = map[string]v1alpha1.KustomizationDefinition{"a": {DependsOn: []string{"zzz"}}}
			}),
			wantErr: "kustomization a depends on zzz, which is not a kustomization",
		},
		{
			name:    "missing repositoryRef",
			fc:      gitConfig(func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository.RepositoryRef = nil }),
			wantErr: "gitRepository.repositoryRef is required",
		},
		{
			name:    "source block missing",
			fc:      gitConfig(func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository = nil }),
			wantErr: "set gitRepository",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			objs, err := Build(tt.fc, tt.opts)
			if tt.wantErr != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tt.wantErr)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			tt.check(g, objs)
		})
	}
}

func TestCheckDependencies(t *testing.T) {
	k := func(deps ...string) v1alpha1.KustomizationDefinition {
		return v1alpha1.KustomizationDefinition{DependsOn: deps}
	}
	tests := []struct {
		name    string
		in      map[string]v1alpha1.KustomizationDefinition
		wantErr string
	}{
		{"none", nil, ""},
		{"chain", map[string]v1alpha1.KustomizationDefinition{"infra": k(), "apps": k("infra"), "tests": k("apps", "infra")}, ""},
		{"self", map[string]v1alpha1.KustomizationDefinition{"a": k("a")}, "cycle: a -> a"},
		{"two", map[string]v1alpha1.KustomizationDefinition{"a": k("b"), "b": k("a")}, "cycle: a -> b -> a"},
		{"cycle off a chain", map[string]v1alpha1.KustomizationDefinition{"a": k("b"), "b": k("c"), "c": k("b")}, "cycle: b -> c -> b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDependencies(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
