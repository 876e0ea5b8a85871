// Package controller holds the reconcilers: FluxConfig (this file, with
// its watches in fluxconfig_manager.go and its status in
// fluxconfig_status.go) and the shared flux-applier RBAC
// (applier_controller.go). They orchestrate; the decisions are in the plain
// packages builder, auth, rbac, status and compliance.
package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/auth"
	"github.com/arcgitops/arcgitops/internal/builder"
	"github.com/arcgitops/arcgitops/internal/rbac"
	"github.com/arcgitops/arcgitops/internal/status"
)

// +kubebuilder:rbac:groups=clusterconfig.azure.com,resources=fluxconfigs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=clusterconfig.azure.com,resources=fluxconfigs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=clusterconfig.azure.com,resources=fluxconfigs/finalizers,verbs=update
// +kubebuilder:rbac:groups=source.toolkit.fluxcd.io,resources=gitrepositories;buckets;ocirepositories,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=kustomize.toolkit.fluxcd.io,resources=kustomizations,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=source.toolkit.fluxcd.io,resources=helmrepositories;helmcharts,verbs=get;list;watch
// +kubebuilder:rbac:groups=helm.toolkit.fluxcd.io,resources=helmreleases,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// FluxConfigReconciler turns FluxConfigs into Flux objects and reports
// their compliance.
type FluxConfigReconciler struct {
	client.Client
	// APIReader reads uncached: Secrets the operator does not manage, and
	// generated key Secrets right after a create conflict.
	APIReader client.Reader
	// SecretCache reads the cached metadata of Secrets: the manager's cache,
	// since its client reads every Secret, metadata too, from the API
	// server (Client when nil).
	SecretCache client.Reader
	Scheme      *runtime.Scheme
	Recorder    events.EventRecorder

	// KeyAlgorithm is the algorithm of generated SSH key pairs.
	KeyAlgorithm auth.KeyAlgorithm
	// Keys generates slow (RSA) key pairs in the background; nil generates
	// every key pair inside the reconcile. SetupWithManager sets its Ready.
	Keys *auth.KeyPool
	// MultiTenancy makes Kustomizations apply as flux-applier.
	MultiTenancy bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// WatchDeployed are the DeployedKinds the cluster serves: their
	// metadata is watched (the manager's cache must hold them, labelled
	// AppliedByKustomize).
	WatchDeployed []schema.GroupVersionKind
	// ProbeKey checks that a rotated SSH key can read the repository
	// before the switch (gitprobe.CanRead when nil).
	ProbeKey func(ctx context.Context, url string, privateKey, knownHosts []byte) error

	// written is the status last written for each FluxConfig.
	written statusMemo
	// secrets are the versions of the Secrets this controller applies.
	secrets secretVersions
}

// Reconcile is the skeleton: fetch, write back what changed on the way
// out, then delete, add the finalizer, or reconcile.
func (r *FluxConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	fc := &v1alpha1.FluxConfig{}
	if err := r.Get(ctx, req.NamespacedName, fc); err != nil {
		if apierrors.IsNotFound(err) {
			r.written.forget(req.NamespacedName)
			r.forgetKey(req.NamespacedName)
			r.secrets.forget(
				types.NamespacedName{Namespace: req.Namespace, Name: builder.AuthSecretName(req.Name)},
				types.NamespacedName{Namespace: req.Namespace, Name: builder.VerifySecretName(req.Name)})
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := fc.DeepCopy()
	defer func() {
		if err := r.writeBack(ctx, before, fc); err != nil {
			retErr = errors.Join(retErr, err)
		}
	}()

	if !fc.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, fc)
	}
	controllerutil.AddFinalizer(fc, v1alpha1.FluxConfigFinalizer)
	return r.reconcile(ctx, fc)
}

