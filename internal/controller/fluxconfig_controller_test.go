package controller_test

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/auth"
	"github.com/arcgitops/arcgitops/internal/controller"
	"github.com/arcgitops/arcgitops/internal/testenv"
)

var ctx = context.Background()

func key(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

func managedLabels(ns, name string) map[string]string {
	return map[string]string{
		"clusterconfig.azure.com/is-managed": "true",
		"clusterconfig.azure.com/name":       name,
		"clusterconfig.azure.com/namespace":  ns,
	}
}

func protectedSecret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-protected-parameters"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(base64.StdEncoding.EncodeToString([]byte(v)))
	}
	return s
}

func TestGitOverSSHWithGeneratedKey(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	fc := fluxConfig(ns, "ssh", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.URL = "git@github.com:Azure/arc-k8s-demo.git"
	})
	g.Expect(k.Create(ctx, fc)).To(Succeed())

	repo := &sourcev1.GitRepository{}
	g.Eventually(func() error { return k.Get(ctx, key(ns, "ssh"), repo) }, timeout, interval).Should(Succeed())
	g.Expect(repo.Spec.URL).To(Equal("ssh://git@github.com/Azure/arc-k8s-demo.git"))
	g.Expect(repo.Spec.SecretRef.Name).To(Equal("ssh-auth"))
	g.Expect(repo.Spec.Reference.Branch).To(Equal("main"))
	g.Expect(repo.Spec.Interval.Duration).To(Equal(10 * time.Minute))
	g.Expect(repo.Labels).To(Equal(managedLabels(ns, "ssh")))
	g.Expect(repo.OwnerReferences).To(HaveLen(1))
	g.Expect(repo.OwnerReferences[0].Name).To(Equal("ssh"))

	keySecret := &corev1.Secret{}
	g.Expect(k.Get(ctx, key(ns, "ssh-ssh-key"), keySecret)).To(Succeed())
	g.Expect(keySecret.Data).To(HaveKey("identity"))
	g.Expect(keySecret.Data).To(HaveKey("identity.pub"))
	g.Expect(keySecret.Labels).To(Equal(managedLabels(ns, "ssh")))

	authSecret := &corev1.Secret{}
	g.Eventually(func() error { return k.Get(ctx, key(ns, "ssh-auth"), authSecret) }, timeout, interval).Should(Succeed())
	g.Expect(authSecret.Data).To(HaveLen(3))
	g.Expect(authSecret.Data["identity"]).To(Equal(keySecret.Data["identity"]))
	g.Expect(authSecret.Data["identity.pub"]).To(Equal(keySecret.Data["identity.pub"]))
	g.Expect(string(authSecret.Data["known_hosts"])).To(Equal(auth.BuiltinKnownHosts))

	for _, name := range []string{"ssh-infra", "ssh-apps"} {
		// Applied after the source, in the same reconcile: the source alone
		// may be there yet.
		ks := &kustomizev1.Kustomization{}
		g.Eventually(func() error { return k.Get(ctx, key(ns, name), ks) }, timeout, interval).Should(Succeed())
		g.Expect(ks.Spec.SourceRef).To(Equal(kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "ssh"}))
		g.Expect(ks.Spec.ServiceAccountName).To(Equal("flux-applier"))
		g.Expect(ks.Labels).To(Equal(managedLabels(ns, "ssh")))
	}
	apps := &kustomizev1.Kustomization{}
	g.Expect(k.Get(ctx, key(ns, "ssh-apps"), apps)).To(Succeed())
	g.Expect(apps.Spec.DependsOn).To(Equal([]kustomizev1.DependencyReference{{Name: "ssh-infra"}}))

	// The public key is in status; no private key anywhere in it.
	g.Eventually(func(g Gomega) {
		got := getFC(g, ns, "ssh")
		g.Expect(got.Status.RepositoryPublicKey).To(Equal(string(keySecret.Data["identity.pub"])))
		g.Expect(got.Status.RepositoryPublicKey).To(HavePrefix("ecdsa-sha2-nistp256 "))
		g.Expect(got.Finalizers).To(ContainElement(v1alpha1.FluxConfigFinalizer))
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}, timeout, interval).Should(Succeed())

	// flux-applier, bound to cluster-admin.
	g.Eventually(func(g Gomega) {
		sa := &corev1.ServiceAccount{}
		g.Expect(k.Get(ctx, key(ns, "flux-applier"), sa)).To(Succeed())
		crb := &rbacv1.ClusterRoleBinding{}
		g.Expect(k.Get(ctx, key("", "flux-applier-binding"), crb)).To(Succeed())
		g.Expect(crb.RoleRef.Name).To(Equal("cluster-admin"))
		g.Expect(crb.Subjects).To(ContainElement(rbacv1.Subject{Kind: "ServiceAccount", Name: "flux-applier", Namespace: ns}))
	}, timeout, interval).Should(Succeed())
	// The binding is recomputed from every configuration when it drifts,
	// though no configuration changed.
	crb := &rbacv1.ClusterRoleBinding{}
	g.Expect(k.Get(ctx, key("", "flux-applier-binding"), crb)).To(Succeed())
	crb.Subjects = slices.DeleteFunc(crb.Subjects, func(s rbacv1.Subject) bool { return s.Namespace == ns })
	g.Expect(k.Update(ctx, crb)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(k.Get(ctx, key("", "flux-applier-binding"), crb)).To(Succeed())
		g.Expect(crb.Subjects).To(ContainElement(rbacv1.Subject{Kind: "ServiceAccount", Name: "flux-applier", Namespace: ns}))
	}, timeout, interval).Should(Succeed())

	// The key is kept across reconciles: a requested reconcile does not regenerate it.
	requestReconcile(g, ns, "ssh", "first")
	g.Eventually(func(g Gomega) {
		g.Expect(getFC(g, ns, "ssh").Status.LastHandledReconcileAt).To(Equal("first"))
	}, timeout, interval).Should(Succeed())
	again := &corev1.Secret{}
	g.Expect(k.Get(ctx, key(ns, "ssh-ssh-key"), again)).To(Succeed())
	g.Expect(again.Data["identity"]).To(Equal(keySecret.Data["identity"]))
}

func requestReconcile(g Gomega, ns, name, value string) {
	fc := getFC(g, ns, name)
	patch := client.MergeFrom(fc.DeepCopy())
	if fc.Annotations == nil {
		fc.Annotations = map[string]string{}
	}
	fc.Annotations[meta.ReconcileRequestAnnotation] = value
	g.Expect(k.Patch(ctx, fc, patch)).To(Succeed())
}

