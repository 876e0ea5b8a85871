package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/arcgitops/arcgitops/internal/armclient"
)

const authorizationAPIVersion = "2022-04-01"

// ---- ad sp: the hub's service principals ----

func (a *App) adCommand() *cobra.Command {
	sp := group("sp", "Manage the data plane's service principals.",
		a.spCreateForRBAC(), a.spList(), a.spShow(), a.spDelete(),
		group("credential", "Manage a service principal's secrets.", a.spCredentialReset()))
	user := group("user", "Manage the data plane's users: people who sign in to the portal with a name and password.",
		a.userCreate(), a.userList(), a.userShow(), a.userUpdate(), a.userDelete())
	return group("ad", "Manage the data plane's directory (service principals and users).", sp, user)
}

var userColumns = []column{{"DisplayName", "displayName"}, {"UserPrincipalName", "userPrincipalName"}, {"AccountEnabled", "accountEnabled"}, {"ObjectId", "id"}}

func (a *App) userCreate() *cobra.Command {
	var name, upn, password string
	var disabled bool
	cmd := leaf("create", "Create a user (az ad user create): it signs in to the portal with its name and password, and holds the roles you assign it.", func(*cobra.Command) error {
		body := map[string]any{"accountEnabled": !disabled, "displayName": name, "userPrincipalName": upn,
			"passwordProfile": map[string]any{"password": password, "forceChangePasswordNextSignIn": false}}
		if nick, _, ok := strings.Cut(upn, "@"); ok {
			body["mailNickname"] = nick
		}
		var out map[string]any
		if _, err := a.call(http.MethodPost, "/v1.0/users", body, &out); err != nil {
			return err
		}
		return a.print(out, userColumns)
	})
	required(cmd, &name, "display-name", "", "The user's name, as pages show it.")
	required(cmd, &upn, "user-principal-name", "", "The name the user signs in with, as name@domain (e.g. ada@contoso.com).")
	required(cmd, &password, "password", "", "Its password: 8 to 256 characters, with three of lower case, upper case, digits and symbols.")
	cmd.Flags().BoolVar(&disabled, "account-disabled", false, "Create it unable to sign in until enabled (ad user update --account-enabled true).")
	return cmd
}

func (a *App) userList() *cobra.Command {
	var upn string
	cmd := leaf("list", "List users.", func(*cobra.Command) error {
		path := "/v1.0/users"
		if upn != "" {
			path += "?$filter=" + url.QueryEscape("userPrincipalName eq '"+upn+"'")
		}
		all, err := armclient.List[map[string]any](context.Background(), a.client(), path)
		if err != nil {
			return a.reachable(err)
		}
		return a.print(all, userColumns)
	})
	cmd.Flags().StringVar(&upn, "upn", "", "Only the user with this userPrincipalName.")
	return cmd
}

// user reads a user by its objectId or userPrincipalName.
func (a *App) user(id string) (map[string]any, error) {
	var u map[string]any
	if _, err := a.call(http.MethodGet, "/v1.0/users/"+url.PathEscape(id), nil, &u); err != nil {
		if armclient.IsNotFound(err) {
			return nil, notFoundf("no user has the objectId or userPrincipalName %q", id)
		}
		return nil, err
	}
	return u, nil
}

func (a *App) userShow() *cobra.Command {
	var id string
	cmd := leaf("show", "Show a user.", func(*cobra.Command) error {
		u, err := a.user(id)
		if err != nil {
			return err
		}
		return a.print(u, userColumns)
	})
	required(cmd, &id, "id", "", "The objectId or userPrincipalName of the user.")
	return cmd
}

func (a *App) userUpdate() *cobra.Command {
	var id, name, password, enabled string
	cmd := leaf("update", "Change a user's display name or password, or whether it may sign in (a disabled user's portal sessions end).", func(*cobra.Command) error {
		body := map[string]any{}
		if name != "" {
			body["displayName"] = name
		}
		if password != "" {
			body["passwordProfile"] = map[string]any{"password": password, "forceChangePasswordNextSignIn": false}
		}
		switch enabled {
		case "":
		case "true", "false":
			body["accountEnabled"] = enabled == "true"
		default:
			return usagef("--account-enabled is true or false, not %q", enabled)
		}
		if len(body) == 0 {
			return usagef("give --display-name, --password or --account-enabled")
		}
		_, err := a.call(http.MethodPatch, "/v1.0/users/"+url.PathEscape(id), body, nil)
		return err
	})
	required(cmd, &id, "id", "", "The objectId or userPrincipalName of the user.")
	cmd.Flags().StringVar(&name, "display-name", "", "A new display name.")
	cmd.Flags().StringVar(&password, "password", "", "A new password (the old one stops working).")
	cmd.Flags().StringVar(&enabled, "account-enabled", "", "true or false: whether the user may sign in.")
	return cmd
}

