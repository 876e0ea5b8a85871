package testenv_test

import (
	"context"
	"os"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.Start()
	if err != nil {
		// Fail, never skip: the harness is what every integration test stands on.
		_, _ = os.Stderr.WriteString("testenv: " + err.Error() + "\n")
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		_, _ = os.Stderr.WriteString("testenv: failed to stop: " + err.Error() + "\n")
	}
	os.Exit(code)
}

// TestHarness proves the integration harness: a real API server with the
// FluxConfig and Flux CRDs installed, on which Flux objects round-trip.
func TestHarness(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := env.Client

	for _, name := range []string{
		"fluxconfigs.clusterconfig.azure.com",
		"gitrepositories.source.toolkit.fluxcd.io",
		"buckets.source.toolkit.fluxcd.io",
		"ocirepositories.source.toolkit.fluxcd.io",
		"kustomizations.kustomize.toolkit.fluxcd.io",
	} {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		g.Expect(c.Get(ctx, types.NamespacedName{Name: name}, crd)).To(Succeed(), "CRD %s", name)
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "harness-"}}
	g.Expect(c.Create(ctx, ns)).To(Succeed())

	repo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: ns.Name},
		Spec: sourcev1.GitRepositorySpec{
			URL:       "https://github.com/stefanprodan/podinfo",
			Interval:  metav1.Duration{Duration: 10 * time.Minute},
			Reference: &sourcev1.GitRepositoryRef{Branch: "master"},
		},
	}
	g.Expect(c.Create(ctx, repo)).To(Succeed())

	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: ns.Name},
		Spec: kustomizev1.KustomizationSpec{
			Interval:  metav1.Duration{Duration: 10 * time.Minute},
			Path:      "./kustomize",
			Prune:     true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: repo.Name},
		},
	}
	g.Expect(c.Create(ctx, ks)).To(Succeed())

	gotRepo := &sourcev1.GitRepository{}
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(repo), gotRepo)).To(Succeed())
	g.Expect(gotRepo.Spec.URL).To(Equal(repo.Spec.URL))
	g.Expect(gotRepo.Spec.Reference.Branch).To(Equal("master"))
	// Defaults from Flux's CRD schema prove the real CRD is installed.
	g.Expect(gotRepo.Spec.Timeout).NotTo(BeNil())
	g.Expect(gotRepo.Spec.Timeout.Duration).To(Equal(60 * time.Second))

	gotKs := &kustomizev1.Kustomization{}
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(ks), gotKs)).To(Succeed())
	g.Expect(gotKs.Spec.SourceRef.Name).To(Equal("podinfo"))
	g.Expect(gotKs.Spec.Path).To(Equal("./kustomize"))
	g.Expect(gotKs.Spec.Prune).To(BeTrue())
}
