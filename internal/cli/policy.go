package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/arcgitops/arcgitops/internal/armclient"
)

// The api-versions az 2.45 sends for policy: Microsoft.Authorization's
// policy resources, remediations and policy states.
const (
	policyAPIVersion      = "2021-06-01"
	remediationAPIVersion = "2021-10-01"
	statesAPIVersion      = "2019-10-01"
)

func (a *App) policyCommand() *cobra.Command {
	return group("policy", "Manage Azure Policy: definitions, assignments, remediations and compliance states.",
		group("definition", "Manage policy definitions.", a.policyDefinitionCreate(), a.policyDefinitionShow(), a.policyDefinitionList(), a.policyDefinitionDelete()),
		group("set-definition", "Manage policy set definitions (initiatives).", a.policySetCreate(), a.policySetShow(), a.policySetList(), a.policySetDelete()),
		group("assignment", "Manage policy assignments.", a.policyAssignmentCreate(), a.policyAssignmentShow(), a.policyAssignmentList(), a.policyAssignmentDelete()),
		group("remediation", "Deploy an assignment's deployIfNotExists to the non-compliant resources of a scope.",
			a.remediationCreate(), a.remediationShow(), a.remediationList(), a.remediationDelete(), a.remediationCancel()),
		group("state", "Query compliance states.", a.stateList(), a.stateSummarize(), a.stateTriggerScan()))
}

// jsonArg reads a flag that takes JSON or the path of a file holding it,
// as az's --rules and --params do.
func jsonArg(flag, v string) (json.RawMessage, error) {
	raw := []byte(v)
	if _, err := os.Stat(v); err == nil {
		if raw, err = readFile(flag, v); err != nil {
			return nil, err
		}
	}
	var probe any
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, usagef("--%s: neither a readable file nor JSON: %v", flag, err)
	}
	return raw, nil
}

// policyScope is the scope of a policy command: --scope, else the
// resource group of -g, else the subscription.
func (a *App) policyScope(scope, group string) (string, error) {
	switch {
	case scope != "" && group != "":
		return "", usagef("give --scope or --resource-group, not both")
	case scope != "":
		return strings.TrimSuffix(scope, "/"), nil
	case group != "":
		return "/subscriptions/" + a.subscription + "/resourceGroups/" + group, nil
	}
	return "/subscriptions/" + a.subscription, nil
}

func policyPath(scope, kind, name string) string {
	p := scope + "/providers/Microsoft.Authorization/" + kind
	if name != "" {
		p += "/" + name
	}
	return p + "?api-version=" + policyAPIVersion
}

var policyColumns = []column{{"Name", "name"}, {"DisplayName", "properties.displayName"}, {"Mode", "properties.mode"}, {"PolicyType", "properties.policyType"}}

// ---- definitions ----

func (a *App) definitionPath(name string) string {
	if strings.HasPrefix(name, "/") {
		return name + "?api-version=" + policyAPIVersion
	}
	return policyPath("/subscriptions/"+a.subscription, "policyDefinitions", name)
}

// definitionID resolves a definition's name as az does: the
// subscription's, else the built-in one of that name.
func (a *App) definitionID(nameOrID string) (string, error) {
	if strings.HasPrefix(nameOrID, "/") {
		return nameOrID, nil
	}
	var out struct {
		ID string `json:"id"`
	}
	_, err := a.call(http.MethodGet, a.definitionPath(nameOrID), nil, &out)
	var ae *armclient.Error
	if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound {
		_, err = a.call(http.MethodGet, builtinDefinitionPath+nameOrID+"?api-version="+policyAPIVersion, nil, &out)
	}
	return out.ID, err
}

const builtinDefinitionPath = "/providers/Microsoft.Authorization/policyDefinitions/"