func TestGitOverHTTPSWithToken(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	g.Expect(k.Create(ctx, protectedSecret(ns, "https", map[string]string{"httpsKey": "ghp_TOPSECRETTOKEN"}))).To(Succeed())
	fc := fluxConfig(ns, "https", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.HTTPSUser = "git-bot"
		fc.Spec.ConfigurationProtectedSettingsRef = &v1alpha1.LocalSecretReference{Name: "https-protected-parameters"}
	})
	g.Expect(k.Create(ctx, fc)).To(Succeed())

	authSecret := &corev1.Secret{}
	g.Eventually(func() error { return k.Get(ctx, key(ns, "https-auth"), authSecret) }, timeout, interval).Should(Succeed())
	g.Expect(authSecret.Data).To(Equal(map[string][]byte{"username": []byte("git-bot"), "password": []byte("ghp_TOPSECRETTOKEN")}))
	g.Expect(authSecret.Type).To(Equal(corev1.SecretTypeOpaque))

	// Applied after the auth Secret, in the same reconcile.
	repo := &sourcev1.GitRepository{}
	g.Eventually(func() error { return k.Get(ctx, key(ns, "https"), repo) }, timeout, interval).Should(Succeed())
	g.Expect(repo.Spec.URL).To(Equal("https://github.com/Azure/arc-k8s-demo"))
	g.Expect(repo.Spec.SecretRef.Name).To(Equal("https-auth"))
	g.Expect(k.Get(ctx, key(ns, "https-ssh-key"), &corev1.Secret{})).To(Satisfy(apierrors.IsNotFound), "no key is generated for https")
	g.Eventually(func(g Gomega) {
		g.Expect(getFC(g, ns, "https").Status.RepositoryPublicKey).To(BeEmpty())
	}, timeout, interval).Should(Succeed())

	// The manager caches Secrets as metadata only. A hand edit of the auth
	// Secret's data keeps its applied-hash annotation, and is still undone.
	g.Expect(k.Get(ctx, key(ns, "https-auth"), authSecret)).To(Succeed())
	authSecret.Data["password"] = []byte("tampered")
	g.Expect(k.Update(ctx, authSecret)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(k.Get(ctx, key(ns, "https-auth"), authSecret)).To(Succeed())
		g.Expect(string(authSecret.Data["password"])).To(Equal("ghp_TOPSECRETTOKEN"))
	}, timeout, interval).Should(Succeed())
}

func TestBucketAzureBlobAndOCISources(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)

	g.Expect(k.Create(ctx, protectedSecret(ns, "bucket", map[string]string{"bucketSecretKey": "s3-secret"}))).To(Succeed())
	g.Expect(k.Create(ctx, fluxConfig(ns, "bucket", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.SourceKind = v1alpha1.SourceKindBucket
		fc.Spec.GitRepository = nil
		fc.Spec.Bucket = &v1alpha1.BucketDefinition{URL: "https://s3.example.com", BucketName: "configs", AccessKey: "AKIAEXAMPLE"}
		fc.Spec.ConfigurationProtectedSettingsRef = &v1alpha1.LocalSecretReference{Name: "bucket-protected-parameters"}
	}))).To(Succeed())

	g.Expect(k.Create(ctx, protectedSecret(ns, "blob", map[string]string{"accountKey": "blob-account-key"}))).To(Succeed())
	g.Expect(k.Create(ctx, fluxConfig(ns, "blob", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.SourceKind = v1alpha1.SourceKindAzureBlob
		fc.Spec.GitRepository = nil
		fc.Spec.AzureBlob = &v1alpha1.AzureBlobDefinition{URL: "https://acct.blob.core.windows.net", ContainerName: "configs"}
		fc.Spec.ConfigurationProtectedSettingsRef = &v1alpha1.LocalSecretReference{Name: "blob-protected-parameters"}
	}))).To(Succeed())

	g.Expect(k.Create(ctx, fluxConfig(ns, "oci", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.SourceKind = v1alpha1.SourceKindOCIRepository
		fc.Spec.GitRepository = nil
		fc.Spec.OCIRepository = &v1alpha1.OCIRepositoryDefinition{URL: "oci://registry.example.com/manifests",
			RepositoryRef: &v1alpha1.OCIRepositoryRefDefinition{Semver: ">=1.0.0"}}
	}))).To(Succeed())

	b := &sourcev1.Bucket{}
	g.Eventually(func() error { return k.Get(ctx, key(ns, "bucket"), b) }, timeout, interval).Should(Succeed())
	g.Expect(b.Spec.Provider).To(Equal("generic"))
	g.Expect(b.Spec.Endpoint).To(Equal("s3.example.com"))
	g.Expect(b.Spec.BucketName).To(Equal("configs"))
	g.Expect(b.Spec.SecretRef.Name).To(Equal("bucket-auth"))
	g.Expect(b.Labels).To(Equal(managedLabels(ns, "bucket")))
	s := &corev1.Secret{}
	g.Eventually(func() error { return k.Get(ctx, key(ns, "bucket-auth"), s) }, timeout, interval).Should(Succeed())
	g.Expect(s.Data).To(Equal(map[string][]byte{"accesskey": []byte("AKIAEXAMPLE"), "secretkey": []byte("s3-secret")}))
	ks := &kustomizev1.Kustomization{}
	g.Eventually(func() error { return k.Get(ctx, key(ns, "bucket-infra"), ks) }, timeout, interval).Should(Succeed())
	g.Expect(ks.Spec.SourceRef.Kind).To(Equal("Bucket"))

	blob := &sourcev1.Bucket{}
	g.Eventually(func() error { return k.Get(ctx, key(ns, "blob"), blob) }, timeout, interval).Should(Succeed())
	g.Expect(blob.Spec.Provider).To(Equal("azure"))
	g.Expect(blob.Spec.Endpoint).To(Equal("https://acct.blob.core.windows.net"))
	g.Expect(blob.Spec.BucketName).To(Equal("configs"))
	g.Eventually(func() error { return k.Get(ctx, key(ns, "blob-auth"), s) }, timeout, interval).Should(Succeed())
	g.Expect(s.Data).To(Equal(map[string][]byte{"accountKey": []byte("blob-account-key")}))

	oci := &sourcev1.OCIRepository{}
	g.Eventually(func() error { return k.Get(ctx, key(ns, "oci"), oci) }, timeout, interval).Should(Succeed())
	g.Expect(oci.Spec.URL).To(Equal("oci://registry.example.com/manifests"))
	g.Expect(oci.Spec.Reference.SemVer).To(Equal(">=1.0.0"))
	g.Expect(oci.Spec.SecretRef).To(BeNil())
	g.Expect(k.Get(ctx, key(ns, "oci-auth"), &corev1.Secret{})).To(Satisfy(apierrors.IsNotFound))
	g.Eventually(func() error { return k.Get(ctx, key(ns, "oci-apps"), ks) }, timeout, interval).Should(Succeed())
	g.Expect(ks.Spec.SourceRef.Kind).To(Equal("OCIRepository"))
}

