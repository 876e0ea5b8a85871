package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/rbac"
)

// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings;clusterrolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=cluster-admin;admin

// ApplierReconciler keeps the flux-applier ServiceAccount and bindings that
// the configurations of a namespace share. Its queue has one key per
// namespace and one for the cluster-wide ClusterRoleBinding (its drift), and
// one worker, so every shared object has a single writer, computed from all
// configurations at once: two configurations created or deleted together
// cannot race.
type ApplierReconciler struct {
	client.Client
	Scheme *runtime.Scheme
}

// clusterBindingKey is the queue key of the ClusterRoleBinding. Namespace
// keys are {Namespace: ns, Name: flux-applier}, which it cannot collide with.
var clusterBindingKey = types.NamespacedName{Name: rbac.BindingName}

// Reconcile applies or deletes the shared RBAC of one namespace, or the
// ClusterRoleBinding.
func (r *ApplierReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if req.NamespacedName == clusterBindingKey {
		return ctrl.Result{}, r.reconcileClusterBinding(ctx)
	}
	var list v1alpha1.FluxConfigList
	if err := r.List(ctx, &list, client.InNamespace(req.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to list FluxConfigs: %w", err)
	}
	w := objectWriter{client: r.Client, scheme: r.Scheme}
	ns := req.Namespace
	scope, live := rbac.NamespaceScopes(list.Items)[ns]
	if !live {
		if err := r.deleteIfExists(ctx, &rbacv1.RoleBinding{}, ns); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.deleteIfExists(ctx, &corev1.ServiceAccount{}, ns); err != nil {
			return ctrl.Result{}, err
		}
	} else {
		if _, err := w.apply(ctx, rbac.ServiceAccount(ns)); err != nil {
			return ctrl.Result{}, err
		}
		if scope == v1alpha1.ScopeNamespace {
			if _, err := w.apply(ctx, rbac.RoleBinding(ns)); err != nil {
				return ctrl.Result{}, err
			}
		} else if err := r.deleteIfExists(ctx, &rbacv1.RoleBinding{}, ns); err != nil {
			return ctrl.Result{}, err
		}
	}
	// The ClusterRoleBinding is computed from every configuration, so it is
	// recomputed only when this namespace's place in it changes: a new
	// configuration in a namespace already bound (or not) lists nothing
	// more. (One worker: no other reconcile writes it meanwhile.)
	bound, err := r.clusterBound(ctx, ns)
	if err != nil {
		return ctrl.Result{}, err
	}
	if bound != (live && scope == v1alpha1.ScopeCluster) {
		return ctrl.Result{}, r.reconcileClusterBinding(ctx)
	}
	return ctrl.Result{}, nil
}

// clusterBound reports whether the ClusterRoleBinding (as cached) binds the
// flux-applier of namespace.
func (r *ApplierReconciler) clusterBound(ctx context.Context, namespace string) (bool, error) {
	crb := &rbacv1.ClusterRoleBinding{}
	if err := r.Get(ctx, clusterBindingKey, crb); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	for _, s := range crb.Subjects {
		if s.Kind == rbacv1.ServiceAccountKind && s.Name == rbac.ServiceAccountName && s.Namespace == namespace {
			return true, nil
		}
	}
	return false, nil
}

// reconcileClusterBinding applies or deletes the ClusterRoleBinding, from
// every configuration in the cluster.
func (r *ApplierReconciler) reconcileClusterBinding(ctx context.Context) error {
	var list v1alpha1.FluxConfigList
	if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("failed to list FluxConfigs: %w", err)
	}
	crb := rbac.ClusterRoleBinding(rbac.ClusterScopeNamespaces(list.Items))
	if crb == nil {
		return r.deleteIfExists(ctx, &rbacv1.ClusterRoleBinding{})
	}
	_, err := objectWriter{client: r.Client, scheme: r.Scheme}.apply(ctx, crb)
	return err
}

// deleteIfExists deletes the shared object of this kind in namespace (the
// ClusterRoleBinding when no namespace is given), if the operator made it.
func (r *ApplierReconciler) deleteIfExists(ctx context.Context, obj client.Object, namespace ...string) error {
	key := client.ObjectKey{Name: rbac.BindingName}
	if _, ok := obj.(*corev1.ServiceAccount); ok {
		key.Name = rbac.ServiceAccountName
	}
	if len(namespace) > 0 {
		key.Namespace = namespace[0]
	}
	if err := r.Get(ctx, key, obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	if obj.GetLabels()[v1alpha1.LabelIsManaged] != "true" || !obj.GetDeletionTimestamp().IsZero() {
		return nil
	}
	if err := r.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to delete %T %s: %w", obj, key, err)
	}
	return nil
}

// SetupWithManager watches FluxConfigs (any change of a namespace's set of
// configurations) and the shared objects themselves (drift).
func (r *ApplierReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	opts.MaxConcurrentReconciles = 1 // the single writer of the shared objects
	// A configuration's change is its namespace's; the namespace's
	// reconcile recomputes the ClusterRoleBinding when its place there
	// changes.
	configToKeys := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: rbac.ServiceAccountName}}}
	})
	sharedToKey := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		if obj.GetNamespace() == "" {
			return []reconcile.Request{{NamespacedName: clusterBindingKey}}
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: rbac.ServiceAccountName}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("flux-applier").
		// Creation, deletion and spec changes (scope) only; status writes do
		// not change a namespace's set of configurations.
		WatchesRawSource(source.Kind(mgr.GetCache(), client.Object(&v1alpha1.FluxConfig{}), configToKeys,
			predicate.GenerationChangedPredicate{})).
		Watches(&corev1.ServiceAccount{}, sharedToKey).
		Watches(&rbacv1.RoleBinding{}, sharedToKey).
		Watches(&rbacv1.ClusterRoleBinding{}, sharedToKey).
		WithOptions(opts).
		Complete(r)
}
