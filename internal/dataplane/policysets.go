package dataplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/policy"
)

// Policy set definitions (initiatives): definitions assigned together,
// the set's parameters feeding its members'. An assignment of a set
// evaluates and deploys each member, with a state per member.

const (
	policySetDefinitionType    = "Microsoft.Authorization/policySetDefinitions"
	readPolicySetDefinitions   = "Microsoft.Authorization/policySetDefinitions/read"
	writePolicySetDefinitions  = "Microsoft.Authorization/policySetDefinitions/write"
	deletePolicySetDefinitions = "Microsoft.Authorization/policySetDefinitions/delete"
)

// isSetID: id names a policy set definition.
func isSetID(id string) bool {
	return strings.Contains(strings.ToLower(id), "/providers/microsoft.authorization/policysetdefinitions/")
}

func policySetNotFound(id string) *apiError {
	return &apiError{http.StatusNotFound, "PolicySetDefinitionNotFound", fmt.Sprintf("The policy set definition '%s' could not be found.", id)}
}

// parseSet compiles a set's properties, its members looked up in tx.
func parseSet(tx store.Tx, raw json.RawMessage) (*policy.Set, error) {
	var props policy.SetProperties
	if err := json.Unmarshal(raw, &props); err != nil {
		return nil, err
	}
	return policy.ParseSet(props, func(id string) (*policy.Definition, error) {
		if isSetID(id) {
			return nil, errors.New("a set's members are policy definitions, not sets")
		}
		d, err := policyDefinition(tx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("the policy definition '%s' could not be found", id)
		}
		if err != nil {
			return nil, err
		}
		return compiled(d)
	})
}

// setMembers are the members of set id assigned with params.
func setMembers(tx store.Tx, id string, params map[string]json.RawMessage) ([]policy.Member, error) {
	stored, err := tx.PolicySetDefinition(id)
	if err != nil {
		return nil, fmt.Errorf("policy set definition %s: %w", id, err)
	}
	set, err := parseSet(tx, stored.Properties)
	if err != nil {
		return nil, err
	}
	return set.Resolve(params)
}

func (s *Server) routePolicySet(w http.ResponseWriter, r *http.Request, scope, name, id string) {
	if name == "" {
		setRoute(r, "policysetdefinitions")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: s.guard(readPolicySetDefinitions, scope,
			func(w http.ResponseWriter, _ *http.Request) { s.listPolicySets(w, scope) })})
		return
	}
	setRoute(r, "policysetdefinition")
	s.methods(w, r, map[string]http.HandlerFunc{
		http.MethodPut:    s.guard(writePolicySetDefinitions, scope, func(w http.ResponseWriter, r *http.Request) { s.putPolicySet(w, r, id, name) }),
		http.MethodGet:    s.guard(readPolicySetDefinitions, scope, func(w http.ResponseWriter, _ *http.Request) { s.getPolicySet(w, id) }),
		http.MethodDelete: s.guard(deletePolicySetDefinitions, scope, func(w http.ResponseWriter, _ *http.Request) { s.deletePolicySet(w, id) }),
	})
}

func renderPolicySet(d *store.PolicyDefinition) map[string]any {
	out := renderPolicyDefinition(d)
	out["type"] = policySetDefinitionType
	return out
}

func (s *Server) putPolicySet(w http.ResponseWriter, r *http.Request, id, name string) {
	var body struct {
		ID         string          `json:"id,omitempty"`
		Name       string          `json:"name,omitempty"`
		Type       string          `json:"type,omitempty"`
		Properties json.RawMessage `json:"properties"`
	}
	if e := s.decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	now, by := s.opts.Now().UTC(), callerOf(r).name()
	var out *store.PolicyDefinition
	created := false
	err := s.store.Update(func(tx store.Tx) error {
		set, err := parseSet(tx, body.Properties)
		if err != nil {
			return errAPI{&apiError{http.StatusBadRequest, "InvalidPolicySetDefinition", "The policy set definition is not valid: " + err.Error()}}
		}
		set.Properties.PolicyType = "Custom"
		props, err := json.Marshal(set.Properties) // with the reference IDs given
		if err != nil {
			return err
		}
		old, err := tx.PolicySetDefinition(id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		d := &store.PolicyDefinition{ID: id, Name: name, Properties: props,
			SystemData: store.SystemData{CreatedBy: by, CreatedAt: now, LastModifiedBy: by, LastModifiedAt: now}}
		if old != nil {
			d.ID, d.SystemData.CreatedBy, d.SystemData.CreatedAt = old.ID, old.SystemData.CreatedBy, old.SystemData.CreatedAt
		}
		created, out = old == nil, d
		return tx.PutPolicySetDefinition(d)
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, putStatus(created), renderPolicySet(out))
}

func (s *Server) getPolicySet(w http.ResponseWriter, id string) {
	serveOne(s, w, func(tx store.Tx) (*store.PolicyDefinition, error) { return tx.PolicySetDefinition(id) }, policySetNotFound(id), renderPolicySet)
}

func (s *Server) listPolicySets(w http.ResponseWriter, scope string) {
	serveList(s, w, nil, func(tx store.Tx) ([]store.PolicyDefinition, error) {
		if scope == "/" {
			return nil, nil // no built-in sets are served
		}
		return tx.PolicySetDefinitions(strings.TrimSuffix(scope, "/") + "/providers/")
	}, nil, renderPolicySet)
}

// deletePolicySet deletes a set no assignment uses.
func (s *Server) deletePolicySet(w http.ResponseWriter, id string) {
	err := s.store.Update(func(tx store.Tx) error {
		users, err := assignmentsOf(tx, id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return errAPI{&apiError{http.StatusConflict, "PolicySetDefinitionInUse", fmt.Sprintf(
				"The policy set definition '%s' is assigned (%s): delete the assignments first.", id, strings.Join(users, ", "))}}
		}
		return tx.DeletePolicySetDefinition(id)
	})
	var e errAPI
	switch {
	case errors.As(err, &e):
		writeError(w, e.e)
	case errors.Is(err, store.ErrNotFound):
		w.WriteHeader(http.StatusNoContent)
	case err != nil:
		s.fail(w, err)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// assignmentsOf are the IDs of the assignments of definition or set id,
// sorted.
func assignmentsOf(tx store.Tx, id string) ([]string, error) {
	assignments, err := tx.PolicyAssignments()
	if err != nil {
		return nil, err
	}
	var users []string
	for _, a := range assignments {
		var p assignmentProperties
		_ = json.Unmarshal(a.Properties, &p)
		if strings.EqualFold(p.PolicyDefinitionID, id) {
			users = append(users, a.ID)
		}
	}
	sort.Strings(users)
	return users, nil
}

// setsUsing are the IDs of the sets that have definition id as a member.
func setsUsing(tx store.Tx, id string) ([]string, error) {
	sets, err := tx.PolicySetDefinitions("")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, set := range sets {
		var props policy.SetProperties
		_ = json.Unmarshal(set.Properties, &props)
		for _, m := range props.PolicyDefinitions {
			if strings.EqualFold(m.PolicyDefinitionID, id) {
				out = append(out, set.ID)
				break
			}
		}
	}
	return out, nil
}
