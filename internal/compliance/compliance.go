// Package compliance decides the compliance state of Flux objects and of the
// configurations made of them, by Azure's rules:
//
//   - suspended                                   -> Suspended
//   - no Ready condition                          -> Unknown
//   - Ready=True for the current generation       -> Compliant
//   - Ready=Unknown, or a stale observedGeneration -> Pending (the
//     generation is the newer of status.observedGeneration and the Ready
//     condition's own observedGeneration)
//   - Ready=False                                 -> Non-Compliant
//
// One refinement Azure does not publish: a Kustomization that is Ready=False
// only because a dependency is not ready yet (Flux's DependencyNotReady) is
// Pending, not Non-Compliant; the failing dependency itself is Non-Compliant.
//
// A configuration takes the worst state of its objects, in the order
// Non-Compliant > Pending > Unknown > Suspended > Compliant.
package compliance

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// DependencyNotReadyReason is the reason Flux's Kustomizations give while
// waiting for their dependsOn.
const DependencyNotReadyReason = "DependencyNotReady"

// Object is what the rule reads of a Flux object.
type Object struct {
	// Suspended is the object's spec.suspend.
	Suspended bool
	// Generation is the object's metadata.generation.
	Generation int64
	// ObservedGeneration is the object's status.observedGeneration.
	ObservedGeneration int64
	// Conditions are the object's status.conditions.
	Conditions []metav1.Condition
}

// Of returns the compliance state of one object.
func Of(o Object) v1alpha1.ComplianceStateType {
	if o.Suspended {
		return v1alpha1.ComplianceSuspended
	}
	ready := findCondition(o.Conditions, v1alpha1.ReadyCondition)
	if ready == nil {
		return v1alpha1.ComplianceUnknown
	}
	// The generation the Ready condition speaks for: Flux records it on the
	// condition even when a failed attempt leaves status.observedGeneration
	// behind, so a first apply that fails is Non-Compliant, not Pending.
	observed := max(o.ObservedGeneration, ready.ObservedGeneration)
	if observed < o.Generation {
		return v1alpha1.CompliancePending
	}
	switch ready.Status {
	case metav1.ConditionTrue:
		return v1alpha1.ComplianceCompliant
	case metav1.ConditionFalse:
		if ready.Reason == DependencyNotReadyReason {
			return v1alpha1.CompliancePending
		}
		return v1alpha1.ComplianceNonCompliant
	default:
		return v1alpha1.CompliancePending
	}
}

// severity orders states from best (0) to worst.
var severity = map[v1alpha1.ComplianceStateType]int{
	v1alpha1.ComplianceCompliant:    0,
	v1alpha1.ComplianceSuspended:    1,
	v1alpha1.ComplianceUnknown:      2,
	v1alpha1.CompliancePending:      3,
	v1alpha1.ComplianceNonCompliant: 4,
}

// Worst returns the worst of states; with no states, Pending (nothing has
// been reported yet). An unrecognised state counts as Unknown.
func Worst(states ...v1alpha1.ComplianceStateType) v1alpha1.ComplianceStateType {
	if len(states) == 0 {
		return v1alpha1.CompliancePending
	}
	worst := v1alpha1.ComplianceCompliant
	for _, s := range states {
		if _, known := severity[s]; !known {
			s = v1alpha1.ComplianceUnknown
		}
		if severity[s] > severity[worst] {
			worst = s
		}
	}
	return worst
}

func findCondition(conditions []metav1.Condition, t string) *metav1.Condition {
	for i := range conditions {
		if conditions[i].Type == t {
			return &conditions[i]
		}
	}
	return nil
}
