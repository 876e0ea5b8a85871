package v1alpha1_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/testenv"
	"github.com/arcgitops/arcgitops/internal/validation/validationtest"
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

// TestCELValidation asserts the message a user gets for each invalid spec
// of the table shared with internal/validation, which the data plane uses:
// the CRD and the data plane refuse the same specs with the same words.
func TestCELValidation(t *testing.T) {
	tests := validationtest.Cases
	for i, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			g := NewWithT(t)
			fc := validationtest.Valid(ns, fmt.Sprintf("invalid-%d", i))
			tt.Mutate(fc)
			err := env.Client.Create(context.Background(), fc)
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).To(ContainSubstring(tt.Message))
		})
	}
	if len(tests) < 20 {
		t.Fatalf("want at least 20 invalid specs, have %d", len(tests))
	}
}

func TestScopeIsImmutable(t *testing.T) {
	g := NewWithT(t)
	fc := validationtest.Valid(ns, "immutable-scope")
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
