package dataplane

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strings"

	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

// builtinFS holds Azure's built-in Flux v2 policy definitions, unchanged
// (builtin/NOTICE says where from).
//
//go:embed builtin/policyDefinitions/*.json
var builtinFS embed.FS

// builtinDefinitions are the built-in policy definitions by key of their
// ID, /providers/Microsoft.Authorization/policyDefinitions/{guid}.
var builtinDefinitions = mustLoadBuiltins()

func mustLoadBuiltins() map[string]*store.PolicyDefinition {
	out := map[string]*store.PolicyDefinition{}
	err := fs.WalkDir(builtinFS, "builtin/policyDefinitions", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := builtinFS.ReadFile(path)
		if err != nil {
			return err
		}
		var def store.PolicyDefinition
		if err := json.Unmarshal(raw, &def); err != nil || def.ID == "" || def.Name == "" {
			return fmt.Errorf("%s: not a built-in definition: %v", path, err)
		}
		out[store.Key(def.ID)] = &def
		return nil
	})
	if err != nil {
		panic(err) // the embedded files are part of the build
	}
	return out
}

// sortedBuiltins are the built-ins in name order.
func sortedBuiltins() []*store.PolicyDefinition {
	out := make([]*store.PolicyDefinition, 0, len(builtinDefinitions))
	for _, d := range builtinDefinitions {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *store.PolicyDefinition) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// policyDefinition is the definition id names: a built-in one, or one
// stored in a subscription.
func policyDefinition(tx store.Tx, id string) (*store.PolicyDefinition, error) {
	if d, ok := builtinDefinitions[store.Key(id)]; ok {
		return d, nil
	}
	return tx.PolicyDefinition(id)
}

func builtinReadOnly(id string) *apiError {
	return &apiError{http.StatusForbidden, "BuiltInPolicyDefinitionReadOnly", fmt.Sprintf(
		"The policy definition '%s' is built in and cannot be changed or deleted: create your own in a subscription (/subscriptions/{id}/providers/Microsoft.Authorization/policyDefinitions/{name}) from a copy of it.", id)}
}

// routeBuiltinDefinitions serves /providers/Microsoft.Authorization/
// policyDefinitions[/{name}]: any signed-in caller reads them, as in
// Azure; no one writes them.
func (s *Server) routeBuiltinDefinitions(w http.ResponseWriter, r *http.Request, id, name string) {
	if name == "" {
		setRoute(r, "builtin-policydefinitions")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: func(w http.ResponseWriter, _ *http.Request) {
			value := []any{}
			for _, d := range sortedBuiltins() {
				value = append(value, renderPolicyDefinition(d))
			}
			writeJSON(w, http.StatusOK, map[string]any{"value": value})
		}})
		return
	}
	setRoute(r, "builtin-policydefinition")
	readOnly := func(w http.ResponseWriter, _ *http.Request) { writeError(w, builtinReadOnly(id)) }
	s.methods(w, r, map[string]http.HandlerFunc{
		http.MethodGet: func(w http.ResponseWriter, _ *http.Request) {
			d, ok := builtinDefinitions[store.Key(id)]
			if !ok {
				writeError(w, policyDefinitionNotFound(id))
				return
			}
			writeJSON(w, http.StatusOK, renderPolicyDefinition(d))
		},
		http.MethodPut:    readOnly,
		http.MethodDelete: readOnly,
	})
}
