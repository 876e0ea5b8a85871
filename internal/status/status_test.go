package status

import (
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

const sha = "0ba6f0d30760d567de0bac86c8c4eec13ce1a590"

func TestCommitID(t *testing.T) {
	tests := map[string]string{
		"main@sha1:" + sha:   "main/" + sha,
		"v1.2.3@sha1:" + sha: "v1.2.3/" + sha,
		"sha1:" + sha:        sha,
		"sha256:abcdef":      "sha256:abcdef",
		"latest@sha256:abc":  "latest@sha256:abc",
		"":                   "",
	}
	for in, want := range tests {
		if got := CommitID(in); got != want {
			t.Errorf("CommitID(%q) = %q, want %q", in, got, want)
		}
	}
}

func cond(status metav1.ConditionStatus, reason, msg string) []metav1.Condition {
	return []metav1.Condition{{Type: "Ready", Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.Now()}}
}

func repo(gen, observed int64, conds []metav1.Condition, revision string) *sourcev1.GitRepository {
	r := &sourcev1.GitRepository{
		TypeMeta:   metav1.TypeMeta{Kind: "GitRepository", APIVersion: "source.toolkit.fluxcd.io/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "ns", Generation: gen},
	}
	r.Status.ObservedGeneration = observed
	r.Status.Conditions = conds
	if revision != "" {
		r.Status.Artifact = &meta.Artifact{Revision: revision, LastUpdateTime: metav1.NewTime(time.Unix(1700000000, 0))}
	}
	return r
}

func ks(name string, observed int64, suspended bool, conds []metav1.Condition) *kustomizev1.Kustomization {
	k := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Generation: 1}}
	k.Spec.Suspend = suspended
	k.Status.ObservedGeneration = observed
	k.Status.Conditions = conds
	return k
}

// release is a HelmRelease's status as HelmReleaseStatus makes it,
// applied by Kustomization ns/by.
func release(name, by string, state v1alpha1.ComplianceStateType, reason, msg string) v1alpha1.ObjectStatusDefinition {
	return v1alpha1.ObjectStatusDefinition{Name: name, Namespace: "ns", Kind: HelmReleaseKind, ComplianceState: state,
		AppliedBy:        &v1alpha1.ObjectReferenceDefinition{Name: by, Namespace: "ns"},
		StatusConditions: []v1alpha1.ObjectStatusConditionDefinition{{Type: "Ready", Status: "False", Reason: reason, Message: msg}}}
}

