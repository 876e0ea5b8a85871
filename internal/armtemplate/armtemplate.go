// Package armtemplate evaluates ARM deployment templates, as a policy's
// deployIfNotExists deploys them: parameters with types, defaults and
// allowed values (and Key Vault references), variables, and resources whose
// every string may be an expression, expressions as property names
// included; a property whose value is null (json('null')) is left out.
// It returns the resources to write; the caller writes them.
package armtemplate

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/arcgitops/arcgitops/internal/armexpr"
)

// Error is a template error at a place in the template.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string { return e.Path + ": " + e.Msg }

func errAt(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Template is an ARM deployment template.
type Template struct {
	Schema         string                     `json:"$schema"`
	ContentVersion string                     `json:"contentVersion"`
	Parameters     map[string]Parameter       `json:"parameters"`
	Variables      map[string]json.RawMessage `json:"variables"`
	Resources      []json.RawMessage          `json:"resources"`
}

// Parameter is a template parameter's declaration.
type Parameter struct {
	Type          string          `json:"type"`
	DefaultValue  json.RawMessage `json:"defaultValue"`
	AllowedValues []any           `json:"allowedValues"`
}

// Resource is a resource the template deploys, evaluated.
type Resource struct {
	Type, APIVersion, Name string
	// Scope is the extension resource's scope, relative to the deployment's
	// resource group (Microsoft.Kubernetes/connectedClusters/c1) or an ID.
	Scope      string
	Properties map[string]any
	// Identity is the resource's identity block, when it has one.
	Identity map[string]any
}

// KeyVaultResolver reads a secret for a Key Vault reference
// ({"reference": {"keyVault": {"id": vaultID}, "secretName": name}}).
type KeyVaultResolver func(vaultID, secretName, version string) (string, error)

// Input is what a deployment evaluates a template with.
type Input struct {
	// Parameters are the deployment's parameters: {"name": {"value": ...}}
	// or {"name": {"reference": {...}}}.
	Parameters    map[string]json.RawMessage
	ResourceGroup map[string]any
	Subscription  map[string]any
	KeyVault      KeyVaultResolver
}

// parameterTypes are the template's parameter types, by lower-case name.
var parameterTypes = map[string]string{"string": "string", "securestring": "securestring", "int": "int", "bool": "bool",
	"object": "object", "secureobject": "secureobject", "array": "array"}

// Evaluate evaluates a template's resources.
func Evaluate(raw json.RawMessage, in Input) ([]Resource, error) {
	var t Template
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, errAt("template", "is not a template: %v", err)
	}
	ev := &evaluator{t: &t, in: in, vars: map[string]any{}, varsState: map[string]int{}}
	if err := ev.parameters(); err != nil {
		return nil, err
	}
	out := make([]Resource, 0, len(t.Resources))
	for i, r := range t.Resources {
		res, deploy, err := ev.resource(r, fmt.Sprintf("template.resources[%d]", i))
		if err != nil {
			return nil, err
		}
		if deploy {
			out = append(out, res)
		}
	}
	return out, nil
}

type evaluator struct {
	t         *Template
	in        Input
	params    map[string]any
	vars      map[string]any
	varsState map[string]int // 1 evaluating, 2 done
}

func (ev *evaluator) parameters() error {
	ev.params = map[string]any{}
	for name := range ev.in.Parameters {
		if _, ok := lookupDecl(ev.t.Parameters, name); !ok {
			return errAt("parameters."+name, "the template declares no such parameter (it declares %s)", names(ev.t.Parameters))
		}
	}
	for name, decl := range ev.t.Parameters {
		path := "template.parameters." + name
		typ, ok := parameterTypes[strings.ToLower(decl.Type)]
		if !ok {
			return errAt(path+".type", "%q is not a parameter type: use string, securestring, int, bool, object, secureobject or array", decl.Type)
		}
		v, secret, err := ev.parameterValue(name, decl, path)
		if err != nil {
			return err
		}
		shown := describe(v)
		if secret || strings.HasPrefix(typ, "secure") {
			shown = "the value" // never in a message
		}
		if err := checkType(typ, v, shown, path); err != nil {
			return err
		}
		if len(decl.AllowedValues) > 0 && !allowed(v, decl.AllowedValues) {
			return errAt(path, "%s is not one of the allowed values", shown)
		}
		ev.params[name] = v
	}
	return nil
}