func (a *App) policyDefinitionCreate() *cobra.Command {
	var name, rules, params, mode, displayName, description string
	var metadata []string
	cmd := leaf("create", "Create or replace a policy definition.", func(*cobra.Command) error {
		props := map[string]any{"mode": mode}
		raw, err := jsonArg("rules", rules)
		if err != nil {
			return err
		}
		props["policyRule"] = raw
		if params != "" {
			if props["parameters"], err = jsonArg("params", params); err != nil {
				return err
			}
		}
		if err := describedBy(props, displayName, description, metadata); err != nil {
			return err
		}
		var out map[string]any
		if _, err := a.call(http.MethodPut, a.definitionPath(name), map[string]any{"properties": props}, &out); err != nil {
			return err
		}
		return a.print(out, policyColumns)
	})
	required(cmd, &name, "name", "n", "Name of the policy definition.")
	required(cmd, &rules, "rules", "", "The policy rule ({\"if\": ..., \"then\": ...}), as JSON or the path of a file holding it.")
	cmd.Flags().StringVar(&params, "params", "", "The definition's parameters, as JSON or the path of a file holding it.")
	cmd.Flags().StringVar(&mode, "mode", "Indexed", "Which resources are evaluated: Indexed (those with a location, and their extension resources such as fluxConfigurations) or All.")
	cmd.Flags().StringVar(&displayName, "display-name", "", "Display name of the policy definition.")
	cmd.Flags().StringVar(&description, "description", "", "Description of the policy definition.")
	cmd.Flags().StringSliceVar(&metadata, "metadata", nil, "Metadata as key=value pairs, e.g. category=Kubernetes.")
	return cmd
}

func (a *App) policyDefinitionShow() *cobra.Command {
	var name string
	cmd := leaf("show", "Show a policy definition: the subscription's, else the built-in one of that name.", func(*cobra.Command) error {
		id, err := a.definitionID(name)
		if err != nil {
			return err
		}
		var out map[string]any
		if _, err := a.call(http.MethodGet, id+"?api-version="+policyAPIVersion, nil, &out); err != nil {
			return err
		}
		return a.print(out, policyColumns)
	})
	required(cmd, &name, "name", "n", "Name of the policy definition, or the ID of a built-in one.")
	return cmd
}

func (a *App) policyDefinitionList() *cobra.Command {
	return leaf("list", "List the subscription's policy definitions and the built-in ones.", func(*cobra.Command) error {
		all, err := armclient.List[map[string]any](context.Background(), a.client(), policyPath("/subscriptions/"+a.subscription, "policyDefinitions", ""))
		if err != nil {
			return a.reachable(err)
		}
		return a.print(all, policyColumns)
	})
}

func (a *App) policyDefinitionDelete() *cobra.Command {
	var name string
	cmd := leaf("delete", "Delete a policy definition that no assignment uses.", func(*cobra.Command) error {
		_, err := a.call(http.MethodDelete, a.definitionPath(name), nil, nil)
		return err
	})
	required(cmd, &name, "name", "n", "Name of the policy definition.")
	return cmd
}

// ---- assignments ----

var policyAssignmentColumns = []column{{"Name", "name"}, {"Scope", "properties.scope"}, {"EnforcementMode", "properties.enforcementMode"}, {"PolicyDefinitionId", "properties.policyDefinitionId"}}

// scopeFlags are --scope and --resource-group.
type scopeFlags struct{ Scope, ResourceGroup string }

func (s *scopeFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.Scope, "scope", "", "Scope: /subscriptions/<id>, a resource group's or a resource's ID (default: the subscription, or -g's group).")
	cmd.Flags().StringVarP(&s.ResourceGroup, "resource-group", "g", "", "Name of the resource group the scope is.")
}

