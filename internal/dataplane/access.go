package dataplane

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armrbac"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

// authorizationAPIVersions are the Microsoft.Authorization api-versions
// served (az 2.45 sends 2022-04-01).
var authorizationAPIVersions = []string{"2015-07-01", "2018-01-01-preview", "2018-09-01-preview", "2020-04-01-preview", "2022-04-01"}

const (
	readRoleDefinitions   = "Microsoft.Authorization/roleDefinitions/read"
	readRoleAssignments   = "Microsoft.Authorization/roleAssignments/read"
	writeRoleAssignments  = "Microsoft.Authorization/roleAssignments/write"
	deleteRoleAssignments = "Microsoft.Authorization/roleAssignments/delete"
)

// splitAuthorization finds "{scope}/providers/Microsoft.Authorization/
// {kind}[/{name}]" in segs; ok is false when segs are not such a path.
func splitAuthorization(segs []string) (scope, kind, name string, ok bool) {
	for i := len(segs) - 3; i >= 0; i-- {
		if strings.EqualFold(segs[i], "providers") && strings.EqualFold(segs[i+1], "Microsoft.Authorization") {
			rest := segs[i+2:]
			if len(rest) > 2 {
				return "", "", "", false
			}
			scope = "/" + strings.Join(segs[:i], "/")
			kind = strings.ToLower(rest[0])
			if len(rest) == 2 {
				name = rest[1]
			}
			return scope, kind, name, kind == "roledefinitions" || kind == "roleassignments" ||
				kind == "policydefinitions" || kind == "policyassignments" || kind == "policysetdefinitions"
		}
	}
	return "", "", "", false
}

// checkScope accepts the scopes assignments can be made at: the root, a
// served subscription, one of its resource groups, a cluster or a
// fluxConfiguration.
func (s *Server) checkScope(scope string) *apiError {
	segs := strings.Split(strings.Trim(scope, "/"), "/")
	bad := &apiError{http.StatusBadRequest, "InvalidScope", fmt.Sprintf(
		"The scope '%s' is not valid: use /, /subscriptions/{id}, /subscriptions/{id}/resourceGroups/{name}, or a cluster's or fluxConfiguration's ID.", scope)}
	switch {
	case scope == "/":
		return nil
	case len(segs) < 2 || !strings.EqualFold(segs[0], "subscriptions"):
		return bad
	case s.subscription(segs[1]) == nil:
		return subscriptionNotFound(segs[1])
	case len(segs) == 2:
		return nil
	case len(segs) == 4 && strings.EqualFold(segs[2], "resourceGroups") && segmentRE.MatchString(segs[3]):
		return nil
	}
	if _, n := parseCluster(segs); n == 8 && (len(segs) == 8 || (len(segs) == 12 && isConfigPath(segs[8:]))) {
		return nil
	}
	return bad
}

// routeAuthorization serves role definitions and role assignments at any
// scope; it reports whether segs were one of them.
func (s *Server) routeAuthorization(w http.ResponseWriter, r *http.Request, segs []string) bool {
	scope, kind, name, ok := splitAuthorization(segs)
	if !ok {
		return false
	}
	if kind == "policydefinitions" || kind == "policyassignments" || kind == "policysetdefinitions" {
		s.routePolicy(w, r, scope, kind, name)
		return true
	}
	if e := checkAPIVersion(r, authorizationAPIVersions, nil); e != nil {
		writeError(w, e)
		return true
	}
	if e := s.checkScope(scope); e != nil {
		writeError(w, e)
		return true
	}
	switch {
	case kind == "roledefinitions" && name == "":
		setRoute(r, "roledefinitions")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: s.guard(readRoleDefinitions, scope,
			func(w http.ResponseWriter, r *http.Request) { s.listRoleDefinitions(w, r, scope) })})
	case kind == "roledefinitions":
		setRoute(r, "roledefinition")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: s.guard(readRoleDefinitions, scope,
			func(w http.ResponseWriter, _ *http.Request) {
				role, ok := armrbac.RoleByID(name)
				if !ok {
					writeError(w, roleDefinitionNotFound(name))
					return
				}
				writeJSON(w, http.StatusOK, renderRoleDefinition(scope, role))
			})})
	case name == "":
		setRoute(r, "roleassignments")
		s.methods(w, r, map[string]http.HandlerFunc{http.MethodGet: func(w http.ResponseWriter, r *http.Request) { s.listRoleAssignments(w, r, scope) }})
	default:
		setRoute(r, "roleassignment")
		id := strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/roleAssignments/" + name
		s.methods(w, r, map[string]http.HandlerFunc{
			http.MethodPut:    s.guard(writeRoleAssignments, scope, func(w http.ResponseWriter, r *http.Request) { s.putRoleAssignment(w, r, scope, name, id) }),
			http.MethodGet:    s.guard(readRoleAssignments, scope, func(w http.ResponseWriter, _ *http.Request) { s.getRoleAssignment(w, id) }),
			http.MethodDelete: s.guard(deleteRoleAssignments, scope, func(w http.ResponseWriter, _ *http.Request) { s.deleteRoleAssignment(w, id) }),
		})
	}
	return true
}

