package dataplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/policy"
)

// policyAPIVersions are the Microsoft.Authorization policy api-versions
// served (the az CLI and the Azure SDKs send one of them).
var policyAPIVersions = []string{"2019-09-01", "2020-09-01", "2021-06-01", "2022-06-01", "2023-04-01", "2024-04-01", "2025-01-01"}

// The policy actions.
const (
	readPolicyDefinitions   = "Microsoft.Authorization/policyDefinitions/read"
	writePolicyDefinitions  = "Microsoft.Authorization/policyDefinitions/write"
	deletePolicyDefinitions = "Microsoft.Authorization/policyDefinitions/delete"
	readPolicyAssignments   = "Microsoft.Authorization/policyAssignments/read"
	writePolicyAssignments  = "Microsoft.Authorization/policyAssignments/write"
	deletePolicyAssignments = "Microsoft.Authorization/policyAssignments/delete"
)

const (
	policyDefinitionType = "Microsoft.Authorization/policyDefinitions"
	policyAssignmentType = "Microsoft.Authorization/policyAssignments"
)

var policyNameRE = regexp.MustCompile(`^[^<>*%&:\\?.+/]{1,64}$`)

// routePolicy serves policy definitions and assignments; it reports
// whether segs were one of them.
func (s *Server) routePolicy(w http.ResponseWriter, r *http.Request, scope, kind, name string) {
	if e := checkAPIVersion(r, policyAPIVersions, nil); e != nil {
		writeError(w, e)
		return
	}
	if e := s.checkPolicyScope(scope, kind); e != nil {
		writeError(w, e)
		return
	}
	if name != "" && !policyNameRE.MatchString(name) {
		writeError(w, &apiError{http.StatusBadRequest, "InvalidName", fmt.Sprintf("'%s' is not a valid name: 1-64 characters, none of <>*%%&:\\?.+/", name)})
		return
	}
	id := strings.TrimSuffix(scope, "/") + "/providers/" + map[string]string{"policydefinitions": policyDefinitionType,
		"policyassignments": policyAssignmentType, "policysetdefinitions": policySetDefinitionType}[kind] + "/" + name
	switch {
	case kind == "policysetdefinitions" && scope == "/" && name != "":
		setRoute(r, "builtin-policysetdefinition")
		writeError(w, policySetNotFound(id)) // no built-in sets are served
	case kind == "policysetdefinitions":
		s.routePolicySet(w, r, scope, name, id)
	case kind == "policydefinitions" && scope == "/":
		s.routeBuiltinDefinitions(w, r, id, name)
	case kind == "policydefinitions" && name == "":
		setRoute(r, "policydefinitions")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: s.guard(readPolicyDefinitions, scope,
			func(w http.ResponseWriter, _ *http.Request) { s.listPolicyDefinitions(w, scope) })})
	case kind == "policydefinitions":
		setRoute(r, "policydefinition")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPut:    s.guard(writePolicyDefinitions, scope, func(w http.ResponseWriter, r *http.Request) { s.putPolicyDefinition(w, r, id, name) }),
			http.MethodGet:    s.guard(readPolicyDefinitions, scope, func(w http.ResponseWriter, _ *http.Request) { s.getPolicyDefinition(w, id) }),
			http.MethodDelete: s.guard(deletePolicyDefinitions, scope, func(w http.ResponseWriter, _ *http.Request) { s.deletePolicyDefinition(w, id) }),
		})
	case name == "":
		setRoute(r, "policyassignments")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: s.guard(readPolicyAssignments, scope,
			func(w http.ResponseWriter, _ *http.Request) { s.listPolicyAssignments(w, scope) })})
	default:
		setRoute(r, "policyassignment")
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPut:    s.guard(writePolicyAssignments, scope, func(w http.ResponseWriter, r *http.Request) { s.putPolicyAssignment(w, r, scope, name, id) }),
			http.MethodGet:    s.guard(readPolicyAssignments, scope, func(w http.ResponseWriter, _ *http.Request) { s.getPolicyAssignment(w, id) }),
			http.MethodDelete: s.guard(deletePolicyAssignments, scope, func(w http.ResponseWriter, _ *http.Request) { s.deletePolicyAssignment(w, id) }),
		})
	}
}

