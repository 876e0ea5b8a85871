// Package armrbac decides ARM authorization: role definitions, the actions
// they permit, and whether role assignments at scopes grant an action at a
// target scope, inherited downwards as in Azure.
package armrbac

import (
	"strings"
)

// Permission is one permission block of a role: what it allows minus what
// it excludes.
type Permission struct {
	Actions    []string `json:"actions"`
	NotActions []string `json:"notActions"`
}

// RoleDefinition is an ARM role definition.
type RoleDefinition struct {
	// ID is the role's GUID (the name of its ARM resource).
	ID          string
	Name        string
	Description string
	Permissions []Permission
}

// The built-in roles. The GUIDs of Owner, Contributor, Reader and User
// Access Administrator are Azure's, so that Azure policies and scripts
// naming them work unchanged.
var (
	Owner = RoleDefinition{
		ID: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", Name: "Owner",
		Description: "Grants full access to manage all resources, including the ability to assign roles.",
		Permissions: []Permission{{Actions: []string{"*"}}},
	}
	Contributor = RoleDefinition{
		ID: "b24988ac-6180-42a0-ab88-20f7382dd24c", Name: "Contributor",
		Description: "Grants full access to manage all resources, but does not allow you to assign roles or manage service principals.",
		Permissions: []Permission{{
			Actions: []string{"*"},
			NotActions: []string{
				"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action",
				// The hub is its own directory: principals are managed
				// by owners, as Entra ID's are not by Contributors.
				"Microsoft.Directory/*/Write", "Microsoft.Directory/*/Delete",
			},
		}},
	}
	Reader = RoleDefinition{
		ID: "acdd72a7-3385-48ef-bd42-f606fba81ae7", Name: "Reader",
		Description: "View all resources, but does not allow you to make any changes.",
		Permissions: []Permission{{Actions: []string{"*/read"}}},
	}
	UserAccessAdministrator = RoleDefinition{
		ID: "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", Name: "User Access Administrator",
		Description: "Lets you manage user access to Azure resources.",
		Permissions: []Permission{{Actions: []string{"*/read", "Microsoft.Authorization/*"}}},
	}
	// FluxConfigurationContributor is this project's own role (Azure
	// publishes none limited to fluxConfigurations): manage GitOps
	// configurations on clusters it can see, nothing else.
	FluxConfigurationContributor = RoleDefinition{
		ID: "d54924f5-7e9f-4c24-8fcf-80f58de59c85", Name: "Flux Configuration Contributor",
		Description: "Create, change and delete Flux (GitOps) configurations on clusters; read the clusters and resource groups they are in.",
		Permissions: []Permission{{Actions: []string{
			"Microsoft.KubernetesConfiguration/*",
			"Microsoft.Kubernetes/connectedClusters/read",
			"Microsoft.ContainerService/managedClusters/read",
			"Microsoft.Resources/subscriptions/read",
			"Microsoft.Resources/subscriptions/resourceGroups/read",
		}}},
	}
)

// BuiltIn lists the built-in roles.
var BuiltIn = []RoleDefinition{Owner, Contributor, Reader, UserAccessAdministrator, FluxConfigurationContributor}

// RoleByID finds a built-in role by its GUID or by a role definition
// resource ID ending in it.
func RoleByID(id string) (RoleDefinition, bool) {
	guid := id[strings.LastIndex(id, "/")+1:]
	for _, r := range BuiltIn {
		if strings.EqualFold(r.ID, guid) {
			return r, true
		}
	}
	return RoleDefinition{}, false
}

// RoleByName finds a built-in role by its name (case-insensitively, as az
// resolves --role).
func RoleByName(name string) (RoleDefinition, bool) {
	for _, r := range BuiltIn {
		if strings.EqualFold(r.Name, name) {
			return r, true
		}
	}
	return RoleDefinition{}, false
}

// Permits reports whether the role allows action: some permission block
// lists it among its actions and not among its notActions.
func (r RoleDefinition) Permits(action string) bool {
	for _, p := range r.Permissions {
		if matchesAny(p.Actions, action) && !matchesAny(p.NotActions, action) {
			return true
		}
	}
	return false
}

func matchesAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if ActionMatches(p, action) {
			return true
		}
	}
	return false
}

// ActionMatches reports whether an action pattern such as "*/read" or
// "Microsoft.Authorization/*/Write" matches action; '*' matches any run of
// characters, '/' included, and case does not matter.
func ActionMatches(pattern, action string) bool {
	return match(strings.ToLower(pattern), strings.ToLower(action))
}

func match(p, a string) bool {
	star := strings.IndexByte(p, '*')
	if star < 0 {
		return p == a
	}
	if !strings.HasPrefix(a, p[:star]) {
		return false
	}
	rest := p[star+1:]
	// The star takes any run of a's next characters; the rest of the
	// pattern must match what follows it.
	for i := star; i <= len(a); i++ {
		if match(rest, a[i:]) {
			return true
		}
	}
	return false
}

// NormalizeScope lowercases a scope and drops a trailing slash; "" and "/"
// are the root scope "/".
func NormalizeScope(s string) string {
	s = strings.ToLower(strings.TrimRight(s, "/"))
	if s == "" {
		return "/"
	}
	return s
}

// ScopeContains reports whether scope parent is scope child or one of its
// ancestors: an assignment at parent applies at child.
func ScopeContains(parent, child string) bool {
	p, c := NormalizeScope(parent), NormalizeScope(child)
	return p == "/" || p == c || strings.HasPrefix(c, p+"/")
}

// Grant is a role held at a scope.
type Grant struct {
	Scope string
	Role  RoleDefinition
}

// Allowed reports whether grants permit action at scope.
func Allowed(grants []Grant, action, scope string) bool {
	for _, g := range grants {
		if ScopeContains(g.Scope, scope) && g.Role.Permits(action) {
			return true
		}
	}
	return false
}

// Reaches reports whether any grant applies at scope or below it: the
// caller can see something under scope (ARM lists a subscription to a
// principal that holds a role in one of its resource groups).
func Reaches(grants []Grant, scope string) bool {
	for _, g := range grants {
		if ScopeContains(g.Scope, scope) || ScopeContains(scope, g.Scope) {
			return true
		}
	}
	return false
}