// parameterValue is a parameter's value, and whether it is a secret (read
// from a Key Vault).
func (ev *evaluator) parameterValue(name string, decl Parameter, path string) (any, bool, error) {
	raw, given := lookupRaw(ev.in.Parameters, name)
	if !given {
		if len(decl.DefaultValue) == 0 {
			return nil, false, errAt(path, "has no value and no defaultValue: give it in the deployment's parameters as {%q: {\"value\": ...}} (in a policy definition, details.deployment.properties.parameters; e.g. {\"value\": \"[field('name')]\"} for the resource's name)", name)
		}
		v, err := armexpr.FromJSON(decl.DefaultValue)
		if err != nil {
			return nil, false, errAt(path+".defaultValue", "is not JSON: %v", err)
		}
		// A default may be an expression over other parameters or functions.
		v, err = ev.expand(v, path+".defaultValue")
		return v, false, err
	}
	var p struct {
		Value     json.RawMessage `json:"value"`
		Reference *struct {
			KeyVault struct {
				ID string `json:"id"`
			} `json:"keyVault"`
			SecretName    string `json:"secretName"`
			SecretVersion string `json:"secretVersion"`
		} `json:"reference"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, false, errAt("parameters."+name, "give it as {\"value\": ...} or a Key Vault reference: %v", err)
	}
	if p.Reference != nil {
		switch {
		case p.Reference.KeyVault.ID == "" || p.Reference.SecretName == "":
			return nil, false, errAt("parameters."+name+".reference", "a Key Vault reference needs keyVault.id and secretName")
		case ev.in.KeyVault == nil:
			return nil, false, errAt("parameters."+name+".reference", "Key Vault references cannot be resolved here: no Microsoft.KeyVault/vaults are served; give the value as {\"value\": ...}")
		}
		s, err := ev.in.KeyVault(p.Reference.KeyVault.ID, p.Reference.SecretName, p.Reference.SecretVersion)
		if err != nil {
			return nil, false, errAt("parameters."+name+".reference", "%v", err)
		}
		return s, true, nil
	}
	if len(p.Value) == 0 {
		return nil, false, errAt("parameters."+name, "give it as {\"value\": ...}")
	}
	v, err := armexpr.FromJSON(p.Value)
	return v, false, err
}

func checkType(typ string, v any, shown, path string) error {
	ok := false
	switch typ {
	case "string", "securestring":
		_, ok = v.(string)
	case "int":
		_, ok = v.(int64)
	case "bool":
		_, ok = v.(bool)
	case "object", "secureobject":
		_, ok = v.(map[string]any)
	case "array":
		_, ok = v.([]any)
	}
	if !ok {
		return errAt(path, "%s is not of type %s", shown, typ)
	}
	return nil
}

func allowed(v any, list []any) bool {
	for _, a := range list {
		a = armexpr.Normalize(a)
		if fmt.Sprint(a) == fmt.Sprint(v) {
			return true
		}
	}
	return false
}

func (ev *evaluator) variable(name string) (any, error) {
	for k, raw := range ev.t.Variables {
		if !strings.EqualFold(k, name) {
			continue
		}
		switch ev.varsState[k] {
		case 2:
			return ev.vars[k], nil
		case 1:
			return nil, fmt.Errorf("variable %q refers to itself", k)
		}
		ev.varsState[k] = 1
		v, err := armexpr.FromJSON(raw)
		if err == nil {
			v, err = ev.expand(v, "template.variables."+k)
		}
		if err != nil {
			delete(ev.varsState, k)
			return nil, err
		}
		ev.vars[k], ev.varsState[k] = v, 2
		return v, nil
	}
	return nil, fmt.Errorf("the template has no variable %q (it has %s)", name, rawNames(ev.t.Variables))
}

func (ev *evaluator) context() *armexpr.Context {
	return &armexpr.Context{Funcs: map[string]armexpr.Func{
		"parameters": {Min: 1, Max: 1, Call: func(a []any) (any, error) {
			name, _ := a[0].(string)
			for k, v := range ev.params {
				if strings.EqualFold(k, name) {
					return v, nil
				}
			}
			return nil, fmt.Errorf("the template has no parameter %q (it has %s)", name, names(ev.t.Parameters))
		}},
		"variables": {Min: 1, Max: 1, Call: func(a []any) (any, error) {
			name, _ := a[0].(string)
			return ev.variable(name)
		}},
		"resourcegroup": {Min: 0, Max: 0, Call: func([]any) (any, error) {
			if ev.in.ResourceGroup == nil {
				return nil, fmt.Errorf("the deployment is not to a resource group")
			}
			return ev.in.ResourceGroup, nil
		}},
		"subscription": {Min: 0, Max: 0, Call: func([]any) (any, error) { return ev.in.Subscription, nil }},
	}}
}

// expand evaluates every string in v; object keys may be expressions, and
// a null value leaves its property out.
func (ev *evaluator) expand(v any, path string) (any, error) {
	switch x := v.(type) {
	case string:
		out, err := armexpr.Eval(x, ev.context())
		if err != nil {
			return nil, errAt(path, "%v", err)
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for i, e := range x {
			r, err := ev.expand(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			key := k
			if armexpr.IsExpression(k) {
				kv, err := armexpr.Eval(k, ev.context())
				if err != nil {
					return nil, errAt(path+"."+k, "%v", err)
				}
				s, ok := kv.(string)
				if !ok || s == "" {
					return nil, errAt(path+"."+k, "a property name must be a non-empty string, not %s", describe(kv))
				}
				key = s
			}
			r, err := ev.expand(e, path+"."+key)
			if err != nil {
				return nil, err
			}
			if r == nil {
				continue // json('null'): no such property
			}
			out[key] = r
		}
		return out, nil
	}
	return v, nil
}

// resource evaluates one of the template's resources; deploy is its
// condition (true when it has none).
func (ev *evaluator) resource(raw json.RawMessage, path string) (r Resource, deploy bool, err error) {
	v, err := armexpr.FromJSON(raw)
	if err != nil {
		return Resource{}, false, errAt(path, "is not JSON: %v", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return Resource{}, false, errAt(path, "a resource must be an object")
	}
	x, err := ev.expand(v, path)
	if err != nil {
		return Resource{}, false, err
	}
	m := x.(map[string]any)
	if c := lookupFold(m, "condition"); c != nil {
		b, ok := c.(bool)
		if !ok {
			return Resource{}, false, errAt(path+".condition", "must be true or false, not %s", describe(c))
		}
		if !b {
			return Resource{}, false, nil
		}
	}
	r, err = ev.resourceFields(m, path)
	return r, err == nil, err
}

func (ev *evaluator) resourceFields(m map[string]any, path string) (Resource, error) {
	r := Resource{}
	for _, f := range []struct {
		key string
		dst *string
		req bool
	}{{"type", &r.Type, true}, {"apiVersion", &r.APIVersion, true}, {"name", &r.Name, true}, {"scope", &r.Scope, false}} {
		s, _ := lookupFold(m, f.key).(string)
		if s == "" && f.req {
			return Resource{}, errAt(path+"."+f.key, "is required")
		}
		*f.dst = s
	}
	if props, ok := lookupFold(m, "properties").(map[string]any); ok {
		r.Properties = props
	}
	if identity, ok := lookupFold(m, "identity").(map[string]any); ok {
		r.Identity = identity
	}
	return r, nil
}

func lookupFold(m map[string]any, key string) any {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func lookupDecl(m map[string]Parameter, name string) (Parameter, bool) {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return Parameter{}, false
}

func lookupRaw(m map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func names(m map[string]Parameter) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return list(out)
}

func rawNames(m map[string]json.RawMessage) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return list(out)
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprint(v)
}