func (a *App) userDelete() *cobra.Command {
	var id string
	cmd := leaf("delete", "Delete a user and its role assignments; its portal sessions end.", func(*cobra.Command) error {
		_, err := a.call(http.MethodDelete, "/v1.0/users/"+url.PathEscape(id), nil, nil)
		return err
	})
	required(cmd, &id, "id", "", "The objectId or userPrincipalName of the user.")
	return cmd
}

var spColumns = []column{{"DisplayName", "displayName"}, {"AppId", "appId"}, {"ObjectId", "id"}}

// newSecret gives principal objectID a secret valid for years and returns
// the answer of addPassword.
func (a *App) newSecret(objectID string, years int) (map[string]any, error) {
	body := map[string]any{"passwordCredential": map[string]any{
		"displayName": "arcgitops", "endDateTime": time.Now().AddDate(years, 0, 0).UTC().Format(time.RFC3339)}}
	var out map[string]any
	_, err := a.call(http.MethodPost, "/v1.0/servicePrincipals/"+objectID+"/addPassword", body, &out)
	return out, err
}

func (a *App) spCreateForRBAC() *cobra.Command {
	var name, role string
	var scopes []string
	var years int
	cmd := leaf("create-for-rbac", "Create a service principal with a secret, and give it a role at scopes.", func(*cobra.Command) error {
		if role != "" && len(scopes) == 0 {
			return usagef("--role needs --scopes: the scopes to give the role at")
		}
		if years < 1 {
			return usagef("--years must be at least 1")
		}
		var sp map[string]any
		if _, err := a.call(http.MethodPost, "/v1.0/servicePrincipals", map[string]any{"displayName": name}, &sp); err != nil {
			return err
		}
		oid, _ := sp["id"].(string)
		cred, err := a.newSecret(oid, years)
		if err != nil {
			return err
		}
		for _, scope := range scopes {
			if err := a.assign(role, scope, oid, "ServicePrincipal", nil); err != nil {
				return fmt.Errorf("the principal %s was made, but the role at %s was not given: %w", sp["appId"], scope, err)
			}
		}
		a.warn("The output includes credentials that you must protect. Be sure that you do not include these credentials in your code or check the credentials into your source control.")
		return a.print(map[string]any{"appId": sp["appId"], "displayName": name, "password": cred["secretText"], "tenant": a.tenant()},
			[]column{{"AppId", "appId"}, {"DisplayName", "displayName"}, {"Password", "password"}, {"Tenant", "tenant"}})
	})
	cmd.Flags().StringVarP(&name, "name", "n", "", "Display name of the service principal (default: arcgitops-<time>).")
	cmd.Flags().StringVar(&role, "role", "", "Role to give it at each of --scopes, e.g. Reader, Contributor, \"Flux Configuration Contributor\".")
	cmd.Flags().StringSliceVar(&scopes, "scopes", nil, "Scopes to give --role at, e.g. /subscriptions/<id>/resourceGroups/<name>; comma separated, or the flag repeated.")
	cmd.Flags().IntVar(&years, "years", 1, "Years the secret is valid.")
	cmd.PreRun = func(*cobra.Command, []string) {
		if name == "" {
			name = "arcgitops-" + time.Now().UTC().Format("2006-01-02-15-04-05")
		}
	}
	return cmd
}

func (a *App) tenant() string {
	if p, err := a.credentials(); err == nil && p.Tenant != "" {
		return p.Tenant
	}
	return "adfs"
}

