package manager_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/auth"
	"github.com/arcgitops/arcgitops/internal/controller"
	"github.com/arcgitops/arcgitops/internal/manager"
	"github.com/arcgitops/arcgitops/internal/testenv"
)

// TestSlowKeysDoNotHoldReconciles gives the manager more SSH configurations
// than it has reconcile workers, with RSA key generation held back: their
// keys wait in the background pool while an HTTPS configuration created
// after them converges; once generation resumes, every SSH configuration
// gets its key.
func TestSlowKeysDoNotHoldReconciles(t *testing.T) {
	g := NewWithT(t)
	env, err := testenv.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	k := env.Client

	gate := make(chan struct{})
	opts := manager.DefaultOptions()
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	opts.Concurrent, opts.SSHKeyWorkers = 2, 1
	opts.SSHKeyAlgorithm = "rsa-4096"
	opts.GenerateKeyPair = func(auth.KeyAlgorithm) (*auth.KeyPair, error) {
		<-gate
		return auth.GenerateKeyPair("ed25519") // fast: only the waiting is under test
	}
	mgr, err := manager.New(env.Config, opts)
	g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	ns := "keys"
	g.Expect(k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	const sshConfigs = 6 // three times the reconcile workers
	for i := 0; i < sshConfigs; i++ {
		g.Expect(k.Create(ctx, config(ns, fmt.Sprintf("ssh%d", i), "ssh://git@github.com/org/repo"))).To(Succeed())
	}
	g.Expect(k.Create(ctx, config(ns, "https", "https://github.com/org/repo"))).To(Succeed())

	g.Eventually(func(g Gomega) {
		fc := get(g, k, ns, "https")
		g.Expect(fc.Status.ObservedGeneration).To(Equal(fc.Generation))
		g.Expect(k.Get(ctx, client.ObjectKey{Namespace: ns, Name: "https-apps"}, &kustomizev1.Kustomization{})).To(Succeed())
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed(), "the HTTPS configuration converges while the keys wait")
	for i := 0; i < sshConfigs; i++ {
		g.Eventually(func(g Gomega) {
			ready := meta.FindStatusCondition(get(g, k, ns, fmt.Sprintf("ssh%d", i)).Status.Conditions, v1alpha1.ReadyCondition)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonGeneratingKey))
			g.Expect(ready.Message).To(ContainSubstring("rsa-4096"))
		}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
		g.Expect(k.Get(ctx, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("ssh%d-ssh-key", i)}, &corev1.Secret{})).NotTo(Succeed(),
			"no key Secret before its key is generated")
	}

	close(gate)
	for i := 0; i < sshConfigs; i++ {
		g.Eventually(func(g Gomega) {
			fc := get(g, k, ns, fmt.Sprintf("ssh%d", i))
			g.Expect(fc.Status.RepositoryPublicKey).To(HavePrefix("ssh-ed25519 "))
			g.Expect(meta.FindStatusCondition(fc.Status.Conditions, v1alpha1.ReadyCondition).Reason).NotTo(Equal(v1alpha1.ReasonGeneratingKey))
			g.Expect(k.Get(ctx, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("ssh%d-apps", i)}, &kustomizev1.Kustomization{})).To(Succeed())
		}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	}
}

func config(ns, name, url string) *v1alpha1.FluxConfig {
	return &v1alpha1.FluxConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.FluxConfigSpec{
			GitRepository:  &v1alpha1.GitRepositoryDefinition{URL: url, RepositoryRef: &v1alpha1.RepositoryRefDefinition{Branch: "main"}},
			Kustomizations: map[string]v1alpha1.KustomizationDefinition{"apps": {Path: "./apps"}},
		},
	}
}

func get(g Gomega, k client.Client, ns, name string) *v1alpha1.FluxConfig {
	fc := &v1alpha1.FluxConfig{}
	g.Expect(k.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, fc)).To(Succeed())
	return fc
}

// TestStartsWithoutFlux: in a cluster without Flux's CRDs the manager
// starts anyway, every FluxConfig says what is missing, deleting one
// finishes (its finalizer and Secrets go), and once Flux's CRDs are
// installed the manager stops so that it restarts with the real controller.
func TestStartsWithoutFlux(t *testing.T) {
	g := NewWithT(t)
	env, err := testenv.Start(testenv.WithoutFluxCRDs())
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	k := env.Client
	ctx := context.Background()

	// A configuration whose finalizer was set by an earlier manager, and
	// its auth Secret.
	ns := "no-flux"
	g.Expect(k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	stranded := config(ns, "stranded", "https://github.com/org/repo")
	stranded.Finalizers = []string{v1alpha1.FluxConfigFinalizer}
	g.Expect(k.Create(ctx, stranded)).To(Succeed())
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stranded-auth", Labels: map[string]string{
		v1alpha1.LabelIsManaged: "true", v1alpha1.LabelName: "stranded", v1alpha1.LabelNamespace: ns}}}
	g.Expect(k.Create(ctx, secret)).To(Succeed())

	opts := manager.DefaultOptions()
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	opts.FluxCheckInterval = 200 * time.Millisecond
	opts.SkipNameValidation = true
	mgr, err := manager.New(env.Config, opts)
	g.Expect(err).NotTo(HaveOccurred(), "the manager starts without Flux")
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()

	g.Eventually(func(g Gomega) {
		fc := &v1alpha1.FluxConfig{}
		g.Expect(k.Get(ctx, client.ObjectKeyFromObject(stranded), fc)).To(Succeed())
		ready := meta.FindStatusCondition(fc.Status.Conditions, v1alpha1.ReadyCondition)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonFluxNotInstalled))
		g.Expect(ready.Message).To(ContainSubstring("no CRD for GitRepository, Bucket, OCIRepository, Kustomization"))
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())

	g.Expect(k.Delete(ctx, stranded)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k.Get(ctx, client.ObjectKeyFromObject(stranded), &v1alpha1.FluxConfig{})) &&
			apierrors.IsNotFound(k.Get(ctx, client.ObjectKeyFromObject(secret), &corev1.Secret{}))
	}, 30*time.Second, 100*time.Millisecond).Should(BeTrue(), "the deletion finished, with the Secret")

	paths, err := testenv.FluxCRDPaths()
	g.Expect(err).NotTo(HaveOccurred())
	_, err = envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: paths})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(done, 30*time.Second).Should(Receive(MatchError(controller.ErrFluxArrived)))
}
