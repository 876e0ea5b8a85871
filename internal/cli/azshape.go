package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/arcgitops/arcgitops/internal/arm"
)

// What az prints for a fluxConfiguration is the SDK's model, flattened:
// the properties at the top level, and resourceGroup added from the ID.
// These shape the data plane's ARM answers the same way.

// az prints an SDK model: every attribute, null when the service left it
// out, under the name the SDK gives it (httpsCaCert, not the REST spec's
// httpsCACert). These are the attributes of the models az prints.
var (
	azConfigAttrs = []string{"bucket", "azureBlob", "ociRepository", "complianceState", "errorMessage", "gitRepository",
		"kustomizations", "namespace", "provisioningState", "repositoryPublicKey", "scope", "sourceKind",
		"sourceSyncedCommitId", "sourceUpdatedAt", "statusUpdatedAt", "statuses", "suspend", "systemData",
		"waitForReconciliation", "reconciliationWaitDuration"}
	azGitAttrs = []string{"url", "timeoutInSeconds", "syncIntervalInSeconds", "repositoryRef", "sshKnownHosts",
		"httpsUser", "httpsCaCert", "localAuthRef", "provider"}
	azKustomizationAttrs = []string{"name", "path", "dependsOn", "timeoutInSeconds", "syncIntervalInSeconds",
		"retryIntervalInSeconds", "prune", "force", "wait", "postBuild"}
	azObjectAttrs = []string{"name", "namespace", "kind", "complianceState", "appliedBy", "statusConditions", "helmReleaseProperties"}
)

// withAttrs adds the attributes m lacks, as null.
func withAttrs(m map[string]any, attrs []string) map[string]any {
	for _, a := range attrs {
		if _, ok := m[a]; !ok {
			m[a] = nil
		}
	}
	return m
}

// azFlux flattens one configuration as az prints it.
func azFlux(obj map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range obj {
		if k != "properties" {
			out[k] = v
		}
	}
	if props, ok := obj["properties"].(map[string]any); ok {
		for k, v := range props {
			out[k] = v
		}
	}
	if id, ok := obj["id"].(string); ok {
		_, out["resourceGroup"] = arm.ScopeParts(id)
	}
	withAttrs(out, azConfigAttrs)
	// Write-only: az prints what the service answers, an empty map.
	out["configurationProtectedSettings"] = map[string]any{}
	if git, ok := out["gitRepository"].(map[string]any); ok {
		if ca, ok := git["httpsCACert"]; ok {
			git["httpsCaCert"] = ca
			delete(git, "httpsCACert")
		}
		withAttrs(git, azGitAttrs)
	}
	azKustomizations(out["kustomizations"])
	if list, ok := out["statuses"].([]any); ok {
		for _, s := range list {
			if m, ok := s.(map[string]any); ok {
				withAttrs(m, azObjectAttrs)
			}
		}
	}
	return out
}

// azKustomizations gives each kustomization of a map az's attributes.
func azKustomizations(v any) {
	ks, _ := v.(map[string]any)
	for _, k := range ks {
		if m, ok := k.(map[string]any); ok {
			withAttrs(m, azKustomizationAttrs)
		}
	}
}

func azFluxList(list []map[string]any) []map[string]any {
	out := make([]map[string]any, 0, len(list))
	for _, o := range list {
		out = append(out, azFlux(o))
	}
	return out
}

// kustomizationRows are az's table rows of kustomizations (a map keyed by
// name, as az prints them), sorted by name.
func kustomizationRows(ks map[string]any) []map[string]any {
	names := make([]string, 0, len(ks))
	for n := range ks {
		names = append(names, n)
	}
	sort.Strings(names)
	rows := make([]map[string]any, 0, len(names))
	for _, n := range names {
		k, _ := ks[n].(map[string]any)
		var deps []string
		list, _ := k["dependsOn"].([]any)
		for _, d := range list {
			deps = append(deps, fmt.Sprint(d))
		}
		rows = append(rows, map[string]any{
			"name": n, "path": k["path"], "dependsOn": strings.Join(deps, ","),
			"syncInterval": formatDuration(k["syncIntervalInSeconds"]), "timeout": formatDuration(k["timeoutInSeconds"]),
			"prune": k["prune"], "force": k["force"],
		})
	}
	return rows
}

// formatDuration prints seconds as az's tables do: 1h2m3s, 10m, "" for 0.
func formatDuration(v any) string {
	f, ok := v.(float64)
	if !ok {
		return ""
	}
	s := int64(f)
	var b strings.Builder
	if h := s / 3600; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m := s % 3600 / 60; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if sec := s % 60; sec > 0 {
		fmt.Fprintf(&b, "%ds", sec)
	}
	return b.String()
}

// objectRows are az's table rows of deployed objects: the Ready
// condition's message, cut at 60 characters.
func objectRows(objs []map[string]any) []map[string]any {
	rows := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		message := "None"
		conds, _ := o["statusConditions"].([]any)
		for _, c := range conds {
			cm, _ := c.(map[string]any)
			if cm["type"] == "Ready" {
				message = fmt.Sprint(cm["message"])
				if len(message) > 60 {
					message = message[:60] + "..."
				}
				break
			}
		}
		rows = append(rows, map[string]any{"kind": o["kind"], "namespace": o["namespace"], "name": o["name"],
			"complianceState": o["complianceState"], "message": message})
	}
	return rows
}
