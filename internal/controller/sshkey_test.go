package controller_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/auth"
	"github.com/arcgitops/arcgitops/internal/controller"
	"github.com/arcgitops/arcgitops/internal/gitserver"
)

// TestSSHKeyRotation follows a generated key through two rotations
// against a real SSH Git server: the next key is published while the old
// one stays in use, a confirmed switch waits until the new key can read
// the repository, the switch leaves nothing of the old pair, a withdrawn
// request drops its pair, and a key older than the maximum age is flagged.
func TestSSHKeyRotation(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	git, err := gitserver.Start(t.TempDir())
	g.Expect(err).NotTo(HaveOccurred())
	defer git.Close()
	_, err = git.Commit("rotated", map[string]string{"apps/a.yaml": "a: 1\n"}, "first")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(k.Create(ctx, fluxConfig(ns, "rot", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.URL = git.SSHRepoURL("rotated")
		fc.Spec.GitRepository.SSHKnownHosts = base64.StdEncoding.EncodeToString([]byte(git.KnownHosts))
	}))).To(Succeed())

	var first string
	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "rot")
		first = fc.Status.RepositoryPublicKey
		g.Expect(first).NotTo(BeEmpty())
		g.Expect(fc.Status.SSHKey).NotTo(BeNil())
		g.Expect(fc.Status.SSHKey.CreatedAt).NotTo(BeNil())
		g.Expect(fc.Status.SSHKey.PendingPublicKey).To(BeEmpty())
	}, timeout, interval).Should(Succeed())
	g.Expect(git.AddDeployKey(first)).To(Succeed())
	firstPrivate := authIdentity(g, ns)

	rotate := func(r *v1alpha1.SSHKeyRotationDefinition) {
		fc := getFC(g, ns, "rot")
		patch := client.MergeFrom(fc.DeepCopy())
		fc.Spec.GitRepository.SSHKeyRotation = r
		g.Expect(k.Patch(ctx, fc, patch)).To(Succeed())
	}

	// 1. A request publishes the next key; the old one stays in use.
	rotate(&v1alpha1.SSHKeyRotationDefinition{RequestedAt: "r1", GracePeriodInSeconds: ptr.To[int64](3600)})
	var next string
	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "rot")
		next = fc.Status.SSHKey.PendingPublicKey
		g.Expect(next).NotTo(BeEmpty())
		g.Expect(fc.Status.RepositoryPublicKey).To(Equal(first))
		c := conditions.Get(fc, v1alpha1.KeyRotationInProgressCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonNewKeyPublished))
		g.Expect(fc.Status.SSHKey.SwitchAfter.Time).To(Equal(fc.Status.SSHKey.PendingSince.Add(time.Hour)))
		g.Expect(conditions.IsReady(fc) || conditions.IsUnknown(fc, v1alpha1.ReadyCondition)).To(BeTrue(), "a rotation does not fail the configuration")
	}, timeout, interval).Should(Succeed())
	g.Expect(next).NotTo(Equal(first))
	g.Expect(authIdentity(g, ns)).To(Equal(firstPrivate), "Flux keeps the old key until the switch")

	// 2. Confirmed before the new key is a deploy key: refused, old key kept.
	rotate(&v1alpha1.SSHKeyRotationDefinition{RequestedAt: "r1", ConfirmedAt: "r1", GracePeriodInSeconds: ptr.To[int64](3600)})
	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "rot")
		c := conditions.Get(fc, v1alpha1.KeyRotationInProgressCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonNewKeyRefused))
		g.Expect(c.Message).To(ContainSubstring("unable to authenticate"))
		g.Expect(fc.Status.RepositoryPublicKey).To(Equal(first))
	}, timeout, interval).Should(Succeed())
	g.Expect(authIdentity(g, ns)).To(Equal(firstPrivate))
	g.Expect(eventReasons(g, ns, "rot")).To(ContainElement("SSHKeyRotationBlocked"))

	// 3. Once it is one, the switch happens (here on the next reconcile;
	// unprompted, within a minute).
	g.Expect(git.AddDeployKey(next)).To(Succeed())
	requestReconcile(g, ns, "rot", "after-deploy-key")
	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "rot")
		g.Expect(fc.Status.RepositoryPublicKey).To(Equal(next))
		g.Expect(fc.Status.SSHKey.PendingPublicKey).To(BeEmpty())
		g.Expect(fc.Status.SSHKey.LastHandledRotationRequest).To(Equal("r1"))
		g.Expect(fc.Status.SSHKey.LastRotatedAt).NotTo(BeNil())
		g.Expect(conditions.Has(fc, v1alpha1.KeyRotationInProgressCondition)).To(BeFalse())
	}, timeout, interval).Should(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(authIdentity(g, ns)).NotTo(Equal(firstPrivate), "Flux's Secret holds the new key")
	}, timeout, interval).Should(Succeed())
	keys := &corev1.Secret{}
	g.Expect(k.Get(ctx, key(ns, "rot-ssh-key"), keys)).To(Succeed())
	for name, v := range keys.Data {
		g.Expect(string(v)).NotTo(Equal(firstPrivate), "the old private key is gone (%s)", name)
		g.Expect(string(v)).NotTo(Equal(first), "the old public key is gone (%s)", name)
	}
	g.Expect(eventReasons(g, ns, "rot")).To(ContainElements("SSHKeyRotationStarted", "SSHKeyRotated"))

	// 4. A second request, withdrawn before its switch: its pair goes.
	rotate(&v1alpha1.SSHKeyRotationDefinition{RequestedAt: "r2", GracePeriodInSeconds: ptr.To[int64](3600)})
	g.Eventually(func(g Gomega) {
		g.Expect(getFC(g, ns, "rot").Status.SSHKey.PendingPublicKey).NotTo(BeEmpty())
	}, timeout, interval).Should(Succeed())
	rotate(nil)
	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "rot")
		g.Expect(fc.Status.SSHKey.PendingPublicKey).To(BeEmpty())
		g.Expect(fc.Status.RepositoryPublicKey).To(Equal(next))
		g.Expect(conditions.Has(fc, v1alpha1.KeyRotationInProgressCondition)).To(BeFalse())
		s := &corev1.Secret{}
		g.Expect(k.Get(ctx, key(ns, "rot-ssh-key"), s)).To(Succeed())
		g.Expect(s.Data).NotTo(HaveKey(auth.NextIdentity))
	}, timeout, interval).Should(Succeed())

	// 5. A maximum age the key has passed (its record says it is older).
	rotate(&v1alpha1.SSHKeyRotationDefinition{MaxKeyAgeInDays: ptr.To[int64](90)})
	g.Expect(k.Get(ctx, key(ns, "rot-ssh-key"), keys)).To(Succeed())
	patch := client.MergeFrom(keys.DeepCopy())
	keys.Annotations[auth.AnnotationKeyCreatedAt] = time.Now().Add(-100 * 24 * time.Hour).UTC().Format(time.RFC3339)
	g.Expect(k.Patch(ctx, keys, patch)).To(Succeed())
	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "rot")
		c := conditions.Get(fc, v1alpha1.KeyRotationDueCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonMaxKeyAgeExceeded))
		g.Expect(c.Message).To(ContainSubstring("maxKeyAgeInDays (90)"))
	}, timeout, interval).Should(Succeed())
	g.Expect(eventReasons(g, ns, "rot")).To(ContainElement("SSHKeyTooOld"))
	rotate(nil)
	g.Eventually(func(g Gomega) {
		g.Expect(conditions.Has(getFC(g, ns, "rot"), v1alpha1.KeyRotationDueCondition)).To(BeFalse())
	}, timeout, interval).Should(Succeed())

	// No private key in the FluxConfig's status or events.
	fc := getFC(g, ns, "rot")
	var text strings.Builder
	for _, c := range fc.Status.Conditions {
		text.WriteString(c.Message)
	}
	var events corev1.EventList
	g.Expect(k.List(ctx, &events, client.InNamespace(ns))).To(Succeed())
	for _, e := range events.Items {
		text.WriteString(e.Message)
	}
	g.Expect(text.String()).NotTo(ContainSubstring("PRIVATE KEY"))
}