func roleDefinitionNotFound(id string) *apiError {
	return &apiError{http.StatusNotFound, "RoleDefinitionDoesNotExist", fmt.Sprintf("The specified role definition with ID '%s' does not exist.", id)}
}

// roleDefinitionID is the ID of a role definition as seen from scope: under
// a subscription, the subscription's.
func roleDefinitionID(scope, guid string) string {
	prefix := ""
	if sub, _ := arm.ScopeParts(scope); sub != "" {
		prefix = "/subscriptions/" + sub
	}
	return prefix + "/providers/Microsoft.Authorization/roleDefinitions/" + guid
}

// roleGUID is the GUID at the end of a role definition ID.
func roleGUID(id string) string { return id[strings.LastIndex(id, "/")+1:] }

func renderRoleDefinition(scope string, r armrbac.RoleDefinition) map[string]any {
	perms := make([]map[string]any, 0, len(r.Permissions))
	for _, p := range r.Permissions {
		notActions := p.NotActions
		if notActions == nil {
			notActions = []string{}
		}
		perms = append(perms, map[string]any{"actions": p.Actions, "notActions": notActions, "dataActions": []string{}, "notDataActions": []string{}})
	}
	return map[string]any{
		"id": roleDefinitionID(scope, r.ID), "name": r.ID, "type": "Microsoft.Authorization/roleDefinitions",
		"properties": map[string]any{
			"roleName": r.Name, "type": "BuiltInRole", "description": r.Description,
			"assignableScopes": []string{"/"}, "permissions": perms,
		},
	}
}

var roleNameFilterRE = regexp.MustCompile(`^(?i)roleName\s+eq\s+'([^']*)'$`)

