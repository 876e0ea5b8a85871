package validation

import (
	"fmt"
	"strings"
	"testing"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/validation/validationtest"
)

// TestEveryLimitOfTheSchema: values the CRD refuses for their length or
// count, which the hand-written rules do not spell out, are refused here too
// (the security review found the data plane accepting each of these, and
// the agent then stuck on a configuration the cluster refused).
func TestEveryLimitOfTheSchema(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	many := func(n int) map[string]string {
		m := map[string]string{}
		for i := 0; i < n; i++ {
			m[fmt.Sprintf("k%d", i)] = "v"
		}
		return m
	}
	oci := func(fc *v1alpha1.FluxConfig) *v1alpha1.OCIRepositoryDefinition {
		fc.Spec.SourceKind, fc.Spec.GitRepository = v1alpha1.SourceKindOCIRepository, nil
		fc.Spec.OCIRepository = &v1alpha1.OCIRepositoryDefinition{URL: "oci://ghcr.io/org/manifests"}
		return fc.Spec.OCIRepository
	}
	cases := []struct {
		name   string
		mutate func(fc *v1alpha1.FluxConfig)
		want   string
	}{
		{"httpsUser", func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository.HTTPSUser = long(257) }, "spec.gitRepository.httpsUser: Too long"},
		{"branch", func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository.RepositoryRef.Branch = long(256) }, "spec.gitRepository.repositoryRef.branch: Too long"},
		{"localAuthRef", func(fc *v1alpha1.FluxConfig) { fc.Spec.GitRepository.LocalAuthRef = long(254) }, "spec.gitRepository.localAuthRef: Too long"},
		{"serviceAccountName", func(fc *v1alpha1.FluxConfig) { oci(fc).ServiceAccountName = long(254) }, "spec.ociRepository.serviceAccountName: Too long"},
		{"verificationConfig entries", func(fc *v1alpha1.FluxConfig) {
			oci(fc).Verify = &v1alpha1.VerifyDefinition{Provider: "cosign", VerificationConfig: many(33)}
		}, "spec.ociRepository.verify.verificationConfig: Too many"},
		{"substitute entries", func(fc *v1alpha1.FluxConfig) {
			fc.Spec.Kustomizations["apps"] = v1alpha1.KustomizationDefinition{Path: "./apps", DependsOn: []string{"infra"},
				PostBuild: &v1alpha1.PostBuildDefinition{Substitute: many(257)}}
		}, "spec.kustomizations.apps.postBuild.substitute: Too many"},
		{"substituteFrom entries", func(fc *v1alpha1.FluxConfig) {
			from := make([]v1alpha1.SubstituteFromDefinition, 33)
			for i := range from {
				from[i] = v1alpha1.SubstituteFromDefinition{Kind: "ConfigMap", Name: fmt.Sprintf("c%d", i)}
			}
			fc.Spec.Kustomizations["apps"] = v1alpha1.KustomizationDefinition{Path: "./apps", DependsOn: []string{"infra"},
				PostBuild: &v1alpha1.PostBuildDefinition{SubstituteFrom: from}}
		}, "spec.kustomizations.apps.postBuild.substituteFrom: Too many"},
		{"path", func(fc *v1alpha1.FluxConfig) {
			fc.Spec.Kustomizations["infra"] = v1alpha1.KustomizationDefinition{Path: long(1025)}
		}, "kustomizations.infra.path: Too long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fc := validationtest.Valid("ns", "config")
			tc.mutate(fc)
			err := Validate(fc.Name, &fc.Spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
	// The valid configuration of the shared table passes the whole schema.
	fc := validationtest.Valid("ns", "config")
	if err := Validate(fc.Name, &fc.Spec); err != nil {
		t.Errorf("a valid configuration: %v", err)
	}
}