// writeBack writes what the reconcile changed, each part only when it
// changed: the finalizers (a merge patch) and the status (one apply).
func (r *FluxConfigReconciler) writeBack(ctx context.Context, before, fc *v1alpha1.FluxConfig) error {
	if !slices.Equal(before.Finalizers, fc.Finalizers) {
		// A copy: the answer would overwrite the status computed in fc.
		if err := r.Patch(ctx, fc.DeepCopy(), client.MergeFrom(before), client.FieldOwner(FieldOwner)); err != nil {
			return client.IgnoreNotFound(wrapErr("failed to patch FluxConfig finalizers", err))
		}
		if !fc.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(fc, v1alpha1.FluxConfigFinalizer) {
			return nil // the last finalizer is gone, and the object with it
		}
	}

	switch {
	case statusEqual(&before.Status, &fc.Status):
		r.written.remember(fc, &fc.Status)
		return nil
	case r.written.alreadyWritten(fc, &fc.Status):
		return nil // the cached FluxConfig predates this controller's last write of this status
	}
	now := metav1.NewTime(r.now().Truncate(time.Second))
	fc.Status.StatusUpdatedAt = &now
	if err := r.writeStatus(ctx, fc); err != nil {
		return client.IgnoreNotFound(wrapErr("failed to write FluxConfig status", err))
	}
	r.written.remember(fc, &fc.Status)
	r.notify(before, fc)
	return nil
}