func (a *App) policyAssignmentCreate() *cobra.Command {
	var s scopeFlags
	var name, policy, policySet, params, displayName, description, enforcement, location, role, identityScope string
	var notScopes []string
	var systemIdentity bool
	cmd := leaf("create", "Assign a policy definition at a scope.", func(*cobra.Command) error {
		scope, err := a.policyScope(s.Scope, s.ResourceGroup)
		if err != nil {
			return err
		}
		if role != "" && !systemIdentity {
			return usagef("--role is given to the assignment's identity: add --mi-system-assigned and --location")
		}
		var defID string
		switch {
		case (policy == "") == (policySet == ""):
			return usagef("give --policy or --policy-set-definition (one of them)")
		case policySet != "":
			defID = a.setPath(policySet)
			defID = defID[:strings.Index(defID, "?")]
		default:
			if defID, err = a.definitionID(policy); err != nil {
				return err
			}
		}
		props := map[string]any{"policyDefinitionId": defID, "enforcementMode": enforcement}
		if params != "" {
			if props["parameters"], err = jsonArg("params", params); err != nil {
				return err
			}
		}
		if len(notScopes) > 0 {
			props["notScopes"] = notScopes
		}
		_ = describedBy(props, displayName, description, nil) // no metadata: nothing to refuse
		body := map[string]any{"properties": props}
		if systemIdentity {
			body["identity"] = map[string]any{"type": "SystemAssigned"}
		}
		if location != "" {
			body["location"] = location
		}
		var out map[string]any
		if _, err := a.call(http.MethodPut, policyPath(scope, "policyAssignments", name), body, &out); err != nil {
			return err
		}
		if role != "" {
			identity, _ := out["identity"].(map[string]any)
			principal, _ := identity["principalId"].(string)
			if identityScope == "" {
				identityScope = scope
			}
			if err := a.assign(role, identityScope, principal, "ServicePrincipal", nil); err != nil {
				return fmt.Errorf("the assignment was created, but its identity got no role: %w", err)
			}
		}
		return a.print(out, policyAssignmentColumns)
	})
	required(cmd, &name, "name", "n", "Name of the policy assignment.")
	cmd.Flags().StringVar(&policy, "policy", "", "Name or ID of the policy definition to assign.")
	cmd.Flags().StringVar(&policySet, "policy-set-definition", "", "Name or ID of the policy set definition (initiative) to assign.")
	s.bind(cmd)
	cmd.Flags().StringVarP(&params, "params", "p", "", "Values of the definition's parameters ({\"name\": {\"value\": ...}}), as JSON or the path of a file holding it.")
	cmd.Flags().StringVar(&displayName, "display-name", "", "Display name of the assignment.")
	cmd.Flags().StringVar(&description, "description", "", "Description of the assignment.")
	cmd.Flags().StringSliceVar(&notScopes, "not-scopes", nil, "Scopes the assignment leaves out.")
	cmd.Flags().StringVar(&enforcement, "enforcement-mode", "Default", "Default, or DoNotEnforce: evaluate and report, but neither deny nor deploy on its own (remediations still deploy).")
	cmd.Flags().BoolVar(&systemIdentity, "mi-system-assigned", false, "Give the assignment a system-assigned identity, which deployIfNotExists deploys as (needs --location).")
	cmd.Flags().StringVarP(&location, "location", "l", "", "Location of the assignment's identity.")
	cmd.Flags().StringVar(&role, "role", "", "Role to give the identity, e.g. Contributor (the definition's roleDefinitionIds).")
	cmd.Flags().StringVar(&identityScope, "identity-scope", "", "Scope of the identity's role (default: the assignment's scope).")
	return cmd
}

func (a *App) policyAssignmentShow() *cobra.Command {
	var s scopeFlags
	var name string
	cmd := leaf("show", "Show a policy assignment.", func(*cobra.Command) error {
		scope, err := a.policyScope(s.Scope, s.ResourceGroup)
		if err != nil {
			return err
		}
		var out map[string]any
		if _, err := a.call(http.MethodGet, policyPath(scope, "policyAssignments", name), nil, &out); err != nil {
			return err
		}
		return a.print(out, policyAssignmentColumns)
	})
	required(cmd, &name, "name", "n", "Name of the policy assignment.")
	s.bind(cmd)
	return cmd
}

func (a *App) policyAssignmentList() *cobra.Command {
	var s scopeFlags
	cmd := leaf("list", "List the policy assignments that apply at a scope.", func(*cobra.Command) error {
		scope, err := a.policyScope(s.Scope, s.ResourceGroup)
		if err != nil {
			return err
		}
		all, err := armclient.List[map[string]any](context.Background(), a.client(), policyPath(scope, "policyAssignments", ""))
		if err != nil {
			return a.reachable(err)
		}
		return a.print(all, policyAssignmentColumns)
	})
	s.bind(cmd)
	return cmd
}

