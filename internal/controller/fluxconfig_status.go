package controller

import (
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/status"
)

// setStatus records the summary of the Flux objects in fc's status, after
// every object was applied: this generation is fully handled.
func (r *FluxConfigReconciler) setStatus(fc *v1alpha1.FluxConfig, source client.Object, kustomizations []*kustomizev1.Kustomization, deployed []v1alpha1.ObjectStatusDefinition, refusals map[string]string) {
	s := status.Summarize(source, kustomizations, deployed...)
	s.Refuse(refusals)
	fc.Status.Statuses = s.Statuses
	fc.Status.ComplianceState = s.ComplianceState
	fc.Status.SourceSyncedCommitID = s.SourceSyncedCommitID
	fc.Status.SourceUpdatedAt = s.SourceUpdatedAt
	fc.Status.ObservedGeneration = fc.Generation
	fc.Status.LastHandledReconcileAt = fc.Annotations[meta.ReconcileRequestAnnotation]
	conditions.Delete(fc, v1alpha1.StalledCondition)

	wait := fc.Spec.WaitForReconciliation != nil && *fc.Spec.WaitForReconciliation
	switch s.ComplianceState {
	case v1alpha1.ComplianceCompliant:
		msg := fmt.Sprintf("%d Flux objects are ready", len(s.Statuses))
		if s.SourceSyncedCommitID != "" {
			msg = fmt.Sprintf("Applied revision %s: %s", s.SourceSyncedCommitID, msg)
		}
		conditions.MarkTrue(fc, v1alpha1.ReadyCondition, v1alpha1.ReasonSucceeded, "%s", msg)
		conditions.Delete(fc, v1alpha1.ReconcilingCondition)
		fc.Status.ErrorMessage = ""
		fc.Status.ProvisioningState = v1alpha1.ProvisioningSucceeded
	case v1alpha1.ComplianceSuspended:
		conditions.MarkFalse(fc, v1alpha1.ReadyCondition, v1alpha1.ReasonSuspended, "reconciliation is suspended (spec.suspend)")
		conditions.Delete(fc, v1alpha1.ReconcilingCondition)
		fc.Status.ErrorMessage = ""
		fc.Status.ProvisioningState = v1alpha1.ProvisioningSucceeded
	case v1alpha1.ComplianceNonCompliant:
		reason := v1alpha1.ReasonKustomizationNotReady
		if s.NotReady != nil && s.NotReady.Kind != kustomizev1.KustomizationKind {
			reason = v1alpha1.ReasonSourceNotReady
		}
		msg := s.Message()
		conditions.MarkFalse(fc, v1alpha1.ReadyCondition, reason, "%s", msg)
		conditions.Delete(fc, v1alpha1.ReconcilingCondition)
		fc.Status.ErrorMessage = msg
		fc.Status.ProvisioningState = v1alpha1.ProvisioningSucceeded
		if wait {
			fc.Status.ProvisioningState = v1alpha1.ProvisioningFailed
		}
	default: // Pending, Unknown
		msg := "waiting for Flux to report on the configuration's objects"
		if s.NotReady != nil {
			msg = s.Message()
		}
		markWaiting(fc, v1alpha1.ReasonProgressing, "%s", msg)
		fc.Status.ErrorMessage = ""
		fc.Status.ProvisioningState = v1alpha1.ProvisioningSucceeded
		if wait {
			fc.Status.ProvisioningState = creatingOrUpdating(fc)
		}
	}
}

// creatingOrUpdating is the provisioning state of work in progress: Creating
// until the configuration first succeeded, Updating after.
func creatingOrUpdating(fc *v1alpha1.FluxConfig) v1alpha1.ProvisioningStateType {
	switch fc.Status.ProvisioningState {
	case "", v1alpha1.ProvisioningCreating:
		return v1alpha1.ProvisioningCreating
	default:
		return v1alpha1.ProvisioningUpdating
	}
}

// markWaiting records progress: Ready=Unknown and Reconciling=True.
func markWaiting(fc *v1alpha1.FluxConfig, reason, format string, args ...any) {
	conditions.MarkUnknown(fc, v1alpha1.ReadyCondition, reason, format, args...)
	conditions.MarkReconciling(fc, reason, format, args...)
}

// markStalled records a spec that cannot be reconciled as written.
func markStalled(fc *v1alpha1.FluxConfig, msg string) {
	conditions.MarkStalled(fc, v1alpha1.ReasonInvalidSpec, "%s", msg)
	conditions.MarkFalse(fc, v1alpha1.ReadyCondition, v1alpha1.ReasonInvalidSpec, "%s", msg)
	conditions.Delete(fc, v1alpha1.ReconcilingCondition)
	fc.Status.ErrorMessage = msg
	fc.Status.ProvisioningState = v1alpha1.ProvisioningFailed
	fc.Status.ObservedGeneration = fc.Generation
}

// markFailed records a transient failure that the next attempt may fix.
func markFailed(fc *v1alpha1.FluxConfig, reason, msg string) {
	conditions.MarkFalse(fc, v1alpha1.ReadyCondition, reason, "%s", msg)
	conditions.Delete(fc, v1alpha1.StalledCondition)
	fc.Status.ErrorMessage = msg
}

// statusEqual compares two statuses but for statusUpdatedAt, which is
// stamped when the rest changes. Times compare as instants (a status read
// back decodes them in the local zone), as the API server would.
func statusEqual(a, b *v1alpha1.FluxConfigStatus) bool {
	x, y := *a, *b
	x.StatusUpdatedAt, y.StatusUpdatedAt = nil, nil
	return equality.Semantic.DeepEqual(&x, &y)
}

// notify emits events on meaningful change only: a new Ready state, or a
// new source revision.
func (r *FluxConfigReconciler) notify(before, after *v1alpha1.FluxConfig) {
	old, cur := conditions.Get(before, v1alpha1.ReadyCondition), conditions.Get(after, v1alpha1.ReadyCondition)
	if cur != nil && (old == nil || old.Status != cur.Status || old.Reason != cur.Reason) && cur.Status != metav1.ConditionUnknown {
		eventType := corev1.EventTypeNormal
		if cur.Status == metav1.ConditionFalse && cur.Reason != v1alpha1.ReasonSuspended {
			eventType = corev1.EventTypeWarning
		}
		r.event(after, eventType, cur.Reason, "%s", cur.Message)
	}
	if id := after.Status.SourceSyncedCommitID; id != "" && id != before.Status.SourceSyncedCommitID {
		r.event(after, corev1.EventTypeNormal, "NewRevision", "Source synced revision %s", id)
	}
}
