package policy

import (
	"sort"
	"strings"
)

// Resource is what a policy evaluates: ARM's envelope and the properties,
// as the resource's GET answers them.
type Resource struct {
	ID, Name, Type, Location, Kind string
	Tags                           map[string]string
	IdentityType                   string
	Properties                     map[string]any
}

// aliasProperties are the property names of the resource types whose
// aliases a policy may use (Microsoft.KubernetesConfiguration/fluxConfigurations/gitRepository.url
// is the gitRepository.url property of a fluxConfiguration). Deeper
// segments are not checked: kustomizations are a map keyed by name.
var aliasProperties = map[string][]string{
	"microsoft.kubernetesconfiguration/fluxconfigurations": {"scope", "namespace", "sourceKind", "suspend", "gitRepository",
		"bucket", "azureBlob", "ociRepository", "kustomizations", "statuses", "repositoryPublicKey", "sourceSyncedCommitId",
		"sourceUpdatedAt", "statusUpdatedAt", "waitForReconciliation", "reconciliationWaitDuration", "complianceState",
		"provisioningState", "errorMessage"},
	"microsoft.kubernetes/connectedclusters": {"agentPublicKeyCertificate", "kubernetesVersion", "totalNodeCount",
		"totalCoreCount", "agentVersion", "provisioningState", "distribution", "distributionVersion", "infrastructure",
		"offering", "lastConnectivityTime", "connectivityStatus", "privateLinkState", "azureHybridBenefit"},
	"microsoft.containerservice/managedclusters": {"kubernetesVersion", "provisioningState", "dnsPrefix", "fqdn",
		"agentPoolProfiles", "nodeResourceGroup", "enableRBAC", "oidcIssuerProfile", "securityProfile"},
	"microsoft.kubernetesconfiguration/extensions": {"extensionType", "autoUpgradeMinorVersion", "releaseTrain", "version",
		"scope", "configurationSettings", "provisioningState", "currentVersion", "statuses", "isSystemExtension"},
}

// renamedAliases are aliases whose name kept a property's old name: Azure
// maps an alias to each api-version's path, and fluxConfigurations'
// gitRepository.httpsCAFile (2021-11-01-preview) is httpsCACert since
// 2022-01-01-preview. Azure's built-in HTTPS CA definition checks it.
var renamedAliases = map[string]string{
	"microsoft.kubernetesconfiguration/fluxconfigurations/gitrepository.httpscafile": "gitRepository.httpsCACert",
}

// checkField accepts the standard fields, tags in their forms, an
// expression (checked when evaluated) and the aliases of known types.
func checkField(f, path string) error {
	if isExpr(f) {
		return checkExpressions(f, path)
	}
	if _, ok := standardField(f); ok || isTagField(f) {
		return nil
	}
	typ, prop, ok := splitAlias(f)
	if !ok {
		return errAt(path, "%q is not a field: use name, fullName, kind, type, location, id, identity.type, tags, tags['name'] or a property alias such as Microsoft.KubernetesConfiguration/fluxConfigurations/gitRepository.url", f)
	}
	props, known := aliasProperties[strings.ToLower(typ)]
	if !known {
		types := make([]string, 0, len(aliasProperties))
		for t := range aliasProperties {
			types = append(types, t)
		}
		sort.Strings(types)
		return errAt(path, "%q is not an alias: no aliases of resource type %s here (there are aliases of %s)", f, typ, strings.Join(types, ", "))
	}
	first, _, _ := strings.Cut(strings.TrimSuffix(prop, "[*]"), ".")
	first = strings.TrimSuffix(first, "[*]")
	for _, p := range props {
		if strings.EqualFold(p, first) {
			return nil // an array alias outside count: every element must match
		}
	}
	return errAt(path, "%q is not an alias: %s has no property %q (it has %s)", f, typ, first, strings.Join(props, ", "))
}

