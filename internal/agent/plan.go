package agent

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/agentapi"
)

// step is what the agent does for one desired configuration, decided by
// planSync from what the cluster holds.
type step int

const (
	// stepRefuse: a FluxConfig of that name that the agent does not manage
	// is in the way; it is left alone and the data plane is told.
	stepRefuse step = iota
	// stepConfirmDeleted: the data plane deletes the configuration and the
	// cluster no longer has it.
	stepConfirmDeleted
	// stepDelete: the data plane deletes the configuration; delete the
	// FluxConfig (its finalizer cleans up, then the reporter confirms).
	stepDelete
	// stepWaitForDeletion: the FluxConfig is already being deleted.
	stepWaitForDeletion
	// stepCreate: a new configuration; its namespace may not exist yet.
	stepCreate
	// stepUpdate: the agent's FluxConfig exists; bring it up to date.
	stepUpdate
)

func (s step) String() string {
	return [...]string{"Refuse", "ConfirmDeleted", "Delete", "WaitForDeletion", "Create", "Update"}[s]
}

// planSync decides the step for desired configuration c, given the
// FluxConfig of the same namespace and name in the cluster (nil if none).
func planSync(current *v1alpha1.FluxConfig, c *agentapi.Configuration) step {
	switch {
	case current != nil && current.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByAgent:
		return stepRefuse
	case c.Deleting && current == nil:
		return stepConfirmDeleted
	case c.Deleting && current.DeletionTimestamp.IsZero():
		return stepDelete
	case c.Deleting:
		return stepWaitForDeletion
	case current == nil:
		return stepCreate
	default:
		return stepUpdate
	}
}

// desiredFluxConfig is the FluxConfig the agent applies for c: the spec of
// its properties, the agent's label, the data plane generation, and a
// reference to the protected-parameters Secret when there is one.
func desiredFluxConfig(c *agentapi.Configuration, props *agentapi.Properties, hasProtected bool) *v1alpha1.FluxConfig {
	fc := &v1alpha1.FluxConfig{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.Kind},
		ObjectMeta: metav1.ObjectMeta{
			Name: c.Name, Namespace: props.Namespace,
			Labels:      map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByAgent},
			Annotations: map[string]string{v1alpha1.DataPlaneGenerationAnnotation: strconv.FormatInt(c.Generation, 10)},
		},
		Spec: props.FluxConfigSpec,
	}
	if c.ReconcileRequestedAt != "" {
		// "Reconcile now": the controller hands it on to the Flux objects.
		fc.Annotations[meta.ReconcileRequestAnnotation] = c.ReconcileRequestedAt
	}
	if hasProtected {
		fc.Spec.ConfigurationProtectedSettingsRef = &v1alpha1.LocalSecretReference{Name: v1alpha1.ProtectedSettingsSecretName(c.Name)}
	}
	return fc
}

// withFinalizer adds the controller's finalizer to want, the FluxConfig the
// agent is about to apply over current (nil: none yet), so that a new
// FluxConfig carries it from its first write instead of the controller
// patching it on (one write of the costliest kind per configuration). The
// agent then owns the finalizer: every apply keeps it, except once the
// controller has removed it from a FluxConfig being deleted, where adding
// it back is both wrong and refused.
func withFinalizer(current, want *v1alpha1.FluxConfig) {
	if current != nil && !current.DeletionTimestamp.IsZero() && !slices.Contains(current.Finalizers, v1alpha1.FluxConfigFinalizer) {
		return
	}
	want.Finalizers = []string{v1alpha1.FluxConfigFinalizer}
}

// upToDate reports whether current already holds want: the same data plane
// generation (the spec comes only from there), the same reconcile request
// and the same protected settings reference. Nothing else is compared, so
// a no-op sync writes nothing.
func upToDate(current, want *v1alpha1.FluxConfig) bool {
	return current != nil &&
		current.Annotations[v1alpha1.DataPlaneGenerationAnnotation] == want.Annotations[v1alpha1.DataPlaneGenerationAnnotation] &&
		current.Annotations[meta.ReconcileRequestAnnotation] == want.Annotations[meta.ReconcileRequestAnnotation] &&
		refName(current.Spec.ConfigurationProtectedSettingsRef) == refName(want.Spec.ConfigurationProtectedSettingsRef)
}

func refName(r *v1alpha1.LocalSecretReference) string {
	if r == nil {
		return ""
	}
	return r.Name
}

// AnyNamespace in Options.ClusterScopeNamespaces lets cluster-scope
// configurations into every namespace but the system ones.
const AnyNamespace = "*"

// namespaceRefusal says why the agent may not place configuration props
// in its namespace, or "" when it may. Kubernetes' own namespaces are
// refused to every configuration; cluster scope (flux-applier bound to
// cluster-admin, and anyone who can run a pod as flux-applier in that
// namespace gets it) only goes to the namespaces an administrator listed.
func namespaceRefusal(props *agentapi.Properties, clusterScopeNamespaces []string) string {
	ns := props.Namespace
	if v1alpha1.IsSystemNamespace(ns) {
		return fmt.Sprintf("The namespace %s belongs to Kubernetes itself: no configuration may be placed in a kube-* namespace; choose another namespace.", ns)
	}
	if props.Scope == v1alpha1.ScopeNamespace || slices.Contains(clusterScopeNamespaces, AnyNamespace) || slices.Contains(clusterScopeNamespaces, ns) {
		return ""
	}
	return fmt.Sprintf("Cluster-scope configurations may be placed only in the namespaces %s of this cluster (manager flag --cluster-scope-namespaces, Helm value multiTenancy.clusterScopeNamespaces), not in %s: "+
		"their flux-applier is cluster-admin for anyone who can run a pod there. Use one of those namespaces, or scope namespace.",
		strings.Join(clusterScopeNamespaces, ", "), ns)
}