func (a *App) policyAssignmentDelete() *cobra.Command {
	var s scopeFlags
	var name string
	cmd := leaf("delete", "Delete a policy assignment; what it deployed stays, as in Azure.", func(*cobra.Command) error {
		scope, err := a.policyScope(s.Scope, s.ResourceGroup)
		if err != nil {
			return err
		}
		_, err = a.call(http.MethodDelete, policyPath(scope, "policyAssignments", name), nil, nil)
		return err
	})
	required(cmd, &name, "name", "n", "Name of the policy assignment.")
	s.bind(cmd)
	return cmd
}

// assignmentID resolves an assignment's name to its ID, as az does: among
// the assignments that apply to the subscription.
func (a *App) assignmentID(nameOrID string) (string, error) {
	if strings.HasPrefix(nameOrID, "/") {
		return nameOrID, nil
	}
	all, err := armclient.List[map[string]any](context.Background(), a.client(), policyPath("/subscriptions/"+a.subscription, "policyAssignments", ""))
	if err != nil {
		return "", a.reachable(err)
	}
	var ids []string
	for _, x := range all {
		if n, _ := x["name"].(string); strings.EqualFold(n, nameOrID) {
			id, _ := x["id"].(string)
			ids = append(ids, id)
		}
	}
	switch len(ids) {
	case 0:
		return "", usagef("no policy assignment is named %q: list them with 'arcgitops policy assignment list'", nameOrID)
	case 1:
		return ids[0], nil
	}
	return "", usagef("%d policy assignments are named %q: give the ID of one (%s)", len(ids), nameOrID, strings.Join(ids, ", "))
}

// ---- remediations ----

var remediationColumns = []column{{"Name", "name"}, {"ProvisioningState", "properties.provisioningState"},
	{"Total", "properties.deploymentStatus.totalDeployments"}, {"Succeeded", "properties.deploymentStatus.successfulDeployments"},
	{"Failed", "properties.deploymentStatus.failedDeployments"}}

// resourceScopeFlags are -g and --resource, the scope of a remediation or
// a states query.
type resourceScopeFlags struct{ ResourceGroup, Resource string }

func (s *resourceScopeFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&s.ResourceGroup, "resource-group", "g", "", "Name of the resource group (default: the whole subscription).")
	cmd.Flags().StringVar(&s.Resource, "resource", "", "ID of a resource (a cluster's or a fluxConfiguration's).")
}

func (s *resourceScopeFlags) scope(a *App) (string, error) {
	if s.Resource != "" {
		if !strings.HasPrefix(s.Resource, "/subscriptions/") {
			return "", usagef("--resource %q: give the resource's full ID (/subscriptions/...)", s.Resource)
		}
		return strings.TrimSuffix(s.Resource, "/"), nil
	}
	return a.policyScope("", s.ResourceGroup)
}

func remediationPath(scope, name, action string) string {
	p := scope + "/providers/Microsoft.PolicyInsights/remediations"
	if name != "" {
		p += "/" + name
	}
	if action != "" {
		p += "/" + action
	}
	return p + "?api-version=" + remediationAPIVersion
}