// standardField maps a standard field to the envelope member it reads.
func standardField(f string) (string, bool) {
	switch strings.ToLower(f) {
	case "name", "fullname":
		return "name", true
	case "type":
		return "type", true
	case "location":
		return "location", true
	case "id":
		return "id", true
	case "kind":
		return "kind", true
	case "identity.type":
		return "identity.type", true
	case "tags":
		return "tags", true
	}
	return "", false
}

func isTagField(f string) bool {
	_, ok := tagName(f)
	return ok
}

// tagName reads tags['k'], tags[”'k”'], tags[k] and tags.k.
func tagName(f string) (string, bool) {
	lf := strings.ToLower(f)
	switch {
	case strings.HasPrefix(lf, "tags[") && strings.HasSuffix(f, "]"):
		name := f[5 : len(f)-1]
		if len(name) >= 2 && name[0] == '\'' && name[len(name)-1] == '\'' {
			name = strings.ReplaceAll(name[1:len(name)-1], "''", "'")
		}
		return name, name != ""
	case strings.HasPrefix(lf, "tags.") && len(f) > 5:
		return f[5:], true
	}
	return "", false
}

// splitAlias splits Namespace/type/property.path.
func splitAlias(f string) (typ, prop string, ok bool) {
	parts := strings.SplitN(f, "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" || !strings.Contains(parts[0], ".") {
		return "", "", false
	}
	return parts[0] + "/" + parts[1], parts[2], true
}

// scope is one enclosing count's current element: the array alias (field
// count) or index name (value count) it enumerates.
type scope struct {
	alias, name string
	elem        any
}

// fieldValue is a field's value in res; array aliases ([*]) give every
// element's value and many=true. A missing property is nil.
func fieldValue(res *Resource, f string, scopes []scope) (vals []any, many bool) {
	if name, ok := tagName(f); ok {
		for k, v := range res.Tags {
			if strings.EqualFold(k, name) {
				return []any{v}, false
			}
		}
		return []any{nil}, false
	}
	if std, ok := standardField(f); ok {
		return []any{envelope(res, std)}, false
	}
	// Inside a field count, the counted alias reads the current element.
	for i := len(scopes) - 1; i >= 0; i-- {
		s := scopes[i]
		if s.alias == "" || len(f) < len(s.alias) || !strings.EqualFold(f[:len(s.alias)], s.alias) {
			continue
		}
		rest := strings.TrimPrefix(f[len(s.alias):], ".")
		return walk(s.elem, rest)
	}
	typ, prop, ok := splitAlias(f)
	if !ok || !strings.EqualFold(typ, res.Type) {
		return []any{nil}, false // another type's alias: the property does not exist
	}
	if renamed, ok := renamedAliases[strings.ToLower(f)]; ok {
		prop = renamed
	}
	return walk(res.Properties, prop)
}

func envelope(res *Resource, field string) any {
	switch field {
	case "name":
		return res.Name
	case "type":
		return res.Type
	case "location":
		return res.Location
	case "id":
		return res.ID
	case "kind":
		return nilIfEmpty(res.Kind)
	case "identity.type":
		return nilIfEmpty(res.IdentityType)
	case "tags":
		tags := map[string]any{}
		for k, v := range res.Tags {
			tags[k] = v
		}
		return tags
	}
	return nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// walk follows a dotted path with [*] segments through v.
func walk(v any, path string) ([]any, bool) {
	if path == "" {
		return []any{v}, false
	}
	seg, rest, _ := strings.Cut(path, ".")
	star := strings.HasSuffix(seg, "[*]")
	seg = strings.TrimSuffix(seg, "[*]")
	var next any
	if seg != "" {
		m, ok := v.(map[string]any)
		if !ok {
			return []any{nil}, star
		}
		next = lookupFold(m, seg)
	} else {
		next = v
	}
	if !star {
		return walk(next, rest)
	}
	arr, _ := next.([]any)
	out := []any{}
	for _, e := range arr {
		vals, _ := walk(e, rest)
		out = append(out, vals...)
	}
	return out, true
}

func lookupFold(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}