// checkPolicyScope: definitions live in a subscription (and, built in, at
// the root); assignments at any scope role assignments take.
func (s *Server) checkPolicyScope(scope, kind string) *apiError {
	if kind == "policydefinitions" || kind == "policysetdefinitions" {
		segs := strings.Split(strings.Trim(scope, "/"), "/")
		if scope != "/" && (len(segs) != 2 || !strings.EqualFold(segs[0], "subscriptions")) {
			return &apiError{http.StatusBadRequest, "InvalidScope", fmt.Sprintf(
				"Policy definitions live in a subscription (/subscriptions/{id}/providers/Microsoft.Authorization/policyDefinitions/{name}), or built in (/providers/...), not at '%s'.", scope)}
		}
	}
	if kind == "policyassignments" && scope == "/" {
		return &apiError{http.StatusBadRequest, "InvalidScope", "Assign a policy at a subscription, a resource group or a resource, not at the root."}
	}
	return s.checkScope(scope)
}

// definitionBody is a policyDefinition as ARM takes it.
type definitionBody struct {
	ID         string                      `json:"id,omitempty"`
	Name       string                      `json:"name,omitempty"`
	Type       string                      `json:"type,omitempty"`
	Properties policy.DefinitionProperties `json:"properties"`
}

func policyDefinitionNotFound(id string) *apiError {
	return &apiError{http.StatusNotFound, "PolicyDefinitionNotFound", fmt.Sprintf("The policy definition '%s' could not be found.", id)}
}

func invalidPolicy(err error) *apiError {
	code := "InvalidPolicyRule"
	if strings.Contains(err.Error(), "properties.parameters") {
		code = "InvalidPolicyParameters"
	}
	return &apiError{http.StatusBadRequest, code, "The policy definition is not valid: " + err.Error()}
}