// setReady sets the Ready condition of a Flux object's status by hand, as
// the Flux controllers (not running here) would.
func setReady(g Gomega, obj client.Object, status metav1.ConditionStatus, reason, msg string) {
	g.Expect(testenv.SetReady(ctx, k, obj, status, reason, msg)).To(Succeed())
}

func TestStatusMappingSuspendAndRequestedAt(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	g.Expect(k.Create(ctx, fluxConfig(ns, "status"))).To(Succeed())

	repo := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "status"}}
	infra := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "status-infra"}}
	apps := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "status-apps"}}
	g.Eventually(func() error { return k.Get(ctx, client.ObjectKeyFromObject(apps), apps) }, timeout, interval).Should(Succeed())

	// Nothing reported yet: not compliant, Ready Unknown, Reconciling.
	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "status")
		g.Expect(fc.Status.ComplianceState).To(Equal(v1alpha1.ComplianceUnknown))
		g.Expect(condition(fc, "Ready").Status).To(Equal(metav1.ConditionUnknown))
		g.Expect(condition(fc, "Reconciling").Status).To(Equal(metav1.ConditionTrue))
		g.Expect(condition(fc, "Stalled")).To(BeNil())
		g.Expect(fc.Status.Statuses).To(HaveLen(3))
	}, timeout, interval).Should(Succeed())

	// Compliant.
	setReady(g, repo, metav1.ConditionTrue, "Succeeded", "stored artifact for revision 'main@sha1:0ba6f0d30760d567de0bac86c8c4eec13ce1a590'")
	setReady(g, infra, metav1.ConditionTrue, "ReconciliationSucceeded", "Applied revision: main@sha1:0ba6f0d3")
	setReady(g, apps, metav1.ConditionTrue, "ReconciliationSucceeded", "Applied revision: main@sha1:0ba6f0d3")
	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "status")
		g.Expect(fc.Status.ComplianceState).To(Equal(v1alpha1.ComplianceCompliant))
		g.Expect(condition(fc, "Ready").Status).To(Equal(metav1.ConditionTrue))
		g.Expect(condition(fc, "Reconciling")).To(BeNil())
		g.Expect(fc.Status.SourceSyncedCommitID).To(Equal("main/0ba6f0d30760d567de0bac86c8c4eec13ce1a590"))
		g.Expect(fc.Status.SourceUpdatedAt).NotTo(BeNil())
		g.Expect(fc.Status.StatusUpdatedAt).NotTo(BeNil())
		g.Expect(fc.Status.ProvisioningState).To(Equal(v1alpha1.ProvisioningSucceeded))
		g.Expect(fc.Status.ErrorMessage).To(BeEmpty())
		g.Expect(fc.Status.Statuses[0].Kind).To(Equal("GitRepository"))
		g.Expect(fc.Status.Statuses[0].ComplianceState).To(Equal(v1alpha1.ComplianceCompliant))
	}, timeout, interval).Should(Succeed())

	// Non-Compliant, with Flux's message.
	setReady(g, apps, metav1.ConditionFalse, "BuildFailed", "kustomization path not found: ./apps")
	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "status")
		g.Expect(fc.Status.ComplianceState).To(Equal(v1alpha1.ComplianceNonCompliant))
		ready := condition(fc, "Ready")
		g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonKustomizationNotReady))
		g.Expect(ready.Message).To(ContainSubject("kustomization path not found: ./apps"))
		g.Expect(fc.Status.ErrorMessage).To(Equal("Kustomization " + ns + "/status-apps: kustomization path not found: ./apps"))
	}, timeout, interval).Should(Succeed())

	// Pending: progressing.
	setReady(g, apps, metav1.ConditionUnknown, "Progressing", "reconciliation in progress")
	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "status")
		g.Expect(fc.Status.ComplianceState).To(Equal(v1alpha1.CompliancePending))
		g.Expect(condition(fc, "Reconciling").Status).To(Equal(metav1.ConditionTrue))
		g.Expect(fc.Status.ErrorMessage).To(BeEmpty())
	}, timeout, interval).Should(Succeed())
	setReady(g, apps, metav1.ConditionTrue, "ReconciliationSucceeded", "Applied revision: main@sha1:0ba6f0d3")

	// requestedAt reaches the source and every Kustomization.
	requestReconcile(g, ns, "status", "2026-11-22T12:00:00Z")
	g.Eventually(func(g Gomega) {
		for _, obj := range []client.Object{repo, infra, apps} {
			g.Expect(k.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
			g.Expect(obj.GetAnnotations()).To(HaveKeyWithValue(meta.ReconcileRequestAnnotation, "2026-11-22T12:00:00Z"))
		}
		g.Expect(getFC(g, ns, "status").Status.LastHandledReconcileAt).To(Equal("2026-11-22T12:00:00Z"))
	}, timeout, interval).Should(Succeed())

	// Suspend reaches every Flux object; the configuration is Suspended.
	fc := getFC(g, ns, "status")
	patch := client.MergeFrom(fc.DeepCopy())
	fc.Spec.Suspend = true
	g.Expect(k.Patch(ctx, fc, patch)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(k.Get(ctx, client.ObjectKeyFromObject(repo), repo)).To(Succeed())
		g.Expect(repo.Spec.Suspend).To(BeTrue())
		for _, ks := range []*kustomizev1.Kustomization{infra, apps} {
			g.Expect(k.Get(ctx, client.ObjectKeyFromObject(ks), ks)).To(Succeed())
			g.Expect(ks.Spec.Suspend).To(BeTrue())
		}
		fc := getFC(g, ns, "status")
		g.Expect(fc.Status.ComplianceState).To(Equal(v1alpha1.ComplianceSuspended))
		g.Expect(condition(fc, "Ready").Reason).To(Equal(v1alpha1.ReasonSuspended))
	}, timeout, interval).Should(Succeed())

	// Resume: suspend is cleared again.
	fc = getFC(g, ns, "status")
	patch = client.MergeFrom(fc.DeepCopy())
	fc.Spec.Suspend = false
	g.Expect(k.Patch(ctx, fc, patch)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(k.Get(ctx, client.ObjectKeyFromObject(apps), apps)).To(Succeed())
		g.Expect(apps.Spec.Suspend).To(BeFalse())
	}, timeout, interval).Should(Succeed())
}