func (a *App) remediationCreate() *cobra.Command {
	var s resourceScopeFlags
	var name, assignment, mode, ref string
	cmd := leaf("create", "Remediate the non-compliant resources of a scope: deploy the assignment's deployIfNotExists to each.", func(*cobra.Command) error {
		scope, err := s.scope(a)
		if err != nil {
			return err
		}
		id, err := a.assignmentID(assignment)
		if err != nil {
			return err
		}
		props := map[string]any{"policyAssignmentId": id}
		if mode != "" {
			props["resourceDiscoveryMode"] = mode
		}
		if ref != "" {
			props["policyDefinitionReferenceId"] = ref
		}
		var out map[string]any
		if _, err := a.call(http.MethodPut, remediationPath(scope, name, ""), map[string]any{"properties": props}, &out); err != nil {
			return err
		}
		return a.print(out, remediationColumns)
	})
	required(cmd, &name, "name", "n", "Name of the remediation.")
	required(cmd, &assignment, "policy-assignment", "a", "Name or ID of the policy assignment to remediate.")
	cmd.Flags().StringVar(&ref, "definition-reference-id", "", "The member of the assignment's policy set to remediate (its policyDefinitionReferenceId); only for a set's assignment.")
	cmd.Flags().StringVar(&mode, "resource-discovery-mode", "", "ExistingNonCompliant (default: the states already recorded) or ReEvaluateCompliance (evaluate the scope first).")
	s.bind(cmd)
	return cmd
}

// remediationCommand is a command on one remediation by name.
func (a *App) remediationCommand(use, short, method, action string) *cobra.Command {
	var s resourceScopeFlags
	var name string
	cmd := leaf(use, short, func(*cobra.Command) error {
		scope, err := s.scope(a)
		if err != nil {
			return err
		}
		var out map[string]any
		if _, err := a.call(method, remediationPath(scope, name, action), nil, &out); err != nil {
			return err
		}
		if method == http.MethodDelete {
			return nil
		}
		return a.print(out, remediationColumns)
	})
	required(cmd, &name, "name", "n", "Name of the remediation.")
	s.bind(cmd)
	return cmd
}

func (a *App) remediationShow() *cobra.Command {
	return a.remediationCommand("show", "Show a remediation and how far it got.", http.MethodGet, "")
}

func (a *App) remediationDelete() *cobra.Command {
	return a.remediationCommand("delete", "Delete a remediation's record (what it deployed stays).", http.MethodDelete, "")
}

func (a *App) remediationCancel() *cobra.Command {
	return a.remediationCommand("cancel", "Cancel a running remediation: it deploys to no further resource.", http.MethodPost, "cancel")
}

func (a *App) remediationList() *cobra.Command {
	var s resourceScopeFlags
	cmd := leaf("list", "List the remediations at and under a scope.", func(*cobra.Command) error {
		scope, err := s.scope(a)
		if err != nil {
			return err
		}
		all, err := armclient.List[map[string]any](context.Background(), a.client(), remediationPath(scope, "", ""))
		if err != nil {
			return a.reachable(err)
		}
		return a.print(all, remediationColumns)
	})
	s.bind(cmd)
	return cmd
}

// ---- states ----

var stateColumns = []column{{"ResourceId", "resourceId"}, {"ComplianceState", "complianceState"}, {"PolicyAssignmentName", "policyAssignmentName"}, {"Timestamp", "timestamp"}}

// statesFlags name what a states query is about: a resource scope, or an
// assignment (-a, within -g when it is a group's) or a definition (-d).
type statesFlags struct {
	resourceScopeFlags
	Assignment, Definition, Filter string
}

func (s *statesFlags) bind(cmd *cobra.Command) {
	s.resourceScopeFlags.bind(cmd)
	cmd.Flags().StringVarP(&s.Assignment, "policy-assignment", "a", "", "Name of a policy assignment (of the subscription, or of -g's group).")
	cmd.Flags().StringVarP(&s.Definition, "policy-definition", "d", "", "Name of a policy definition.")
	cmd.Flags().StringVar(&s.Filter, "filter", "", "OData filter, e.g. \"complianceState eq 'NonCompliant' and resourceGroup eq 'fleet'\".")
}

func (s *statesFlags) scope(a *App) (string, error) {
	switch {
	case s.Assignment != "" && s.Definition != "":
		return "", usagef("give --policy-assignment or --policy-definition, not both")
	case s.Assignment != "":
		scope, err := a.policyScope("", s.ResourceGroup)
		return scope + "/providers/Microsoft.Authorization/policyAssignments/" + s.Assignment, err
	case s.Definition != "":
		return "/subscriptions/" + a.subscription + "/providers/Microsoft.Authorization/policyDefinitions/" + s.Definition, nil
	}
	return s.resourceScopeFlags.scope(a)
}

