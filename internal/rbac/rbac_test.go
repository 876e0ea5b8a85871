package rbac

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

func TestServiceAccountAndRoleBinding(t *testing.T) {
	sa := ServiceAccount("team-a")
	if sa.Name != "flux-applier" || sa.Namespace != "team-a" {
		t.Errorf("ServiceAccount = %s/%s", sa.Namespace, sa.Name)
	}
	if sa.Labels[v1alpha1.LabelIsManaged] != "true" || sa.Labels[v1alpha1.LabelNamespace] != "team-a" {
		t.Errorf("labels = %v", sa.Labels)
	}
	if _, ok := sa.Labels[v1alpha1.LabelName]; ok {
		t.Errorf("a shared object must not carry a configuration name: %v", sa.Labels)
	}

	rb := RoleBinding("team-a")
	if rb.Name != "flux-applier-binding" || rb.Namespace != "team-a" {
		t.Errorf("RoleBinding = %s/%s", rb.Namespace, rb.Name)
	}
	if rb.RoleRef.Kind != "ClusterRole" || rb.RoleRef.Name != "admin" {
		t.Errorf("roleRef = %+v, want ClusterRole admin", rb.RoleRef)
	}
	if len(rb.Subjects) != 1 || rb.Subjects[0].Name != "flux-applier" || rb.Subjects[0].Namespace != "team-a" {
		t.Errorf("subjects = %+v", rb.Subjects)
	}
}

func TestClusterRoleBinding(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"none", nil, nil},
		{"one", []string{"flux-system"}, []string{"flux-system"}},
		{"sorted and unique", []string{"b", "a", "b"}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crb := ClusterRoleBinding(tt.in)
			if tt.want == nil {
				if crb != nil {
					t.Fatalf("want no binding, got %+v", crb)
				}
				return
			}
			if crb.Name != "flux-applier-binding" || crb.RoleRef.Name != "cluster-admin" || crb.RoleRef.Kind != "ClusterRole" {
				t.Errorf("binding = %s -> %+v", crb.Name, crb.RoleRef)
			}
			var got []string
			for _, s := range crb.Subjects {
				if s.Kind != "ServiceAccount" || s.Name != "flux-applier" {
					t.Errorf("subject %+v", s)
				}
				got = append(got, s.Namespace)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("subject namespaces = %v, want %v", got, tt.want)
			}
		})
	}
}

func fc(ns, name string, scope v1alpha1.ScopeType, created time.Time, deleting bool) v1alpha1.FluxConfig {
	c := v1alpha1.FluxConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(created)}}
	c.Spec.Scope = scope
	if deleting {
		now := metav1.Now()
		c.DeletionTimestamp = &now
	}
	return c
}

func TestClusterScopeNamespaces(t *testing.T) {
	t0 := time.Now()
	configs := []v1alpha1.FluxConfig{
		fc("b", "x", v1alpha1.ScopeCluster, t0, false),
		fc("a", "y", v1alpha1.ScopeCluster, t0, false),
		fc("a", "z", v1alpha1.ScopeCluster, t0, false),
		fc("c", "n", v1alpha1.ScopeNamespace, t0, false),
		fc("d", "gone", v1alpha1.ScopeCluster, t0, true),
		// e: the older namespace-scope configuration decides; the later
		// cluster-scope one is refused and must not escalate e's applier.
		fc("e", "first", v1alpha1.ScopeNamespace, t0, false),
		fc("e", "later", v1alpha1.ScopeCluster, t0.Add(time.Second), false),
	}
	if got := strings.Join(ClusterScopeNamespaces(configs), ","); got != "a,b" {
		t.Errorf("got %s, want a,b", got)
	}
	// A configuration being deleted keeps its namespace bound while the
	// operator's finalizer is on it (its Kustomizations may be pruning).
	finalizing := fc("f", "pruning", v1alpha1.ScopeCluster, t0, true)
	finalizing.Finalizers = []string{v1alpha1.FluxConfigFinalizer}
	if got := strings.Join(ClusterScopeNamespaces(append(configs, finalizing)), ","); got != "a,b,f" {
		t.Errorf("got %s, want a,b,f", got)
	}
	scopes := NamespaceScopes(configs)
	if scopes["e"] != v1alpha1.ScopeNamespace || scopes["c"] != v1alpha1.ScopeNamespace || scopes["a"] != v1alpha1.ScopeCluster {
		t.Errorf("NamespaceScopes = %v", scopes)
	}
	if _, ok := scopes["d"]; ok {
		t.Errorf("a deleted configuration's namespace has no scope: %v", scopes)
	}
}