// ContainSubject is ContainSubstring, named for readability in messages.
func ContainSubject(s string) OmegaMatcher { return ContainSubstring(s) }

func condition(fc *v1alpha1.FluxConfig, t string) *metav1.Condition {
	for i := range fc.Status.Conditions {
		if fc.Status.Conditions[i].Type == t {
			return &fc.Status.Conditions[i]
		}
	}
	return nil
}

func TestKustomizationRemovalAndDeletion(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	fc := fluxConfig(ns, "lifecycle", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.URL = "ssh://git@github.com/o/r"
	})
	g.Expect(k.Create(ctx, fc)).To(Succeed())
	g.Eventually(func() error {
		return k.Get(ctx, key(ns, "lifecycle-apps"), &kustomizev1.Kustomization{})
	}, timeout, interval).Should(Succeed())

	// Remove "apps" from the spec: its Kustomization goes, infra stays.
	fc = getFC(g, ns, "lifecycle")
	patch := client.MergeFrom(fc.DeepCopy())
	delete(fc.Spec.Kustomizations, "apps")
	g.Expect(k.Patch(ctx, fc, patch)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k.Get(ctx, key(ns, "lifecycle-apps"), &kustomizev1.Kustomization{}))
	}, timeout, interval).Should(BeTrue())
	g.Expect(k.Get(ctx, key(ns, "lifecycle-infra"), &kustomizev1.Kustomization{})).To(Succeed())

	// Delete: the finalizer removes every object it made, then the RBAC goes.
	g.Eventually(func() error { return k.Get(ctx, key(ns, "flux-applier"), &corev1.ServiceAccount{}) }, timeout, interval).Should(Succeed())
	g.Expect(k.Delete(ctx, getFC(g, ns, "lifecycle"))).To(Succeed())
	g.Eventually(func(g Gomega) {
		for _, obj := range []client.Object{
			&v1alpha1.FluxConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lifecycle"}},
			&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lifecycle-infra"}},
			&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lifecycle"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lifecycle-auth"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lifecycle-ssh-key"}},
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "flux-applier"}},
		} {
			err := k.Get(ctx, client.ObjectKeyFromObject(obj), obj)
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%T %s still exists", obj, obj.GetName())
		}
		crb := &rbacv1.ClusterRoleBinding{}
		if err := k.Get(ctx, key("", "flux-applier-binding"), crb); err == nil {
			g.Expect(crb.Subjects).NotTo(ContainElement(HaveField("Namespace", ns)))
		}
	}, timeout, interval).Should(Succeed())
}

func TestNamespaceScopeAndScopeConflict(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	g.Expect(k.Create(ctx, fluxConfig(ns, "tenant", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.Scope = v1alpha1.ScopeNamespace
	}))).To(Succeed())

	g.Eventually(func(g Gomega) {
		rb := &rbacv1.RoleBinding{}
		g.Expect(k.Get(ctx, key(ns, "flux-applier-binding"), rb)).To(Succeed())
		g.Expect(rb.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "admin"}))
		g.Expect(rb.Subjects).To(Equal([]rbacv1.Subject{{Kind: "ServiceAccount", Name: "flux-applier", Namespace: ns}}))
		ks := &kustomizev1.Kustomization{}
		g.Expect(k.Get(ctx, key(ns, "tenant-apps"), ks)).To(Succeed())
		g.Expect(ks.Spec.TargetNamespace).To(Equal(ns))
		g.Expect(ks.Spec.ServiceAccountName).To(Equal("flux-applier"))
	}, timeout, interval).Should(Succeed())

	// A later cluster-scope configuration in the same namespace is refused
	// and does not bind this namespace's applier to cluster-admin.
	time.Sleep(1100 * time.Millisecond) // creation timestamps have second resolution
	g.Expect(k.Create(ctx, fluxConfig(ns, "escalate"))).To(Succeed())
	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "escalate")
		g.Expect(condition(fc, "Stalled")).NotTo(BeNil())
		g.Expect(condition(fc, "Stalled").Message).To(ContainSubstring("already holds namespace-scope configuration tenant"))
		g.Expect(fc.Status.ProvisioningState).To(Equal(v1alpha1.ProvisioningFailed))
	}, timeout, interval).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(k.Get(ctx, key(ns, "escalate"), &sourcev1.GitRepository{})).To(Satisfy(apierrors.IsNotFound))
		crb := &rbacv1.ClusterRoleBinding{}
		if err := k.Get(ctx, key("", "flux-applier-binding"), crb); err == nil {
			g.Expect(crb.Subjects).NotTo(ContainElement(HaveField("Namespace", ns)))
		}
	}, 2*time.Second, 200*time.Millisecond).Should(Succeed())
}

func TestInvalidSpecStalls(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	g.Expect(k.Create(ctx, fluxConfig(ns, "cycle", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.Kustomizations = map[string]v1alpha1.KustomizationDefinition{
			"a": {DependsOn: []string{"b"}}, "b": {DependsOn: []string{"a"}},
		}
	}))).To(Succeed())
	g.Expect(k.Create(ctx, protectedSecret(ns, "wrongkey", map[string]string{"sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nnot really\n-----END OPENSSH PRIVATE KEY-----"}))).To(Succeed())
	g.Expect(k.Create(ctx, fluxConfig(ns, "wrongkey", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.ConfigurationProtectedSettingsRef = &v1alpha1.LocalSecretReference{Name: "wrongkey-protected-parameters"}
	}))).To(Succeed())

	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "cycle")
		g.Expect(condition(fc, "Stalled")).NotTo(BeNil())
		g.Expect(condition(fc, "Ready").Status).To(Equal(metav1.ConditionFalse))
		g.Expect(fc.Status.ErrorMessage).To(Equal("kustomizations depend on each other in a cycle: a -> b -> a: remove one of these dependsOn"))
		g.Expect(fc.Status.ObservedGeneration).To(Equal(fc.Generation))

		fc = getFC(g, ns, "wrongkey")
		g.Expect(fc.Status.ErrorMessage).To(Equal("protected setting sshPrivateKey applies to SSH URLs only: remove it, or use an ssh:// URL"))
	}, timeout, interval).Should(Succeed())
	g.Expect(k.Get(ctx, key(ns, "cycle"), &sourcev1.GitRepository{})).To(Satisfy(apierrors.IsNotFound))
}

// countingClient counts the write requests sent through it.
type countingClient struct {
	client.Client
	writes *atomic.Int64
}