func TestSummarize(t *testing.T) {
	readyRepo := repo(1, 1, cond("True", "Succeeded", "stored artifact for revision 'main@sha1:"+sha+"'"), "main@sha1:"+sha)
	healthCheck := cond("False", "HealthCheckFailed", "health check failed after 30s: timeout waiting for: [HelmRelease/ns/hello status: 'InProgress']")
	helmFailed := "Helm upgrade failed for release ns/hello with chart hello@0.1.0: execution error: message is required"
	tests := []struct {
		name         string
		source       *sourcev1.GitRepository
		kss          []*kustomizev1.Kustomization
		hrs          []v1alpha1.ObjectStatusDefinition
		want         v1alpha1.ComplianceStateType
		wantNotReady string
		wantMessage  string
	}{
		{
			name:   "all ready",
			source: readyRepo,
			kss:    []*kustomizev1.Kustomization{ks("cfg-a", 1, false, cond("True", "ReconciliationSucceeded", "Applied"))},
			want:   v1alpha1.ComplianceCompliant,
		},
		{
			name:         "source missing",
			want:         v1alpha1.ComplianceUnknown,
			wantNotReady: "",
		},
		{
			name:         "kustomization failing",
			source:       readyRepo,
			kss:          []*kustomizev1.Kustomization{ks("cfg-a", 1, false, cond("False", "BuildFailed", "kustomize build failed: bad.yaml"))},
			want:         v1alpha1.ComplianceNonCompliant,
			wantNotReady: "cfg-a",
			wantMessage:  "Kustomization ns/cfg-a: kustomize build failed: bad.yaml",
		},
		{
			name:   "the failing object explains, not an earlier pending one",
			source: readyRepo,
			kss: []*kustomizev1.Kustomization{
				ks("cfg-a", 1, false, cond("Unknown", "Progressing", "reconciliation in progress")),
				ks("cfg-b", 1, false, cond("False", "ReconciliationFailed", "namespaces is forbidden")),
			},
			want:         v1alpha1.ComplianceNonCompliant,
			wantNotReady: "cfg-b",
			wantMessage:  "Kustomization ns/cfg-b: namespaces is forbidden",
		},
		{
			name:         "a health check that failed on a HelmRelease: Helm's message explains",
			source:       readyRepo,
			kss:          []*kustomizev1.Kustomization{ks("cfg-a", 1, false, healthCheck)},
			hrs:          []v1alpha1.ObjectStatusDefinition{release("hello", "cfg-a", v1alpha1.ComplianceNonCompliant, "UpgradeFailed", helmFailed)},
			want:         v1alpha1.ComplianceNonCompliant,
			wantNotReady: "hello",
			wantMessage:  "HelmRelease ns/hello: " + helmFailed,
		},
		{
			name:         "a HelmRelease another Kustomization applied does not explain",
			source:       readyRepo,
			kss:          []*kustomizev1.Kustomization{ks("cfg-a", 1, false, healthCheck)},
			hrs:          []v1alpha1.ObjectStatusDefinition{release("hello", "cfg-b", v1alpha1.ComplianceNonCompliant, "UpgradeFailed", helmFailed)},
			want:         v1alpha1.ComplianceNonCompliant,
			wantNotReady: "cfg-a",
			wantMessage:  "Kustomization ns/cfg-a: " + healthCheck[0].Message,
		},
		{
			name:         "a Kustomization failing for itself explains, whatever its HelmReleases",
			source:       readyRepo,
			kss:          []*kustomizev1.Kustomization{ks("cfg-a", 1, false, cond("False", "BuildFailed", "kustomize build failed: bad.yaml"))},
			hrs:          []v1alpha1.ObjectStatusDefinition{release("hello", "cfg-a", v1alpha1.ComplianceNonCompliant, "UpgradeFailed", helmFailed)},
			want:         v1alpha1.ComplianceNonCompliant,
			wantNotReady: "cfg-a",
			wantMessage:  "Kustomization ns/cfg-a: kustomize build failed: bad.yaml",
		},
		{
			name:         "new kustomization not reconciled yet",
			source:       readyRepo,
			kss:          []*kustomizev1.Kustomization{ks("cfg-a", 0, false, nil)},
			want:         v1alpha1.ComplianceUnknown,
			wantNotReady: "cfg-a",
			wantMessage:  "Kustomization ns/cfg-a has not been reconciled by Flux yet",
		},
		{
			name:         "source progressing",
			source:       repo(2, 1, cond("Unknown", "Progressing", "cloning"), ""),
			want:         v1alpha1.CompliancePending,
			wantNotReady: "cfg",
			wantMessage:  "waiting for GitRepository ns/cfg: cloning",
		},
		{
			name:         "suspended",
			source:       readyRepo,
			kss:          []*kustomizev1.Kustomization{ks("cfg-a", 1, true, cond("True", "ReconciliationSucceeded", "Applied"))},
			want:         v1alpha1.ComplianceSuspended,
			wantNotReady: "cfg-a",
			wantMessage:  "Kustomization ns/cfg-a is suspended",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			var src = tt.source
			var s Summary
			if src == nil {
				s = Summarize(nil, tt.kss, tt.hrs...)
			} else {
				s = Summarize(src, tt.kss, tt.hrs...)
			}
			g.Expect(s.ComplianceState).To(Equal(tt.want))
			if tt.wantNotReady == "" {
				if tt.want == v1alpha1.ComplianceCompliant {
					g.Expect(s.NotReady).To(BeNil())
				}
			} else {
				g.Expect(s.NotReady).NotTo(BeNil())
				g.Expect(s.NotReady.Name).To(Equal(tt.wantNotReady))
				g.Expect(Message(s.NotReady)).To(Equal(tt.wantMessage))
			}
			if src != nil && src.Status.Artifact != nil {
				g.Expect(s.SourceSyncedCommitID).To(Equal("main/" + sha))
				g.Expect(s.SourceUpdatedAt.Unix()).To(Equal(int64(1700000000)))
				g.Expect(s.Statuses[0].Kind).To(Equal("GitRepository"))
				g.Expect(s.Statuses[0].StatusConditions[0].Type).To(Equal("Ready"))
			}
			g.Expect(s.Statuses).To(HaveLen(len(tt.kss) + len(tt.hrs) + map[bool]int{true: 1, false: 0}[src != nil]))
		})
	}
}