func (a *App) spList() *cobra.Command {
	var displayName, filter string
	cmd := leaf("list", "List service principals.", func(*cobra.Command) error {
		path := "/v1.0/servicePrincipals"
		switch {
		case displayName != "" && filter != "":
			return usagef("give --display-name or --filter, not both")
		case displayName != "":
			path += "?$filter=" + url.QueryEscape("displayName eq '"+displayName+"'")
		case filter != "":
			path += "?$filter=" + url.QueryEscape(filter)
		}
		all, err := armclient.List[map[string]any](context.Background(), a.client(), path)
		if err != nil {
			return a.reachable(err)
		}
		return a.print(all, spColumns)
	})
	cmd.Flags().StringVar(&displayName, "display-name", "", "Only the principals with this display name.")
	cmd.Flags().StringVar(&filter, "filter", "", "An OData filter: appId eq '<id>', displayName eq '<name>' or id eq '<id>'.")
	return cmd
}

// principal finds a service principal by its appId or objectId.
func (a *App) principal(id string) (map[string]any, error) {
	all, err := armclient.List[map[string]any](context.Background(), a.client(), "/v1.0/servicePrincipals?$filter="+url.QueryEscape("appId eq '"+id+"'"))
	if err != nil {
		return nil, a.reachable(err)
	}
	if len(all) == 1 {
		return all[0], nil
	}
	var sp map[string]any
	if _, err := a.call(http.MethodGet, "/v1.0/servicePrincipals/"+url.PathEscape(id), nil, &sp); err != nil {
		if armclient.IsNotFound(err) {
			return nil, notFoundf("no service principal has the appId or objectId %q", id)
		}
		return nil, err
	}
	return sp, nil
}

// principalID resolves an appId or an objectId to the objectId.
func (a *App) principalID(id string) (string, error) {
	sp, err := a.principal(id)
	if err != nil {
		return "", err
	}
	oid, _ := sp["id"].(string)
	return oid, nil
}

func (a *App) spShow() *cobra.Command {
	var id string
	cmd := leaf("show", "Show a service principal.", func(*cobra.Command) error {
		sp, err := a.principal(id)
		if err != nil {
			return err
		}
		return a.print(sp, spColumns)
	})
	required(cmd, &id, "id", "", "The appId or objectId of the service principal.")
	return cmd
}

func (a *App) spDelete() *cobra.Command {
	var id string
	cmd := leaf("delete", "Delete a service principal and its role assignments; its tokens stop working at once.", func(*cobra.Command) error {
		oid, err := a.principalID(id)
		if err != nil {
			return err
		}
		_, err = a.call(http.MethodDelete, "/v1.0/servicePrincipals/"+oid, nil, nil)
		return err
	})
	required(cmd, &id, "id", "", "The appId or objectId of the service principal.")
	return cmd
}

func (a *App) spCredentialReset() *cobra.Command {
	var id string
	var years int
	cmd := leaf("reset", "Give a service principal a new secret (its other secrets stay valid).", func(*cobra.Command) error {
		sp, err := a.principal(id)
		if err != nil {
			return err
		}
		oid, _ := sp["id"].(string)
		cred, err := a.newSecret(oid, years)
		if err != nil {
			return err
		}
		a.warn("The output includes credentials that you must protect.")
		return a.print(map[string]any{"appId": sp["appId"], "password": cred["secretText"], "tenant": a.tenant()},
			[]column{{"AppId", "appId"}, {"Password", "password"}, {"Tenant", "tenant"}})
	})
	required(cmd, &id, "id", "", "The appId or objectId of the service principal.")
	cmd.Flags().IntVar(&years, "years", 1, "Years the new secret is valid.")
	return cmd
}

// ---- role: role definitions and assignments ----

func (a *App) roleCommand() *cobra.Command {
	return group("role", "Manage role assignments (ARM RBAC) on the data plane.",
		group("definition", "List the role definitions.", a.roleDefinitionList()),
		group("assignment", "Manage role assignments.", a.roleAssignmentCreate(), a.roleAssignmentList(), a.roleAssignmentDelete()))
}

func authorizationPath(scope, kind, query string) string {
	p := strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/" + kind + "?api-version=" + authorizationAPIVersion
	if query != "" {
		p += "&" + query
	}
	return p
}

