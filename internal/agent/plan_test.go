package agent

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/agentapi"
)

func TestPlanSync(t *testing.T) {
	now := metav1.Now()
	mine := func(deleting bool) *v1alpha1.FluxConfig {
		fc := &v1alpha1.FluxConfig{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns",
			Labels: map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByAgent}}}
		if deleting {
			fc.DeletionTimestamp = &now
		}
		return fc
	}
	byHand := &v1alpha1.FluxConfig{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"}}
	cases := []struct {
		name     string
		current  *v1alpha1.FluxConfig
		deleting bool
		want     step
	}{
		{"new configuration", nil, false, stepCreate},
		{"the agent's FluxConfig exists", mine(false), false, stepUpdate},
		{"a FluxConfig applied by hand is in the way", byHand, false, stepRefuse},
		{"a FluxConfig applied by hand is never deleted", byHand, true, stepRefuse},
		{"deleting, gone from the cluster", nil, true, stepConfirmDeleted},
		{"deleting, still in the cluster", mine(false), true, stepDelete},
		{"deleting, finalizer at work", mine(true), true, stepWaitForDeletion},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := planSync(tc.current, &agentapi.Configuration{Name: "c", Deleting: tc.deleting})
			if got != tc.want {
				t.Errorf("planSync = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDesiredFluxConfigAndUpToDate(t *testing.T) {
	var props agentapi.Properties
	raw := `{"namespace":"ns","scope":"cluster","sourceKind":"GitRepository","gitRepository":{"url":"https://example.com/r","repositoryRef":{"branch":"main"}}}`
	if err := json.Unmarshal([]byte(raw), &props); err != nil {
		t.Fatal(err)
	}
	c := &agentapi.Configuration{Name: "c", Generation: 3}
	plain := desiredFluxConfig(c, &props, false)
	withSecret := desiredFluxConfig(c, &props, true)

	if plain.Namespace != "ns" || plain.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByAgent ||
		plain.Annotations[v1alpha1.DataPlaneGenerationAnnotation] != "3" || plain.Spec.GitRepository.URL != "https://example.com/r" {
		t.Errorf("desired FluxConfig lacks its namespace, label, generation or spec: %+v", plain.ObjectMeta)
	}
	if plain.Spec.ConfigurationProtectedSettingsRef != nil {
		t.Errorf("a configuration without protected settings references a Secret")
	}
	if got := withSecret.Spec.ConfigurationProtectedSettingsRef; got == nil || got.Name != "c-protected-parameters" {
		t.Errorf("protected settings reference = %v, want c-protected-parameters", got)
	}

	if _, ok := plain.Annotations[meta.ReconcileRequestAnnotation]; ok {
		t.Errorf("a configuration never asked to reconcile carries %s", meta.ReconcileRequestAnnotation)
	}
	asked := desiredFluxConfig(&agentapi.Configuration{Name: "c", Generation: 3, ReconcileRequestedAt: "2026-11-26T23:00:00Z"}, &props, false)
	if got := asked.Annotations[meta.ReconcileRequestAnnotation]; got != "2026-11-26T23:00:00Z" {
		t.Errorf("%s = %q, want the data plane's request", meta.ReconcileRequestAnnotation, got)
	}
	askedAgain := desiredFluxConfig(&agentapi.Configuration{Name: "c", Generation: 3, ReconcileRequestedAt: "2026-11-26T23:05:00Z"}, &props, false)
	older := desiredFluxConfig(&agentapi.Configuration{Name: "c", Generation: 2}, &props, false)
	cases := []struct {
		name          string
		current, want *v1alpha1.FluxConfig
		upToDate      bool
	}{
		{"nothing in the cluster", nil, plain, false},
		{"same generation and reference", plain, plain, true},
		{"same generation, with a Secret", withSecret, withSecret, true},
		{"older generation", older, plain, false},
		{"the Secret appeared", plain, withSecret, false},
		{"the Secret went", withSecret, plain, false},
		{"asked to reconcile", plain, asked, false},
		{"asked again", asked, askedAgain, false},
		{"the same request", asked, asked, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := upToDate(tc.current, tc.want); got != tc.upToDate {
				t.Errorf("upToDate = %v, want %v", got, tc.upToDate)
			}
		})
	}
}

func TestNamespaceRefusal(t *testing.T) {
	props := func(ns string, scope v1alpha1.ScopeType) *agentapi.Properties {
		return &agentapi.Properties{Namespace: ns, FluxConfigSpec: v1alpha1.FluxConfigSpec{Scope: scope}}
	}
	cases := []struct {
		name    string
		props   *agentapi.Properties
		allowed []string
		want    string // in the refusal; "" when allowed
	}{
		{"cluster scope in a listed namespace", props("flux-system", v1alpha1.ScopeCluster), []string{"flux-system"}, ""},
		{"cluster scope by default (empty scope) elsewhere", props("team-a", ""), []string{"flux-system"}, "only in the namespaces flux-system"},
		{"cluster scope in an unlisted namespace", props("team-a", v1alpha1.ScopeCluster), []string{"flux-system", "platform"}, "flux-system, platform of this cluster"},
		{"cluster scope anywhere with *", props("team-a", v1alpha1.ScopeCluster), []string{AnyNamespace}, ""},
		{"namespace scope anywhere", props("team-a", v1alpha1.ScopeNamespace), []string{"flux-system"}, ""},
		{"kube-system, even namespace scope", props("kube-system", v1alpha1.ScopeNamespace), []string{AnyNamespace}, "belongs to Kubernetes itself"},
		{"kube-public", props("kube-public", v1alpha1.ScopeCluster), []string{"kube-public"}, "belongs to Kubernetes itself"},
		{"kube-anything", props("kube-addons", v1alpha1.ScopeCluster), []string{AnyNamespace}, "belongs to Kubernetes itself"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := namespaceRefusal(tc.props, tc.allowed)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("refusal = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWithFinalizer(t *testing.T) {
	deleting := metav1.Now()
	fc := func(deletion *metav1.Time, finalizers ...string) *v1alpha1.FluxConfig {
		return &v1alpha1.FluxConfig{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: deletion, Finalizers: finalizers}}
	}
	cases := []struct {
		name    string
		current *v1alpha1.FluxConfig
		want    []string
	}{
		{"a new FluxConfig carries it from its creation", nil, []string{v1alpha1.FluxConfigFinalizer}},
		{"an existing one keeps it", fc(nil, v1alpha1.FluxConfigFinalizer), []string{v1alpha1.FluxConfigFinalizer}},
		{"one the controller patched before keeps it", fc(nil), []string{v1alpha1.FluxConfigFinalizer}},
		{"one being deleted keeps it until the controller is done", fc(&deleting, v1alpha1.FluxConfigFinalizer, "other"), []string{v1alpha1.FluxConfigFinalizer}},
		{"once the controller removed it, it is not added back", fc(&deleting, "other"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := &v1alpha1.FluxConfig{}
			withFinalizer(tc.current, want)
			if !slices.Equal(want.Finalizers, tc.want) {
				t.Errorf("finalizers = %v, want %v", want.Finalizers, tc.want)
			}
		})
	}
}
