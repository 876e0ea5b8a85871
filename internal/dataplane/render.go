package dataplane

// armShape fills in what ARM's GET of a fluxConfiguration shows although
// the stored desired state omits it (false, empty and absent values): the
// booleans at their defaults, dependsOn as an empty list, and the source
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
