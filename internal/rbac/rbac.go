// Package rbac decides the identity that a configuration's Kustomizations
// apply with: the flux-applier ServiceAccount in the configuration's
// namespace, bound to cluster-admin for cluster scope (one
// ClusterRoleBinding, flux-applier-binding, for every namespace that holds
// cluster-scope configurations) or to admin in its own namespace for
// namespace scope (a RoleBinding, flux-applier-binding).
//
// flux-applier is shared by every configuration in a namespace, so the
// scopes cannot mix there: a namespace-scope configuration next to a
// cluster-scope one would apply as cluster-admin. ScopeConflict refuses the
// later of two configurations whose scopes differ.
package rbac

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

const (
	// ServiceAccountName is the identity Kustomizations apply with.
	ServiceAccountName = "flux-applier"
	// BindingName is the name of the (Cluster)RoleBinding of flux-applier.
	BindingName = "flux-applier-binding"
	// ClusterRoleClusterScope is bound for cluster-scope configurations.
	ClusterRoleClusterScope = "cluster-admin"
	// ClusterRoleNamespaceScope is bound, in its namespace only, for
	// namespace-scope configurations.
	ClusterRoleNamespaceScope = "admin"
)

// sharedLabels are the labels of the objects shared by the configurations of
// a namespace: they belong to no single configuration, so they carry no
// clusterconfig.azure.com/name.
func sharedLabels(namespace string) map[string]string {
	l := map[string]string{v1alpha1.LabelIsManaged: "true"}
	if namespace != "" {
		l[v1alpha1.LabelNamespace] = namespace
	}
	return l
}

// ServiceAccount returns flux-applier for namespace.
func ServiceAccount(namespace string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ServiceAccountName,
			Namespace: namespace,
			Labels:    sharedLabels(namespace),
		},
	}
}

// RoleBinding returns the binding of flux-applier to admin inside namespace,
// for namespace-scope configurations.
func RoleBinding(namespace string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta: metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      BindingName,
			Namespace: namespace,
			Labels:    sharedLabels(namespace),
		},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ClusterRoleNamespaceScope},
		Subjects: []rbacv1.Subject{
			{Kind: rbacv1.ServiceAccountKind, Name: ServiceAccountName, Namespace: namespace},
		},
	}
}

// ClusterRoleBinding returns the binding of the flux-applier of every
// namespace in namespaces to cluster-admin, or nil when namespaces is empty.
func ClusterRoleBinding(namespaces []string) *rbacv1.ClusterRoleBinding {
	ns := slices.Clone(namespaces)
	slices.Sort(ns)
	ns = slices.Compact(ns)
	if len(ns) == 0 {
		return nil
	}
	subjects := make([]rbacv1.Subject, 0, len(ns))
	for _, n := range ns {
		subjects = append(subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: ServiceAccountName, Namespace: n})
	}
	return &rbacv1.ClusterRoleBinding{
		TypeMeta: metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   BindingName,
			Labels: sharedLabels(""),
		},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ClusterRoleClusterScope},
		Subjects: subjects,
	}
}

// Live reports whether a configuration still holds its RBAC: it is not
// being deleted, or its deletion still waits on the operator's finalizer
// (its Kustomizations may still be pruning with flux-applier).
func Live(fc *v1alpha1.FluxConfig) bool {
	return fc.DeletionTimestamp.IsZero() || slices.Contains(fc.Finalizers, v1alpha1.FluxConfigFinalizer)
}

// NamespaceScopes returns, for each namespace with live configurations, the
// scope of its oldest live configuration: the scope flux-applier has there.
func NamespaceScopes(configs []v1alpha1.FluxConfig) map[string]v1alpha1.ScopeType {
	oldest := map[string]*v1alpha1.FluxConfig{}
	for i := range configs {
		c := &configs[i]
		if !Live(c) {
			continue
		}
		if o, ok := oldest[c.Namespace]; !ok || older(c, o) {
			oldest[c.Namespace] = c
		}
	}
	out := make(map[string]v1alpha1.ScopeType, len(oldest))
	for ns, c := range oldest {
		out[ns] = scopeOf(c)
	}
	return out
}

// ClusterScopeNamespaces returns the namespaces whose flux-applier is bound
// to cluster-admin, sorted: those whose oldest live configuration has
// cluster scope.
func ClusterScopeNamespaces(configs []v1alpha1.FluxConfig) []string {
	var ns []string
	for n, scope := range NamespaceScopes(configs) {
		if scope == v1alpha1.ScopeCluster {
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	return ns
}

// ScopeConflict returns an error when self must not run because an older
// live configuration in its namespace has the other scope. others may
// include self and configurations of other namespaces.
func ScopeConflict(self *v1alpha1.FluxConfig, others []v1alpha1.FluxConfig) error {
	var oldest *v1alpha1.FluxConfig
	for i := range others {
		o := &others[i]
		if o.Namespace != self.Namespace || o.Name == self.Name || !Live(o) || scopeOf(o) == scopeOf(self) {
			continue
		}
		if older(o, self) && (oldest == nil || older(o, oldest)) {
			oldest = o
		}
	}
	if oldest == nil {
		return nil
	}
	return fmt.Errorf("namespace %s already holds %s-scope configuration %s, and %s is shared by the configurations of a namespace: "+
		"put this %s-scope configuration in another namespace",
		self.Namespace, scopeOf(oldest), oldest.Name, ServiceAccountName, scopeOf(self))
}

// Scope is the configuration's scope, defaulted as the CRD defaults it.
func Scope(fc *v1alpha1.FluxConfig) v1alpha1.ScopeType { return scopeOf(fc) }

// OtherScope is the scope a configuration of fc's namespace must not have.
func OtherScope(fc *v1alpha1.FluxConfig) v1alpha1.ScopeType {
	if scopeOf(fc) == v1alpha1.ScopeCluster {
		return v1alpha1.ScopeNamespace
	}
	return v1alpha1.ScopeCluster
}

// scopeOf is the configuration's scope, defaulted as the CRD defaults it.
func scopeOf(fc *v1alpha1.FluxConfig) v1alpha1.ScopeType {
	if fc.Spec.Scope == "" {
		return v1alpha1.ScopeCluster
	}
	return fc.Spec.Scope
}

// older orders configurations by creation time, then name.
func older(a, b *v1alpha1.FluxConfig) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}
