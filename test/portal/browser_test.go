// Package portal_test drives the data plane's portal in a real browser:
// headless Chromium (Debian's chromium package, installed by
// hack/chromium.sh when missing; never skipped) under chromedp.
package portal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/arcgitops/arcgitops/internal/armclient"
	"github.com/arcgitops/arcgitops/internal/armrbac"
	"github.com/arcgitops/arcgitops/internal/dataplane"
	"github.com/arcgitops/arcgitops/internal/dataplane/dataplanetest"
)

const sub = "/subscriptions/00000000-0000-0000-0000-000000000000"

// chromium is the browser's path, installed when missing.
func chromium(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("../../hack/chromium.sh").Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("the portal's browser tests need Chromium: hack/chromium.sh: %v\n%s", err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// hub serves a data plane over TLS with a fleet: clusters c0..c2 with
// agents reporting every configuration Compliant, and c3, whose agent
// never calls, with a Pending one.
func hub(t *testing.T) (*httptest.Server, dataplane.Credentials) {
	t.Helper()
	ts, srv := dataplanetest.TLS(t)
	owner := dataplanetest.Owner(t, srv.DataDir())
	c := &armclient.Client{BaseURL: ts.URL, HTTP: ts.Client(), Token: dataplanetest.OwnerTokens(t, srv, ts.URL, ts.Client())}
	body, err := os.ReadFile("../fixtures/azure-examples/create-git.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 4 {
		id := fmt.Sprintf("%s/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/c%d", sub, i)
		var cluster struct {
			Properties struct {
				AgentToken string `json:"agentToken"`
			} `json:"properties"`
		}
		if _, err := c.Put(ctx, id+"?api-version=2024-01-01", map[string]any{"location": "westeurope"}, &cluster); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Put(ctx, id+"/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/baseline?api-version=2024-11-01",
			json.RawMessage(body), nil); err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			dataplanetest.Agent(t, ts.URL, id, cluster.Properties.AgentToken, ts.Client())
		}
	}
	// The brief's corporate baseline, assigned at the subscription with
	// the identity its remediations deploy as.
	rule, err := os.ReadFile("../../docs/policy/gitops-baseline.rule.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, sub+"/providers/Microsoft.Authorization/policyDefinitions/gitops-baseline?api-version=2021-06-01",
		map[string]any{"properties": map[string]any{"displayName": "GitOps baseline", "mode": "Indexed", "policyRule": json.RawMessage(rule)}}, nil); err != nil {
		t.Fatal(err)
	}
	var assignment struct {
		Identity struct {
			PrincipalID string `json:"principalId"`
		} `json:"identity"`
	}
	if _, err := c.Put(ctx, sub+"/providers/Microsoft.Authorization/policyAssignments/gitops-baseline?api-version=2021-06-01",
		map[string]any{"location": "westeurope", "identity": map[string]any{"type": "SystemAssigned"},
			"properties": map[string]any{"displayName": "GitOps baseline on every cluster", "policyDefinitionId": sub + "/providers/Microsoft.Authorization/policyDefinitions/gitops-baseline"}},
		&assignment); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, sub+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01",
		map[string]any{"properties": map[string]any{"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + armrbac.Contributor.ID,
			"principalId": assignment.Identity.PrincipalID, "principalType": "ServicePrincipal"}}, nil); err != nil {
		t.Fatal(err)
	}
	return ts, owner
}

