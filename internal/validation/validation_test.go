package validation

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/validation/validationtest"
)

// TestSharedCases runs the table the CRD is tested with: the data plane
// refuses the same specs with the same messages.
func TestSharedCases(t *testing.T) {
	if len(validationtest.Cases) < 20 {
		t.Fatalf("want at least 20 shared cases, have %d", len(validationtest.Cases))
	}
	for _, tt := range validationtest.Cases {
		t.Run(tt.Name, func(t *testing.T) {
			fc := validationtest.Valid("ns", "config")
			tt.Mutate(fc)
			err := Validate(fc.Name, &fc.Spec)
			if err == nil {
				t.Fatalf("accepted; want %q", tt.Message)
			}
			if !strings.Contains(err.Error(), tt.Message) {
				t.Fatalf("error = %q\nwant it to contain %q", err, tt.Message)
			}
		})
	}
}

func TestValidAndDefaulted(t *testing.T) {
	fc := validationtest.Valid("ns", "config")
	if err := Validate(fc.Name, &fc.Spec); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	Default(&fc.Spec)
	if fc.Spec.Scope != v1alpha1.ScopeCluster || fc.Spec.SourceKind != v1alpha1.SourceKindGitRepository {
		t.Errorf("scope/sourceKind defaults: %q %q", fc.Spec.Scope, fc.Spec.SourceKind)
	}
	if *fc.Spec.GitRepository.SyncIntervalInSeconds != 600 || *fc.Spec.GitRepository.TimeoutInSeconds != 600 {
		t.Errorf("git interval defaults")
	}
	k := fc.Spec.Kustomizations["apps"]
	if *k.SyncIntervalInSeconds != 600 || *k.TimeoutInSeconds != 600 || !*k.Wait {
		t.Errorf("kustomization defaults: %+v", k)
	}
	if err := Validate(fc.Name, &fc.Spec); err != nil {
		t.Fatalf("defaulted config refused: %v", err)
	}
}

func TestAzureCreateExample(t *testing.T) {
	raw, err := os.ReadFile("../../test/fixtures/azure-examples/create-git.json")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Properties v1alpha1.FluxConfigSpec `json:"properties"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	if err := Validate("srs-fluxconfig", &body.Properties); err != nil {
		t.Fatalf("Azure's example refused: %v", err)
	}
}

func TestValidateUpdate(t *testing.T) {
	old := &v1alpha1.FluxConfigSpec{}
	if err := ValidateUpdate(old, &v1alpha1.FluxConfigSpec{Scope: v1alpha1.ScopeCluster}); err != nil {
		t.Errorf("defaulted scope counts as unchanged: %v", err)
	}
	err := ValidateUpdate(old, &v1alpha1.FluxConfigSpec{Scope: v1alpha1.ScopeNamespace})
	if err == nil || !strings.Contains(err.Error(), MsgScopeImmutable) {
		t.Errorf("error = %v", err)
	}
}

func TestMoreRules(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(fc *v1alpha1.FluxConfig)
		want   string
	}{
		{"bad commit", func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository.RepositoryRef.Commit = "xyz" }, "should be a hexadecimal commit SHA"},
		{"retry interval", func(fc *v1alpha1.FluxConfig) {
			fc.Spec.Kustomizations["apps"] = v1alpha1.KustomizationDefinition{RetryIntervalInSeconds: ptr.To[int64](0)}
		}, "retryIntervalInSeconds in body should be greater than or equal to 1"},
		{"unknown provider", func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository.Provider = "Gitea" }, `Unsupported value: "Gitea"`},
		{"substituteFrom kind", func(fc *v1alpha1.FluxConfig) {
			fc.Spec.Kustomizations["apps"] = v1alpha1.KustomizationDefinition{PostBuild: &v1alpha1.PostBuildDefinition{
				SubstituteFrom: []v1alpha1.SubstituteFromDefinition{{Kind: "Pod", Name: "x"}}}}
		}, `Unsupported value: "Pod"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := validationtest.Valid("ns", "config")
			tt.mutate(fc)
			err := Validate(fc.Name, &fc.Spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
