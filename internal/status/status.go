// Package status summarizes the Flux objects of a configuration into the
// read-only ARM properties of its FluxConfig: statuses[], complianceState,
// sourceSyncedCommitId, sourceUpdatedAt and errorMessage.
package status

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/compliance"
)

// Summary is the status of a configuration's Flux objects.
type Summary struct {
	Statuses        []v1alpha1.ObjectStatusDefinition
	ComplianceState v1alpha1.ComplianceStateType
	// SourceSyncedCommitID is the source's artifact revision in Azure's form.
	SourceSyncedCommitID string
	// SourceUpdatedAt is when the source's artifact last changed.
	SourceUpdatedAt *metav1.Time
	// NotReady is the first object, source first, whose state is the
	// configuration's (the worst): the one a message should explain; nil
	// when the configuration is Compliant.
	NotReady *v1alpha1.ObjectStatusDefinition
	// Explanation, when set, explains NotReady better than its conditions
	// (Refuse).
	Explanation string
}

// Message describes why the configuration is not Compliant.
func (s *Summary) Message() string {
	if s.Explanation != "" {
		return s.Explanation
	}
	return Message(s.NotReady)
}

// Refuse marks the deployed objects Flux will never reconcile, which it
// leaves without a condition (keyed by ObjectKey, with why: Refusal), as
// Non-Compliant. When the configuration's first object in its
// worst state is one of them, or a Kustomization that applied one, the
// refusal explains the configuration.
func (s *Summary) Refuse(refusals map[string]string) {
	if len(refusals) == 0 {
		return
	}
	key := func(st *v1alpha1.ObjectStatusDefinition) string { return ObjectKey(st.Kind, st.Namespace, st.Name) }
	states := make([]v1alpha1.ComplianceStateType, 0, len(s.Statuses))
	for i := range s.Statuses {
		if _, ok := refusals[key(&s.Statuses[i])]; ok {
			s.Statuses[i].ComplianceState = v1alpha1.ComplianceNonCompliant
		}
		states = append(states, s.Statuses[i].ComplianceState)
	}
	s.ComplianceState = compliance.Worst(states...)
	for i := range s.Statuses {
		st := &s.Statuses[i]
		if st.ComplianceState != s.ComplianceState {
			continue
		}
		s.NotReady, s.Explanation = st, refusals[key(st)]
		if st.Kind != kustomizev1.KustomizationKind {
			return
		}
		for j := range s.Statuses {
			hr := &s.Statuses[j]
			if why, ok := refusals[key(hr)]; ok && hr.AppliedBy != nil && hr.AppliedBy.Name == st.Name && hr.AppliedBy.Namespace == st.Namespace {
				s.NotReady, s.Explanation = hr, why
				return
			}
		}
		s.NotReady = s.cause(st)
		return
	}
}

// ObjectKey names an object among a configuration's statuses, as Refuse's
// keys do.
func ObjectKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

// Refusal says why Flux under multi-tenancy will never reconcile a
// HelmRelease that is not Ready (helm-controller then leaves it without
// any condition, and the Kustomization's health check only times out):
// its chart comes from another namespace, or its namespace has no
// flux-applier to apply it as (hasApplier). "" when neither applies.
func Refusal(hr *unstructured.Unstructured, hasApplier func(namespace string) bool) string {
	for _, c := range unstructuredFlux(hr).conds {
		if c.Type == v1alpha1.ReadyCondition && c.Status == metav1.ConditionTrue {
			return ""
		}
	}
	ns, name := hr.GetNamespace(), hr.GetName()
	for _, path := range [][]string{{"spec", "chart", "spec", "sourceRef", "namespace"}, {"spec", "chartRef", "namespace"}} {
		if src, _, _ := unstructured.NestedString(hr.Object, path...); src != "" && src != ns {
			return fmt.Sprintf("HelmRelease %s/%s takes its chart from namespace %s, and multi-tenancy refuses references across namespaces: "+
				"put the HelmRelease in %s with its source, and place the release with spec.targetNamespace", ns, name, src, src)
		}
	}
	if sa, _, _ := unstructured.NestedString(hr.Object, "spec", "serviceAccountName"); sa == "" && !hasApplier(ns) {
		return fmt.Sprintf("HelmRelease %s/%s is in namespace %s, which has no flux-applier ServiceAccount for helm-controller to apply it as "+
			"under multi-tenancy: put it in the configuration's namespace, and place the release with spec.targetNamespace", ns, name, ns)
	}
	return ""
}