func statesPath(scope, resource, action string, q url.Values) string {
	q.Set("api-version", statesAPIVersion)
	return scope + "/providers/Microsoft.PolicyInsights/policyStates/" + resource + "/" + action + "?" + q.Encode()
}

func (a *App) stateList() *cobra.Command {
	var s statesFlags
	var apply, sel, orderBy, from, to string
	var top int
	var all bool
	cmd := leaf("list", "List compliance states: one per resource and assignment.", func(*cobra.Command) error {
		scope, err := s.scope(a)
		if err != nil {
			return err
		}
		q := url.Values{}
		for k, v := range map[string]string{"$filter": s.Filter, "$apply": apply, "$select": sel, "$orderby": orderBy, "$from": from, "$to": to} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if top > 0 {
			q.Set("$top", fmt.Sprint(top))
		}
		resource := "latest"
		if all {
			resource = "default"
		}
		states := []map[string]any{}
		for next := statesPath(scope, resource, "queryResults", q); next != ""; {
			var page struct {
				Value    []map[string]any `json:"value"`
				NextLink string           `json:"@odata.nextLink"`
			}
			if _, err := a.call(http.MethodPost, next, nil, &page); err != nil {
				return err
			}
			states = append(states, page.Value...)
			next = page.NextLink
		}
		return a.print(states, stateColumns)
	})
	s.bind(cmd)
	cmd.Flags().StringVar(&apply, "apply", "", "OData apply: groupby((properties)[, aggregate($count as name)]) or aggregate($count as name), joined with /.")
	cmd.Flags().StringVar(&sel, "select", "", "Properties to show, comma-separated.")
	cmd.Flags().StringVar(&orderBy, "order-by", "", "Ordering, e.g. \"timestamp desc, resourceId asc\".")
	cmd.Flags().StringVar(&from, "from", "", "Start of the interval (ISO 8601).")
	cmd.Flags().StringVar(&to, "to", "", "End of the interval (ISO 8601).")
	cmd.Flags().IntVar(&top, "top", 0, "At most this many states.")
	cmd.Flags().BoolVar(&all, "all", false, "Every state kept, not only the latest (here the same: only the latest is kept).")
	return cmd
}

func (a *App) stateSummarize() *cobra.Command {
	var s statesFlags
	var top int
	cmd := leaf("summarize", "Summarize compliance: non-compliant resources and policies, per assignment.", func(*cobra.Command) error {
		scope, err := s.scope(a)
		if err != nil {
			return err
		}
		q := url.Values{}
		if s.Filter != "" {
			q.Set("$filter", s.Filter)
		}
		if top > 0 {
			q.Set("$top", fmt.Sprint(top))
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if _, err := a.call(http.MethodPost, statesPath(scope, "latest", "summarize", q), nil, &out); err != nil {
			return err
		}
		if len(out.Value) == 0 {
			return errors.New("the data plane answered no summary")
		}
		return a.print(out.Value[0], []column{{"NonCompliantResources", "results.nonCompliantResources"}, {"NonCompliantPolicies", "results.nonCompliantPolicies"}})
	})
	s.bind(cmd)
	cmd.Flags().IntVar(&top, "top", 0, "At most this many assignments, the most non-compliant first.")
	return cmd
}

func (a *App) stateTriggerScan() *cobra.Command {
	var group string
	var noWait bool
	cmd := leaf("trigger-scan", "Evaluate every cluster of the subscription or of a resource group now.", func(*cobra.Command) error {
		scope, err := a.policyScope("", group)
		if err != nil {
			return err
		}
		resp, err := a.call(http.MethodPost, statesPath(scope, "latest", "triggerEvaluation", url.Values{}), nil, nil)
		if err != nil {
			return err
		}
		return a.settle(resp, noWait)
	})
	cmd.Flags().StringVarP(&group, "resource-group", "g", "", "Name of the resource group (default: the whole subscription).")
	bindNoWait(cmd, &noWait)
	return cmd
}

// describedBy adds a display name, a description and --metadata
// key=value pairs to a policy resource's properties.
func describedBy(props map[string]any, displayName, description string, metadata []string) error {
	if len(metadata) > 0 {
		m := map[string]string{}
		for _, kv := range metadata {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return usagef("--metadata %q is not key=value", kv)
			}
			m[k] = v
		}
		props["metadata"] = m
	}
	for k, v := range map[string]string{"displayName": displayName, "description": description} {
		if v != "" {
			props[k] = v
		}
	}
	return nil
}