// authIdentity is the private key Flux reads, from the auth Secret.
func authIdentity(g Gomega, ns string) string {
	s := &corev1.Secret{}
	g.Expect(k.Get(ctx, key(ns, "rot-auth"), s)).To(Succeed())
	return string(s.Data["identity"])
}

func eventReasons(g Gomega, ns, name string) []string {
	var events corev1.EventList
	g.Expect(k.List(ctx, &events, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range events.Items {
		if e.InvolvedObject.Name == name {
			out = append(out, e.Reason)
		}
	}
	return out
}

// staleKeySecrets reads generated key Secrets as a cache that has not seen
// the latest write would: an older version, without the pending pair.
type staleKeySecrets struct{ client.Client }

func (c staleKeySecrets) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := c.Client.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	if s, ok := obj.(*corev1.Secret); ok && strings.HasSuffix(s.Name, "-ssh-key") {
		s.ResourceVersion = "1"
		delete(s.Data, auth.NextIdentity)
		delete(s.Data, auth.NextIdentityPub)
	}
	return nil
}

// TestKeyRotationReadStaleTriesAgain: a reconcile that read the key Secret
// stale loses its update to the conflict and tries again in a second,
// neither failing the configuration nor touching its published key.
func TestKeyRotationReadStaleTriesAgain(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	g.Expect(k.Create(ctx, fluxConfig(ns, "stale", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.URL = "ssh://git@github.com/o/r"
		fc.Spec.GitRepository.SSHKeyRotation = &v1alpha1.SSHKeyRotationDefinition{RequestedAt: "r1", GracePeriodInSeconds: ptr.To[int64](3600)}
	}))).To(Succeed())
	var before *v1alpha1.FluxConfig
	g.Eventually(func(g Gomega) {
		before = getFC(g, ns, "stale")
		g.Expect(before.Status.SSHKey).NotTo(BeNil())
		g.Expect(before.Status.SSHKey.PendingPublicKey).NotTo(BeEmpty())
	}, timeout, interval).Should(Succeed())

	stale := &controller.FluxConfigReconciler{Client: staleKeySecrets{mgrClient}, APIReader: k, Scheme: mgrScheme,
		KeyAlgorithm: "ecdsa-p256", MultiTenancy: true}
	result, err := stale.Reconcile(ctx, ctrl.Request{NamespacedName: key(ns, "stale")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.RequeueAfter).To(Equal(time.Second))
	after := getFC(g, ns, "stale")
	g.Expect(after.Status.RepositoryPublicKey).To(Equal(before.Status.RepositoryPublicKey))
	g.Expect(after.Status.SSHKey.PendingPublicKey).To(Equal(before.Status.SSHKey.PendingPublicKey), "the pending pair was not replaced")
	g.Expect(conditions.IsFalse(after, v1alpha1.ReadyCondition) && conditions.GetReason(after, v1alpha1.ReadyCondition) == v1alpha1.ReasonApplyFailed).To(BeFalse())
}

// TestKeySecretTheCacheMissesIsKept: a reconcile whose cache has not seen
// the key Secret yet (it is created without a read when missing there)
// keeps the key that exists: the create fails, the key is read instead,
// and neither the Secret nor the published key changes.
func TestKeySecretTheCacheMissesIsKept(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	g.Expect(k.Create(ctx, fluxConfig(ns, "unseen", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.URL = "ssh://git@github.com/o/r"
	}))).To(Succeed())
	var before *v1alpha1.FluxConfig
	g.Eventually(func(g Gomega) {
		before = getFC(g, ns, "unseen")
		g.Expect(before.Status.RepositoryPublicKey).NotTo(BeEmpty())
	}, timeout, interval).Should(Succeed())
	keyBefore := &corev1.Secret{}
	g.Expect(k.Get(ctx, key(ns, "unseen-ssh-key"), keyBefore)).To(Succeed())

	blind := &controller.FluxConfigReconciler{Client: mgrClient, APIReader: k, Scheme: mgrScheme,
		SecretCache: noSecretsCached{mgrClient}, KeyAlgorithm: "ecdsa-p256", MultiTenancy: true}
	_, err := blind.Reconcile(ctx, ctrl.Request{NamespacedName: key(ns, "unseen")})
	g.Expect(err).NotTo(HaveOccurred())

	keyAfter := &corev1.Secret{}
	g.Expect(k.Get(ctx, key(ns, "unseen-ssh-key"), keyAfter)).To(Succeed())
	g.Expect(keyAfter.ResourceVersion).To(Equal(keyBefore.ResourceVersion), "the key Secret was not written")
	g.Expect(keyAfter.Data).To(Equal(keyBefore.Data))
	after := getFC(g, ns, "unseen")
	g.Expect(after.Status.RepositoryPublicKey).To(Equal(before.Status.RepositoryPublicKey))
	g.Expect(conditions.IsReady(after) || conditions.GetReason(after, v1alpha1.ReadyCondition) != v1alpha1.ReasonApplyFailed).To(BeTrue(),
		"the configuration did not fail")

	// With a slow algorithm, whose pairs come from the key pool, the same
	// reconcile does not report a key being generated for it either.
	pool := &auth.KeyPool{Workers: 1, Generate: func() (*auth.KeyPair, error) { return auth.GenerateKeyPair("ecdsa-p256") }}
	slow := &controller.FluxConfigReconciler{Client: mgrClient, APIReader: k, Scheme: mgrScheme,
		SecretCache: noSecretsCached{mgrClient}, KeyAlgorithm: "rsa-4096", Keys: pool, MultiTenancy: true}
	_, err = slow.Reconcile(ctx, ctrl.Request{NamespacedName: key(ns, "unseen")})
	g.Expect(err).NotTo(HaveOccurred())
	after = getFC(g, ns, "unseen")
	g.Expect(conditions.GetReason(after, v1alpha1.ReadyCondition)).NotTo(Equal(v1alpha1.ReasonGeneratingKey))
	g.Expect(after.Status.RepositoryPublicKey).To(Equal(before.Status.RepositoryPublicKey))
	g.Expect(k.Get(ctx, key(ns, "unseen-ssh-key"), keyAfter)).To(Succeed())
	g.Expect(keyAfter.ResourceVersion).To(Equal(keyBefore.ResourceVersion), "the key Secret was not written")
	g.Eventually(pool.Pending, timeout, interval).Should(BeZero())
	left, err := pool.Take(ns + "/unseen")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(left).To(BeNil(), "the pair generated for the request was dropped, not kept for a key that exists")
}

// noSecretsCached is a Secret metadata cache that has seen none yet.
type noSecretsCached struct{ client.Reader }

func (c noSecretsCached) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok && m.Kind == "Secret" {
		return apierrors.NewNotFound(corev1.Resource("secrets"), key.Name)
	}
	return c.Reader.Get(ctx, key, obj, opts...)
}
