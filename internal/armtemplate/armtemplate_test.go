package armtemplate

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// fluxTemplate is the deployment template of Azure's built-in "Configure
// Kubernetes clusters with Flux v2 configuration using public Git
// repository", shortened to what it exercises: typed parameters, an
// expression as a property name, json('null') leaving a property out, and
// the extension resource's scope.
const fluxTemplate = `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "clusterResourceType": {"type": "string"},
    "clusterName": {"type": "string"},
    "configurationName": {"type": "string"},
    "repositoryUrl": {"type": "string"},
    "repositoryTimeout": {"type": "int"},
    "repositoryRefBranch": {"type": "string"},
    "repositoryRefTag": {"type": "string"},
    "kustomizationName": {"type": "string"},
    "kustomizationPrune": {"type": "bool"},
    "scope": {"type": "string", "defaultValue": "cluster", "allowedValues": ["cluster", "namespace"]}
  },
  "variables": {"namespace": "[concat('flux-', parameters('configurationName'))]"},
  "resources": [{
    "type": "Microsoft.KubernetesConfiguration/fluxConfigurations",
    "name": "[parameters('configurationName')]",
    "apiVersion": "2022-03-01",
    "properties": {
      "scope": "[parameters('scope')]",
      "namespace": "[variables('namespace')]",
      "sourceKind": "GitRepository",
      "gitRepository": {
        "url": "[parameters('repositoryUrl')]",
        "timeoutInSeconds": "[parameters('repositoryTimeout')]",
        "repositoryRef": {
          "branch": "[if(not(empty(parameters('repositoryRefBranch'))), parameters('repositoryRefBranch'), json('null'))]",
          "tag": "[if(not(empty(parameters('repositoryRefTag'))), parameters('repositoryRefTag'), json('null'))]"
        }
      },
      "kustomizations": {
        "[parameters('kustomizationName')]": {"path": "./", "prune": "[parameters('kustomizationPrune')]"}
      }
    },
    "scope": "[concat(if(contains(toLower(parameters('clusterResourceType')), toLower('connectedclusters')),'Microsoft.Kubernetes/connectedClusters/','Microsoft.ContainerService/managedClusters/'),parameters('clusterName'))]"
  }]
}`

func params(kv map[string]any) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for k, v := range kv {
		b, _ := json.Marshal(map[string]any{"value": v})
		out[k] = b
	}
	return out
}

var good = map[string]any{"clusterResourceType": "Microsoft.Kubernetes/connectedClusters", "clusterName": "c1",
	"configurationName": "baseline", "repositoryUrl": "https://github.com/org/baseline", "repositoryTimeout": 600,
	"repositoryRefBranch": "main", "repositoryRefTag": "", "kustomizationName": "infra", "kustomizationPrune": true}