func (c countingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	c.writes.Add(1)
	return c.Client.Create(ctx, obj, opts...)
}

func (c countingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	c.writes.Add(1)
	return c.Client.Update(ctx, obj, opts...)
}

func (c countingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	c.writes.Add(1)
	return c.Client.Patch(ctx, obj, patch, opts...)
}

func (c countingClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	c.writes.Add(1)
	return c.Client.Apply(ctx, obj, opts...)
}

func (c countingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	c.writes.Add(1)
	return c.Client.Delete(ctx, obj, opts...)
}

func (c countingClient) DeleteAllOf(ctx context.Context, obj client.Object, opts ...client.DeleteAllOfOption) error {
	c.writes.Add(1)
	return c.Client.DeleteAllOf(ctx, obj, opts...)
}

func (c countingClient) Status() client.SubResourceWriter { return c.SubResource("status") }

func (c countingClient) SubResource(sub string) client.SubResourceClient {
	return countingSubResource{SubResourceClient: c.Client.SubResource(sub), writes: c.writes}
}

type countingSubResource struct {
	client.SubResourceClient
	writes *atomic.Int64
}

func (c countingSubResource) Create(ctx context.Context, obj, sub client.Object, opts ...client.SubResourceCreateOption) error {
	c.writes.Add(1)
	return c.SubResourceClient.Create(ctx, obj, sub, opts...)
}

func (c countingSubResource) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	c.writes.Add(1)
	return c.SubResourceClient.Update(ctx, obj, opts...)
}

func (c countingSubResource) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	c.writes.Add(1)
	return c.SubResourceClient.Patch(ctx, obj, patch, opts...)
}

func (c countingSubResource) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
	c.writes.Add(1)
	return c.SubResourceClient.Apply(ctx, obj, opts...)
}