// wrapErr wraps err with msg, keeping its API status for IgnoreNotFound.
func wrapErr(msg string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// reconcile brings the Flux objects of fc in line with its spec and reads
// their status back.
func (r *FluxConfigReconciler) reconcile(ctx context.Context, fc *v1alpha1.FluxConfig) (ctrl.Result, error) {
	// Scopes cannot mix in a namespace: flux-applier is shared there.
	// Only the namespace's configurations of the other scope can conflict;
	// the index keeps this read independent of how many there are.
	var other v1alpha1.FluxConfigList
	if err := r.List(ctx, &other, client.InNamespace(fc.Namespace),
		client.MatchingFields{scopeIndex: string(rbac.OtherScope(fc))}, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to list FluxConfigs: %w", err)
	}
	if err := rbac.ScopeConflict(fc, other.Items); err != nil {
		return r.stalled(fc, err)
	}

	protected, err := r.protectedSettings(ctx, fc)
	if err != nil {
		if apierrors.IsNotFound(err) {
			markWaiting(fc, v1alpha1.ReasonMissingSecret, "protected settings Secret %s not found: create it, or remove spec.configurationProtectedSettingsRef",
				fc.Spec.ConfigurationProtectedSettingsRef.Name)
			// Secrets written by the agent carry the managed label and are
			// watched; a hand-made one is polled for.
			return ctrl.Result{RequeueAfter: time.Minute}, nil
		}
		return ctrl.Result{}, err
	}

	var generated *auth.KeyPair
	var keyResult ctrl.Result
	if auth.NeedsGeneratedKey(&fc.Spec, protected) {
		// On the way, a failure leaves the published key in the status:
		// the key in use has not changed.
		keys, err := r.ensureKeyPair(ctx, fc)
		if err != nil {
			return r.failed(fc, v1alpha1.ReasonApplyFailed, err)
		}
		if keys == nil {
			// The key pool enqueues this FluxConfig when its key is ready.
			markWaiting(fc, v1alpha1.ReasonGeneratingKey, "generating an %s SSH key pair for the repository", r.KeyAlgorithm)
			return ctrl.Result{}, nil
		}
		keyResult, err = r.rotateKey(ctx, fc, keys, protected)
		if apierrors.IsConflict(err) {
			// The key Secret was read stale (the cache has yet to see this
			// controller's last write of it): nothing failed, read it again.
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		if err != nil {
			return r.failed(fc, v1alpha1.ReasonApplyFailed, err)
		}
		generated = keys.state.Current
		fc.Status.RepositoryPublicKey = string(generated.PublicKey)
	} else {
		fc.Status.RepositoryPublicKey, fc.Status.SSHKey = "", nil
		conditions.Delete(fc, v1alpha1.KeyRotationInProgressCondition)
		conditions.Delete(fc, v1alpha1.KeyRotationDueCondition)
	}

	authData, err := auth.SecretData(auth.Input{Spec: &fc.Spec, Protected: protected, Generated: generated})
	if err != nil {
		return r.stalled(fc, err)
	}
	objs, err := builder.Build(fc, builder.Options{MultiTenancy: r.MultiTenancy, HasAuthSecret: authData != nil})
	if err != nil {
		return r.stalled(fc, err)
	}

	w := objectWriter{client: r.Client, scheme: r.Scheme, reader: r.APIReader, secretCache: r.secretCache(), secrets: &r.secrets}
	if err := r.applySecret(ctx, w, fc, builder.AuthSecretName(fc.Name), authData); err != nil {
		return r.failed(fc, v1alpha1.ReasonApplyFailed, err)
	}
	if err := r.applySecret(ctx, w, fc, builder.VerifySecretName(fc.Name), objs.VerifySecretData); err != nil {
		return r.failed(fc, v1alpha1.ReasonApplyFailed, err)
	}
	source, err := w.apply(ctx, objs.Source)
	if err != nil {
		return r.failed(fc, v1alpha1.ReasonApplyFailed, err)
	}
	if _, err := r.deleteOwned(ctx, fc, source, sourceLists()...); err != nil {
		return r.failed(fc, v1alpha1.ReasonDeleteFailed, err)
	}
	kustomizations := make([]*kustomizev1.Kustomization, 0, len(objs.Kustomizations))
	for _, desired := range objs.Kustomizations {
		live, err := w.apply(ctx, desired)
		if err != nil {
			return r.failed(fc, v1alpha1.ReasonApplyFailed, err)
		}
		kustomizations = append(kustomizations, live.(*kustomizev1.Kustomization))
	}
	if err := r.deleteStaleKustomizations(ctx, fc, objs.Kustomizations); err != nil {
		return r.failed(fc, v1alpha1.ReasonDeleteFailed, err)
	}

	deployed, refusals, err := r.deployedStatuses(ctx, kustomizations)
	if err != nil {
		return r.failed(fc, v1alpha1.ReasonReadFailed, err)
	}
	r.setStatus(fc, source, kustomizations, deployed, refusals)
	return keyResult, nil
}

// deployedGVKs are the versions the deployed Flux kinds are read in.
var deployedGVKs = map[string]schema.GroupVersionKind{
	status.HelmReleaseKind:    {Group: status.HelmReleaseGroup, Version: "v2", Kind: status.HelmReleaseKind},
	status.HelmRepositoryKind: {Group: status.SourceGroup, Version: "v1", Kind: status.HelmRepositoryKind},
	status.HelmChartKind:      {Group: status.SourceGroup, Version: "v1", Kind: status.HelmChartKind},
}

// deployedStatuses reads what the Kustomizations applied that Azure lists
// in statuses[] (HelmRepositories, HelmReleases and each release's
// HelmChart). They are read uncached: they carry no label of ours, and a
// watch on their metadata (SetupWithManager) brings their changes here.
// Missing ones, or a cluster without helm-controller, are skipped. Under
// multi-tenancy it also returns the HelmReleases Flux will refuse, keyed
// status.ObjectKey, with why (status.Refusal).
func (r *FluxConfigReconciler) deployedStatuses(ctx context.Context, kustomizations []*kustomizev1.Kustomization) ([]v1alpha1.ObjectStatusDefinition, map[string]string, error) {
	var out []v1alpha1.ObjectStatusDefinition
	refusals := map[string]string{}
	hasApplier := func(ns string) bool {
		// flux-applier carries the managed label: the cache holds it.
		return r.Get(ctx, types.NamespacedName{Namespace: ns, Name: rbac.ServiceAccountName}, &corev1.ServiceAccount{}) == nil
	}
	read := func(kind string, key types.NamespacedName, ks *kustomizev1.Kustomization) (*v1alpha1.ObjectStatusDefinition, error) {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(deployedGVKs[kind])
		err := r.APIReader.Get(ctx, key, obj)
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("failed to get %s %s: %w", kind, key, err)
		}
		st := status.DeployedStatus(obj, kind, ks)
		out = append(out, st)
		if kind == status.HelmReleaseKind && r.MultiTenancy {
			if why := status.Refusal(obj, hasApplier); why != "" {
				refusals[status.ObjectKey(kind, key.Namespace, key.Name)] = why
			}
		}
		return &st, nil
	}
	for _, ks := range kustomizations {
		for _, ref := range status.Applied(ks) {
			st, err := read(ref.Kind, ref.NamespacedName, ks)
			if err != nil {
				return nil, nil, err
			}
			if st == nil || st.HelmReleaseProperties == nil || st.HelmReleaseProperties.HelmChartRef == nil {
				continue
			}
			chart := st.HelmReleaseProperties.HelmChartRef
			if _, err := read(status.HelmChartKind, types.NamespacedName{Namespace: chart.Namespace, Name: chart.Name}, ks); err != nil {
				return nil, nil, err
			}
		}
	}
	return out, refusals, nil
}

// protectedSettings reads the protected settings Secret from the API server
// (Secrets are cached as metadata only).
func (r *FluxConfigReconciler) protectedSettings(ctx context.Context, fc *v1alpha1.FluxConfig) (map[string][]byte, error) {
	ref := fc.Spec.ConfigurationProtectedSettingsRef
	if ref == nil {
		return nil, nil
	}
	key := client.ObjectKey{Namespace: fc.Namespace, Name: ref.Name}
	secret := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, err
		}
		return nil, fmt.Errorf("failed to get protected settings Secret %s: %w", key, err)
	}
	return secret.Data, nil
}

