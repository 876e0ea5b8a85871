package azcli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/arcgitops/arcgitops/internal/arm"
)

const (
	subscription = "/subscriptions/" + sub
	fleet        = subscription + "/resourceGroups/fleet"
	contributor  = "b24988ac-6180-42a0-ab88-20f7382dd24c"
)

func fleetCluster(name string) string {
	return fleet + "/providers/Microsoft.Kubernetes/connectedClusters/" + name
}

// TestStockAzPolicy runs the brief's two az policy commands verbatim, then
// the corrected policy of docs/policy, a remediation and the compliance
// summary, with the stock az CLI.
func TestStockAzPolicy(t *testing.T) {
	az := azPath(t)
	h := startHub(t)
	owner := h.profile(t, az)
	owner.login(h, h.owner.AppID, h.owner.Password)
	owner.must("group", "create", "-n", "fleet", "-l", "eastus")
	for _, c := range []string{"c1", "c2", "c3"} {
		owner.must("resource", "create", "--id", fleetCluster(c), "--location", "eastus", "--properties", "{}", "--api-version", arm.ClusterAPIVersion)
	}

	// The brief's file holds a whole definition; az 2.45 sends it as the
	// policy rule, which Azure refuses too. The message says what to pass.
	brief := "../fixtures/azure-examples/policy-baseline.json"
	define := func(rules string) (string, string, bool) {
		return owner.run("policy", "definition", "create", "--name", "enforce-gitops-baseline",
			"--display-name", "Enforce GitOps Corporate Baseline on Arc Clusters", "--description", "...",
			"--rules", rules, "--mode", "Indexed")
	}
	_, errOut, failed := define(brief)
	if !failed || !strings.Contains(errOut, "InvalidPolicyRule") || !strings.Contains(errOut, "only the policyRule object") {
		t.Fatalf("the brief's definition command: failed=%v\n%s", failed, errOut)
	}
	// The brief's policy rule as it stands (no value for clusterName) is
	// taken, as Azure takes it; its deployment fails later, per cluster.
	// The corrected rule is in docs/policy.
	if out, errOut, failed := define("../../docs/policy/gitops-baseline.rule.json"); failed {
		t.Fatalf("az policy definition create with the corrected rule:\n%s%s", out, errOut)
	}

	// The brief's assignment command: refused, as Azure refuses a
	// deployIfNotExists assignment without an identity, saying what to add.
	assign := []string{"policy", "assignment", "create", "--name", "gitops-baseline-assignment", "--policy", "enforce-gitops-baseline", "--scope", subscription}
	_, errOut, failed = owner.run(assign...)
	if !failed || !strings.Contains(errOut, "InvalidCreatePolicyAssignmentRequest") || !strings.Contains(errOut, "--mi-system-assigned --location") {
		t.Fatalf("the brief's assignment command: failed=%v\n%s", failed, errOut)
	}
	var assignment struct {
		ID       string `json:"id"`
		Identity struct {
			PrincipalID string `json:"principalId"`
		} `json:"identity"`
	}
	if err := json.Unmarshal([]byte(owner.must(append(assign, "--mi-system-assigned", "--location", "westeurope")...)), &assignment); err != nil || assignment.Identity.PrincipalID == "" {
		t.Fatalf("az policy assignment create gave no identity: %v", err)
	}
	owner.assignRole(assignment.Identity.PrincipalID, contributor, "Contributor", subscription)

	// The existing clusters are non-compliant until remediated.
	var summary struct {
		Results struct {
			NonCompliantResources int `json:"nonCompliantResources"`
		} `json:"results"`
		PolicyAssignments []struct {
			PolicyAssignmentID string `json:"policyAssignmentId"`
		} `json:"policyAssignments"`
	}
	summarize := func() {
		t.Helper()
		if err := json.Unmarshal([]byte(owner.summarize()), &summary); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !ok(); time.Sleep(500 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: timed out", what)
			}
		}
	}
	owner.must("policy", "state", "trigger-scan")
	summarize()
	if summary.Results.NonCompliantResources != 3 || len(summary.PolicyAssignments) != 1 || !strings.EqualFold(summary.PolicyAssignments[0].PolicyAssignmentID, assignment.ID) {
		t.Fatalf("az policy state summarize before remediation: %+v", summary)
	}
	owner.must("policy", "remediation", "create", "--name", "baseline-everywhere", "--policy-assignment", "gitops-baseline-assignment")
	waitFor("the remediation", func() bool {
		var rem struct {
			ProvisioningState string `json:"provisioningState"`
			DeploymentStatus  struct {
				SuccessfulDeployments int `json:"successfulDeployments"`
			} `json:"deploymentStatus"`
		}
		_ = json.Unmarshal([]byte(owner.must("policy", "remediation", "show", "--name", "baseline-everywhere")), &rem)
		if rem.ProvisioningState == "Failed" {
			t.Fatalf("the remediation failed: %+v", rem)
		}
		return rem.ProvisioningState == "Succeeded" && rem.DeploymentStatus.SuccessfulDeployments == 3
	})
	for _, c := range []string{"c1", "c2", "c3"} {
		var cfg struct {
			Properties struct {
				GitRepository struct{ URL string } `json:"gitRepository"`
			} `json:"properties"`
		}
		out := owner.must("resource", "show", "--id", fleetCluster(c)+"/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/corporate-baseline", "--api-version", arm.FluxConfigAPIVersion)
		if err := json.Unmarshal([]byte(out), &cfg); err != nil || cfg.Properties.GitRepository.URL != "https://github.com/mi-org/corporate-baseline" {
			t.Errorf("%s's baseline configuration: %v\n%s", c, err, out)
		}
	}
	waitFor("compliance", func() bool { summarize(); return summary.Results.NonCompliantResources == 0 })

	// az policy state list with a filter, as scripts use it.
	var states []struct {
		ResourceID      string `json:"resourceId"`
		ComplianceState string `json:"complianceState"`
	}
	if err := json.Unmarshal([]byte(owner.must("policy", "state", "list", "-g", "fleet", "--filter", "complianceState eq 'Compliant'", "--select", "resourceId, complianceState")), &states); err != nil || len(states) != 3 {
		t.Errorf("az policy state list: %v %+v", err, states)
	}
}