func TestNoOpReconcileWritesNothing(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	g.Expect(k.Create(ctx, protectedSecret(ns, "noop", map[string]string{"httpsKey": "token"}))).To(Succeed())
	g.Expect(k.Create(ctx, fluxConfig(ns, "noop", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.HTTPSUser = "bot"
		fc.Spec.ConfigurationProtectedSettingsRef = &v1alpha1.LocalSecretReference{Name: "noop-protected-parameters"}
		fc.Spec.Kustomizations["apps"] = v1alpha1.KustomizationDefinition{
			Path: "./apps", DependsOn: []string{"infra"}, RetryIntervalInSeconds: ptr.To[int64](60),
			PostBuild: &v1alpha1.PostBuildDefinition{Substitute: map[string]string{"env": "prod"}},
		}
	}))).To(Succeed())
	g.Expect(k.Create(ctx, fluxConfig(ns, "noopssh", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.URL = "ssh://git@github.com/o/r"
	}))).To(Succeed())

	// Let the manager converge, with Flux objects reporting Ready.
	for _, name := range []string{"noop", "noopssh"} {
		g.Eventually(func() error {
			return k.Get(ctx, key(ns, name+"-apps"), &kustomizev1.Kustomization{})
		}, timeout, interval).Should(Succeed())
		setReady(g, &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, "True", "Succeeded", "ok")
		setReady(g, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-infra"}}, "True", "ReconciliationSucceeded", "ok")
		setReady(g, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-apps"}}, "True", "ReconciliationSucceeded", "ok")
		g.Eventually(func(g Gomega) {
			g.Expect(getFC(g, ns, name).Status.ComplianceState).To(Equal(v1alpha1.ComplianceCompliant))
		}, timeout, interval).Should(Succeed())
	}
	// Wait until the manager's cache has the converged state.
	g.Eventually(func(g Gomega) {
		for _, name := range []string{"noop", "noopssh"} {
			fc := &v1alpha1.FluxConfig{}
			g.Expect(mgrClient.Get(ctx, key(ns, name), fc)).To(Succeed())
			g.Expect(fc.Status.ComplianceState).To(Equal(v1alpha1.ComplianceCompliant))
		}
	}, timeout, interval).Should(Succeed())

	// And until the manager is quiet: nothing changes for a second.
	versions := func() string {
		var v []string
		for _, name := range []string{"noop", "noopssh"} {
			fc := &v1alpha1.FluxConfig{}
			_ = mgrClient.Get(ctx, key(ns, name), fc)
			v = append(v, fc.ResourceVersion)
		}
		return strings.Join(v, ",")
	}
	g.Eventually(func(g Gomega) {
		before := versions()
		time.Sleep(time.Second)
		g.Expect(versions()).To(Equal(before))
	}, timeout, interval).Should(Succeed())

	var writes atomic.Int64
	counting := countingClient{Client: mgrClient, writes: &writes}
	r := &controller.FluxConfigReconciler{
		Client: counting, APIReader: k, Scheme: mgrScheme,
		KeyAlgorithm: "ecdsa-p256", MultiTenancy: true,
	}
	applier := &controller.ApplierReconciler{Client: counting, Scheme: mgrScheme}
	for i := 0; i < 3; i++ {
		for _, name := range []string{"noop", "noopssh"} {
			_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: key(ns, name)})
			g.Expect(err).NotTo(HaveOccurred())
		}
		_, err := applier.Reconcile(ctx, ctrl.Request{NamespacedName: key(ns, "flux-applier")})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = applier.Reconcile(ctx, ctrl.Request{NamespacedName: key("", "flux-applier-binding")})
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(writes.Load()).To(BeZero(), "a reconcile with nothing to change must send no write request")

	// The counter does count: a reconciler whose desired state differs from
	// the live objects (no multi-tenancy: no serviceAccountName) writes.
	differs := &controller.FluxConfigReconciler{
		Client: counting, APIReader: k, Scheme: mgrScheme,
		KeyAlgorithm: "ecdsa-p256", MultiTenancy: false,
	}
	_, err := differs.Reconcile(ctx, ctrl.Request{NamespacedName: key(ns, "noop")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(writes.Load()).To(BeNumerically(">=", 2), "both Kustomizations are rewritten")

	// A cache that lags behind the reconciler's own status write (it hands
	// out the FluxConfig without a status) does not make it write the same
	// status again; a reconciler that has not written it does write.
	stale := staleStatusClient{countingClient: counting}
	writes.Store(0)
	r.Client = stale
	_, err = r.Reconcile(ctx, ctrl.Request{NamespacedName: key(ns, "noopssh")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(writes.Load()).To(BeZero(), "the status read stale is the one this reconciler found in place")
	fresh := &controller.FluxConfigReconciler{
		Client: stale, APIReader: k, Scheme: mgrScheme,
		KeyAlgorithm: "ecdsa-p256", MultiTenancy: true,
	}
	_, err = fresh.Reconcile(ctx, ctrl.Request{NamespacedName: key(ns, "noopssh")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(writes.Load()).To(BeEquivalentTo(1), "one apply of the whole status")
}

// staleStatusClient reads FluxConfigs as a cache would just after their
// creation: without a status.
type staleStatusClient struct{ countingClient }

func (c staleStatusClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := c.countingClient.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	if fc, ok := obj.(*v1alpha1.FluxConfig); ok {
		fc.Status = v1alpha1.FluxConfigStatus{}
	}
	return nil
}

func TestNoSecretsInLogsOrEvents(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	const token = "ghp_NEVERLOGTHISTOKEN"
	g.Expect(k.Create(ctx, protectedSecret(ns, "secretive", map[string]string{"httpsKey": token}))).To(Succeed())
	g.Expect(k.Create(ctx, fluxConfig(ns, "secretive", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.HTTPSUser = "bot"
		fc.Spec.ConfigurationProtectedSettingsRef = &v1alpha1.LocalSecretReference{Name: "secretive-protected-parameters"}
	}))).To(Succeed())
	g.Expect(k.Create(ctx, fluxConfig(ns, "keyed", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.URL = "ssh://git@github.com/o/r"
	}))).To(Succeed())
	g.Eventually(func() error { return k.Get(ctx, key(ns, "secretive-auth"), &corev1.Secret{}) }, timeout, interval).Should(Succeed())
	keySecret := &corev1.Secret{}
	g.Eventually(func() error { return k.Get(ctx, key(ns, "keyed-ssh-key"), keySecret) }, timeout, interval).Should(Succeed())
	// And a failure that carries a message.
	g.Expect(k.Create(ctx, protectedSecret(ns, "badkey", map[string]string{"sshPrivateKey": "-----BEGIN PRIVATE KEY-----\nMIIsecretmaterial\n-----END PRIVATE KEY-----"}))).To(Succeed())
	g.Expect(k.Create(ctx, fluxConfig(ns, "badkey", func(fc *v1alpha1.FluxConfig) {
		fc.Spec.GitRepository.URL = "ssh://git@github.com/o/r"
		fc.Spec.ConfigurationProtectedSettingsRef = &v1alpha1.LocalSecretReference{Name: "badkey-protected-parameters"}
	}))).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(getFC(g, ns, "badkey").Status.ErrorMessage).To(ContainSubstring("not a PEM private key"))
	}, timeout, interval).Should(Succeed())

	privateKey := strings.TrimSpace(string(keySecret.Data["identity"]))
	keyBody := strings.Split(privateKey, "\n")[1]
	var events corev1.EventList
	g.Expect(k.List(ctx, &events, client.InNamespace(ns))).To(Succeed())
	var all strings.Builder
	all.WriteString(logs.String())
	for _, e := range events.Items {
		all.WriteString(e.Message + "\n")
	}
	for _, name := range []string{"secretive", "keyed", "badkey"} {
		fc := getFC(g, ns, name)
		all.WriteString(fc.Status.ErrorMessage)
		for _, c := range fc.Status.Conditions {
			all.WriteString(c.Message)
		}
	}
	text := all.String()
	g.Expect(text).NotTo(ContainSubstring(token))
	g.Expect(text).NotTo(ContainSubstring(keyBody))
	g.Expect(text).NotTo(ContainSubstring("MIIsecretmaterial"))
	g.Expect(text).NotTo(ContainSubstring("PRIVATE KEY-----"))
	g.Expect(logs.String()).NotTo(BeEmpty(), "the manager's logs are captured")
}

// failingDeletes fails every Delete, as an API server refusing them would.
// failingDeletes fails every Delete, noting what it was asked to delete.
type failingDeletes struct {
	client.Client
	mu    *sync.Mutex
	tried *[]string
}

func (f failingDeletes) Delete(_ context.Context, obj client.Object, _ ...client.DeleteOption) error {
	f.mu.Lock()
	*f.tried = append(*f.tried, obj.GetName())
	f.mu.Unlock()
	return apierrors.NewServiceUnavailable("injected fault: deletes are failing")
}

func failingDeletesOf(r *controller.FluxConfigReconciler) failingDeletes {
	f := r.Client.(failingDeletes)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f
}

// TestDeleteFaultIsReportedAndRecovers gives a configuration a stale
// Kustomization to delete while every Delete fails: the FluxConfig says so
// (Ready=False, not Stalled), nothing else is lost, and the next reconcile
// with deletes working removes it.
func TestDeleteFaultIsReportedAndRecovers(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	g.Expect(k.Create(ctx, fluxConfig(ns, "faulty"))).To(Succeed())
	g.Eventually(func() error {
		return k.Get(ctx, key(ns, "faulty-apps"), &kustomizev1.Kustomization{})
	}, timeout, interval).Should(Succeed())

	// A Kustomization of this configuration that is no longer in its spec.
	// Without an owner reference its creation does not wake the manager,
	// but the running manager may reconcile this configuration for another
	// reason (an event of its children, late under load) and rightly delete
	// it: then it is made again, until the faulty reconciler has tried.
	faulty := &controller.FluxConfigReconciler{Client: failingDeletes{Client: mgrClient, mu: &sync.Mutex{}, tried: &[]string{}},
		APIReader: k, Scheme: mgrScheme, KeyAlgorithm: "ecdsa-p256", MultiTenancy: true}
	g.Eventually(func(g Gomega) {
		if err := k.Get(ctx, key(ns, "faulty-old"), &kustomizev1.Kustomization{}); apierrors.IsNotFound(err) {
			stale := &kustomizev1.Kustomization{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "faulty-old", Labels: managedLabels(ns, "faulty")},
				Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: time.Minute},
					SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "faulty"}},
			}
			g.Expect(k.Create(ctx, stale)).To(Succeed())
		}
		g.Eventually(func() error { return mgrClient.Get(ctx, key(ns, "faulty-old"), &kustomizev1.Kustomization{}) }, timeout, interval).Should(Succeed())
		_, err := faulty.Reconcile(ctx, ctrl.Request{NamespacedName: key(ns, "faulty")})
		g.Expect(err).To(MatchError(ContainSubstring("injected fault: deletes are failing")))
	}, timeout, interval).Should(Succeed())
	g.Expect(*failingDeletesOf(faulty).tried).To(ContainElement("faulty-old"))
	for _, kept := range []string{"faulty-apps", "faulty-infra"} {
		g.Expect(*failingDeletesOf(faulty).tried).NotTo(ContainElement(kept), "it tried to delete what its spec holds")
	}
	got := getFC(g, ns, "faulty")
	g.Expect(condition(got, "Ready").Status).To(Equal(metav1.ConditionFalse))
	g.Expect(condition(got, "Ready").Reason).To(Equal(v1alpha1.ReasonDeleteFailed))
	g.Expect(condition(got, "Ready").Message).To(ContainSubstring("failed to delete"))
	g.Expect(condition(got, "Stalled")).To(BeNil(), "a transient fault is not Stalled")
	for _, name := range []string{"faulty-apps", "faulty-infra"} {
		g.Expect(k.Get(ctx, key(ns, name), &kustomizev1.Kustomization{})).To(Succeed(), "%s was lost", name)
	}

	// Two reconcilers write this status here, where production has one: the
	// healthy one reads the manager's cache, which must have seen the faulty
	// one's write first, or its memo takes the older status it finds for
	// the one in place (and rightly writes nothing).
	g.Eventually(func(g Gomega) {
		fc := &v1alpha1.FluxConfig{}
		g.Expect(mgrClient.Get(ctx, key(ns, "faulty"), fc)).To(Succeed())
		g.Expect(condition(fc, "Ready").Reason).To(Equal(v1alpha1.ReasonDeleteFailed))
	}, timeout, interval).Should(Succeed())
	healthy := &controller.FluxConfigReconciler{Client: mgrClient, APIReader: k, Scheme: mgrScheme,
		KeyAlgorithm: "ecdsa-p256", MultiTenancy: true}
	g.Eventually(func(g Gomega) {
		_, err := healthy.Reconcile(ctx, ctrl.Request{NamespacedName: key(ns, "faulty")})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(apierrors.IsNotFound(k.Get(ctx, key(ns, "faulty-old"), &kustomizev1.Kustomization{}))).To(BeTrue())
		g.Expect(condition(getFC(g, ns, "faulty"), "Ready").Reason).NotTo(Equal(v1alpha1.ReasonDeleteFailed))
	}, timeout, interval).Should(Succeed())
	g.Expect(k.Get(ctx, key(ns, "faulty-apps"), &kustomizev1.Kustomization{})).To(Succeed())
}

