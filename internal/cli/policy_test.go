package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestPolicyCommands drives the corrected baseline policy through
// arcgitops policy, as a user of az policy would: definition, assignment
// (refused without an identity, with the fix), role, scan, remediation,
// states.
func TestPolicyCommands(t *testing.T) {
	d := newTestDataPlane(t)
	for _, c := range []string{"c1", "c2"} {
		if code, _, stderr := run(t, d, args("connectedk8s connect -g fleet -l westeurope -n "+c)...); code != 0 {
			t.Fatalf("connect %s: %s", c, stderr)
		}
	}
	must := func(argv ...string) string {
		t.Helper()
		code, out, stderr := run(t, d, argv...)
		if code != 0 {
			t.Fatalf("arcgitops %s: exit %d\n%s", strings.Join(argv, " "), code, stderr)
		}
		return strings.TrimSpace(out)
	}
	out := must("policy", "definition", "create", "-n", "enforce-gitops-baseline", "--rules", "../../docs/policy/gitops-baseline.rule.json",
		"--mode", "Indexed", "--display-name", "Enforce GitOps Corporate Baseline on Arc Clusters", "--metadata", "category=Kubernetes", "-o", "tsv")
	if out != "enforce-gitops-baseline\tEnforce GitOps Corporate Baseline on Arc Clusters\tIndexed\tCustom" {
		t.Errorf("definition create printed %q", out)
	}
	code, _, stderr := run(t, d, args("policy assignment create -n baseline --policy enforce-gitops-baseline")...)
	if code == 0 || !strings.Contains(stderr, "--mi-system-assigned --location <region>") {
		t.Errorf("an assignment without identity: exit %d\n%s", code, stderr)
	}
	principal := must(args("policy assignment create -n baseline --policy enforce-gitops-baseline --mi-system-assigned -l westeurope --role Contributor --query identity.principalId -o tsv")...)
	if roles := must("role", "assignment", "list", "--assignee", principal, "--query", "[].properties.roleDefinitionId", "-o", "tsv"); !strings.HasSuffix(roles, "b24988ac-6180-42a0-ab88-20f7382dd24c") {
		t.Errorf("the identity's roles: %q", roles)
	}

	must(args("policy state trigger-scan")...)
	if out := must(args("policy state summarize -o tsv")...); out != "2\t1" {
		t.Errorf("summarize before remediation: %q, want 2 non-compliant resources, 1 policy", out)
	}
	must(args("policy remediation create -n everywhere -a baseline")...)
	deadline := time.Now().Add(10 * time.Second)
	for must(args("policy remediation show -n everywhere --query properties.provisioningState -o tsv")...) != "Succeeded" {
		if time.Now().After(deadline) {
			t.Fatal("the remediation did not succeed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := must(args("policy remediation list -o tsv")...); out != "everywhere\tSucceeded\t2\t2\t0" {
		t.Errorf("remediation list: %q", out)
	}
	if out := must("policy", "state", "list", "-g", "fleet", "--filter", "complianceState eq 'Compliant'", "--query", "length(@)"); out != "2" {
		t.Errorf("compliant states: %s", out)
	}
	if out := must("policy", "state", "list", "-a", "baseline", "--apply", "groupby((complianceState), aggregate($count as n))", "--query", "[0].n"); out != "2" {
		t.Errorf("states grouped: %s", out)
	}

	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"policy", "definition", "create", "-n", "x", "--rules", "{not json"}, "--rules: neither a readable file nor JSON"},
		{[]string{"policy", "remediation", "create", "-n", "r", "-a", "nope"}, `no policy assignment is named "nope"`},
		{[]string{"policy", "state", "list", "--filter", "complianceState equals 'x'"}, "$filter: at 17: expected eq, ne"},
		{[]string{"policy", "assignment", "create", "-n", "y", "--policy", "enforce-gitops-baseline", "--role", "Contributor"}, "add --mi-system-assigned"},
		{[]string{"policy", "state", "list", "-a", "baseline", "-d", "enforce-gitops-baseline"}, "not both"},
	} {
		if code, _, stderr := run(t, d, tc.argv...); code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("arcgitops %s: exit %d\n%s", strings.Join(tc.argv, " "), code, stderr)
		}
	}
}

