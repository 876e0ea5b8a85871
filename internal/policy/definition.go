package policy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/arcgitops/arcgitops/internal/armexpr"
)

// Effects a definition may have here.
const (
	DeployIfNotExists = "DeployIfNotExists"
	AuditIfNotExists  = "AuditIfNotExists"
	Audit             = "Audit"
	Deny              = "Deny"
	Disabled          = "Disabled"
)

var effects = []string{DeployIfNotExists, AuditIfNotExists, Audit, Deny, Disabled}

// ParameterDefinition is a definition's parameter.
type ParameterDefinition struct {
	Type          string          `json:"type"`
	DefaultValue  json.RawMessage `json:"defaultValue,omitempty"`
	AllowedValues []any           `json:"allowedValues,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
}

// DefinitionProperties are a policyDefinition's properties, as ARM takes
// them.
type DefinitionProperties struct {
	DisplayName string                         `json:"displayName,omitempty"`
	Description string                         `json:"description,omitempty"`
	PolicyType  string                         `json:"policyType,omitempty"`
	Mode        string                         `json:"mode,omitempty"`
	Metadata    json.RawMessage                `json:"metadata,omitempty"`
	Version     string                         `json:"version,omitempty"`
	Parameters  map[string]ParameterDefinition `json:"parameters,omitempty"`
	PolicyRule  json.RawMessage                `json:"policyRule"`
}

// Definition is a checked, compiled policy definition.
type Definition struct {
	Properties DefinitionProperties
	If         *Condition
	// effect is then.effect: a name or an expression over the parameters.
	effect string
	// Details are then.details, for the *IfNotExists effects.
	Details *Details
}

// Details are an ifNotExists effect's details.
type Details struct {
	Type               string
	Name               string
	ExistenceCondition *Condition
	RoleDefinitionIDs  []string
	// Deployment is the deployment's raw JSON ({"properties": {"mode", "template", "parameters"}}).
	Deployment json.RawMessage
}

// ParseDefinition checks a definition's properties, from its rule's syntax
// and expressions to its parameters' types and defaults.
func ParseDefinition(props DefinitionProperties) (*Definition, error) {
	if props.Mode == "" {
		props.Mode = "Indexed"
	}
	switch strings.ToLower(props.Mode) {
	case "all", "indexed":
	default:
		return nil, errAt("properties.mode", "%q is not a mode here: use All or Indexed", props.Mode)
	}
	for name, p := range props.Parameters {
		if err := checkParameter(name, p); err != nil {
			return nil, err
		}
	}
	if len(props.PolicyRule) == 0 {
		return nil, errAt("properties.policyRule", "is required: {\"if\": {...}, \"then\": {\"effect\": ...}}")
	}
	var rule struct {
		If   json.RawMessage `json:"if"`
		Then json.RawMessage `json:"then"`
		// Inner is set when a whole definition was given as the rule.
		Inner json.RawMessage `json:"policyRule"`
	}
	if err := json.Unmarshal(props.PolicyRule, &rule); err != nil {
		return nil, errAt("properties.policyRule", "is not a rule object: %v", err)
	}
	if len(rule.If) == 0 && len(rule.Inner) > 0 {
		return nil, errAt("properties.policyRule", "holds a whole definition (its own policyRule, mode, ...), not a rule: "+
			"pass only the policyRule object, {\"if\": ..., \"then\": ...} (with az: --rules <(jq .policyRule policy.json), and --mode, --params from the file's other fields)")
	}
	if len(rule.If) == 0 || len(rule.Then) == 0 {
		return nil, errAt("properties.policyRule", "needs both if and then")
	}
	d := &Definition{Properties: props}
	var err error
	if d.If, err = Compile(rule.If, "properties.policyRule.if"); err != nil {
		return nil, err
	}
	if err := d.parseThen(rule.Then); err != nil {
		return nil, err
	}
	return d, d.checkParameterReferences()
}

func (d *Definition) parseThen(raw json.RawMessage) error {
	const path = "properties.policyRule.then"
	var then struct {
		Effect  string          `json:"effect"`
		Details json.RawMessage `json:"details"`
	}
	if err := json.Unmarshal(raw, &then); err != nil {
		return errAt(path, "is not an object with effect and details: %v", err)
	}
	d.effect = then.Effect
	if isExpr(then.Effect) {
		if err := checkExpressions(then.Effect, path+".effect"); err != nil {
			return err
		}
	} else if _, err := canonicalEffect(then.Effect, path+".effect"); err != nil {
		return err
	}
	if !d.mayBeIfNotExists() {
		return nil
	}
	if len(then.Details) == 0 {
		return errAt(path+".details", "is required by %s: give type (and existenceCondition, deployment)", then.Effect)
	}
	var det struct {
		Type               string          `json:"type"`
		Name               string          `json:"name"`
		ExistenceCondition json.RawMessage `json:"existenceCondition"`
		RoleDefinitionIDs  []string        `json:"roleDefinitionIds"`
		Deployment         json.RawMessage `json:"deployment"`
	}
	if err := json.Unmarshal(then.Details, &det); err != nil {
		return errAt(path+".details", "is not an object: %v", err)
	}
	if det.Type == "" {
		return errAt(path+".details.type", "is required: the type of the related resource, e.g. Microsoft.KubernetesConfiguration/fluxConfigurations")
	}
	d.Details = &Details{Type: det.Type, Name: det.Name, RoleDefinitionIDs: det.RoleDefinitionIDs, Deployment: det.Deployment}
	if len(det.ExistenceCondition) > 0 {
		c, err := Compile(det.ExistenceCondition, path+".details.existenceCondition")
		if err != nil {
			return err
		}
		d.Details.ExistenceCondition = c
	}
	if d.effectMay(DeployIfNotExists) {
		if len(det.Deployment) == 0 {
			return errAt(path+".details.deployment", "is required by deployIfNotExists: {\"properties\": {\"mode\": \"incremental\", \"template\": {...}, \"parameters\": {...}}}")
		}
		if len(det.RoleDefinitionIDs) == 0 {
			return errAt(path+".details.roleDefinitionIds", "is required by deployIfNotExists: the roles the assignment's identity needs to deploy, e.g. Contributor (/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c)")
		}
	}
	return nil
}

// mayBeIfNotExists: the effect is, or (an expression) may be, an
// ifNotExists effect.
func (d *Definition) mayBeIfNotExists() bool {
	return d.effectMay(DeployIfNotExists) || d.effectMay(AuditIfNotExists)
}

func (d *Definition) effectMay(effect string) bool {
	if isExpr(d.effect) {
		// [parameters('effect')]: the parameter's allowed values decide.
		for _, p := range d.Properties.Parameters {
			for _, v := range p.AllowedValues {
				if s, ok := v.(string); ok && strings.EqualFold(s, effect) {
					return true
				}
			}
		}
		return false
	}
	return strings.EqualFold(d.effect, effect)
}

// Effect is the effect for an assignment's parameter values.
func (d *Definition) Effect(params map[string]any) (string, error) {
	v, err := armexpr.Eval(d.effect, (&evaluation{env: &Env{Parameters: params}}).context())
	if err != nil {
		return "", errAt("properties.policyRule.then.effect", "%v", err)
	}
	s, _ := v.(string)
	return canonicalEffect(s, "properties.policyRule.then.effect")
}

func canonicalEffect(s, path string) (string, error) {
	for _, e := range effects {
		if strings.EqualFold(s, e) {
			return e, nil
		}
	}
	return "", errAt(path, "%q is not an effect here: use %s", s, strings.Join(effects, ", "))
}

// parameterTypes are the parameter types, by lower-case name.
var parameterTypes = map[string]string{"string": "String", "array": "Array", "object": "Object", "boolean": "Boolean",
	"integer": "Integer", "float": "Float", "datetime": "DateTime"}

func checkParameter(name string, p ParameterDefinition) error {
	path := "properties.parameters." + name
	t, ok := parameterTypes[strings.ToLower(p.Type)]
	if !ok {
		return errAt(path+".type", "%q is not a parameter type: use String, Array, Object, Boolean, Integer, Float or DateTime", p.Type)
	}
	if len(p.DefaultValue) > 0 {
		v, err := armexpr.FromJSON(p.DefaultValue)
		if err != nil {
			return errAt(path+".defaultValue", "is not JSON: %v", err)
		}
		if err := checkValue(t, v, p.AllowedValues, path+".defaultValue"); err != nil {
			return err
		}
	}
	return nil
}

// checkValue checks a parameter value against its type and allowed values.
func checkValue(t string, v any, allowed []any, path string) error {
	ok := false
	switch t {
	case "String", "DateTime":
		_, ok = v.(string)
	case "Array":
		_, ok = v.([]any)
	case "Object":
		_, ok = v.(map[string]any)
	case "Boolean":
		_, ok = v.(bool)
	case "Integer":
		_, ok = v.(int64)
	case "Float":
		_, ok = number(v)
	}
	if !ok {
		return errAt(path, "%s is not of type %s", describe(v), t)
	}
	if len(allowed) > 0 {
		for _, a := range allowed {
			if equal(armexpr.Normalize(a), v) {
				return nil
			}
		}
		return errAt(path, "%s is not one of the allowed values %s", describe(v), describeList(allowed))
	}
	return nil
}

func describeList(list []any) string {
	parts := make([]string, len(list))
	for i, v := range list {
		parts[i] = describe(armexpr.Normalize(v))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// ResolveParameters gives every parameter its value for an assignment:
// given (an assignment's {"name": {"value": ...}}) or the default. A
// parameter with neither, an unknown name, a wrong type or a value not
// allowed is an error that names the parameter.
func (d *Definition) ResolveParameters(given map[string]json.RawMessage) (map[string]any, error) {
	out := map[string]any{}
	for name := range given {
		if !hasParam(d.Properties.Parameters, name) {
			return nil, errAt("properties.parameters."+name, "the definition has no such parameter (it has %s)", paramNames(d.Properties.Parameters))
		}
	}
	for name, p := range d.Properties.Parameters {
		path := "properties.parameters." + name
		raw, has := lookupRaw(given, name)
		var v any
		switch {
		case has:
			var wrapped struct {
				Value json.RawMessage `json:"value"`
			}
			if err := json.Unmarshal(raw, &wrapped); err != nil || len(wrapped.Value) == 0 {
				return nil, errAt(path, "give it as {\"value\": ...}")
			}
			parsed, err := armexpr.FromJSON(wrapped.Value)
			if err != nil {
				return nil, errAt(path+".value", "is not JSON: %v", err)
			}
			v = parsed
		case len(p.DefaultValue) > 0:
			v, _ = armexpr.FromJSON(p.DefaultValue)
		default:
			return nil, errAt(path, "has no value and no default: give it in the assignment's parameters as {\"%s\": {\"value\": ...}}", name)
		}
		if err := checkValue(parameterTypes[strings.ToLower(p.Type)], v, p.AllowedValues, path); err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// checkParameterReferences: every parameters('x') in the rule names a
// parameter of the definition.
func (d *Definition) checkParameterReferences() error {
	var rule any
	if err := json.Unmarshal(d.Properties.PolicyRule, &rule); err != nil {
		return nil
	}
	var walk func(v any, path string) error
	walk = func(v any, path string) error {
		switch x := v.(type) {
		case string:
			if !isExpr(x) {
				return nil
			}
			for _, name := range paramRefs(x) {
				if !hasParam(d.Properties.Parameters, name) {
					return errAt(path, "parameters('%s') names no parameter of the definition (it has %s)", name, paramNames(d.Properties.Parameters))
				}
			}
		case []any:
			for i, e := range x {
				if err := walk(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		case map[string]any:
			for k, e := range x {
				if strings.EqualFold(k, "deployment") {
					continue // the template's own parameters() are the template's
				}
				if err := walk(e, path+"."+k); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(rule, "properties.policyRule")
}

// paramRefs finds the literal names of parameters('name') calls.
func paramRefs(expr string) []string {
	var out []string
	lower := strings.ToLower(expr)
	for i := 0; ; {
		j := strings.Index(lower[i:], "parameters(")
		if j < 0 {
			return out
		}
		rest := expr[i+j+len("parameters("):]
		rest = strings.TrimLeft(rest, " ")
		if strings.HasPrefix(rest, "'") {
			if end := strings.Index(rest[1:], "'"); end >= 0 {
				out = append(out, rest[1:1+end])
			}
		}
		i += j + len("parameters(")
	}
}

func hasParam(m map[string]ParameterDefinition, name string) bool {
	for k := range m {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

func lookupRaw(m map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func paramNames(m map[string]ParameterDefinition) string {
	if len(m) == 0 {
		return "none"
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Deployment is what a deployIfNotExists deploys for one resource: the
// template, and the deployment's parameters with the policy's expressions
// evaluated ([field('name')] is the evaluated resource's name,
// [parameters('x')] the assignment's value).
type Deployment struct {
	Mode       string
	Template   json.RawMessage
	Parameters map[string]json.RawMessage
}

// DeploymentFor evaluates the definition's deployment for res.
func (d *Definition) DeploymentFor(res *Resource, env *Env) (*Deployment, error) {
	const path = "properties.policyRule.then.details.deployment"
	if d.Details == nil || len(d.Details.Deployment) == 0 {
		return nil, errAt(path, "is required by deployIfNotExists")
	}
	var dep struct {
		Properties struct {
			Mode       string                     `json:"mode"`
			Template   json.RawMessage            `json:"template"`
			Parameters map[string]json.RawMessage `json:"parameters"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(d.Details.Deployment, &dep); err != nil {
		return nil, errAt(path, "is not {\"properties\": {\"mode\", \"template\", \"parameters\"}}: %v", err)
	}
	if len(dep.Properties.Template) == 0 {
		return nil, errAt(path+".properties.template", "is required")
	}
	ev := &evaluation{res: res, env: env}
	out := &Deployment{Mode: dep.Properties.Mode, Template: dep.Properties.Template, Parameters: map[string]json.RawMessage{}}
	for name, raw := range dep.Properties.Parameters {
		v, err := armexpr.FromJSON(raw)
		if err != nil {
			return nil, errAt(path+".properties.parameters."+name, "is not JSON: %v", err)
		}
		x, err := ev.expand(v, path+".properties.parameters."+name)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(x)
		if err != nil {
			return nil, errAt(path+".properties.parameters."+name, "%v", err)
		}
		out.Parameters[name] = b
	}
	return out, nil
}
