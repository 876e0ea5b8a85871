package dataplane

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

func TestNextConfig(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := created.Add(time.Hour)
	props := func(scope v1alpha1.ScopeType, ns string) *agentapi.Properties {
		return &agentapi.Properties{Namespace: ns, FluxConfigSpec: v1alpha1.FluxConfigSpec{Scope: scope}}
	}
	stored := func(p *agentapi.Properties, deleting bool) *store.Config {
		raw, _ := json.Marshal(p)
		return &store.Config{ClusterID: "c", Name: "n", Properties: raw, Generation: 4, Deleting: deleting,
			Protected: &store.Protected{Version: 3}, Status: &store.Status{ReportedAt: created},
			History: []store.ComplianceChange{{At: created, State: "Compliant"}}, ReconcileRequestedAt: "2026-01-01T00:30:00Z",
			SystemData: store.SystemData{CreatedAt: created, CreatedBy: "creator", CreatedByType: "Application", LastModifiedAt: created}}
	}
	cases := []struct {
		name       string
		old        *store.Config
		next       *agentapi.Properties
		wantGen    int64
		wantStatus int    // of the refusal; 0 when accepted
		wantField  string // in the refusal's message
		wantMoved  bool
	}{
		{name: "new", old: nil, next: props("cluster", "ns"), wantGen: 1},
		{name: "update keeps generation history", old: stored(props("cluster", "ns"), false), next: props("cluster", "ns"), wantGen: 5},
		{name: "scope is immutable", old: stored(props("cluster", "ns"), false), next: props("namespace", "ns"),
			wantStatus: http.StatusBadRequest, wantField: "properties.scope"},
		{name: "namespace is immutable", old: stored(props("cluster", "ns"), false), next: props("cluster", "other"),
			wantStatus: http.StatusBadRequest, wantField: "properties.namespace"},
		{name: "being deleted", old: stored(props("cluster", "ns"), true), next: props("cluster", "ns"),
			wantStatus: http.StatusConflict, wantField: "forceDelete"},
		{name: "another repository on the same host", old: stored(gitAt(props("cluster", "ns"), "https://github.com/o/a"), false),
			next: gitAt(props("cluster", "ns"), "https://github.com/o/b"), wantGen: 5},
		{name: "the source moves to another host", old: stored(gitAt(props("cluster", "ns"), "https://github.com/o/a"), false),
			next: gitAt(props("cluster", "ns"), "https://evil.example/o/a"), wantGen: 5, wantMoved: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, moved, err := nextConfig(tc.old, "c", "n", tc.next, now, "editor")
			if tc.wantStatus != 0 {
				var ae errAPI
				if !errors.As(err, &ae) || ae.e.status != tc.wantStatus || !strings.Contains(ae.e.message, tc.wantField) {
					t.Fatalf("nextConfig error = %v, want a %d naming %s", err, tc.wantStatus, tc.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if moved != tc.wantMoved {
				t.Errorf("source moved = %v, want %v", moved, tc.wantMoved)
			}
			if cfg.Generation != tc.wantGen {
				t.Errorf("generation = %d, want %d", cfg.Generation, tc.wantGen)
			}
			var got agentapi.Properties
			if err := json.Unmarshal(cfg.Properties, &got); err != nil || got.Namespace != tc.next.Namespace || got.Scope != tc.next.Scope {
				t.Errorf("properties = %s, want the new desired state", cfg.Properties)
			}
			if sd := cfg.SystemData; sd.LastModifiedAt != now || sd.LastModifiedBy != "editor" || sd.LastModifiedByType != "Application" {
				t.Errorf("lastModified = %v by %s (%s), want now by the editor application", sd.LastModifiedAt, sd.LastModifiedBy, sd.LastModifiedByType)
			}
			if tc.old == nil {
				if cfg.SystemData.CreatedAt != now || cfg.SystemData.CreatedBy != "editor" || cfg.Protected != nil || cfg.Status != nil || cfg.History != nil {
					t.Errorf("a new configuration carries old data: %+v", cfg)
				}
				return
			}
			if cfg.SystemData.CreatedAt != created || cfg.SystemData.CreatedBy != "creator" || cfg.Protected != tc.old.Protected || cfg.Status != tc.old.Status ||
				len(cfg.History) != 1 || cfg.ReconcileRequestedAt != tc.old.ReconcileRequestedAt {
				t.Errorf("an update lost its creation time, protected settings, status, history or reconcile request: %+v", cfg)
			}
		})
	}
}

// gitAt gives p a Git source at url.
func gitAt(p *agentapi.Properties, url string) *agentapi.Properties {
	p.SourceKind = v1alpha1.SourceKindGitRepository
	p.GitRepository = &v1alpha1.GitRepositoryDefinition{URL: url}
	return p
}

func TestSourceEndpoint(t *testing.T) {
	git := func(url string) *v1alpha1.FluxConfigSpec {
		return &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindGitRepository, GitRepository: &v1alpha1.GitRepositoryDefinition{URL: url}}
	}
	bucket := func(url string) *v1alpha1.FluxConfigSpec {
		return &v1alpha1.FluxConfigSpec{SourceKind: v1alpha1.SourceKindBucket, Bucket: &v1alpha1.BucketDefinition{URL: url}}
	}
	cases := []struct {
		name string
		a, b *v1alpha1.FluxConfigSpec
		same bool
	}{
		{"another repository on the same host", git("https://github.com/org/a"), git("https://github.com/org/b"), true},
		{"host case", git("https://GitHub.com/org/a"), git("https://github.com/org/a"), true},
		{"scp form and ssh:// of one host", git("git@github.com:org/a"), git("ssh://git@github.com/org/a"), true},
		{"another host", git("https://github.com/org/a"), git("https://evil.example/org/a"), false},
		{"https to http", git("https://github.com/org/a"), git("http://github.com/org/a"), false},
		{"another port", git("https://git.example.com/a"), git("https://git.example.com:8443/a"), false},
		{"bare bucket host and its https URL", bucket("s3.amazonaws.com"), bucket("https://s3.amazonaws.com"), true},
		{"another bucket endpoint", bucket("https://s3.amazonaws.com"), bucket("https://minio.example.com"), false},
		{"another source kind", git("https://s3.amazonaws.com/x"), bucket("https://s3.amazonaws.com"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := sourceEndpoint(tc.a) == sourceEndpoint(tc.b); got != tc.same {
				t.Errorf("%q vs %q: same endpoint = %v, want %v", sourceEndpoint(tc.a), sourceEndpoint(tc.b), got, tc.same)
			}
		})
	}
}