// fluxObject is what every Flux object offers.
type fluxObject interface {
	client.Object
	GetConditions() []metav1.Condition
}

// Summarize computes the Summary of source (nil when it does not exist yet),
// kustomizations (those that exist) and the statuses of the Helm objects
// they deployed (DeployedStatus), in that order.
func Summarize(source client.Object, kustomizations []*kustomizev1.Kustomization, deployed ...v1alpha1.ObjectStatusDefinition) Summary {
	var s Summary
	var states []v1alpha1.ComplianceStateType
	if source != nil {
		st, suspended, observed := sourceFacts(source)
		obj := objectStatus(source.(fluxObject), source.GetObjectKind().GroupVersionKind().Kind, suspended, observed, nil)
		s.Statuses = append(s.Statuses, obj)
		states = append(states, obj.ComplianceState)
		if st != nil {
			s.SourceSyncedCommitID = CommitID(st.Revision)
			t := st.LastUpdateTime
			s.SourceUpdatedAt = &t
		}
	} else {
		states = append(states, v1alpha1.ComplianceUnknown)
	}
	for _, k := range kustomizations {
		obj := objectStatus(k, kustomizev1.KustomizationKind, k.Spec.Suspend, k.Status.ObservedGeneration, nil)
		s.Statuses = append(s.Statuses, obj)
		states = append(states, obj.ComplianceState)
	}
	for _, obj := range deployed {
		s.Statuses = append(s.Statuses, obj)
		states = append(states, obj.ComplianceState)
	}
	s.ComplianceState = compliance.Worst(states...)
	if s.ComplianceState != v1alpha1.ComplianceCompliant {
		for i := range s.Statuses {
			if s.Statuses[i].ComplianceState == s.ComplianceState {
				s.NotReady = &s.Statuses[i]
				break
			}
		}
		s.NotReady = s.cause(s.NotReady)
	}
	return s
}

// cause is what explains notReady best: itself, or, for a Kustomization
// whose only failure is the health check of what it applied, the
// HelmRelease it applied that is as bad (its condition holds Helm's own
// message, where the Kustomization says it timed out waiting).
func (s *Summary) cause(notReady *v1alpha1.ObjectStatusDefinition) *v1alpha1.ObjectStatusDefinition {
	if notReady == nil || notReady.Kind != kustomizev1.KustomizationKind || readyReason(notReady) != meta.HealthCheckFailedReason {
		return notReady
	}
	for i := range s.Statuses {
		hr := &s.Statuses[i]
		if hr.Kind == HelmReleaseKind && hr.ComplianceState == notReady.ComplianceState && hr.AppliedBy != nil &&
			hr.AppliedBy.Name == notReady.Name && hr.AppliedBy.Namespace == notReady.Namespace {
			return hr
		}
	}
	return notReady
}

// readyReason is the reason of an object's Ready condition ("" without one).
func readyReason(obj *v1alpha1.ObjectStatusDefinition) string {
	for _, c := range obj.StatusConditions {
		if c.Type == v1alpha1.ReadyCondition {
			return c.Reason
		}
	}
	return ""
}

