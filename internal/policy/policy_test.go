package policy

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// flux is a fluxConfiguration as its GET answers it.
func flux() *Resource {
	return &Resource{
		ID:   "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Kubernetes/connectedClusters/c1/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/baseline",
		Name: "baseline", Type: "Microsoft.KubernetesConfiguration/fluxConfigurations",
		Tags: map[string]string{"env": "prod", "Cost.Center": "42"},
		Properties: map[string]any{
			"scope": "cluster", "namespace": "flux-system", "sourceKind": "GitRepository", "suspend": false,
			"gitRepository": map[string]any{"url": "https://github.com/org/baseline", "httpsCACert": "Q0E=", "timeoutInSeconds": int64(600),
				"repositoryRef": map[string]any{"branch": "main"}},
			"kustomizations": map[string]any{"infra": map[string]any{"path": "./infra", "prune": true}},
			"statuses": []any{
				map[string]any{"kind": "GitRepository", "complianceState": "Compliant"},
				map[string]any{"kind": "Kustomization", "complianceState": "Non-Compliant"},
			},
			"provisioningState": "Succeeded",
		},
	}
}

func cluster() *Resource {
	return &Resource{ID: "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Kubernetes/connectedClusters/c1",
		Name: "c1", Type: "Microsoft.Kubernetes/connectedClusters", Location: "westeurope",
		Properties: map[string]any{"distribution": "k3s", "totalNodeCount": int64(3)}}
}

var env = &Env{
	Parameters:    map[string]any{"url": "https://github.com/org/baseline", "timeout": int64(600), "kinds": []any{"GitRepository", "Bucket"}, "branch": ""},
	ResourceGroup: map[string]any{"name": "rg1", "location": "westeurope"},
	Subscription:  map[string]any{"subscriptionId": "s1"},
}

const fc = "Microsoft.KubernetesConfiguration/fluxConfigurations/"