func (a *App) roleDefinitionList() *cobra.Command {
	var name, scope string
	cmd := leaf("list", "List role definitions.", func(*cobra.Command) error {
		q := ""
		if name != "" {
			q = "$filter=" + url.QueryEscape("roleName eq '"+name+"'")
		}
		all, err := armclient.List[map[string]any](context.Background(), a.client(), authorizationPath(a.scopeOr(scope), "roleDefinitions", q))
		if err != nil {
			return a.reachable(err)
		}
		return a.print(all, []column{{"Name", "properties.roleName"}, {"Type", "properties.type"}, {"Description", "properties.description"}})
	})
	cmd.Flags().StringVar(&name, "name", "", "Only the role with this name.")
	cmd.Flags().StringVar(&scope, "scope", "", "Scope to list them at (default: the subscription).")
	return cmd
}

func (a *App) scopeOr(scope string) string {
	if scope != "" {
		return scope
	}
	return "/subscriptions/" + a.subscription
}

// roleDefinition resolves a role name or ID at scope to its definition ID,
// as az does: by $filter=roleName eq.
func (a *App) roleDefinition(role, scope string) (string, error) {
	if _, err := uuid.Parse(role); err == nil {
		return strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/roleDefinitions/" + role, nil
	}
	all, err := armclient.List[map[string]any](context.Background(), a.client(),
		authorizationPath(scope, "roleDefinitions", "$filter="+url.QueryEscape("roleName eq '"+role+"'")))
	if err != nil {
		return "", a.reachable(err)
	}
	if len(all) != 1 {
		return "", usagef("role %q does not exist: list them with 'arcgitops role definition list'", role)
	}
	id, _ := all[0]["id"].(string)
	return id, nil
}

// assign gives principal objectID role at scope, printing nothing; with
// out, the answer is decoded into it.
func (a *App) assign(role, scope, objectID, principalType string, out *map[string]any) error {
	def, err := a.roleDefinition(role, scope)
	if err != nil {
		return err
	}
	body := map[string]any{"properties": map[string]any{"roleDefinitionId": def, "principalId": objectID, "principalType": principalType}}
	var into any
	if out != nil {
		into = out
	}
	_, err = a.call(http.MethodPut, authorizationPath(scope, "roleAssignments/"+uuid.NewString(), ""), body, into)
	return err
}

var assignmentColumns = []column{{"Principal", "properties.principalId"}, {"Role", "properties.roleDefinitionId"}, {"Scope", "properties.scope"}}

func (a *App) roleAssignmentCreate() *cobra.Command {
	var role, scope, assignee, objectID, principalType string
	cmd := leaf("create", "Give a principal a role at a scope.", func(c *cobra.Command) error {
		switch {
		case (assignee == "") == (objectID == ""):
			return usagef("give --assignee or --assignee-object-id (one of them)")
		case strings.Contains(assignee, "@"): // a user's name, as az takes it
			u, err := a.user(assignee)
			if err != nil {
				return err
			}
			objectID, _ = u["id"].(string)
			if !c.Flags().Changed("assignee-principal-type") {
				principalType = "User"
			}
		case assignee != "":
			oid, err := a.principalID(assignee)
			if err != nil {
				return err
			}
			objectID = oid
		}
		var out map[string]any
		if err := a.assign(role, scope, objectID, principalType, &out); err != nil {
			return err
		}
		return a.print(out, assignmentColumns)
	})
	required(cmd, &role, "role", "", "Role name or ID, e.g. Reader, Contributor, Owner, \"Flux Configuration Contributor\".")
	required(cmd, &scope, "scope", "", "Scope of the assignment: /, /subscriptions/<id>, a resource group's, a cluster's or a fluxConfiguration's ID.")
	cmd.Flags().StringVar(&assignee, "assignee", "", "The appId or objectId of a service principal of the data plane, or a user's userPrincipalName.")
	cmd.Flags().StringVar(&objectID, "assignee-object-id", "", "The principal's object ID, used as it is (for principals of an external issuer: their oid or sub claim).")
	cmd.Flags().StringVar(&principalType, "assignee-principal-type", "ServicePrincipal", "User, Group or ServicePrincipal.")
	return cmd
}