func (s *Server) putPolicyDefinition(w http.ResponseWriter, r *http.Request, id, name string) {
	var body definitionBody
	if e := s.decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	body.Properties.PolicyType = "Custom"
	if _, err := policy.ParseDefinition(body.Properties); err != nil {
		writeError(w, invalidPolicy(err))
		return
	}
	props, err := json.Marshal(body.Properties)
	if err != nil {
		s.fail(w, err)
		return
	}
	now, by := s.opts.Now().UTC(), callerOf(r).name()
	var out *store.PolicyDefinition
	created := false
	err = s.store.Update(func(tx store.Tx) error {
		old, err := tx.PolicyDefinition(id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		d := &store.PolicyDefinition{ID: id, Name: name, Properties: props,
			SystemData: store.SystemData{CreatedBy: by, CreatedAt: now, LastModifiedBy: by, LastModifiedAt: now}}
		if old != nil {
			d.ID, d.SystemData.CreatedBy, d.SystemData.CreatedAt = old.ID, old.SystemData.CreatedBy, old.SystemData.CreatedAt
		}
		created, out = old == nil, d
		return tx.PutPolicyDefinition(d)
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, putStatus(created), renderPolicyDefinition(out))
}

func renderPolicyDefinition(d *store.PolicyDefinition) map[string]any {
	out := map[string]any{"id": d.ID, "name": d.Name, "type": policyDefinitionType, "properties": d.Properties}
	if d.SystemData.CreatedBy != "" { // built-ins have none
		out["systemData"] = renderSystemData(d.SystemData)
	}
	return out
}

func renderSystemData(sd store.SystemData) map[string]any {
	return map[string]any{"createdBy": sd.CreatedBy, "createdByType": "Application", "createdAt": sd.CreatedAt,
		"lastModifiedBy": sd.LastModifiedBy, "lastModifiedByType": "Application", "lastModifiedAt": sd.LastModifiedAt}
}

func (s *Server) getPolicyDefinition(w http.ResponseWriter, id string) {
	serveOne(s, w, func(tx store.Tx) (*store.PolicyDefinition, error) { return tx.PolicyDefinition(id) }, policyDefinitionNotFound(id), renderPolicyDefinition)
}

func (s *Server) listPolicyDefinitions(w http.ResponseWriter, scope string) {
	builtins := []any{}
	for _, d := range sortedBuiltins() {
		builtins = append(builtins, renderPolicyDefinition(d))
	}
	serveList(s, w, builtins, func(tx store.Tx) ([]store.PolicyDefinition, error) {
		return tx.PolicyDefinitions(strings.TrimSuffix(scope, "/") + "/providers/")
	}, nil, renderPolicyDefinition)
}

func (s *Server) deletePolicyDefinition(w http.ResponseWriter, id string) {
	err := s.store.Update(func(tx store.Tx) error {
		users, err := assignmentsOf(tx, id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return errAPI{&apiError{http.StatusConflict, "PolicyDefinitionInUse", fmt.Sprintf(
				"The policy definition '%s' is assigned (%s): delete the assignments first.", id, strings.Join(users, ", "))}}
		}
		sets, err := setsUsing(tx, id)
		if err != nil {
			return err
		}
		if len(sets) > 0 {
			return errAPI{&apiError{http.StatusConflict, "PolicyDefinitionInUse", fmt.Sprintf(
				"The policy definition '%s' is a member of policy set definitions (%s): remove it from them first.", id, strings.Join(sets, ", "))}}
		}
		compiledDefinitions.Delete(store.Key(id))
		return tx.DeletePolicyDefinition(id)
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

// assignmentProperties are a policyAssignment's properties.
type assignmentProperties struct {
	DisplayName        string                     `json:"displayName,omitempty"`
	Description        string                     `json:"description,omitempty"`
	PolicyDefinitionID string                     `json:"policyDefinitionId"`
	Parameters         map[string]json.RawMessage `json:"parameters,omitempty"`
	NotScopes          []string                   `json:"notScopes,omitempty"`
	EnforcementMode    string                     `json:"enforcementMode,omitempty"`
	Metadata           json.RawMessage            `json:"metadata,omitempty"`
	Scope              string                     `json:"scope,omitempty"`
	NonComplianceMsgs  json.RawMessage            `json:"nonComplianceMessages,omitempty"`
	DefinitionVersion  string                     `json:"definitionVersion,omitempty"`
}

type assignmentBody struct {
	ID         string               `json:"id,omitempty"`
	Name       string               `json:"name,omitempty"`
	Type       string               `json:"type,omitempty"`
	Location   string               `json:"location,omitempty"`
	Identity   *store.Identity      `json:"identity,omitempty"`
	Properties assignmentProperties `json:"properties"`
}

func policyAssignmentNotFound(id string) *apiError {
	return &apiError{http.StatusNotFound, "PolicyAssignmentNotFound", fmt.Sprintf("The policy assignment '%s' is not found.", id)}
}

// checkAssignment checks an assignment against its definition: the
// definition exists, the parameters resolve, the enforcement mode is one
// ARM knows, and a deployIfNotExists assignment has an identity.
func (s *Server) checkAssignment(tx store.Tx, name string, body *assignmentBody) *apiError {
	p := &body.Properties
	if p.PolicyDefinitionID == "" {
		return &apiError{http.StatusBadRequest, "InvalidRequestContent", "properties.policyDefinitionId is required: the ID of the policy definition (or policy set definition) to assign."}
	}
	members, e := assignedMembers(tx, name, p)
	if e != nil {
		return e
	}
	switch strings.ToLower(p.EnforcementMode) {
	case "", "default":
		p.EnforcementMode = "Default"
	case "donotenforce":
		p.EnforcementMode = "DoNotEnforce"
	default:
		return &apiError{http.StatusBadRequest, "InvalidRequestContent", fmt.Sprintf("properties.enforcementMode '%s' is not Default or DoNotEnforce.", p.EnforcementMode)}
	}
	for _, ns := range p.NotScopes {
		if e := s.checkScope(ns); e != nil {
			return &apiError{http.StatusBadRequest, "InvalidNotScope", fmt.Sprintf("properties.notScopes: %s", e.message)}
		}
	}
	for _, m := range members {
		effect, err := m.Definition.Effect(m.Parameters)
		if err != nil {
			return invalidPolicy(err)
		}
		if effect == policy.DeployIfNotExists && (body.Identity == nil || !strings.EqualFold(body.Identity.Type, "SystemAssigned")) {
			return &apiError{http.StatusBadRequest, "InvalidCreatePolicyAssignmentRequest", fmt.Sprintf(
				"The policy assignment '%s' has no managed identity, which deployIfNotExists needs to deploy: add \"identity\": {\"type\": \"SystemAssigned\"} and a \"location\" (az policy assignment create ... --mi-system-assigned --location <region>), then give that identity the definition's roles (%s) at the assignment's scope.",
				name, strings.Join(m.Definition.Details.RoleDefinitionIDs, ", "))}
		}
	}
	if body.Identity != nil && body.Location == "" {
		return &apiError{http.StatusBadRequest, "LocationRequired", fmt.Sprintf("The policy assignment '%s' has a managed identity and so needs a \"location\" (e.g. westeurope).", name)}
	}
	if body.Identity != nil && !strings.EqualFold(body.Identity.Type, "SystemAssigned") && !strings.EqualFold(body.Identity.Type, "None") {
		return &apiError{http.StatusBadRequest, "InvalidIdentity", fmt.Sprintf("identity.type '%s' is not SystemAssigned or None here.", body.Identity.Type)}
	}
	return nil
}

// assignedMembers are what an assignment assigns: its definition, or each
// member of its set, with their parameters' values.
func assignedMembers(tx store.Tx, name string, p *assignmentProperties) ([]policy.Member, *apiError) {
	badParams := func(err error) *apiError {
		return &apiError{http.StatusBadRequest, "InvalidPolicyParameters", fmt.Sprintf("The policy assignment '%s' has bad parameters: %v", name, err)}
	}
	if isSetID(p.PolicyDefinitionID) {
		stored, err := tx.PolicySetDefinition(p.PolicyDefinitionID)
		if err != nil {
			return nil, policySetNotFound(p.PolicyDefinitionID)
		}
		set, err := parseSet(tx, stored.Properties)
		if err != nil {
			return nil, &apiError{http.StatusBadRequest, "InvalidPolicySetDefinition", "The policy set definition is not valid: " + err.Error()}
		}
		members, err := set.Resolve(p.Parameters)
		if err != nil {
			return nil, badParams(err)
		}
		return members, nil
	}
	stored, err := policyDefinition(tx, p.PolicyDefinitionID)
	if err != nil {
		return nil, policyDefinitionNotFound(p.PolicyDefinitionID)
	}
	def, err := compiled(stored)
	if err != nil {
		return nil, invalidPolicy(err)
	}
	values, err := def.ResolveParameters(p.Parameters)
	if err != nil {
		return nil, badParams(err)
	}
	return []policy.Member{{DefinitionID: p.PolicyDefinitionID, Definition: def, Parameters: values}}, nil
}

func (s *Server) putPolicyAssignment(w http.ResponseWriter, r *http.Request, scope, name, id string) {
	var body assignmentBody
	if e := s.decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.Identity != nil && strings.EqualFold(body.Identity.Type, "None") {
		body.Identity = nil
	}
	now, by := s.opts.Now().UTC(), callerOf(r).name()
	var out *store.PolicyAssignment
	created := false
	err := s.store.Update(func(tx store.Tx) error {
		if e := s.checkAssignment(tx, name, &body); e != nil {
			return errAPI{e}
		}
		old, err := tx.PolicyAssignment(id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		a := &store.PolicyAssignment{ID: id, Name: name, Scope: scope, Location: body.Location,
			SystemData: store.SystemData{CreatedBy: by, CreatedAt: now, LastModifiedBy: by, LastModifiedAt: now}}
		if old != nil {
			a.ID, a.SystemData.CreatedBy, a.SystemData.CreatedAt = old.ID, old.SystemData.CreatedBy, old.SystemData.CreatedAt
		}
		if body.Identity != nil {
			ident, err := s.assignmentIdentity(tx, old, name, now)
			if err != nil {
				return err
			}
			a.Identity = ident
		}
		body.Properties.Scope = scope
		if a.Properties, err = json.Marshal(body.Properties); err != nil {
			return err
		}
		created, out = old == nil, a
		return tx.PutPolicyAssignment(a)
	})
	var e errAPI
	switch {
	case errors.As(err, &e):
		writeError(w, e.e)
	case err != nil:
		s.fail(w, err)
	default:
		// A new or changed assignment evaluates every resource in its
		// scope; existing ones are only marked (remediation deploys).
		s.policy.refresh()
		if err := s.policy.evaluateScope(scope); err != nil {
			s.fail(w, err)
			return
		}
		writeJSON(w, putStatus(created), renderPolicyAssignment(out))
	}
}

// assignmentIdentity keeps the assignment's system-assigned identity, or
// creates it: a principal without credentials, that role assignments can
// name and that deployments run as.
func (s *Server) assignmentIdentity(tx store.Tx, old *store.PolicyAssignment, name string, now time.Time) (*store.Identity, error) {
	if old != nil && old.Identity != nil {
		return old.Identity, nil
	}
	p, _, err := newPrincipal(name, now)
	if err != nil {
		return nil, err
	}
	p.Credentials = nil
	if err := tx.PutPrincipal(p); err != nil {
		return nil, err
	}
	return &store.Identity{Type: "SystemAssigned", PrincipalID: p.ObjectID, TenantID: s.opts.TenantID}, nil
}

// deleteIdentity deletes a system-assigned identity and its role
// assignments.
func deleteIdentity(tx store.Tx, principalID string) error {
	ras, err := tx.RoleAssignmentsOf(principalID)
	if err != nil {
		return err
	}
	for _, ra := range ras {
		if err := tx.DeleteRoleAssignment(ra.ID); err != nil {
			return err
		}
	}
	if err := tx.DeletePrincipal(principalID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

func renderPolicyAssignment(a *store.PolicyAssignment) map[string]any {
	out := map[string]any{"id": a.ID, "name": a.Name, "type": policyAssignmentType,
		"properties": a.Properties, "systemData": renderSystemData(a.SystemData)}
	if a.Location != "" {
		out["location"] = a.Location
	}
	if a.Identity != nil {
		out["identity"] = a.Identity
	} else {
		out["identity"] = map[string]any{"type": "None"}
	}
	return out
}

func (s *Server) getPolicyAssignment(w http.ResponseWriter, id string) {
	var a *store.PolicyAssignment
	err := s.store.View(func(tx store.Tx) error {
		var err error
		a, err = tx.PolicyAssignment(id)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, policyAssignmentNotFound(id))
	case err != nil:
		s.fail(w, err)
	default:
		writeJSON(w, http.StatusOK, renderPolicyAssignment(a))
	}
}

// listPolicyAssignments lists the assignments that apply at scope: made
// at it, above it, or (as az's --disable-scope-strict-search shows) below.
func (s *Server) listPolicyAssignments(w http.ResponseWriter, scope string) {
	value := []any{}
	err := s.store.View(func(tx store.Tx) error {
		all, err := tx.PolicyAssignments()
		for i := range all {
			if inScope(all[i].Scope, scope) || inScope(scope, all[i].Scope) {
				value = append(value, renderPolicyAssignment(&all[i]))
			}
		}
		return err
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": value})
}

// inScope reports whether id is scope or under it.
func inScope(id, scope string) bool {
	id, scope = strings.ToLower(strings.TrimSuffix(id, "/")), strings.ToLower(strings.TrimSuffix(scope, "/"))
	return id == scope || strings.HasPrefix(id, scope+"/")
}

// deletePolicyAssignment deletes the assignment; what it deployed stays,
// as in Azure. Its identity's principal goes with it.
func (s *Server) deletePolicyAssignment(w http.ResponseWriter, id string) {
	var gone *store.PolicyAssignment
	err := s.store.Update(func(tx store.Tx) error {
		a, err := tx.PolicyAssignment(id)
		if err != nil {
			return err
		}
		gone = a
		states, err := tx.PolicyStates(id)
		if err != nil {
			return err
		}
		for _, st := range states {
			if err := tx.DeletePolicyState(st.AssignmentID, st.ResourceID, st.ReferenceID); err != nil {
				return err
			}
		}
		if a.Identity != nil {
			if err := deleteIdentity(tx, a.Identity.PrincipalID); err != nil {
				return err
			}
		}
		return tx.DeletePolicyAssignment(id)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		w.WriteHeader(http.StatusNoContent)
	case err != nil:
		s.fail(w, err)
	default:
		s.policy.refresh()
		writeJSON(w, http.StatusOK, renderPolicyAssignment(gone))
	}
}