func TestConditions(t *testing.T) {
	for _, tc := range []struct {
		name, cond string
		res        *Resource
		want       bool
	}{
		{"type equals, any case", `{"field": "type", "equals": "microsoft.kubernetesconfiguration/FLUXCONFIGURATIONS"}`, flux(), true},
		{"type in", `{"field": "type", "in": ["Microsoft.Kubernetes/connectedClusters", "Microsoft.ContainerService/managedClusters"]}`, cluster(), true},
		{"notIn", `{"field": "type", "notIn": ["Microsoft.Kubernetes/connectedClusters"]}`, cluster(), false},
		{"alias equals a parameter", `{"field": "` + fc + `gitRepository.url", "equals": "[parameters('url')]"}`, flux(), true},
		{"integer alias equals an integer parameter", `{"field": "` + fc + `gitRepository.timeoutInSeconds", "equals": "[parameters('timeout')]"}`, flux(), true},
		{"missing property equals the empty string", `{"field": "` + fc + `gitRepository.repositoryRef.tag", "equals": "[parameters('branch')]"}`, flux(), true},
		{"another type's alias does not exist", `{"field": "` + fc + `scope", "exists": "false"}`, cluster(), true},
		{"exists", `{"field": "` + fc + `gitRepository.url", "exists": true}`, flux(), true},
		{"notEquals", `{"field": "` + fc + `provisioningState", "notEquals": "Failed"}`, flux(), true},
		{"an alias with an older property name", `{"field": "` + fc + `gitRepository.httpsCAFile", "equals": "Q0E="}`, flux(), true},
		{"like", `{"field": "` + fc + `gitRepository.url", "like": "https://GITHUB.com/*"}`, flux(), true},
		{"notLike", `{"field": "name", "notLike": "base*"}`, flux(), false},
		{"match", `{"field": "name", "match": "c#"}`, cluster(), true},
		{"match is case-sensitive", `{"field": "name", "match": "C#"}`, cluster(), false},
		{"matchInsensitively", `{"field": "name", "matchInsensitively": "C#"}`, cluster(), true},
		{"match length", `{"field": "name", "match": "??"}`, cluster(), false},
		{"contains", `{"field": "` + fc + `gitRepository.url", "contains": "ORG/base"}`, flux(), true},
		{"notContains", `{"field": "` + fc + `namespace", "notContains": "system"}`, flux(), false},
		{"containsKey", `{"field": "` + fc + `kustomizations", "containsKey": "INFRA"}`, flux(), true},
		{"notContainsKey", `{"field": "tags", "notContainsKey": "owner"}`, flux(), true},
		{"tag with dots", `{"field": "tags['Cost.Center']", "equals": "42"}`, flux(), true},
		{"tag dot form", `{"field": "tags.env", "equals": "PROD"}`, flux(), true},
		{"greater", `{"field": "Microsoft.Kubernetes/connectedClusters/totalNodeCount", "greater": 2}`, cluster(), true},
		{"lessOrEquals", `{"field": "Microsoft.Kubernetes/connectedClusters/totalNodeCount", "lessOrEquals": 2}`, cluster(), false},
		{"string order ignores case", `{"field": "name", "less": "D1"}`, cluster(), true},
		{"value with functions", `{"value": "[resourceGroup().location]", "equals": "westeurope"}`, cluster(), true},
		{"value bool equals the string true", `{"value": "[less(length(field('tags')), 3)]", "equals": "true"}`, flux(), true},
		{"field as an expression", `{"field": "[concat('tags[', 'env', ']')]", "equals": "prod"}`, flux(), true},
		{"array alias: every element", `{"field": "` + fc + `statuses[*].complianceState", "equals": "Compliant"}`, flux(), false},
		{"field count", `{"count": {"field": "` + fc + `statuses[*]", "where": {"field": "` + fc + `statuses[*].complianceState", "equals": "Compliant"}}, "equals": 1}`, flux(), true},
		{"field count without where", `{"count": {"field": "` + fc + `statuses[*]"}, "greaterOrEquals": 2}`, flux(), true},
		{"value count with current()", `{"count": {"value": "[parameters('kinds')]", "name": "k", "where": {"field": "` + fc + `sourceKind", "equals": "[current('k')]"}}, "equals": 1}`, flux(), true},
		{"allOf", `{"allOf": [{"field": "type", "equals": "` + strings.TrimSuffix(fc, "/") + `"}, {"field": "name", "equals": "baseline"}]}`, flux(), true},
		{"anyOf", `{"anyOf": [{"field": "name", "equals": "x"}, {"field": "name", "equals": "baseline"}]}`, flux(), true},
		{"not", `{"not": {"field": "name", "equals": "baseline"}}`, flux(), false},
	} {
		c, err := Compile(json.RawMessage(tc.cond), "if")
		if err != nil {
			t.Errorf("%s: compile: %v", tc.name, err)
			continue
		}
		got, err := c.Eval(tc.res, env)
		if err != nil {
			t.Errorf("%s: eval: %v", tc.name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestConditionErrors: a bad condition is refused where it is written,
// with the place and what to fix.
func TestConditionErrors(t *testing.T) {
	for _, tc := range []struct{ name, cond, want string }{
		{"unknown operator", `{"field": "name", "equal": "x"}`, `if.equal: unknown key`},
		{"two operators", `{"field": "name", "equals": "x", "like": "y*"}`, "has two operators"},
		{"no operator", `{"field": "name"}`, "if: has no operator"},
		{"no subject", `{"equals": "x"}`, "if: has no field, value or count"},
		{"field and value", `{"field": "name", "value": "x", "equals": "x"}`, "more than one of field, value and count"},
		{"bad alias property", `{"field": "` + fc + `gitRepo.url", "equals": "x"}`, `fluxConfigurations has no property "gitRepo"`},
		{"unknown alias type", `{"field": "Microsoft.Foo/bars/x", "equals": "x"}`, "no aliases of resource type Microsoft.Foo/bars"},
		{"not a field", `{"field": "named", "equals": "x"}`, `"named" is not a field`},
		{"exists not a bool", `{"field": "name", "exists": "maybe"}`, "must be true or false"},
		{"in not an array", `{"field": "name", "in": "x"}`, "must be an array"},
		{"expression syntax", `{"field": "name", "equals": "[parameters('x']"}`, "if.equals:"},
		{"nested place", `{"allOf": [{"field": "name", "equals": "a"}, {"not": {"field": "name", "likes": "b"}}]}`, "if.allOf[1].not.likes: unknown key"},
		{"empty allOf", `{"allOf": []}`, "must be a non-empty array"},
		{"logic mixed with a leaf", `{"allOf": [{"field": "name", "equals": "a"}], "field": "name", "equals": "a"}`, "mixes allOf with a condition"},
		{"count not numeric", `{"count": {"field": "` + fc + `statuses[*]"}, "like": "1*"}`, "use a numeric operator"},
		{"count field not array", `{"count": {"field": "` + fc + `statuses"}, "equals": 1}`, "must be an array alias ending in [*]"},
	} {
		_, err := Compile(json.RawMessage(tc.cond), "if")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestEvaluationErrors: what can only fail on a resource fails there, with
// the place and the expression's own message.
func TestEvaluationErrors(t *testing.T) {
	for _, tc := range []struct{ name, cond, want string }{
		{"unknown function", `{"value": "[concatt('a')]", "equals": "a"}`, `if.value: unknown function "concatt"`},
		{"wrong arity", `{"value": "[toLower('a', 'b')]", "equals": "a"}`, "toLower takes 1 argument, not 2"},
		{"unknown parameter", `{"value": "[parameters('nope')]", "equals": "a"}`, `no parameter "nope"`},
		{"type mismatch in less", `{"field": "name", "less": 3}`, `compares "c1" with 3`},
		{"current outside count", `{"value": "[current()]", "equals": "a"}`, "only available inside a count"},
	} {
		c, err := Compile(json.RawMessage(tc.cond), "if")
		if err != nil {
			t.Errorf("%s: compile: %v", tc.name, err)
			continue
		}
		if _, err := c.Eval(cluster(), env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestBriefBaseline: the brief's policy parses; its effect is
// deployIfNotExists of a fluxConfiguration; it applies to Arc clusters.
func TestBriefBaseline(t *testing.T) {
	raw, err := os.ReadFile("../../test/fixtures/azure-examples/policy-baseline.json")
	if err != nil {
		t.Fatal(err)
	}
	var props DefinitionProperties
	if err := json.Unmarshal(raw, &props); err != nil {
		t.Fatal(err)
	}
	d, err := ParseDefinition(props)
	if err != nil {
		t.Fatal(err)
	}
	effect, err := d.Effect(nil)
	if err != nil || effect != DeployIfNotExists {
		t.Fatalf("effect %q, %v", effect, err)
	}
	if d.Details.Type != "Microsoft.KubernetesConfiguration/fluxConfigurations" || len(d.Details.Deployment) == 0 {
		t.Errorf("details: %+v", d.Details)
	}
	for res, want := range map[*Resource]bool{cluster(): true, flux(): false} {
		if got, err := d.If.Eval(res, &Env{}); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", res.Type, got, err, want)
		}
	}
}

func TestParameters(t *testing.T) {
	d, err := ParseDefinition(DefinitionProperties{
		Parameters: map[string]ParameterDefinition{
			"effect": {Type: "String", AllowedValues: []any{"DeployIfNotExists", "Disabled"}, DefaultValue: json.RawMessage(`"DeployIfNotExists"`)},
			"url":    {Type: "String"},
			"nodes":  {Type: "Integer", DefaultValue: json.RawMessage(`3`)},
		},
		PolicyRule: json.RawMessage(`{"if": {"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
			"then": {"effect": "[parameters('effect')]", "details": {"type": "Microsoft.KubernetesConfiguration/fluxConfigurations",
				"roleDefinitionIds": ["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],
				"deployment": {"properties": {"mode": "incremental", "template": {}}}}}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.ResolveParameters(map[string]json.RawMessage{"url": json.RawMessage(`{"value": "https://x"}`), "Effect": json.RawMessage(`{"value": "disabled"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got["url"] != "https://x" || got["nodes"] != int64(3) {
		t.Errorf("values: %v", got)
	}
	if e, err := d.Effect(got); err != nil || e != Disabled {
		t.Errorf("effect: %q %v", e, err)
	}
	for _, tc := range []struct {
		given map[string]json.RawMessage
		want  string
	}{
		{map[string]json.RawMessage{}, `parameters.url: has no value and no default: give it in the assignment's parameters as {"url": {"value": ...}}`},
		{map[string]json.RawMessage{"url": json.RawMessage(`{"value": 3}`)}, "parameters.url: 3 is not of type String"},
		{map[string]json.RawMessage{"url": json.RawMessage(`{"value": "x"}`), "effect": json.RawMessage(`{"value": "Audit"}`)}, `"Audit" is not one of the allowed values ["DeployIfNotExists", "Disabled"]`},
		{map[string]json.RawMessage{"url": json.RawMessage(`{"value": "x"}`), "colour": json.RawMessage(`{"value": "x"}`)}, "parameters.colour: the definition has no such parameter (it has effect, nodes, url)"},
		{map[string]json.RawMessage{"url": json.RawMessage(`"x"`)}, `give it as {"value": ...}`},
	} {
		if _, err := d.ResolveParameters(tc.given); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.given, err, tc.want)
		}
	}
}

func TestDefinitionErrors(t *testing.T) {
	rule := func(then string) json.RawMessage {
		return json.RawMessage(`{"if": {"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"}, "then": ` + then + `}`)
	}
	for _, tc := range []struct {
		name  string
		props DefinitionProperties
		want  string
	}{
		{"unknown effect", DefinitionProperties{PolicyRule: rule(`{"effect": "deployIfMissing"}`)}, `"deployIfMissing" is not an effect here`},
		{"DINE without details", DefinitionProperties{PolicyRule: rule(`{"effect": "deployIfNotExists"}`)}, "details: is required by deployIfNotExists"},
		{"DINE without roles", DefinitionProperties{PolicyRule: rule(`{"effect": "deployIfNotExists", "details": {"type": "Microsoft.KubernetesConfiguration/fluxConfigurations", "deployment": {}}}`)}, "roleDefinitionIds: is required"},
		{"unknown parameter reference", DefinitionProperties{PolicyRule: rule(`{"effect": "[parameters('effect')]"}`)}, "parameters('effect') names no parameter of the definition (it has none)"},
		{"bad parameter type", DefinitionProperties{Parameters: map[string]ParameterDefinition{"x": {Type: "Text"}}, PolicyRule: rule(`{"effect": "audit"}`)}, `parameters.x.type: "Text" is not a parameter type`},
		{"default not allowed", DefinitionProperties{Parameters: map[string]ParameterDefinition{"x": {Type: "String", AllowedValues: []any{"a"}, DefaultValue: json.RawMessage(`"b"`)}}, PolicyRule: rule(`{"effect": "audit"}`)}, `"b" is not one of the allowed values`},
		{"bad mode", DefinitionProperties{Mode: "Microsoft.Kubernetes.Data", PolicyRule: rule(`{"effect": "audit"}`)}, "is not a mode here"},
		{"no rule", DefinitionProperties{}, "policyRule: is required"},
		{"rule without then", DefinitionProperties{PolicyRule: json.RawMessage(`{"if": {"field": "type", "equals": "x"}}`)}, "needs both if and then"},
		{"whole definition as the rule", DefinitionProperties{PolicyRule: json.RawMessage(`{"mode": "Indexed", "policyRule": ` + string(rule(`{"effect": "audit"}`)) + `}`)},
			"holds a whole definition (its own policyRule, mode, ...), not a rule: pass only the policyRule object"},
	} {
		if _, err := ParseDefinition(tc.props); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestWildcardAndMatch(t *testing.T) {
	for _, tc := range []struct {
		s, p string
		want bool
	}{
		{"abc", "abc", true}, {"abc", "a*", true}, {"abc", "*c", true}, {"abc", "*b*", true}, {"abc", "a*d", false}, {"", "*", true},
	} {
		if got := wildcard(tc.s, tc.p); got != tc.want {
			t.Errorf("wildcard(%q, %q) = %v", tc.s, tc.p, got)
		}
	}
	for _, tc := range []struct {
		s, p string
		fold bool
		want bool
	}{
		{"ab1", "??#", false, true}, {"ab1", "?.#", false, true}, {"a-1", "?-#", false, true}, {"A-1", "a-#", false, false}, {"A-1", "a-#", true, true},
	} {
		if got := matches(tc.s, tc.p, tc.fold); got != tc.want {
			t.Errorf("matches(%q, %q, %v) = %v", tc.s, tc.p, tc.fold, got)
		}
	}
}

// TestDeploymentFor: the deployment's parameters see the evaluated
// resource (field) and the assignment (parameters); the template's own
// expressions are left for the template.
func TestDeploymentFor(t *testing.T) {
	d, err := ParseDefinition(DefinitionProperties{
		Parameters: map[string]ParameterDefinition{"url": {Type: "String"}},
		PolicyRule: json.RawMessage(`{"if": {"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
			"then": {"effect": "deployIfNotExists", "details": {"type": "Microsoft.KubernetesConfiguration/fluxConfigurations",
				"roleDefinitionIds": ["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],
				"deployment": {"properties": {"mode": "incremental",
					"template": {"parameters": {"clusterName": {"type": "string"}}, "resources": [{"name": "[parameters('clusterName')]"}]},
					"parameters": {"clusterName": {"value": "[field('name')]"}, "clusterType": {"value": "[field('type')]"}, "url": {"value": "[parameters('url')]"}}}}}}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := d.DeploymentFor(cluster(), &Env{Parameters: map[string]any{"url": "https://x"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"clusterName": `{"value":"c1"}`, "clusterType": `{"value":"Microsoft.Kubernetes/connectedClusters"}`, "url": `{"value":"https://x"}`} {
		if got := string(dep.Parameters[name]); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	if !strings.Contains(string(dep.Template), "[parameters('clusterName')]") {
		t.Errorf("the template's expressions are the template's: %s", dep.Template)
	}
}

// FuzzCompile: no condition makes the compiler or the evaluator panic.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{`{"field": "type", "equals": "x"}`, `{"allOf": [{"not": {"field": "name", "like": "a*"}}]}`,
		`{"count": {"field": "` + fc + `statuses[*]", "where": {"field": "` + fc + `statuses[*].kind", "equals": "x"}}, "equals": 1}`,
		`{"value": "[parameters('kinds')]", "contains": "Bucket"}`, `{"field": "tags['a''b']", "exists": true}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Compile(json.RawMessage(s), "if")
		if err != nil {
			return
		}
		_, _ = c.Eval(flux(), env)
	})
}

// TestEvaluate: the verdicts of each effect, and deployIfNotExists's
// existence condition over the related resources.
func TestEvaluate(t *testing.T) {
	def := func(effect, existence string) *Definition {
		details := ""
		if strings.HasSuffix(effect, "IfNotExists") {
			details = `, "details": {"type": "Microsoft.KubernetesConfiguration/fluxConfigurations", "existenceCondition": ` + existence +
				`, "roleDefinitionIds": ["` + "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c" + `"],
				"deployment": {"properties": {"mode": "incremental", "template": {}}}}`
		}
		d, err := ParseDefinition(DefinitionProperties{PolicyRule: json.RawMessage(`{"if": {"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
			"then": {"effect": "` + effect + `"` + details + `}}`)})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	urlIs := `{"field": "` + fc + `gitRepository.url", "equals": "https://github.com/org/baseline"}`
	urlOther := `{"field": "` + fc + `gitRepository.url", "equals": "https://github.com/org/other"}`
	for _, tc := range []struct {
		name    string
		d       *Definition
		res     *Resource
		related []*Resource
		want    Result
	}{
		{"not applicable", def("audit", ""), flux(), nil, Result{Effect: Audit}},
		{"audit", def("audit", ""), cluster(), nil, Result{Applicable: true, Effect: Audit, ComplianceState: NonCompliant}},
		{"disabled", def("disabled", ""), cluster(), nil, Result{Effect: Disabled}},
		{"DINE, none there", def("deployIfNotExists", urlIs), cluster(), nil, Result{Applicable: true, Effect: DeployIfNotExists, ComplianceState: NonCompliant, Deploy: true}},
		{"DINE, there", def("deployIfNotExists", urlIs), cluster(), []*Resource{flux()}, Result{Applicable: true, Effect: DeployIfNotExists, ComplianceState: Compliant}},
		{"DINE, there but different", def("deployIfNotExists", urlOther), cluster(), []*Resource{flux()}, Result{Applicable: true, Effect: DeployIfNotExists, ComplianceState: NonCompliant, Deploy: true}},
		{"AINE, none there", def("auditIfNotExists", urlIs), cluster(), nil, Result{Applicable: true, Effect: AuditIfNotExists, ComplianceState: NonCompliant}},
	} {
		got, err := tc.d.Evaluate(tc.res, tc.related, &Env{})
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.name, got, err, tc.want)
		}
	}
}

// TestApplicability: audit and deny apply by the if's type, name and kind
// conditions only, as Azure documents; the rest decides compliance.
func TestApplicability(t *testing.T) {
	rule := func(cond string) *Definition {
		d, err := ParseDefinition(DefinitionProperties{PolicyRule: json.RawMessage(`{"if": ` + cond + `, "then": {"effect": "audit"}}`)})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	typeIs := `{"field": "type", "equals": "Microsoft.KubernetesConfiguration/fluxConfigurations"}`
	urlIs := `{"field": "` + fc + `gitRepository.url", "equals": "https://github.com/org/baseline"}`
	for _, tc := range []struct {
		name, cond string
		res        *Resource
		applicable bool
		state      string
	}{
		{"type and other: the other decides compliance", `{"allOf": [` + typeIs + `, {"not": ` + urlIs + `}]}`, flux(), true, Compliant},
		{"type and other, other true", `{"allOf": [` + typeIs + `, ` + urlIs + `]}`, flux(), true, NonCompliant},
		{"another type", `{"allOf": [` + typeIs + `, ` + urlIs + `]}`, cluster(), false, ""},
		{"only a name condition: every resource", `{"field": "name", "equals": "nothing-has-this-name"}`, cluster(), true, Compliant},
		{"only a kind condition: every resource", `{"field": "kind", "equals": "k"}`, flux(), true, Compliant},
		{"type and name only: type alone", `{"allOf": [` + typeIs + `, {"field": "name", "equals": "other"}]}`, flux(), true, Compliant},
		{"type, name and other: name counts", `{"allOf": [` + typeIs + `, {"field": "name", "equals": "other"}, ` + urlIs + `]}`, flux(), false, ""},
		{"only other conditions: every resource", urlIs, cluster(), true, Compliant},
		{"a negated other condition is neutral", `{"anyOf": [{"field": "type", "equals": "x"}, {"not": ` + urlIs + `}]}`, flux(), true, Compliant},
	} {
		got, err := rule(tc.cond).Evaluate(tc.res, nil, &Env{})
		if err != nil || got.Applicable != tc.applicable || got.ComplianceState != tc.state {
			t.Errorf("%s: %+v %v, want applicable %v %q", tc.name, got, err, tc.applicable, tc.state)
		}
	}
}
