package manager_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/auth"
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