// listRoleDefinitions serves the built-in roles, or the one
// $filter=roleName eq '<name>' names (how az resolves --role).
func (s *Server) listRoleDefinitions(w http.ResponseWriter, r *http.Request, scope string) {
	roles := armrbac.BuiltIn
	if f := strings.TrimSpace(r.URL.Query().Get("$filter")); f != "" {
		m := roleNameFilterRE.FindStringSubmatch(f)
		if m == nil {
			writeError(w, &apiError{http.StatusBadRequest, "BadRequest", "$filter: only roleName eq '<name>' is supported."})
			return
		}
		roles = nil
		if role, ok := armrbac.RoleByName(m[1]); ok {
			roles = []armrbac.RoleDefinition{role}
		}
	}
	value := make([]map[string]any, 0, len(roles))
	for _, role := range roles {
		value = append(value, renderRoleDefinition(scope, role))
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": value})
}

func renderRoleAssignment(a *store.RoleAssignment) map[string]any {
	props := map[string]any{
		"roleDefinitionId": a.RoleDefinitionID, "principalId": a.PrincipalID, "principalType": a.PrincipalType,
		"scope": a.Scope, "condition": nil, "conditionVersion": nil,
		"createdOn": a.CreatedOn.UTC().Format(time.RFC3339Nano), "updatedOn": a.UpdatedOn.UTC().Format(time.RFC3339Nano),
		"createdBy": a.CreatedBy, "updatedBy": a.CreatedBy, "delegatedManagedIdentityResourceId": nil,
	}
	if a.Description != "" {
		props["description"] = a.Description
	}
	return map[string]any{"id": a.ID, "name": a.Name, "type": "Microsoft.Authorization/roleAssignments", "properties": props}
}

// roleAssignmentBody is the PUT body of a role assignment.
type roleAssignmentBody struct {
	Properties struct {
		RoleDefinitionID string `json:"roleDefinitionId"`
		PrincipalID      string `json:"principalId"`
		PrincipalType    string `json:"principalType"`
		Description      string `json:"description"`
		// Azure's optional fields, accepted and not used.
		Condition                          *string `json:"condition"`
		ConditionVersion                   *string `json:"conditionVersion"`
		DelegatedManagedIdentityResourceID *string `json:"delegatedManagedIdentityResourceId"`
		Scope                              string  `json:"scope"`
		CanDelegate                        *bool   `json:"canDelegate"`
	} `json:"properties"`
}

var principalTypes = map[string]string{"serviceprincipal": "ServicePrincipal", "user": "User", "group": "Group", "foreigngroup": "ForeignGroup", "device": "Device"}

func (s *Server) putRoleAssignment(w http.ResponseWriter, r *http.Request, scope, name, id string) {
	if _, err := uuid.Parse(name); err != nil || len(name) != 36 {
		writeError(w, &apiError{http.StatusBadRequest, "InvalidRoleAssignmentId", fmt.Sprintf("The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", name)})
		return
	}
	var body roleAssignmentBody
	if e := s.decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	p := body.Properties
	role, ok := armrbac.RoleByID(p.RoleDefinitionID)
	if p.RoleDefinitionID == "" || !ok {
		writeError(w, &apiError{http.StatusBadRequest, "RoleDefinitionDoesNotExist", fmt.Sprintf("The specified role definition with ID '%s' does not exist: list them with GET {scope}/providers/Microsoft.Authorization/roleDefinitions.", roleGUID(p.RoleDefinitionID))})
		return
	}
	ptype, ok := principalTypes[strings.ToLower(p.PrincipalType)]
	if p.PrincipalType == "" {
		ptype, ok = "ServicePrincipal", true
	}
	if !ok {
		writeError(w, &apiError{http.StatusBadRequest, "InvalidPrincipalType", fmt.Sprintf("principalType '%s' is not one of User, Group, ServicePrincipal, ForeignGroup, Device.", p.PrincipalType)})
		return
	}
	if p.Scope != "" && !strings.EqualFold(strings.TrimSuffix(p.Scope, "/"), strings.TrimSuffix(scope, "/")) {
		writeError(w, &apiError{http.StatusBadRequest, "InvalidScope", fmt.Sprintf("properties.scope '%s' is not the scope of the path, '%s'.", p.Scope, scope)})
		return
	}
	now := s.opts.Now()
	a := &store.RoleAssignment{ID: id, Name: name, Scope: scope, RoleDefinitionID: roleDefinitionID(scope, role.ID),
		PrincipalID: p.PrincipalID, PrincipalType: ptype, Description: p.Description, CreatedBy: callerOf(r).ObjectID, CreatedOn: now, UpdatedOn: now}
	created := true
	err := s.store.Update(func(tx store.Tx) error {
		if _, err := tx.Principal(p.PrincipalID); errors.Is(err, store.ErrNotFound) && s.external == nil {
			return errAPI{&apiError{http.StatusBadRequest, "PrincipalNotFound", fmt.Sprintf("Principal %s does not exist in the directory %s: give the objectId of a service principal (arcgitops ad sp list).", p.PrincipalID, s.opts.TenantID)}}
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		existing, err := tx.RoleAssignmentsOf(p.PrincipalID)
		if err != nil {
			return err
		}
		for _, e := range existing {
			same := armrbac.NormalizeScope(e.Scope) == armrbac.NormalizeScope(scope) && strings.EqualFold(roleGUID(e.RoleDefinitionID), role.ID)
			switch {
			case strings.EqualFold(e.ID, id) && same:
				created, a.CreatedOn, a.CreatedBy = false, e.CreatedOn, e.CreatedBy
			case strings.EqualFold(e.ID, id):
				return errAPI{&apiError{http.StatusBadRequest, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated."}}
			case same:
				return errAPI{&apiError{http.StatusConflict, "RoleAssignmentExists", "The role assignment already exists (ID " + e.Name + ")."}}
			}
		}
		if old, err := tx.RoleAssignment(id); err == nil && !strings.EqualFold(old.PrincipalID, p.PrincipalID) {
			return errAPI{&apiError{http.StatusBadRequest, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated."}}
		}
		return tx.PutRoleAssignment(a)
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, putStatus(created), renderRoleAssignment(a))
}

func roleAssignmentNotFound(id string) *apiError {
	return &apiError{http.StatusNotFound, "RoleAssignmentNotFound", fmt.Sprintf("The role assignment '%s' is not found.", id)}
}

func (s *Server) getRoleAssignment(w http.ResponseWriter, id string) {
	var a *store.RoleAssignment
	err := s.store.View(func(tx store.Tx) (err error) { a, err = tx.RoleAssignment(id); return err })
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, roleAssignmentNotFound(id))
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, renderRoleAssignment(a))
}

// deleteRoleAssignment deletes an assignment: 200 with it, or 204 when
// there was none, as ARM answers.
func (s *Server) deleteRoleAssignment(w http.ResponseWriter, id string) {
	var a *store.RoleAssignment
	err := s.store.Update(func(tx store.Tx) (err error) {
		if a, err = tx.RoleAssignment(id); err != nil {
			return err
		}
		if err := lastRootOwner(tx, "", id); err != nil {
			return err
		}
		return tx.DeleteRoleAssignment(id)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		w.WriteHeader(http.StatusNoContent)
	case err != nil:
		s.fail(w, err)
	default:
		writeJSON(w, http.StatusOK, renderRoleAssignment(a))
	}
}

var (
	atScopeRE     = regexp.MustCompile(`(?i)^atScope\(\)$`)
	principalIDRE = regexp.MustCompile(`(?i)^principalId\s+eq\s+'([^']*)'$`)
	assignedToRE  = regexp.MustCompile(`(?i)^assignedTo\('([^']*)'\)$`)
)

// listRoleAssignments lists the assignments at, above and below scope that
// the caller may read; $filter=atScope() keeps those at or above it,
// principalId eq '<id>' and assignedTo('<id>') those of one principal.
func (s *Server) listRoleAssignments(w http.ResponseWriter, r *http.Request, scope string) {
	atScope, principal := false, ""
	for _, clause := range filterAndRE.Split(strings.TrimSpace(r.URL.Query().Get("$filter")), -1) {
		clause = strings.TrimSpace(clause)
		switch {
		case clause == "":
		case atScopeRE.MatchString(clause):
			atScope = true
		case principalIDRE.MatchString(clause):
			principal = principalIDRE.FindStringSubmatch(clause)[1]
		case assignedToRE.MatchString(clause):
			principal = assignedToRE.FindStringSubmatch(clause)[1]
		default:
			writeError(w, &apiError{http.StatusBadRequest, "BadRequest", fmt.Sprintf("$filter: %q is not supported; use atScope(), principalId eq '<id>' or assignedTo('<id>'), joined with and.", clause)})
			return
		}
	}
	var all []store.RoleAssignment
	if err := s.store.View(func(tx store.Tx) (err error) { all, err = tx.RoleAssignments(); return err }); err != nil {
		s.fail(w, err)
		return
	}
	c := callerOf(r)
	value := []map[string]any{}
	for i := range all {
		a := &all[i]
		above := armrbac.ScopeContains(a.Scope, scope)
		if (!above && (atScope || !armrbac.ScopeContains(scope, a.Scope))) ||
			(principal != "" && !strings.EqualFold(a.PrincipalID, principal)) || !c.can(readRoleAssignments, a.Scope) {
			continue
		}
		value = append(value, renderRoleAssignment(a))
	}
	sort.Slice(value, func(i, j int) bool { return value[i]["id"].(string) < value[j]["id"].(string) })
	writeJSON(w, http.StatusOK, map[string]any{"value": value})
}

// decodeBody reads and strictly decodes a JSON body.
func (s *Server) decodeBody(r *http.Request, v any) *apiError {
	raw, e := readBody(r, s.opts.MaxBodyBytes)
	if e != nil {
		return e
	}
	return decodeStrict(raw, v)
}