// sourceFacts reads the artifact, suspend and observedGeneration of a source.
func sourceFacts(source client.Object) (*meta.Artifact, bool, int64) {
	switch src := source.(type) {
	case *sourcev1.GitRepository:
		return src.Status.Artifact, src.Spec.Suspend, src.Status.ObservedGeneration
	case *sourcev1.Bucket:
		return src.Status.Artifact, src.Spec.Suspend, src.Status.ObservedGeneration
	case *sourcev1.OCIRepository:
		return src.Status.Artifact, src.Spec.Suspend, src.Status.ObservedGeneration
	default:
		return nil, false, 0
	}
}

func objectStatus(o fluxObject, kind string, suspended bool, observedGeneration int64, appliedBy *v1alpha1.ObjectReferenceDefinition) v1alpha1.ObjectStatusDefinition {
	conds := o.GetConditions()
	out := v1alpha1.ObjectStatusDefinition{
		Name:      o.GetName(),
		Namespace: o.GetNamespace(),
		Kind:      kind,
		AppliedBy: appliedBy,
		ComplianceState: compliance.Of(compliance.Object{
			Suspended:          suspended,
			Generation:         o.GetGeneration(),
			ObservedGeneration: observedGeneration,
			Conditions:         conds,
		}),
	}
	for _, c := range conds {
		t := c.LastTransitionTime
		out.StatusConditions = append(out.StatusConditions, v1alpha1.ObjectStatusConditionDefinition{
			LastTransitionTime: &t,
			Message:            c.Message,
			Reason:             c.Reason,
			Status:             string(c.Status),
			Type:               c.Type,
		})
	}
	return out
}

// Message describes why obj is not Compliant, with Flux's own words.
func Message(obj *v1alpha1.ObjectStatusDefinition) string {
	var ready *v1alpha1.ObjectStatusConditionDefinition
	for i := range obj.StatusConditions {
		if obj.StatusConditions[i].Type == v1alpha1.ReadyCondition {
			ready = &obj.StatusConditions[i]
		}
	}
	who := fmt.Sprintf("%s %s/%s", obj.Kind, obj.Namespace, obj.Name)
	switch {
	case obj.ComplianceState == v1alpha1.ComplianceSuspended:
		return who + " is suspended"
	case ready == nil:
		return who + " has not been reconciled by Flux yet"
	case obj.ComplianceState == v1alpha1.CompliancePending && ready.Message != "":
		return fmt.Sprintf("waiting for %s: %s", who, ready.Message)
	case obj.ComplianceState == v1alpha1.CompliancePending:
		return "waiting for " + who
	default:
		return fmt.Sprintf("%s: %s", who, ready.Message)
	}
}

var gitRevision = regexp.MustCompile(`^(.+)@sha1:([0-9a-f]{40})$`)

// CommitID turns a Flux revision into Azure's sourceSyncedCommitId form:
// "main@sha1:<sha>" becomes "main/<sha>"; "sha1:<sha>" becomes "<sha>";
// other revisions (bucket and OCI digests) are kept as they are.
func CommitID(revision string) string {
	if m := gitRevision.FindStringSubmatch(revision); m != nil {
		return m[1] + "/" + m[2]
	}
	if len(revision) == 45 && revision[:5] == "sha1:" {
		return revision[5:]
	}
	return revision
}

// The Flux kinds that Azure lists in statuses[] besides the source and the
// Kustomizations: what the Kustomizations applied (HelmRelease,
// HelmRepository) and the HelmChart helm-controller makes for a release.
const (
	HelmReleaseGroup   = "helm.toolkit.fluxcd.io"
	HelmReleaseKind    = "HelmRelease"
	SourceGroup        = "source.toolkit.fluxcd.io"
	HelmRepositoryKind = "HelmRepository"
	HelmChartKind      = "HelmChart"
)

// Deployed is a Flux object a Kustomization applied.
type Deployed struct {
	Kind string
	types.NamespacedName
}