func TestPortalInBrowser(t *testing.T) {
	path := chromium(t)
	ts, owner := hub(t)
	shots := os.Getenv("PORTAL_SCREENSHOTS") // docs/portal, to refresh the README's
	if shots == "" {
		shots = t.TempDir()
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.IgnoreCertErrors, chromedp.WindowSize(1280, 900))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	read := func(a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(shots, name), png, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	// Any page sends a browser without a session to sign in.
	do(chromedp.Navigate(ts.URL+"/portal/"), chromedp.WaitVisible(chromedp.CSS(`#appId`)))
	if title, location := read(chromedp.Title()), read(chromedp.Location()); title != "Sign in · arcgitops" || location != ts.URL+"/portal/signin" {
		t.Fatalf("without a session: %q at %s", title, location)
	}
	shot("signin.png")

	// A wrong secret: the page says so, and the browser stays signed out.
	do(chromedp.SendKeys(chromedp.CSS(`#appId`), owner.AppID), chromedp.SendKeys(chromedp.CSS(`#secret`), "not the secret"),
		chromedp.Submit(chromedp.CSS(`#secret`)), chromedp.WaitVisible(chromedp.CSS(`.problem`)))
	if problem := read(chromedp.Text(chromedp.CSS(`.problem`))); !strings.Contains(problem, "wrong") {
		t.Fatalf("a wrong secret: %q", problem)
	}

	// Signed in: the overview, every configuration Compliant but c3's,
	// whose agent has never called.
	configs := chromedp.CSS(`section[aria-labelledby=configs] tbody`)
	do(chromedp.SetValue(chromedp.CSS(`#secret`), owner.Password), chromedp.Submit(chromedp.CSS(`#secret`)), chromedp.WaitVisible(configs))
	// poll reads sel's text until ok holds (the agents and the policy
	// engine work in the background) or 30 s pass, reloading in between.
	poll := func(sel chromedp.CSS, ok func(string) bool) string {
		t.Helper()
		text := read(chromedp.Text(sel))
		for deadline := time.Now().Add(30 * time.Second); !ok(text) && time.Now().Before(deadline); text = read(chromedp.Text(sel)) {
			do(chromedp.Reload(), chromedp.WaitVisible(sel))
		}
		return text
	}
	rows := poll(configs, func(s string) bool { return strings.Count(s, "Compliant") == 3 })
	lines := strings.Split(strings.TrimSpace(rows), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "baseline\tc3") || !strings.Contains(lines[0], "Pending") {
		t.Fatalf("configurations, the worst first:\n%s", rows)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, "Compliant") {
			t.Fatalf("configurations, the worst first:\n%s", rows)
		}
	}
	if stale := read(chromedp.Text(chromedp.CSS(`section[aria-labelledby=stale]`))); !strings.Contains(stale, "c3") || strings.Contains(stale, "c0") {
		t.Fatalf("agents not seen:\n%s", stale)
	}
	if chart := read(chromedp.TextContent(chromedp.CSS(`svg.chart title`))); chart != "Configurations by compliance state: Pending 1, Compliant 3" {
		t.Fatalf("chart: %q", chart)
	}
	shot("overview.png")

	// A configuration's page, from its link: the Kustomizations as a
	// dependsOn graph, and the objects its agent reported.
	do(chromedp.Click(chromedp.CSS(`section[aria-labelledby=configs] tbody tr:last-child a`)), chromedp.WaitVisible(chromedp.CSS(`svg.graph`)))
	if h1 := read(chromedp.Text(chromedp.CSS(`h1`))); h1 != "baseline Compliant" {
		t.Fatalf("the configuration's heading: %q", h1)
	}
	if boxes := strings.Join(strings.Fields(read(chromedp.TextContent(chromedp.CSS(`svg.graph`)))), " "); !strings.HasSuffix(boxes, "srs-kustomization1 Compliant srs-kustomization2 Compliant") {
		t.Fatalf("the dependsOn graph: %q", boxes)
	}
	if objects := read(chromedp.Text(chromedp.CSS(`section[aria-labelledby=objects] tbody`))); strings.Count(objects, "Compliant") != 3 || !strings.Contains(objects, "GitRepository") {
		t.Fatalf("the Flux objects:\n%s", objects)
	}
	shot("configuration.png")
	suspend := chromedp.CSS(`form[action="/portal/configuration/suspend"] button`)
	willResume := chromedp.CSS(`form[action="/portal/configuration/suspend"] input[name=suspend][value=false]`)
	willSuspend := chromedp.CSS(`form[action="/portal/configuration/suspend"] input[name=suspend][value=true]`)
	do(chromedp.Click(suspend), chromedp.WaitReady(willResume))
	if button, facts := read(chromedp.Text(suspend)), read(chromedp.Text(chromedp.CSS(`dl.facts`))); button != "Resume" || !strings.Contains(facts, "(suspended)") {
		t.Fatalf("after Suspend: the button says %q; the facts:\n%s", button, facts)
	}
	do(chromedp.Click(suspend), chromedp.WaitReady(willSuspend))
	if button := read(chromedp.Text(suspend)); button != "Suspend" {
		t.Fatalf("after Resume: the button says %q", button)
	}

	// The clusters, filtered by compliance from the form; a cluster's page.
	do(chromedp.Click(chromedp.CSS(`header nav a[href="/portal/clusters"]`)), chromedp.WaitVisible(chromedp.CSS(`#compliance`)),
		chromedp.SetValue(chromedp.CSS(`#compliance`), "Pending"), chromedp.Submit(chromedp.CSS(`#compliance`)),
		chromedp.WaitVisible(chromedp.CSS(`main table`)))
	if list := read(chromedp.Text(chromedp.CSS(`main tbody`))); !strings.HasPrefix(list, "c3\tfleet") || strings.Count(list, "\n") > 1 {
		t.Fatalf("clusters with a Pending configuration:\n%s", list)
	}
	shot("clusters.png")
	do(chromedp.Click(chromedp.CSS(`main tbody a`)), chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby=configs] table`)))
	if h1 := read(chromedp.Text(chromedp.CSS(`h1`))); h1 != "c3" {
		t.Fatalf("the cluster's page: %q", h1)
	}

	// The Resource Graph explorer: a stock query one click away, its
	// result as a table and a chart; a bad query's error next to it.
	do(chromedp.Click(chromedp.CSS(`header nav a[href="/portal/graph"]`)), chromedp.WaitVisible(chromedp.CSS(`#q`)),
		chromedp.Click(chromedp.CSS(`nav.stock a:first-child`)), chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby=result] table`)))
	if chart := read(chromedp.TextContent(chromedp.CSS(`#result-chart`))); chart != "Compliant · cluster 3, Pending · cluster 1" {
		t.Fatalf("the result's chart: %q", chart)
	}
	shot("graph.png")
	do(chromedp.SetValue(chromedp.CSS(`#q`), "Resources | sumarize count()"), chromedp.Submit(chromedp.CSS(`#q`)), chromedp.WaitVisible(chromedp.CSS(`.problem`)))
	if problem := read(chromedp.Text(chromedp.CSS(`.problem`))); !strings.Contains(problem, "did you mean 'summarize'?") {
		t.Fatalf("a bad query: %q", problem)
	}

	// The activity log: the writes that made the fleet, newest first.
	do(chromedp.Click(chromedp.CSS(`header nav a[href="/portal/activity"]`)), chromedp.WaitVisible(chromedp.CSS(`main table`)))
	if log := read(chromedp.Text(chromedp.CSS(`main tbody`))); !strings.Contains(log, "Microsoft.KubernetesConfiguration/fluxConfigurations/write") ||
		!strings.Contains(log, owner.AppID) {
		t.Fatalf("the activity log:\n%s", log)
	}

	// Policy: the assignment's compliance, then a remediation from the page.
	do(chromedp.Click(chromedp.CSS(`header nav a[href="/portal/policy"]`)), chromedp.WaitVisible(chromedp.CSS(`main table`)))
	compliance := poll(chromedp.CSS(`main tbody td:nth-child(3)`), func(s string) bool { return s == "0% (0 of 4)" })
	if compliance != "0% (0 of 4)" {
		t.Fatalf("the assignment's compliance: %q", compliance)
	}
	shot("policy.png")
	do(chromedp.Click(chromedp.CSS(`button[aria-label="Remediate gitops-baseline"]`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if notice := read(chromedp.Text(chromedp.CSS(`.notice`))); !strings.HasPrefix(notice, "Remediation portal-") {
		t.Fatalf("after remediating: %q", notice)
	}

	// Signing out ends the session.
	do(chromedp.Click(chromedp.CSS(`.signout button`)), chromedp.WaitVisible(chromedp.CSS(`#appId`)),
		chromedp.Navigate(ts.URL+"/portal/"), chromedp.WaitVisible(chromedp.CSS(`#appId`)))
	if location := read(chromedp.Location()); location != ts.URL+"/portal/signin" {
		t.Fatalf("after signing out: %s", location)
	}
}