func TestScopeConflict(t *testing.T) {
	t0 := time.Now()
	t1 := t0.Add(time.Minute)
	tests := []struct {
		name    string
		self    v1alpha1.FluxConfig
		others  []v1alpha1.FluxConfig
		wantErr string
	}{
		{
			name: "alone",
			self: fc("a", "self", v1alpha1.ScopeNamespace, t1, false),
		},
		{
			name:   "same scope",
			self:   fc("a", "self", v1alpha1.ScopeNamespace, t1, false),
			others: []v1alpha1.FluxConfig{fc("a", "other", v1alpha1.ScopeNamespace, t0, false)},
		},
		{
			name:    "namespace scope after a cluster scope",
			self:    fc("a", "self", v1alpha1.ScopeNamespace, t1, false),
			others:  []v1alpha1.FluxConfig{fc("a", "other", v1alpha1.ScopeCluster, t0, false)},
			wantErr: "namespace a already holds cluster-scope configuration other",
		},
		{
			name:    "cluster scope after a namespace scope",
			self:    fc("a", "self", v1alpha1.ScopeCluster, t1, false),
			others:  []v1alpha1.FluxConfig{fc("a", "other", v1alpha1.ScopeNamespace, t0, false)},
			wantErr: "put this cluster-scope configuration in another namespace",
		},
		{
			name:   "the older one keeps running",
			self:   fc("a", "self", v1alpha1.ScopeCluster, t0, false),
			others: []v1alpha1.FluxConfig{fc("a", "other", v1alpha1.ScopeNamespace, t1, false)},
		},
		{
			name:    "same creation time: name decides",
			self:    fc("a", "b-self", v1alpha1.ScopeCluster, t0, false),
			others:  []v1alpha1.FluxConfig{fc("a", "a-other", v1alpha1.ScopeNamespace, t0, false)},
			wantErr: "already holds namespace-scope configuration a-other",
		},
		{
			name:   "other namespace",
			self:   fc("a", "self", v1alpha1.ScopeNamespace, t1, false),
			others: []v1alpha1.FluxConfig{fc("b", "other", v1alpha1.ScopeCluster, t0, false)},
		},
		{
			name:   "older one is being deleted",
			self:   fc("a", "self", v1alpha1.ScopeNamespace, t1, false),
			others: []v1alpha1.FluxConfig{fc("a", "other", v1alpha1.ScopeCluster, t0, true)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ScopeConflict(&tt.self, append(tt.others, tt.self))
			if tt.wantErr == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestScopeAndOtherScope(t *testing.T) {
	t0 := time.Now()
	for _, tc := range []struct {
		scope       v1alpha1.ScopeType
		want, other v1alpha1.ScopeType
	}{
		{"", v1alpha1.ScopeCluster, v1alpha1.ScopeNamespace}, // defaulted as the CRD defaults it
		{v1alpha1.ScopeCluster, v1alpha1.ScopeCluster, v1alpha1.ScopeNamespace},
		{v1alpha1.ScopeNamespace, v1alpha1.ScopeNamespace, v1alpha1.ScopeCluster},
	} {
		c := fc("c", "n", tc.scope, t0, false)
		if got := Scope(&c); got != tc.want {
			t.Errorf("Scope(%q) = %q, want %q", tc.scope, got, tc.want)
		}
		if got := OtherScope(&c); got != tc.other {
			t.Errorf("OtherScope(%q) = %q, want %q", tc.scope, got, tc.other)
		}
	}
}
