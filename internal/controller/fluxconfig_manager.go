package controller

import (
	"context"
	"fmt"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/fluxcd/pkg/runtime/predicates"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlbuilder "sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/builder"
	"github.com/arcgitops/arcgitops/internal/rbac"
	"github.com/arcgitops/arcgitops/internal/status"
)

// SetupWithManager registers the FluxConfig controller and its watches:
// the FluxConfig itself (spec changes and reconcile requests, never its own
// status writes), the Flux objects it owns (their status is its status), and
// the Secrets it reads or writes, mapped back by label.
//
// With a key pool, a pair it finishes enqueues its FluxConfig.
func (r *FluxConfigReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if err := indexFields(mgr); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr)
	if r.Keys != nil {
		ready := make(chan event.GenericEvent, 64)
		r.Keys.Ready = func(key string) {
			ns, name, _ := strings.Cut(key, "/")
			ready <- event.GenericEvent{Object: &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}}
		}
		b = b.WatchesRawSource(source.Channel(ready, &handler.EnqueueRequestForObject{}))
	}
	for _, gvk := range r.WatchDeployed {
		b = b.WatchesMetadata(DeployedMetadata(gvk), handler.EnqueueRequestsFromMapFunc(r.configOfApplier))
	}
	return b.
		Named("fluxconfig").
		For(&v1alpha1.FluxConfig{}, ctrlbuilder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicates.ReconcileRequestedPredicate{},
		))).
		Owns(&sourcev1.GitRepository{}, ownPredicates).
		Owns(&sourcev1.Bucket{}, ownPredicates).
		Owns(&sourcev1.OCIRepository{}, ownPredicates).
		Owns(&kustomizev1.Kustomization{}, ownPredicates).
		WatchesMetadata(SecretMetadata(), handler.EnqueueRequestsFromMapFunc(configOfLabels),
			ctrlbuilder.WithPredicates(predicate.Funcs{CreateFunc: func(e event.CreateEvent) bool { return !writtenByReconcile(e.Object) }})).
		WithOptions(opts).
		Complete(r)
}

// ownPredicates drop the creation of an owned Flux object that no
// controller has reported on yet: the reconcile that created it read the
// API server's answer, so the event would only run a second reconcile that
// finds nothing to do (one per new configuration). Objects that arrive
// with a status, as after a relist, still enqueue; so do all updates and
// deletions.
var ownPredicates = ctrlbuilder.WithPredicates(predicate.Funcs{CreateFunc: ownCreate})

func ownCreate(e event.CreateEvent) bool {
	g, ok := e.Object.(conditions.Getter)
	return !ok || len(g.GetConditions()) > 0
}

// writtenByReconcile reports whether obj, a Secret, is one the reconcile
// writes for the configuration its labels name (key, auth, verification):
// its creation tells that reconcile nothing. Other labelled Secrets, such as
// the protected settings the agent writes, enqueue on creation.
func writtenByReconcile(obj client.Object) bool {
	l := obj.GetLabels()
	config := l[v1alpha1.LabelName]
	if config == "" || l[v1alpha1.LabelNamespace] != obj.GetNamespace() {
		return false
	}
	switch obj.GetName() {
	case builder.KeySecretName(config), builder.AuthSecretName(config), builder.VerifySecretName(config):
		return true
	}
	return false
}

// DeployedKinds are the kinds a configuration's Kustomizations apply whose
// status is the configuration's too (statuses[]): their metadata is
// watched, when the cluster serves them, so that a HelmRelease's health
// reaches the FluxConfig when it changes, not only when its Kustomization
// does. (A HelmChart's changes reach its HelmRelease's status.)
func DeployedKinds() []schema.GroupVersionKind {
	return []schema.GroupVersionKind{deployedGVKs[status.HelmReleaseKind], deployedGVKs[status.HelmRepositoryKind]}
}

// AppliedByKustomize is the label kustomize-controller puts on what a
// Kustomization applies (with ...namespace): the cache of deployed kinds
// holds only those objects, metadata only.
const AppliedByKustomize = "kustomize.toolkit.fluxcd.io/name"

const appliedByKustomizeNamespace = "kustomize.toolkit.fluxcd.io/namespace"

// DeployedMetadata is the object a deployed kind's metadata is cached and
// watched as.
func DeployedMetadata(gvk schema.GroupVersionKind) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(gvk)
	return m
}

// configOfApplier maps an object a Kustomization applied to the FluxConfig
// of that Kustomization, if a FluxConfig made it. An object being deleted
// also maps to the FluxConfigs being deleted in its namespace: they wait
// for it (finalizing), and its Kustomization may be gone already.
func (r *FluxConfigReconciler) configOfApplier(ctx context.Context, obj client.Object) []reconcile.Request {
	var out []reconcile.Request
	if !obj.GetDeletionTimestamp().IsZero() {
		out = r.configsDeletedIn(ctx, obj.GetNamespace())
	}
	l := obj.GetLabels()
	name, ns := l[AppliedByKustomize], l[appliedByKustomizeNamespace]
	if name == "" || ns == "" {
		return out
	}
	ks := &kustomizev1.Kustomization{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, ks); err != nil {
		return out // not one of ours (the cache holds only managed ones), or gone
	}
	return append(out, configOfLabels(ctx, ks)...)
}

// configsDeletedIn lists the FluxConfigs of namespace being deleted.
func (r *FluxConfigReconciler) configsDeletedIn(ctx context.Context, namespace string) []reconcile.Request {
	var list v1alpha1.FluxConfigList
	if err := r.List(ctx, &list, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if fc := &list.Items[i]; !fc.DeletionTimestamp.IsZero() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(fc)})
		}
	}
	return out
}

// scopeIndex indexes FluxConfigs by their (defaulted) spec.scope, so that
// the scope-conflict check reads only the namespace's configurations of the
// other scope instead of all of them on every reconcile.
const scopeIndex = "spec.scope"

func indexFields(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.FluxConfig{}, scopeIndex, func(obj client.Object) []string {
		return []string{string(rbac.Scope(obj.(*v1alpha1.FluxConfig)))}
	}); err != nil {
		return fmt.Errorf("failed to index FluxConfigs: %w", err)
	}
	return nil
}

// configOfLabels maps an object carrying the clusterconfig.azure.com/name
// and /namespace labels to its FluxConfig.
func configOfLabels(_ context.Context, obj client.Object) []reconcile.Request {
	l := obj.GetLabels()
	name, ns := l[v1alpha1.LabelName], l[v1alpha1.LabelNamespace]
	if name == "" || ns == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
}