// debianSummarizeBug is what Debian 12's az 2.45 sends for az policy state
// summarize: its policyinsights module calls summarize_for_subscription
// with the arguments of an older azure-mgmt-policyinsights, so the
// subscription segment of the URL is the repr of its QueryOptions (and the
// subscription ID lands where "latest" belongs). Azure cannot answer that
// either.
const debianSummarizeBug = "/subscriptions/%7B%27additional_properties%27"

// summarize runs az policy state summarize; where Debian's packaging sends
// the garbled URL, it sends the request az means with az rest and prints
// what az would: the first summary.
func (p *profile) summarize() string {
	p.t.Helper()
	out, errOut, failed := p.run("policy", "state", "summarize", "--debug")
	switch {
	case !failed:
		return out
	case !strings.Contains(errOut, debianSummarizeBug):
		p.t.Fatalf("az policy state summarize failed:\n%s%s", out, errOut)
	}
	p.t.Logf("az policy state summarize sent a garbled URL (Debian's az 2.45 packaging); sending its request with az rest")
	var results struct {
		Value []json.RawMessage `json:"value"`
	}
	raw := p.must("rest", "--method", "post", "--url", subscription+"/providers/Microsoft.PolicyInsights/policyStates/latest/summarize?api-version=2019-10-01")
	if err := json.Unmarshal([]byte(raw), &results); err != nil || len(results.Value) != 1 {
		p.t.Fatalf("summarize answered %v:\n%s", err, raw)
	}
	return string(results.Value[0])
}