// generateKeyPair generates a key pair inside the reconcile when it is
// cheap (ECDSA, Ed25519: tens of microseconds), else takes it from the
// key pool, which returns nil until it has generated it.
func (r *FluxConfigReconciler) generateKeyPair(fc *v1alpha1.FluxConfig) (*auth.KeyPair, error) {
	if r.Keys == nil || !auth.SlowKeyAlgorithm(r.KeyAlgorithm) {
		return auth.GenerateKeyPair(r.KeyAlgorithm)
	}
	return r.Keys.Take(keyPoolKey(client.ObjectKeyFromObject(fc)))
}

func (r *FluxConfigReconciler) forgetKey(key types.NamespacedName) {
	if r.Keys != nil {
		r.Keys.Forget(keyPoolKey(key))
	}
}

// keyPoolKey names a FluxConfig in the key pool. A pair generated for a
// FluxConfig that is then deleted and created again is still a fresh key
// nobody has seen, so the name is enough.
func keyPoolKey(key types.NamespacedName) string { return key.String() }

// applySecret applies a Secret of fc with data, or deletes it when data is nil.
func (r *FluxConfigReconciler) applySecret(ctx context.Context, w objectWriter, fc *v1alpha1.FluxConfig, name string, data map[string][]byte) error {
	if data == nil {
		secret := SecretMetadata()
		secret.Namespace, secret.Name = fc.Namespace, name
		return r.deleteCached(ctx, r.secretCache(), secret)
	}
	return w.applySecret(ctx, OwnSecret(fc, name, data))
}

// OwnSecret is the Secret name of fc with data, as the controller applies
// it (the auth and verification Secrets). (Exported for the benchmark's
// floor, which writes the same objects.)
func OwnSecret(fc *v1alpha1.FluxConfig, name string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: fc.Namespace,
			Labels:          builder.Labels(fc),
			OwnerReferences: []metav1.OwnerReference{builder.OwnerReference(fc)},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
}

// secretCache reads the cached metadata of Secrets.
func (r *FluxConfigReconciler) secretCache() client.Reader {
	if r.SecretCache != nil {
		return r.SecretCache
	}
	return r.Client
}

// deleteIfExists deletes obj when the cache has it.
func (r *FluxConfigReconciler) deleteIfExists(ctx context.Context, obj client.Object) error {
	return r.deleteCached(ctx, r.Client, obj)
}