func (a *App) roleAssignmentList() *cobra.Command {
	var scope, assignee string
	cmd := leaf("list", "List role assignments at, above and below a scope.", func(*cobra.Command) error {
		q := ""
		if assignee != "" {
			oid, err := a.principalID(assignee)
			if err != nil {
				return err
			}
			q = "$filter=" + url.QueryEscape("principalId eq '"+oid+"'")
		}
		all, err := armclient.List[map[string]any](context.Background(), a.client(), authorizationPath(a.scopeOr(scope), "roleAssignments", q))
		if err != nil {
			return a.reachable(err)
		}
		return a.print(all, assignmentColumns)
	})
	cmd.Flags().StringVar(&scope, "scope", "", "Scope (default: the subscription).")
	cmd.Flags().StringVar(&assignee, "assignee", "", "Only the assignments of this principal (appId or objectId).")
	return cmd
}

func (a *App) roleAssignmentDelete() *cobra.Command {
	var ids []string
	cmd := leaf("delete", "Delete role assignments.", func(*cobra.Command) error {
		for _, id := range ids {
			if _, err := a.call(http.MethodDelete, id+"?api-version="+authorizationAPIVersion, nil, nil); err != nil {
				return err
			}
		}
		return nil
	})
	cmd.Flags().StringSliceVar(&ids, "ids", nil, "IDs of the role assignments to delete (from 'role assignment list').")
	_ = cmd.MarkFlagRequired("ids")
	return cmd
}

// ---- monitor activity-log ----

func (a *App) monitorCommand() *cobra.Command {
	return group("monitor", "Read the data plane's activity log.",
		group("activity-log", "Read the activity log: who changed what, when, and how it ended.", a.activityLogList()))
}

func (a *App) activityLogList() *cobra.Command {
	var group, start, end, correlation, caller, status string
	var offset time.Duration
	var maxEvents int
	cmd := leaf("list", "List activity log events, newest first.", func(*cobra.Command) error {
		to := time.Now().UTC()
		if end != "" {
			t, err := time.Parse(time.RFC3339, end)
			if err != nil {
				return usagef("--end-time %q is not an RFC 3339 time such as 2026-11-26T08:00:00Z", end)
			}
			to = t
		}
		from := to.Add(-offset)
		if start != "" {
			t, err := time.Parse(time.RFC3339, start)
			if err != nil {
				return usagef("--start-time %q is not an RFC 3339 time such as 2026-11-26T08:00:00Z", start)
			}
			from = t
		}
		f := fmt.Sprintf("eventTimestamp ge '%s'", from.Format(time.RFC3339Nano))
		if end != "" {
			f += fmt.Sprintf(" and eventTimestamp le '%s'", to.Format(time.RFC3339Nano))
		}
		for field, v := range map[string]string{"resourceGroupName": group, "correlationId": correlation, "caller": caller, "status": status} {
			if v != "" {
				f += fmt.Sprintf(" and %s eq '%s'", field, v)
			}
		}
		next := "/subscriptions/" + a.subscription + "/providers/microsoft.insights/eventtypes/management/values?api-version=2015-04-01&$filter=" + url.QueryEscape(f)
		events := []map[string]any{}
		for next != "" && len(events) < maxEvents {
			var page struct {
				Value    []map[string]any `json:"value"`
				NextLink string           `json:"nextLink"`
			}
			if _, err := a.call(http.MethodGet, next, nil, &page); err != nil {
				return err
			}
			events = append(events, page.Value...)
			next = page.NextLink
		}
		events = events[:min(len(events), maxEvents)]
		return a.print(events, []column{{"Time", "eventTimestamp"}, {"Caller", "caller"}, {"Operation", "operationName.value"}, {"Status", "status.value"}, {"Resource", "resourceId"}})
	})
	cmd.Flags().StringVarP(&group, "resource-group", "g", "", "Only the events of this resource group.")
	cmd.Flags().StringVar(&start, "start-time", "", "Start of the time range (RFC 3339; default: --offset before --end-time).")
	cmd.Flags().StringVar(&end, "end-time", "", "End of the time range (RFC 3339; default: now).")
	cmd.Flags().DurationVar(&offset, "offset", 6*time.Hour, "Length of the time range when --start-time is not given.")
	cmd.Flags().StringVar(&correlation, "correlation-id", "", "Only the events of this correlation ID.")
	cmd.Flags().StringVar(&caller, "caller", "", "Only the events of this caller (an appId).")
	cmd.Flags().StringVar(&status, "status", "", "Only the events with this status: Succeeded, Failed or Accepted.")
	cmd.Flags().IntVar(&maxEvents, "max-events", 50, "The most events to list.")
	return cmd
}