// TestHelmReleasesInStatuses reports the HelmReleases a Kustomization
// applied, as Azure's statuses[] do, with appliedBy and Helm properties.
// TestDeletionWaitsForWhatFluxStillDeletes: what a configuration's
// Kustomizations pruned and Flux still deletes as flux-applier (a
// HelmRelease helm-controller uninstalls, a Kustomization applied by one
// whose objects kustomize-controller prunes) keeps the configuration, and so
// flux-applier, until it is gone. Here the controllers' finalizers are
// stand-ins that the test removes, as they would when done.
func TestDeletionWaitsForWhatFluxStillDeletes(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	g.Expect(k.Create(ctx, fluxConfig(ns, "pruned"))).To(Succeed())
	g.Eventually(func() error { return k.Get(ctx, key(ns, "flux-applier"), &corev1.ServiceAccount{}) }, timeout, interval).Should(Succeed())

	const flux = "test.arcgitops/flux-still-deleting"
	hr := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"interval": "5m",
		"chart": map[string]any{"spec": map[string]any{"chart": "podinfo", "sourceRef": map[string]any{"kind": "HelmRepository", "name": "podinfo"}}}}}}
	hr.SetGroupVersionKind(schema.GroupVersionKind{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"})
	hr.SetNamespace(ns)
	hr.SetName("podinfo")
	hr.SetLabels(map[string]string{"kustomize.toolkit.fluxcd.io/name": "pruned-apps", "kustomize.toolkit.fluxcd.io/namespace": ns})
	hr.SetFinalizers([]string{flux})
	nested := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nested", Finalizers: []string{flux},
		Labels: map[string]string{"kustomize.toolkit.fluxcd.io/name": "pruned-infra", "kustomize.toolkit.fluxcd.io/namespace": ns}},
		Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: time.Minute}, Prune: true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "pruned"}}}
	for _, obj := range []client.Object{hr, nested} {
		g.Expect(k.Create(ctx, obj)).To(Succeed())
		// As the Kustomization that applied it prunes it.
		g.Expect(k.Delete(ctx, obj)).To(Succeed())
	}
	release := func(obj client.Object) {
		g.Expect(k.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		obj.SetFinalizers(nil)
		g.Expect(k.Update(ctx, obj)).To(Succeed())
	}

	g.Expect(k.Delete(ctx, getFC(g, ns, "pruned"))).To(Succeed())
	waiting := func(what string) {
		g.Eventually(func(g Gomega) {
			ready := condition(getFC(g, ns, "pruned"), "Ready")
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonDeleting))
			g.Expect(ready.Message).To(Equal("waiting for Flux to finish deleting " + what + ", which it does as flux-applier"))
		}, timeout, interval).Should(Succeed())
		for _, obj := range []client.Object{
			&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pruned-apps"}},
			&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pruned-infra"}},
		} {
			g.Expect(apierrors.IsNotFound(k.Get(ctx, client.ObjectKeyFromObject(obj), obj))).To(BeTrue(), "%s pruned first", obj.GetName())
		}
		g.Expect(k.Get(ctx, key(ns, "flux-applier"), &corev1.ServiceAccount{})).To(Succeed(), "flux-applier stays while Flux needs it")
	}
	waiting("HelmRelease " + ns + "/podinfo and 1 more")
	release(hr)
	waiting("Kustomization " + ns + "/nested")
	release(nested)
	g.Eventually(func(g Gomega) {
		for _, obj := range []client.Object{
			&v1alpha1.FluxConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pruned"}},
			&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pruned"}},
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "flux-applier"}},
		} {
			err := k.Get(ctx, client.ObjectKeyFromObject(obj), obj)
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%T %s still exists", obj, obj.GetName())
		}
	}, timeout, interval).Should(Succeed())
}