// deleteCached deletes obj when cache has it and it is not being deleted.
func (r *FluxConfigReconciler) deleteCached(ctx context.Context, cache client.Reader, obj client.Object) error {
	if err := cache.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return nil
	}
	if err := r.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to delete %T %s: %w", obj, client.ObjectKeyFromObject(obj), err)
	}
	return nil
}

// ownedBy selects the objects of fc by their labels, in the cache: each
// such read scans the namespace's objects of that kind. An index would not,
// but registering one starts that kind's informer with the manager, and
// without RBAC for it the cache never syncs; controller-runtime v0.24.1
// then spins on shutdown (found by test/install; for the Flux kinds too,
// although the controller watches them anyway: with an index on them its
// run without the kustomizations rule hung on shutdown).
func ownedBy(fc *v1alpha1.FluxConfig) []client.ListOption {
	return []client.ListOption{
		client.InNamespace(fc.Namespace),
		client.MatchingLabels{v1alpha1.LabelName: fc.Name, v1alpha1.LabelNamespace: fc.Namespace},
	}
}

// sourceLists are the kinds a configuration's source may have been.
func sourceLists() []client.ObjectList {
	return []client.ObjectList{&sourcev1.GitRepositoryList{}, &sourcev1.BucketList{}, &sourcev1.OCIRepositoryList{}}
}