func TestAppliedFromInventory(t *testing.T) {
	g := NewWithT(t)
	ks := &kustomizev1.Kustomization{}
	g.Expect(Applied(ks)).To(BeEmpty())
	ks.Status.Inventory = &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{
		{ID: "apps_podinfo_helm.toolkit.fluxcd.io_HelmRelease"},
		{ID: "apps_podinfo_apps_Deployment"},
		{ID: "_demo__Namespace"},
		{ID: "apps_podinfo_source.toolkit.fluxcd.io_HelmRepository"},
		{ID: "apps_podinfo_source.toolkit.fluxcd.io_GitRepository"},
		{ID: "monitoring_kube-prometheus-stack_helm.toolkit.fluxcd.io_HelmRelease"},
		{ID: "malformed"},
	}}
	g.Expect(Applied(ks)).To(Equal([]Deployed{
		{Kind: "HelmRelease", NamespacedName: types.NamespacedName{Namespace: "apps", Name: "podinfo"}},
		{Kind: "HelmRepository", NamespacedName: types.NamespacedName{Namespace: "apps", Name: "podinfo"}},
		{Kind: "HelmRelease", NamespacedName: types.NamespacedName{Namespace: "monitoring", Name: "kube-prometheus-stack"}},
	}))
}

// TestDeployedStatus: a HelmRepository or HelmChart read as unstructured
// gets its compliance from its Ready condition for its generation, and is
// attributed to the Kustomization.
func TestDeployedStatus(t *testing.T) {
	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: "flux", Name: "cfg-apps"}}
	obj := func(generation, observed int64, suspend bool, ready string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"metadata": map[string]any{"namespace": "apps", "name": "podinfo", "generation": generation},
			"spec":     map[string]any{"suspend": suspend},
			"status": map[string]any{"observedGeneration": observed, "conditions": []any{
				map[string]any{"type": "Ready", "status": ready, "reason": "r", "message": "m", "lastTransitionTime": "2026-11-27T00:00:00Z"}}},
		}}
		return u
	}
	cases := []struct {
		name string
		obj  *unstructured.Unstructured
		want v1alpha1.ComplianceStateType
	}{
		{"ready", obj(2, 2, false, "True"), v1alpha1.ComplianceCompliant},
		{"failed", obj(2, 2, false, "False"), v1alpha1.ComplianceNonCompliant},
		{"stale generation", obj(3, 2, false, "True"), v1alpha1.CompliancePending},
		{"suspended", obj(2, 2, true, "True"), v1alpha1.ComplianceSuspended},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			st := DeployedStatus(tc.obj, HelmChartKind, ks)
			g.Expect(st.ComplianceState).To(Equal(tc.want))
			g.Expect(st.Kind).To(Equal(HelmChartKind))
			g.Expect(st.AppliedBy).To(Equal(&v1alpha1.ObjectReferenceDefinition{Namespace: "flux", Name: "cfg-apps"}))
			g.Expect(st.HelmReleaseProperties).To(BeNil())
		})
	}
}

func TestRefusal(t *testing.T) {
	hr := func(ns string, spec map[string]any, ready string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
		u.SetNamespace(ns)
		u.SetName("app")
		if ready != "" {
			u.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": ready,
				"reason": "r", "message": "m", "lastTransitionTime": "2026-11-27T00:00:00Z"}}}
		}
		return u
	}
	chartFrom := func(ns string) map[string]any {
		ref := map[string]any{"kind": "GitRepository", "name": "cfg"}
		if ns != "" {
			ref["namespace"] = ns
		}
		return map[string]any{"chart": map[string]any{"spec": map[string]any{"chart": "./c", "sourceRef": ref}}}
	}
	appliers := func(ns string) bool { return ns == "cluster-config" }
	cases := []struct {
		name string
		hr   *unstructured.Unstructured
		want string
	}{
		{"Azure's example: a release in its app's namespace, its chart from flux-system", hr("nginx", chartFrom("flux-system"), ""),
			"HelmRelease nginx/app takes its chart from namespace flux-system, and multi-tenancy refuses references across namespaces: put the HelmRelease in flux-system"},
		{"an OCI chartRef across namespaces", hr("nginx", map[string]any{"chartRef": map[string]any{"kind": "OCIRepository", "name": "c", "namespace": "cluster-config"}}, ""),
			"takes its chart from namespace cluster-config"},
		{"no flux-applier in its namespace", hr("nginx", chartFrom(""), ""), "HelmRelease nginx/app is in namespace nginx, which has no flux-applier ServiceAccount"},
		{"its own ServiceAccount", hr("nginx", func() map[string]any { s := chartFrom(""); s["serviceAccountName"] = "deployer"; return s }(), ""), ""},
		{"Azure's fix: in the configuration's namespace", hr("cluster-config", chartFrom("cluster-config"), ""), ""},
		{"ready releases are never second-guessed", hr("nginx", chartFrom("flux-system"), "True"), ""},
		{"a failed one still is", hr("nginx", chartFrom("flux-system"), "False"), "takes its chart from namespace flux-system"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got := Refusal(tc.hr, appliers)
			if tc.want == "" {
				g.Expect(got).To(BeEmpty())
			} else {
				g.Expect(got).To(ContainSubstring(tc.want))
			}
		})
	}
}

