package dataplane

import (
	"encoding/json"
	"net/http"
	"slices"
)

// oldShapeVersions are the fluxConfigurations api-versions before
// 2022-07-01, whose kustomizations name their dependencies as objects
// ({"kustomizationName": "x"}) and may carry validation (none, client or
// server), and whose answers say lastSourceUpdatedCommitId and
// lastSourceUpdatedAt for what later versions call sourceSyncedCommitId and
// sourceUpdatedAt.
var oldShapeVersions = []string{"2021-11-01-preview", "2022-01-01-preview", "2022-03-01"}

func oldShape(r *http.Request) bool {
	return slices.Contains(oldShapeVersions, r.URL.Query().Get("api-version"))
}

// fromOldShape turns the properties of an old api-version's body into the
// current shape: dependsOn objects become names, and validation (which
// Flux's Kustomization no longer has) is dropped once checked. Other
// versions' bodies are returned as they are.
func fromOldShape(r *http.Request, raw json.RawMessage) (json.RawMessage, *apiError) {
	if !oldShape(r) {
		return raw, nil
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(raw, &props); err != nil || props == nil {
		return raw, nil // decodeStrict says what is wrong
	}
	var ks map[string]map[string]json.RawMessage
	if err := json.Unmarshal(props["kustomizations"], &ks); err != nil || ks == nil {
		return raw, nil
	}
	for name, k := range ks {
		if k == nil {
			continue // a merge patch's null removes it
		}
		if v, ok := k["validation"]; ok {
			var s *string
			if err := json.Unmarshal(v, &s); err != nil || (s != nil && *s != "none" && *s != "client" && *s != "server") {
				return nil, invalidParameter("properties.kustomizations."+name+".validation", "must be none, client or server")
			}
			delete(k, "validation")
		}
		if v, ok := k["dependsOn"]; ok {
			var objs []struct {
				KustomizationName string `json:"kustomizationName"`
			}
			if json.Unmarshal(v, &objs) == nil {
				names := make([]string, 0, len(objs))
				for _, o := range objs {
					names = append(names, o.KustomizationName)
				}
				k["dependsOn"], _ = json.Marshal(names)
			}
		}
	}
	props["kustomizations"], _ = json.Marshal(ks)
	out, err := json.Marshal(props)
	if err != nil {
		return nil, invalidContent(err.Error())
	}
	return out, nil
}

// toOldShape answers an old api-version in its own shape.
func toOldShape(r *http.Request, out map[string]any) {
	if !oldShape(r) {
		return
	}
	props, _ := out["properties"].(map[string]any)
	if props == nil {
		return
	}
	for from, to := range map[string]string{"sourceSyncedCommitId": "lastSourceUpdatedCommitId", "sourceUpdatedAt": "lastSourceUpdatedAt"} {
		if v, ok := props[from]; ok {
			props[to] = v
			delete(props, from)
		}
	}
	ks, _ := props["kustomizations"].(map[string]any)
	for _, k := range ks {
		km, _ := k.(map[string]any)
		deps, _ := km["dependsOn"].([]any)
		objs := make([]any, 0, len(deps))
		for _, d := range deps {
			objs = append(objs, map[string]any{"kustomizationName": d})
		}
		if km != nil {
			km["dependsOn"] = objs
		}
	}
}