// ---- set definitions ----

var policySetColumns = []column{{"Name", "name"}, {"DisplayName", "properties.displayName"}, {"PolicyType", "properties.policyType"}}

func (a *App) setPath(name string) string {
	if strings.HasPrefix(name, "/") {
		return name + "?api-version=" + policyAPIVersion
	}
	return policyPath("/subscriptions/"+a.subscription, "policySetDefinitions", name)
}

func (a *App) policySetCreate() *cobra.Command {
	var name, definitions, params, groups, displayName, description string
	var metadata []string
	cmd := leaf("create", "Create or replace a policy set definition.", func(*cobra.Command) error {
		props := map[string]any{}
		raw, err := jsonArg("definitions", definitions)
		if err != nil {
			return err
		}
		props["policyDefinitions"] = raw
		for flag, v := range map[string]string{"params": params, "definition-groups": groups} {
			if v == "" {
				continue
			}
			key := map[string]string{"params": "parameters", "definition-groups": "policyDefinitionGroups"}[flag]
			if props[key], err = jsonArg(flag, v); err != nil {
				return err
			}
		}
		if err := describedBy(props, displayName, description, metadata); err != nil {
			return err
		}
		var out map[string]any
		if _, err := a.call(http.MethodPut, a.setPath(name), map[string]any{"properties": props}, &out); err != nil {
			return err
		}
		return a.print(out, policySetColumns)
	})
	required(cmd, &name, "name", "n", "Name of the policy set definition.")
	required(cmd, &definitions, "definitions", "", "The members: [{\"policyDefinitionId\": ..., \"policyDefinitionReferenceId\": ..., \"parameters\": {...}}], as JSON or the path of a file holding it.")
	cmd.Flags().StringVar(&params, "params", "", "The set's parameters, as JSON or the path of a file holding it.")
	cmd.Flags().StringVar(&groups, "definition-groups", "", "The groups of members ([{\"name\": ...}]), as JSON or the path of a file holding it.")
	cmd.Flags().StringVar(&displayName, "display-name", "", "Display name of the set.")
	cmd.Flags().StringVar(&description, "description", "", "Description of the set.")
	cmd.Flags().StringSliceVar(&metadata, "metadata", nil, "Metadata as key=value pairs, e.g. category=Kubernetes.")
	return cmd
}

func (a *App) policySetShow() *cobra.Command {
	var name string
	cmd := leaf("show", "Show a policy set definition.", func(*cobra.Command) error {
		var out map[string]any
		if _, err := a.call(http.MethodGet, a.setPath(name), nil, &out); err != nil {
			return err
		}
		return a.print(out, policySetColumns)
	})
	required(cmd, &name, "name", "n", "Name or ID of the policy set definition.")
	return cmd
}

func (a *App) policySetList() *cobra.Command {
	return leaf("list", "List the subscription's policy set definitions.", func(*cobra.Command) error {
		all, err := armclient.List[map[string]any](context.Background(), a.client(), policyPath("/subscriptions/"+a.subscription, "policySetDefinitions", ""))
		if err != nil {
			return a.reachable(err)
		}
		return a.print(all, policySetColumns)
	})
}

func (a *App) policySetDelete() *cobra.Command {
	var name string
	cmd := leaf("delete", "Delete a policy set definition that no assignment uses.", func(*cobra.Command) error {
		_, err := a.call(http.MethodDelete, a.setPath(name), nil, nil)
		return err
	})
	required(cmd, &name, "name", "n", "Name or ID of the policy set definition.")
	return cmd
}