// TestRefuseExplains: a refused HelmRelease (no condition: Unknown) makes
// the configuration Non-Compliant with the refusal as its message, whether
// its Kustomization still waits on it or already failed its health check;
// a worse problem earlier in the configuration keeps explaining.
func TestRefuseExplains(t *testing.T) {
	const why = "HelmRelease nginx/app takes its chart from namespace cfg-ns, ..."
	ks := func(state v1alpha1.ComplianceStateType, reason string) v1alpha1.ObjectStatusDefinition {
		return v1alpha1.ObjectStatusDefinition{Kind: "Kustomization", Namespace: "cfg-ns", Name: "cfg-apps", ComplianceState: state,
			StatusConditions: []v1alpha1.ObjectStatusConditionDefinition{{Type: "Ready", Reason: reason}}}
	}
	src := func(state v1alpha1.ComplianceStateType) v1alpha1.ObjectStatusDefinition {
		return v1alpha1.ObjectStatusDefinition{Kind: "GitRepository", Namespace: "cfg-ns", Name: "cfg", ComplianceState: state,
			StatusConditions: []v1alpha1.ObjectStatusConditionDefinition{{Type: "Ready", Message: "auth failed"}}}
	}
	hr := v1alpha1.ObjectStatusDefinition{Kind: "HelmRelease", Namespace: "nginx", Name: "app", ComplianceState: v1alpha1.ComplianceUnknown,
		AppliedBy: &v1alpha1.ObjectReferenceDefinition{Namespace: "cfg-ns", Name: "cfg-apps"}}
	cases := []struct {
		name     string
		statuses []v1alpha1.ObjectStatusDefinition
		state    v1alpha1.ComplianceStateType
		message  string
	}{
		{"the Kustomization waits on it", []v1alpha1.ObjectStatusDefinition{src(v1alpha1.ComplianceCompliant), ks(v1alpha1.CompliancePending, "Progressing"), hr},
			v1alpha1.ComplianceNonCompliant, why},
		{"the Kustomization's health check failed", []v1alpha1.ObjectStatusDefinition{src(v1alpha1.ComplianceCompliant), ks(v1alpha1.ComplianceNonCompliant, "HealthCheckFailed"), hr},
			v1alpha1.ComplianceNonCompliant, why},
		{"the source fails first", []v1alpha1.ObjectStatusDefinition{src(v1alpha1.ComplianceNonCompliant), ks(v1alpha1.CompliancePending, "Progressing"), hr},
			v1alpha1.ComplianceNonCompliant, "GitRepository cfg-ns/cfg: auth failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			s := Summary{Statuses: append([]v1alpha1.ObjectStatusDefinition(nil), tc.statuses...)}
			s.Refuse(map[string]string{"HelmRelease/nginx/app": why})
			g.Expect(s.ComplianceState).To(Equal(tc.state))
			g.Expect(s.Message()).To(Equal(tc.message))
			g.Expect(s.Statuses[2].ComplianceState).To(Equal(v1alpha1.ComplianceNonCompliant))
		})
	}
	// Nothing refused: nothing changes.
	s := Summary{Statuses: []v1alpha1.ObjectStatusDefinition{src(v1alpha1.ComplianceCompliant)}, ComplianceState: v1alpha1.ComplianceCompliant}
	s.Refuse(nil)
	NewWithT(t).Expect(s.ComplianceState).To(Equal(v1alpha1.ComplianceCompliant))
}