func TestHelmReleasesInStatuses(t *testing.T) {
	g := NewWithT(t)
	// helm-controller's own CRD is installed (FLUX_CRDS): the objects are
	// valid HelmReleases.
	ns := newNamespace(t)
	hr := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"interval": "5m",
		"chart": map[string]any{"spec": map[string]any{"chart": "podinfo", "sourceRef": map[string]any{"kind": "HelmRepository", "name": "podinfo"}}}}}}
	hr.SetGroupVersionKind(schema.GroupVersionKind{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"})
	hr.SetNamespace(ns)
	hr.SetName("podinfo")
	// As kustomize-controller labels what it applies.
	applied := map[string]string{"kustomize.toolkit.fluxcd.io/name": "helm-apps", "kustomize.toolkit.fluxcd.io/namespace": ns}
	hr.SetLabels(applied)
	g.Expect(k.Create(ctx, hr)).To(Succeed())
	repo := fluxObject(g, "HelmRepository", ns, "podinfo", applied, map[string]any{"url": "https://stefanprodan.github.io/podinfo", "interval": "5m"},
		"True", "Succeeded", "stored artifact: revision 'sha256:1'")
	chart := fluxObject(g, "HelmChart", ns, ns+"-podinfo", nil, map[string]any{"chart": "podinfo", "interval": "5m",
		"sourceRef": map[string]any{"kind": "HelmRepository", "name": "podinfo"}}, "False", "ChartPullError", "chart podinfo not found")
	hr.Object["status"] = map[string]any{
		"observedGeneration": hr.GetGeneration(),
		"conditions": []any{map[string]any{"type": "Ready", "status": "False", "reason": "InstallFailed",
			"message": "Helm install failed: timed out waiting for the condition", "lastTransitionTime": "2026-11-22T10:00:00Z"}},
		"failures": int64(3), "installFailures": int64(2), "upgradeFailures": int64(0),
		"helmChart": ns + "/" + ns + "-podinfo",
		"history": []any{map[string]any{"version": int64(4), "name": "podinfo", "namespace": ns, "status": "failed",
			"chartName": "podinfo", "chartVersion": "6.5.0", "configDigest": "sha256:0", "digest": "sha256:1",
			"firstDeployed": "2026-11-22T09:00:00Z", "lastDeployed": "2026-11-22T10:00:00Z"}},
	}
	g.Expect(k.Status().Update(ctx, hr)).To(Succeed())

	g.Expect(k.Create(ctx, fluxConfig(ns, "helm"))).To(Succeed())
	apps := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "helm-apps"}}
	g.Eventually(func() error { return k.Get(ctx, client.ObjectKeyFromObject(apps), apps) }, timeout, interval).Should(Succeed())
	apps.Status.Inventory = &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{
		{ID: ns + "_podinfo_helm.toolkit.fluxcd.io_HelmRelease", Version: "v2"},
		{ID: ns + "_podinfo_source.toolkit.fluxcd.io_HelmRepository", Version: "v1"},
		{ID: ns + "_podinfo__Service", Version: "v1"},
	}}
	apps.Status.ObservedGeneration = apps.Generation
	apps.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: "True", Reason: "ReconciliationSucceeded", Message: "ok", LastTransitionTime: metav1.Now()}}
	g.Expect(k.Status().Update(ctx, apps)).To(Succeed())

	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "helm")
		var found *v1alpha1.ObjectStatusDefinition
		for i := range fc.Status.Statuses {
			if fc.Status.Statuses[i].Kind == "HelmRelease" {
				found = &fc.Status.Statuses[i]
			}
		}
		g.Expect(found).NotTo(BeNil(), "statuses: %+v", fc.Status.Statuses)
		g.Expect(found.Name).To(Equal("podinfo"))
		g.Expect(found.ComplianceState).To(Equal(v1alpha1.ComplianceNonCompliant))
		g.Expect(found.AppliedBy).To(Equal(&v1alpha1.ObjectReferenceDefinition{Name: "helm-apps", Namespace: ns}))
		g.Expect(found.HelmReleaseProperties).To(Equal(&v1alpha1.HelmReleasePropertiesDefinition{
			LastRevisionApplied: 4, FailureCount: 3, InstallFailureCount: 2,
			HelmChartRef: &v1alpha1.ObjectReferenceDefinition{Name: ns + "-podinfo", Namespace: ns}}))
		g.Expect(fc.Status.ComplianceState).To(Equal(v1alpha1.ComplianceNonCompliant))
		g.Expect(statusOf(fc, "HelmRepository", "podinfo")).To(HaveField("ComplianceState", v1alpha1.ComplianceCompliant))
		g.Expect(statusOf(fc, "HelmChart", chart.GetName())).To(And(HaveField("ComplianceState", v1alpha1.ComplianceNonCompliant),
			HaveField("AppliedBy", &v1alpha1.ObjectReferenceDefinition{Name: "helm-apps", Namespace: ns})))
	}, timeout, interval).Should(Succeed())

	// The release and the repository recover on their own, the
	// Kustomization untouched: the watch on what Kustomizations applied
	// brings it to the FluxConfig.
	setUnstructuredReady(g, hr, "True", "UpgradeSucceeded", "Helm upgrade succeeded")
	setUnstructuredReady(g, repo, "False", "FetchFailed", "failed to fetch index: 404")
	g.Eventually(func(g Gomega) {
		fc := getFC(g, ns, "helm")
		g.Expect(statusOf(fc, "HelmRelease", "podinfo")).To(HaveField("ComplianceState", v1alpha1.ComplianceCompliant))
		g.Expect(statusOf(fc, "HelmRepository", "podinfo")).To(HaveField("ComplianceState", v1alpha1.ComplianceNonCompliant))
	}, timeout, interval).Should(Succeed())
}

// statusOf finds an object among a FluxConfig's statuses (a zero one when
// absent).
func statusOf(fc *v1alpha1.FluxConfig, kind, name string) v1alpha1.ObjectStatusDefinition {
	for _, s := range fc.Status.Statuses {
		if s.Kind == kind && s.Name == name {
			return s
		}
	}
	return v1alpha1.ObjectStatusDefinition{}
}

// fluxObject creates a source.toolkit.fluxcd.io/v1 object of kind with
// spec and a Ready condition.
func fluxObject(g Gomega, kind, ns, name string, labels map[string]string, spec map[string]any, ready, reason, msg string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	obj.SetGroupVersionKind(schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: kind})
	obj.SetNamespace(ns)
	obj.SetName(name)
	obj.SetLabels(labels)
	g.Expect(k.Create(ctx, obj)).To(Succeed())
	setUnstructuredReady(g, obj, ready, reason, msg)
	return obj
}

// setUnstructuredReady sets the Ready condition of a Flux object read as
// unstructured, for its current generation.
func setUnstructuredReady(g Gomega, obj *unstructured.Unstructured, status, reason, msg string) {
	g.Expect(k.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	st, _, _ := unstructured.NestedMap(obj.Object, "status")
	if st == nil {
		st = map[string]any{}
	}
	st["observedGeneration"] = obj.GetGeneration()
	st["conditions"] = []any{map[string]any{"type": "Ready", "status": status, "reason": reason, "message": msg,
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}
	obj.Object["status"] = st
	g.Expect(k.Status().Update(ctx, obj)).To(Succeed())
}
