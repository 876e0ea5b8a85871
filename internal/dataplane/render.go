package dataplane

import (
	"strings"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// armShape fills in what ARM's GET of a fluxConfiguration shows although
// the stored desired state omits it (false, empty and absent values): the
// booleans at their defaults, path and dependsOn empty, and the source
// kinds not in use as null, as Azure answers.
func armShape(props map[string]any) {
	setDefault(props, "suspend", false)
	for _, kind := range []string{"gitRepository", "bucket", "azureBlob", "ociRepository"} {
		setDefault(props, kind, nil)
	}
	if b, ok := props["bucket"].(map[string]any); ok {
		setDefault(b, "insecure", false)
	}
	if o, ok := props["ociRepository"].(map[string]any); ok {
		setDefault(o, "insecure", false)
		setDefault(o, "useWorkloadIdentity", false)
	}
	ks, _ := props["kustomizations"].(map[string]any)
	for _, k := range ks {
		km, ok := k.(map[string]any)
		if !ok {
			continue
		}
		setDefault(km, "path", "")
		setDefault(km, "dependsOn", []any{})
		setDefault(km, "prune", false)
		setDefault(km, "force", false)
	}
}

func setDefault(m map[string]any, key string, v any) {
	if _, ok := m[key]; !ok {
		m[key] = v
	}
}

// canonicalEnums spells the enum values of a spec as the CRD does: ARM's
// enums are case-insensitive strings (modelAsString), so that "azure",
// "Cluster" and "gitrepository" are accepted there, while the cluster's
// schema takes one spelling.
func canonicalEnums(spec *v1alpha1.FluxConfigSpec) {
	spec.Scope = v1alpha1.ScopeType(canon(string(spec.Scope), string(v1alpha1.ScopeCluster), string(v1alpha1.ScopeNamespace)))
	spec.SourceKind = v1alpha1.SourceKindType(canon(string(spec.SourceKind), string(v1alpha1.SourceKindGitRepository),
		string(v1alpha1.SourceKindBucket), string(v1alpha1.SourceKindAzureBlob), string(v1alpha1.SourceKindOCIRepository)))
	if g := spec.GitRepository; g != nil {
		g.Provider = canon(g.Provider, "Azure", "GitHub", "Generic")
	}
	if o := spec.OCIRepository; o != nil {
		if o.LayerSelector != nil {
			o.LayerSelector.Operation = canon(o.LayerSelector.Operation, "extract", "copy")
		}
		if o.Verify != nil {
			o.Verify.Provider = canon(o.Verify.Provider, "cosign", "notation")
		}
	}
	for name, k := range spec.Kustomizations {
		if k.PostBuild == nil {
			continue
		}
		for i := range k.PostBuild.SubstituteFrom {
			k.PostBuild.SubstituteFrom[i].Kind = canon(k.PostBuild.SubstituteFrom[i].Kind, "ConfigMap", "Secret")
		}
		spec.Kustomizations[name] = k
	}
}

// canon is the value of allowed that v equals but for case, else v.
func canon(v string, allowed ...string) string {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	return v
}