func TestFluxTemplate(t *testing.T) {
	res, err := Evaluate(json.RawMessage(fluxTemplate), Input{Parameters: params(good)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 {
		t.Fatalf("%d resources", len(res))
	}
	r := res[0]
	if r.Type != "Microsoft.KubernetesConfiguration/fluxConfigurations" || r.Name != "baseline" || r.APIVersion != "2022-03-01" ||
		r.Scope != "Microsoft.Kubernetes/connectedClusters/c1" {
		t.Errorf("envelope: %+v", r)
	}
	want := map[string]any{
		"scope": "cluster", "namespace": "flux-baseline", "sourceKind": "GitRepository",
		"gitRepository": map[string]any{"url": "https://github.com/org/baseline", "timeoutInSeconds": int64(600),
			"repositoryRef": map[string]any{"branch": "main"}}, // tag: json('null') left out
		"kustomizations": map[string]any{"infra": map[string]any{"path": "./", "prune": true}},
	}
	if !reflect.DeepEqual(r.Properties, want) {
		t.Errorf("properties:\n%#v\nwant\n%#v", r.Properties, want)
	}
}

// TestBriefBaselineTemplate: the brief's template, as its policy passes it
// (no clusterName), fails with what to add; given clusterName it deploys.
func TestBriefBaselineTemplate(t *testing.T) {
	raw, err := os.ReadFile("../../test/fixtures/azure-examples/policy-baseline.json")
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		PolicyRule struct {
			Then struct {
				Details struct {
					Deployment struct {
						Properties struct {
							Template json.RawMessage `json:"template"`
						} `json:"properties"`
					} `json:"deployment"`
				} `json:"details"`
			} `json:"then"`
		} `json:"policyRule"`
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	tmpl := def.PolicyRule.Then.Details.Deployment.Properties.Template
	_, err = Evaluate(tmpl, Input{})
	if err == nil || !strings.Contains(err.Error(), `template.parameters.clusterName: has no value and no defaultValue: give it in the deployment's parameters as {"clusterName": {"value": ...}}`) ||
		!strings.Contains(err.Error(), "[field('name')]") {
		t.Fatalf("the brief's template without clusterName: %v", err)
	}
	res, err := Evaluate(tmpl, Input{Parameters: params(map[string]any{"clusterName": "c1"})})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Name != "corporate-baseline" || res[0].Scope != "Microsoft.Kubernetes/connectedClusters/c1" {
		t.Errorf("%+v", res[0])
	}
}

func TestTemplateErrors(t *testing.T) {
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range good {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		params map[string]any
		tmpl   string
		want   string
	}{
		{"wrong type", with("repositoryTimeout", "600"), fluxTemplate, `template.parameters.repositoryTimeout: "600" is not of type int`},
		{"not allowed", with("scope", "everywhere"), fluxTemplate, `template.parameters.scope: "everywhere" is not one of the allowed values`},
		{"undeclared", with("colour", "red"), fluxTemplate, "parameters.colour: the template declares no such parameter"},
		{"unknown function", good, strings.Replace(fluxTemplate, "[variables('namespace')]", "[variable('namespace')]", 1),
			`template.resources[0].properties.namespace: unknown function "variable"`},
		{"unknown variable", good, strings.Replace(fluxTemplate, "[variables('namespace')]", "[variables('ns')]", 1), `no variable "ns" (it has namespace)`},
		{"self-referring variable", good, strings.Replace(fluxTemplate, `"[concat('flux-', parameters('configurationName'))]"`, `"[variables('namespace')]"`, 1), "refers to itself"},
		{"property name not a string", good, strings.Replace(fluxTemplate, "[parameters('kustomizationName')]", "[parameters('repositoryTimeout')]", 1), "a property name must be a non-empty string"},
		{"no name", good, strings.Replace(fluxTemplate, `"name": "[parameters('configurationName')]",`, "", 1), "template.resources[0].name: is required"},
		{"condition not a boolean", good, strings.Replace(fluxTemplate, `"apiVersion": "2022-03-01",`, `"apiVersion": "2022-03-01", "condition": "[parameters('clusterName')]",`, 1),
			`template.resources[0].condition: must be true or false, not "c1"`},
	} {
		_, err := Evaluate(json.RawMessage(tc.tmpl), Input{Parameters: params(tc.params)})
		var te *Error
		if !errors.As(err, &te) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestKeyVaultReference(t *testing.T) {
	tmpl := `{"parameters": {"key": {"type": "securestring"}, "pick": {"type": "string", "allowedValues": ["a"]}},
		"resources": [{"type": "T/t", "apiVersion": "1", "name": "n", "properties": {"k": "[parameters('key')]", "p": "[parameters('pick')]"}}]}`
	vault := "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/v1"
	kv := func(id, name, _ string) (string, error) {
		if id == vault && name == "ssh" {
			return "s3cr3t", nil
		}
		return "", errors.New("no secret " + name + " in " + id)
	}
	ref := json.RawMessage(`{"reference": {"keyVault": {"id": "` + vault + `"}, "secretName": "ssh"}}`)
	res, err := Evaluate(json.RawMessage(tmpl), Input{KeyVault: kv, Parameters: map[string]json.RawMessage{"key": ref, "pick": json.RawMessage(`{"value": "a"}`)}})
	if err != nil || res[0].Properties["k"] != "s3cr3t" {
		t.Fatalf("%v %+v", err, res)
	}
	// A secret that is not allowed is not printed.
	_, err = Evaluate(json.RawMessage(tmpl), Input{KeyVault: kv, Parameters: map[string]json.RawMessage{"key": ref, "pick": ref}})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "is not one of the allowed values") {
		t.Errorf("a secret in a message: %v", err)
	}
	missing := json.RawMessage(`{"reference": {"keyVault": {"id": "` + vault + `"}, "secretName": "nope"}}`)
	if _, err := Evaluate(json.RawMessage(tmpl), Input{KeyVault: kv, Parameters: map[string]json.RawMessage{"key": missing, "pick": json.RawMessage(`{"value": "a"}`)}}); err == nil || !strings.Contains(err.Error(), "parameters.key.reference: no secret nope") {
		t.Errorf("missing secret: %v", err)
	}
	pick := json.RawMessage(`{"value": "a"}`)
	if _, err := Evaluate(json.RawMessage(tmpl), Input{Parameters: map[string]json.RawMessage{"key": ref, "pick": pick}}); err == nil || !strings.Contains(err.Error(), "no Microsoft.KeyVault/vaults are served") {
		t.Errorf("a reference with no vault to read: %v", err)
	}
	noName := json.RawMessage(`{"reference": {"keyVault": {"id": "` + vault + `"}}}`)
	if _, err := Evaluate(json.RawMessage(tmpl), Input{KeyVault: kv, Parameters: map[string]json.RawMessage{"key": noName, "pick": pick}}); err == nil || !strings.Contains(err.Error(), "needs keyVault.id and secretName") {
		t.Errorf("a reference without a secret name: %v", err)
	}
}

// TestResourceCondition: a resource whose condition is false is not
// deployed; the identity block is kept.
func TestResourceCondition(t *testing.T) {
	withCondition := func(cond string) string {
		return strings.Replace(fluxTemplate, `"apiVersion": "2022-03-01",`, `"apiVersion": "2022-03-01", "identity": {"type": "SystemAssigned"}, "condition": `+cond+`,`, 1)
	}
	for cond, want := range map[string]int{
		`"[contains(toLower(parameters('clusterResourceType')), 'connectedclusters')]"`: 1,
		`"[contains(toLower(parameters('clusterResourceType')), 'managedclusters')]"`:   0,
		`true`: 1,
	} {
		res, err := Evaluate(json.RawMessage(withCondition(cond)), Input{Parameters: params(good)})
		if err != nil || len(res) != want {
			t.Errorf("condition %s: %d resources, %v; want %d", cond, len(res), err, want)
			continue
		}
		if want == 1 && res[0].Identity["type"] != "SystemAssigned" {
			t.Errorf("identity: %v", res[0].Identity)
		}
	}
}
