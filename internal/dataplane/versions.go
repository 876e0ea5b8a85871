package dataplane

import (
	"encoding/json"
	"net/http"
	"net/url"
)

// versionShape is how an api-version before 2022-07-01 differs from the
// current shape, as the REST spec of that version defines it. Later
// versions only add properties, so they need no entry.
type versionShape struct {
	// syncedCommit and syncedAt are the names this version gives what
	// later versions call sourceSyncedCommitId and sourceUpdatedAt.
	syncedCommit, syncedAt string
	// gitRenames maps gitRepository properties of this version to their
	// current names.
	gitRenames map[string]string
	// sources this version does not have: they are left out of answers.
	unknownSources []string
}

// versionShapes: the three oldest versions name a kustomization's
// dependencies as objects ({"kustomizationName": "x"}) and may carry
// validation (none, client or server), which Flux's Kustomization no longer
// has.
var versionShapes = map[string]versionShape{
	"2021-11-01-preview": {
		syncedCommit: "lastSourceSyncedCommitId", syncedAt: "lastSourceSyncedAt",
		gitRenames:     map[string]string{"httpsCAFile": "httpsCACert"},
		unknownSources: []string{"bucket", "azureBlob", "ociRepository"},
	},
	"2022-01-01-preview": {
		syncedCommit: "lastSourceSyncedCommitId", syncedAt: "lastSourceSyncedAt",
		unknownSources: []string{"azureBlob", "ociRepository"},
	},
	"2022-03-01": {
		syncedCommit: "lastSourceUpdatedCommitId", syncedAt: "lastSourceUpdatedAt",
		unknownSources: []string{"azureBlob", "ociRepository"},
	},
}

func shapeOf(r *http.Request) (versionShape, bool) {
	v, ok := versionShapes[r.URL.Query().Get("api-version")]
	return v, ok
}

// fromOldShapeVersion is fromOldShape for a body of api-version version
// (a template resource's apiVersion).
func fromOldShapeVersion(version string, raw json.RawMessage) (json.RawMessage, *apiError) {
	r := &http.Request{URL: &url.URL{RawQuery: url.Values{"api-version": {version}}.Encode()}}
	return fromOldShape(r, raw)
}

// fromOldShape turns the properties of an old api-version's body into the
// current shape: renamed properties take their current names, dependsOn
// objects become names, and validation is dropped once checked. Other
// versions' bodies are returned as they are.
func fromOldShape(r *http.Request, raw json.RawMessage) (json.RawMessage, *apiError) {
	shape, ok := shapeOf(r)
	if !ok {
		return raw, nil
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(raw, &props); err != nil || props == nil {
		return raw, nil // decodeStrict says what is wrong
	}
	if len(shape.gitRenames) > 0 {
		var git map[string]json.RawMessage
		if json.Unmarshal(props["gitRepository"], &git) == nil && git != nil {
			for from, to := range shape.gitRenames {
				if v, ok := git[from]; ok {
					git[to] = v
					delete(git, from)
				}
			}
			props["gitRepository"], _ = json.Marshal(git)
		}
	}
	var ks map[string]map[string]json.RawMessage
	if err := json.Unmarshal(props["kustomizations"], &ks); err == nil && ks != nil {
		if e := kustomizationsFromOldShape(ks); e != nil {
			return nil, e
		}
		props["kustomizations"], _ = json.Marshal(ks)
	}
	out, err := json.Marshal(props)
	if err != nil {
		return nil, invalidContent(err.Error())
	}
	return out, nil
}

// kustomizationsFromOldShape checks and drops validation and turns
// dependsOn objects into names. Names are taken as they are: some of the
// spec's own examples for these versions send them so.
func kustomizationsFromOldShape(ks map[string]map[string]json.RawMessage) *apiError {
	for name, k := range ks {
		if k == nil {
			continue // a merge patch's null removes it
		}
		if v, ok := k["validation"]; ok {
			var s *string
			if err := json.Unmarshal(v, &s); err != nil || (s != nil && *s != "none" && *s != "client" && *s != "server") {
				return invalidParameter("properties.kustomizations."+name+".validation", "must be none, client or server")
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
	return nil
}

// toOldShape answers an old api-version in its own shape.
func toOldShape(r *http.Request, out map[string]any) {
	shape, ok := shapeOf(r)
	if !ok {
		return
	}
	props, _ := out["properties"].(map[string]any)
	if props == nil {
		return
	}
	for from, to := range map[string]string{"sourceSyncedCommitId": shape.syncedCommit, "sourceUpdatedAt": shape.syncedAt} {
		if v, ok := props[from]; ok {
			props[to] = v
			delete(props, from)
		}
	}
	for _, src := range shape.unknownSources {
		if props[src] == nil {
			delete(props, src)
		}
	}
	if git, _ := props["gitRepository"].(map[string]any); git != nil {
		for old, current := range shape.gitRenames {
			if v, ok := git[current]; ok {
				git[old] = v
				delete(git, current)
			}
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
