package compliance

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

func ready(status metav1.ConditionStatus, reason string) []metav1.Condition {
	return []metav1.Condition{{Type: "Ready", Status: status, Reason: reason}}
}

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		obj  Object
		want v1alpha1.ComplianceStateType
	}{
		{"ready for the current generation", Object{Generation: 2, ObservedGeneration: 2, Conditions: ready("True", "Succeeded")}, v1alpha1.ComplianceCompliant},
		{"suspended wins over ready", Object{Suspended: true, Generation: 1, ObservedGeneration: 1, Conditions: ready("True", "Succeeded")}, v1alpha1.ComplianceSuspended},
		{"suspended wins over failure", Object{Suspended: true, Generation: 1, ObservedGeneration: 1, Conditions: ready("False", "BuildFailed")}, v1alpha1.ComplianceSuspended},
		{"no conditions at all", Object{Generation: 1}, v1alpha1.ComplianceUnknown},
		{"conditions without Ready", Object{Generation: 1, ObservedGeneration: 1, Conditions: []metav1.Condition{{Type: "Reconciling", Status: "True"}}}, v1alpha1.ComplianceUnknown},
		{"ready but for an older generation", Object{Generation: 3, ObservedGeneration: 2, Conditions: ready("True", "Succeeded")}, v1alpha1.CompliancePending},
		{"failed for an older generation", Object{Generation: 3, ObservedGeneration: 2, Conditions: ready("False", "BuildFailed")}, v1alpha1.CompliancePending},
		{"ready unknown while progressing", Object{Generation: 1, ObservedGeneration: 1, Conditions: ready("Unknown", "Progressing")}, v1alpha1.CompliancePending},
		{"failed", Object{Generation: 1, ObservedGeneration: 1, Conditions: ready("False", "BuildFailed")}, v1alpha1.ComplianceNonCompliant},
		{"first apply failed: Flux kept status.observedGeneration but the condition is current",
			Object{Generation: 1, ObservedGeneration: -1, Conditions: []metav1.Condition{{Type: "Ready", Status: "False", Reason: "ReconciliationFailed", ObservedGeneration: 1}}},
			v1alpha1.ComplianceNonCompliant},
		{"condition about an older generation", Object{Generation: 2, ObservedGeneration: 1,
			Conditions: []metav1.Condition{{Type: "Ready", Status: "False", Reason: "ReconciliationFailed", ObservedGeneration: 1}}},
			v1alpha1.CompliancePending},
		{"waiting for a dependency", Object{Generation: 1, ObservedGeneration: 1, Conditions: ready("False", DependencyNotReadyReason)}, v1alpha1.CompliancePending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(tt.obj); got != tt.want {
				t.Errorf("Of() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWorst(t *testing.T) {
	const (
		c  = v1alpha1.ComplianceCompliant
		s  = v1alpha1.ComplianceSuspended
		u  = v1alpha1.ComplianceUnknown
		p  = v1alpha1.CompliancePending
		nc = v1alpha1.ComplianceNonCompliant
	)
	tests := []struct {
		name   string
		states []v1alpha1.ComplianceStateType
		want   v1alpha1.ComplianceStateType
	}{
		{"nothing reported yet", nil, p},
		{"all compliant", []v1alpha1.ComplianceStateType{c, c, c}, c},
		{"suspended beats compliant", []v1alpha1.ComplianceStateType{c, s}, s},
		{"unknown beats suspended", []v1alpha1.ComplianceStateType{s, u, c}, u},
		{"pending beats unknown", []v1alpha1.ComplianceStateType{u, p, s}, p},
		{"non-compliant beats everything", []v1alpha1.ComplianceStateType{c, s, u, p, nc}, nc},
		{"order does not matter", []v1alpha1.ComplianceStateType{nc, p, u, s, c}, nc},
		{"unrecognised counts as unknown", []v1alpha1.ComplianceStateType{c, "Weird"}, u},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Worst(tt.states...); got != tt.want {
				t.Errorf("Worst(%v) = %q, want %q", tt.states, got, tt.want)
			}
		})
	}
}