// TestPolicyBuiltinFlux assigns Azure's built-in "Flux v2 configuration
// using public Git repository" by its name, as az does, and a cluster
// connected afterwards gets the configuration.
func TestPolicyBuiltinFlux(t *testing.T) {
	d := newTestDataPlane(t)
	const builtin = "83ea2fd1-9eaf-2f6d-f672-cd7b2ac798f6"
	must := func(argv ...string) string {
		t.Helper()
		code, out, stderr := run(t, d, argv...)
		if code != 0 {
			t.Fatalf("arcgitops %s: exit %d\n%s", strings.Join(argv, " "), code, stderr)
		}
		return strings.TrimSpace(out)
	}
	if out := must("policy", "definition", "show", "-n", builtin, "--query", "properties.policyType", "-o", "tsv"); out != "BuiltIn" {
		t.Errorf("definition show of the built-in: %q", out)
	}
	must("policy", "assignment", "create", "-n", "flux-public", "--policy", builtin, "--mi-system-assigned", "-l", "westeurope", "--role", "Contributor",
		"-p", `{"configurationName":{"value":"cluster-config"},"repositoryUrl":{"value":"https://github.com/Azure/arc-k8s-demo"},"repositoryRefBranch":{"value":"main"}}`)
	must(args("connectedk8s connect -g fleet -l westeurope -n c1")...)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, out, _ := run(t, d, args("k8s-configuration flux show -g fleet -c c1 -t connectedClusters -n cluster-config --query gitRepository.url -o tsv")...)
		if code == 0 && strings.TrimSpace(out) == "https://github.com/Azure/arc-k8s-demo" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("c1 did not get the built-in's configuration: exit %d %q", code, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, _, stderr := run(t, d, "policy", "definition", "delete", "-n", "/providers/Microsoft.Authorization/policyDefinitions/"+builtin)
	if code == 0 || !strings.Contains(stderr, "BuiltInPolicyDefinitionReadOnly") {
		t.Errorf("deleting a built-in: exit %d %s", code, stderr)
	}
}

// TestPolicySetCommands: an initiative of the baseline, assigned and
// remediated member by member through arcgitops policy.
func TestPolicySetCommands(t *testing.T) {
	d := newTestDataPlane(t)
	must := func(argv ...string) string {
		t.Helper()
		code, out, stderr := run(t, d, argv...)
		if code != 0 {
			t.Fatalf("arcgitops %s: exit %d\n%s", strings.Join(argv, " "), code, stderr)
		}
		return strings.TrimSpace(out)
	}
	must(args("connectedk8s connect -g fleet -l westeurope -n c1")...)
	must("policy", "definition", "create", "-n", "enforce-gitops-baseline", "--rules", "../../docs/policy/gitops-baseline.rule.json")
	sub := "/subscriptions/00000000-0000-0000-0000-000000000000"
	members := `[{"policyDefinitionId":"` + sub + `/providers/Microsoft.Authorization/policyDefinitions/enforce-gitops-baseline","policyDefinitionReferenceId":"baseline"}]`
	if out := must("policy", "set-definition", "create", "-n", "fleet", "--definitions", members, "--display-name", "Fleet", "-o", "tsv"); out != "fleet\tFleet\tCustom" {
		t.Errorf("set-definition create printed %q", out)
	}
	if out := must("policy", "set-definition", "list", "--query", "[].name", "-o", "tsv"); out != "fleet" {
		t.Errorf("set-definition list: %q", out)
	}
	code, _, stderr := run(t, d, args("policy assignment create -n fleet")...)
	if code == 0 || !strings.Contains(stderr, "give --policy or --policy-set-definition") {
		t.Errorf("an assignment of nothing: exit %d %s", code, stderr)
	}
	must(args("policy assignment create -n fleet --policy-set-definition fleet --mi-system-assigned -l westeurope --role Contributor")...)
	code, _, stderr = run(t, d, args("policy remediation create -n fix -a fleet")...)
	if code == 0 || !strings.Contains(stderr, "one of baseline") {
		t.Errorf("a set's remediation without its member: exit %d %s", code, stderr)
	}
	must(args("policy remediation create -n fix -a fleet --definition-reference-id baseline")...)
	deadline := time.Now().Add(10 * time.Second)
	for must(args("policy remediation show -n fix --query properties.provisioningState -o tsv")...) != "Succeeded" {
		if time.Now().After(deadline) {
			t.Fatal("the remediation did not succeed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := must("policy", "state", "list", "--filter", "policyDefinitionReferenceId eq 'baseline'", "--query", "[0].[complianceState, policySetDefinitionName]", "-o", "tsv"); strings.Join(strings.Fields(out), " ") != "Compliant fleet" {
		t.Errorf("the member's state: %q", out)
	}
	code, _, stderr = run(t, d, args("policy set-definition delete -n fleet")...)
	if code == 0 || !strings.Contains(stderr, "PolicySetDefinitionInUse") {
		t.Errorf("deleting an assigned set: exit %d %s", code, stderr)
	}
}

// TestGraphQuery: arcgitops graph query prints as az graph query does, in
// pages.
func TestGraphQuery(t *testing.T) {
	d := newTestDataPlane(t)
	for _, c := range []string{"c1", "c2", "c3"} {
		if code, _, stderr := run(t, d, args("connectedk8s connect -g fleet -l westeurope -n "+c)...); code != 0 {
			t.Fatalf("connect: %s", stderr)
		}
	}
	q := "Resources | where type == 'microsoft.kubernetes/connectedclusters' | order by name asc | project name, resourceGroup"
	var out string
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, o, stderr := run(t, d, "graph", "query", "-q", q, "--first", "2", "-o", "json")
		if code != 0 {
			t.Fatalf("graph query: %s", stderr)
		}
		if out = o; strings.Contains(out, `"total_records": 3`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the index follows the store within moments
	}
	var page struct {
		Count        int              `json:"count"`
		TotalRecords int              `json:"total_records"`
		SkipToken    string           `json:"skip_token"`
		Data         []map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || page.Count != 2 || page.TotalRecords != 3 || page.SkipToken == "" || page.Data[0]["name"] != "c1" {
		t.Fatalf("first page: %v\n%s", err, out)
	}
	code, tsv, stderr := run(t, d, "graph", "query", "-q", q, "--skip-token", page.SkipToken, "-o", "tsv")
	if code != 0 || strings.TrimSpace(tsv) != "c3\tfleet" {
		t.Errorf("second page: exit %d %q %s", code, tsv, stderr)
	}
	code, table, _ := run(t, d, "graph", "query", "-q", "Resources | summarize n = count()", "-o", "table")
	if code != 0 || !strings.Contains(table, "n\n-\n3") {
		t.Errorf("table: %q", table)
	}
	code, _, stderr = run(t, d, "graph", "query", "-q", "Resources | sumarize count()")
	if code == 0 || !strings.Contains(stderr, "did you mean 'summarize'?") {
		t.Errorf("a bad query: exit %d %s", code, stderr)
	}
}