// deleteOwned deletes the objects of fc of the kinds of lists but keep (a
// source of the current kind; nil keeps none), and returns how many it found
// besides keep, deleted or already being deleted.
func (r *FluxConfigReconciler) deleteOwned(ctx context.Context, fc *v1alpha1.FluxConfig, keep client.Object, lists ...client.ObjectList) (int, error) {
	found := 0
	for _, list := range lists {
		if err := r.List(ctx, list, ownedBy(fc)...); err != nil {
			return found, fmt.Errorf("failed to list %ss: %w", strings.TrimSuffix(kindOf(r.Scheme, list), "List"), err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return found, err
		}
		for _, item := range items {
			obj, ok := item.(client.Object)
			if !ok {
				return found, fmt.Errorf("unexpected %T in %T", item, list)
			}
			if keep != nil && kindOf(r.Scheme, obj) == keep.GetObjectKind().GroupVersionKind().Kind && obj.GetName() == keep.GetName() {
				continue
			}
			found++
			if err := r.deleteIfExists(ctx, obj); err != nil {
				return found, err
			}
		}
	}
	return found, nil
}

// deleteStaleKustomizations deletes the Kustomizations of fc that are no
// longer in its spec.
func (r *FluxConfigReconciler) deleteStaleKustomizations(ctx context.Context, fc *v1alpha1.FluxConfig, keep []*kustomizev1.Kustomization) error {
	var list kustomizev1.KustomizationList
	if err := r.List(ctx, &list, ownedBy(fc)...); err != nil {
		return fmt.Errorf("failed to list Kustomizations: %w", err)
	}
	for i := range list.Items {
		k := &list.Items[i]
		if slices.ContainsFunc(keep, func(d *kustomizev1.Kustomization) bool { return d.Name == k.Name }) {
			continue
		}
		if err := r.deleteIfExists(ctx, k); err != nil {
			return err
		}
		r.event(fc, corev1.EventTypeNormal, "KustomizationDeleted", "Deleted Kustomization %s, removed from the spec", k.Name)
	}
	return nil
}

// finalize deletes what fc created, Kustomizations first (Flux prunes with
// flux-applier, which stays until the finalizer is gone), waits for what
// they pruned that Flux still deletes as flux-applier (finalizing), then
// deletes the rest and removes the finalizer.
func (r *FluxConfigReconciler) finalize(ctx context.Context, fc *v1alpha1.FluxConfig) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(fc, v1alpha1.FluxConfigFinalizer) {
		return ctrl.Result{}, nil
	}
	fc.Status.ProvisioningState = v1alpha1.ProvisioningDeleting
	markWaiting(fc, v1alpha1.ReasonDeleting, "deleting the configuration's Flux objects")
	r.forgetKey(client.ObjectKeyFromObject(fc))

	n, err := r.deleteOwned(ctx, fc, nil, &kustomizev1.KustomizationList{})
	if err != nil {
		return ctrl.Result{}, err
	}
	if n > 0 {
		// Wait for Flux to prune; their deletion is watched, the requeue is a safety net.
		return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	}
	pending, watched, err := r.finalizing(ctx, fc.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	if pending != "" {
		markWaiting(fc, v1alpha1.ReasonDeleting, "waiting for Flux to finish deleting %s, which it does as flux-applier", pending)
		if watched {
			return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
		}
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	if _, err := r.deleteOwned(ctx, fc, nil, append(sourceLists(), &corev1.SecretList{})...); err != nil {
		return ctrl.Result{}, err
	}
	controllerutil.RemoveFinalizer(fc, v1alpha1.FluxConfigFinalizer)
	return ctrl.Result{}, nil
}

// finalizing names what Flux is still deleting in namespace as that
// namespace's flux-applier ("" when nothing): HelmReleases that
// helm-controller uninstalls and Kustomizations applied by others whose
// objects kustomize-controller prunes, once a configuration's
// Kustomizations pruned them. The configuration waits for them, for its end
// may take flux-applier away, and without it helm-controller skips the
// uninstall and kustomize-controller the pruning: the workloads would stay.
// watched says whether a watch reports their end (HelmReleases are in the
// cache; such Kustomizations are read from the API server, the cache holding
// only the operator's own).
func (r *FluxConfigReconciler) finalizing(ctx context.Context, namespace string) (pending string, watched bool, err error) {
	var names []string
	collect := func(kind string, list *metav1.PartialObjectMetadataList) {
		for _, it := range list.Items {
			if !it.DeletionTimestamp.IsZero() {
				names = append(names, kind+" "+namespace+"/"+it.Name)
			}
		}
	}
	if hr := deployedGVKs[status.HelmReleaseKind]; slices.Contains(r.WatchDeployed, hr) {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(hr.GroupVersion().WithKind(hr.Kind + "List"))
		if err := r.List(ctx, list, client.InNamespace(namespace)); err != nil {
			return "", false, fmt.Errorf("failed to list HelmReleases: %w", err)
		}
		collect(hr.Kind, list)
	}
	watched = len(names) > 0
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind + "List"))
	if err := r.APIReader.List(ctx, list, client.InNamespace(namespace), client.HasLabels{AppliedByKustomize}); err != nil {
		return "", false, fmt.Errorf("failed to list Kustomizations: %w", err)
	}
	collect(kustomizev1.KustomizationKind, list)
	slices.Sort(names)
	switch len(names) {
	case 0:
		return "", false, nil
	case 1:
		return names[0], watched, nil
	}
	return fmt.Sprintf("%s and %d more", names[0], len(names)-1), watched, nil
}

func kindOf(s *runtime.Scheme, obj runtime.Object) string {
	gvks, _, err := s.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return ""
	}
	return gvks[0].Kind
}

// stalled records an error in the spec: nothing will change until the spec
// does, so it is terminal.
func (r *FluxConfigReconciler) stalled(fc *v1alpha1.FluxConfig, err error) (ctrl.Result, error) {
	markStalled(fc, err.Error())
	return ctrl.Result{}, reconcile.TerminalError(err)
}

// failed records a transient error with the reason of what failed; the
// queue retries with backoff.
func (r *FluxConfigReconciler) failed(fc *v1alpha1.FluxConfig, reason string, err error) (ctrl.Result, error) {
	markFailed(fc, reason, err.Error())
	return ctrl.Result{}, err
}

func (r *FluxConfigReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// event records an event on fc of eventType (Normal or Warning) with a
// CamelCase reason and a message; the action is always Reconcile.
func (r *FluxConfigReconciler) event(fc *v1alpha1.FluxConfig, eventType, reason, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(fc, nil, eventType, reason, "Reconcile", format, args...)
	}
}