// Applied returns the HelmReleases and HelmRepositories in a
// Kustomization's inventory, whose entries are
// '<namespace>_<name>_<group>_<kind>', in inventory order.
func Applied(ks *kustomizev1.Kustomization) []Deployed {
	if ks.Status.Inventory == nil {
		return nil
	}
	var out []Deployed
	for _, e := range ks.Status.Inventory.Entries {
		parts := strings.Split(e.ID, "_")
		if len(parts) != 4 {
			continue
		}
		nn := types.NamespacedName{Namespace: parts[0], Name: parts[1]}
		switch {
		case parts[2] == HelmReleaseGroup && parts[3] == HelmReleaseKind:
			out = append(out, Deployed{Kind: HelmReleaseKind, NamespacedName: nn})
		case parts[2] == SourceGroup && parts[3] == HelmRepositoryKind:
			out = append(out, Deployed{Kind: HelmRepositoryKind, NamespacedName: nn})
		}
	}
	return out
}

// DeployedStatus reads a deployed Flux object (as unstructured: this
// operator does not depend on helm-controller's API) of kind into its ARM
// status, applied by (or, for a HelmChart, on behalf of) ks.
func DeployedStatus(obj *unstructured.Unstructured, kind string, ks *kustomizev1.Kustomization) v1alpha1.ObjectStatusDefinition {
	if kind == HelmReleaseKind {
		return HelmReleaseStatus(obj, ks)
	}
	return objectStatus(unstructuredFlux(obj), kind, suspendedOf(obj), observedOf(obj),
		&v1alpha1.ObjectReferenceDefinition{Name: ks.Name, Namespace: ks.Namespace})
}

func unstructuredFlux(obj *unstructured.Unstructured) conditioned {
	var conds []metav1.Condition
	if raw, ok, _ := unstructured.NestedSlice(obj.Object, "status", "conditions"); ok {
		b, _ := json.Marshal(raw)
		_ = json.Unmarshal(b, &conds)
	}
	return conditioned{Unstructured: obj, conds: conds}
}

func suspendedOf(obj *unstructured.Unstructured) bool {
	s, _, _ := unstructured.NestedBool(obj.Object, "spec", "suspend")
	return s
}

func observedOf(obj *unstructured.Unstructured) int64 {
	o, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	return o
}

// HelmReleaseStatus reads a HelmRelease (helm.toolkit.fluxcd.io/v2, as
// unstructured: this operator does not depend on helm-controller's API)
// applied by ks into its ARM status.
func HelmReleaseStatus(hr *unstructured.Unstructured, ks *kustomizev1.Kustomization) v1alpha1.ObjectStatusDefinition {
	obj := objectStatus(unstructuredFlux(hr), HelmReleaseKind, suspendedOf(hr), observedOf(hr),
		&v1alpha1.ObjectReferenceDefinition{Name: ks.Name, Namespace: ks.Namespace})
	props := &v1alpha1.HelmReleasePropertiesDefinition{}
	props.FailureCount, _, _ = unstructured.NestedInt64(hr.Object, "status", "failures")
	props.InstallFailureCount, _, _ = unstructured.NestedInt64(hr.Object, "status", "installFailures")
	props.UpgradeFailureCount, _, _ = unstructured.NestedInt64(hr.Object, "status", "upgradeFailures")
	if history, ok, _ := unstructured.NestedSlice(hr.Object, "status", "history"); ok && len(history) > 0 {
		if latest, ok := history[0].(map[string]any); ok {
			props.LastRevisionApplied, _, _ = unstructured.NestedInt64(latest, "version")
		}
	}
	if chart, ok, _ := unstructured.NestedString(hr.Object, "status", "helmChart"); ok && chart != "" {
		ns, name, found := strings.Cut(chart, "/")
		if !found {
			ns, name = hr.GetNamespace(), chart
		}
		props.HelmChartRef = &v1alpha1.ObjectReferenceDefinition{Name: name, Namespace: ns}
	}
	obj.HelmReleaseProperties = props
	return obj
}

// conditioned gives an unstructured object the conditions accessor.
type conditioned struct {
	*unstructured.Unstructured
	conds []metav1.Condition
}

func (c conditioned) GetConditions() []metav1.Condition { return c.conds }
