// Package portal_test drives the data plane's portal in a real browser:
// headless Chromium (Debian's chromium package, installed by
// hack/chromium.sh when missing; never skipped) under chromedp.
package portal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/uuid"

	"github.com/arcgitops/arcgitops/internal/agentapi"
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

// fleet is the hub a test drives, and the clusters whose agents the test
// plays itself.
type fleet struct {
	ts    *httptest.Server
	owner dataplane.Credentials
	arm   *armclient.Client
	// pending (c3) has an agent that has never called; failing (c4) one
	// that reported a Kustomization failing.
	pending, failing cluster
}

type cluster struct{ id, token string }

// failure is the message the failing cluster's agent reports of its
// second Kustomization: kustomize-controller's, for a path the repository
// does not have.
const failure = "kustomization path not found: stat /tmp/kustomization-1797358312/other/test/path: no such file or directory"

// deployKey is the public key the failing cluster's agent reports.
const deployKey = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBPLZ0L6n7LlbCMmzrJS2Q5zgSEHsAhmr3rr2SjPZEcEn3m0U0MryVkTl6pGtfvDtfz2VZspd9u6KuL5vsbJjD1jvWVq3VL6w4fcFvhsQmb9n9HV0lyTa4U0f6QFmxSyfvw=="

// hub serves a data plane over TLS with a fleet: clusters c0..c2 with
// agents reporting every configuration Compliant; c3, whose agent has not
// called yet, with a Pending one; c4, whose agent reported its second
// Kustomization failing.
func hub(t *testing.T) fleet {
	t.Helper()
	ts, srv := dataplanetest.TLS(t)
	f := fleet{ts: ts, owner: dataplanetest.Owner(t, srv.DataDir())}
	c := &armclient.Client{BaseURL: ts.URL, HTTP: ts.Client(), Token: dataplanetest.OwnerTokens(t, srv, ts.URL, ts.Client())}
	f.arm = c
	body, err := os.ReadFile("../fixtures/azure-examples/create-git.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 5 {
		id := fmt.Sprintf("%s/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/c%d", sub, i)
		var cl struct {
			Properties struct {
				AgentToken string `json:"agentToken"`
			} `json:"properties"`
		}
		if _, err := c.Put(ctx, id+"?api-version=2024-01-01", map[string]any{"location": "westeurope"}, &cl); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Put(ctx, id+"/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/baseline?api-version=2024-11-01",
			json.RawMessage(body), nil); err != nil {
			t.Fatal(err)
		}
		switch i {
		case 3:
			f.pending = cluster{id, cl.Properties.AgentToken}
		case 4:
			f.failing = cluster{id, cl.Properties.AgentToken}
			reportFailing(t, ts, f.failing)
		default:
			dataplanetest.Agent(t, ts.URL, id, cl.Properties.AgentToken, ts.Client())
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
	f.assign(t, assignment.Identity.PrincipalID, "ServicePrincipal", armrbac.Contributor.ID)
	return f
}

// assign gives principal a role at the subscription.
func (f fleet) assign(t *testing.T, principal, principalType, role string) {
	t.Helper()
	if _, err := f.arm.Put(context.Background(), sub+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01",
		map[string]any{"properties": map[string]any{"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + role,
			"principalId": principal, "principalType": principalType}}, nil); err != nil {
		t.Fatal(err)
	}
}

// reader makes a user (a person of the hub's directory, as az ad user
// create makes one) with the Reader role on the subscription, and returns
// its name and password.
func (f fleet) reader(t *testing.T) (name, password string) {
	t.Helper()
	name, password = "auditor@contoso.com", "Audit-Trail-2026"
	var u struct{ ID string }
	if _, err := f.arm.Do(context.Background(), armclient.Request{Method: "POST", Path: "/v1.0/users", Body: map[string]any{
		"accountEnabled": true, "displayName": "Auditor", "userPrincipalName": name,
		"passwordProfile": map[string]any{"password": password, "forceChangePasswordNextSignIn": false}}}, &u); err != nil {
		t.Fatal(err)
	}
	f.assign(t, u.ID, "User", armrbac.Reader.ID)
	return name, password
}

// reportFailing reports, as c's agent, its configuration applied with the
// second Kustomization failing.
func reportFailing(t *testing.T, ts *httptest.Server, c cluster) {
	t.Helper()
	agent := &agentapi.Client{BaseURL: ts.URL, ClusterID: c.id, Token: c.token, HTTP: ts.Client()}
	ctx := context.Background()
	state, _, _, err := agent.List(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	ready := func(status, reason, message string) []map[string]string {
		return []map[string]string{{"type": "Ready", "status": status, "reason": reason, "message": message}}
	}
	statuses, _ := json.Marshal([]map[string]any{
		{"name": "baseline", "namespace": "srs-namespace", "kind": "GitRepository", "complianceState": "Compliant",
			"statusConditions": ready("True", "Succeeded", "stored artifact for revision 'master@sha1:7f3c2e1'")},
		{"name": "baseline-srs-kustomization1", "namespace": "srs-namespace", "kind": "Kustomization", "complianceState": "Compliant",
			"statusConditions": ready("True", "ReconciliationSucceeded", "Applied revision: master@sha1:7f3c2e1")},
		{"name": "baseline-srs-kustomization2", "namespace": "srs-namespace", "kind": "Kustomization", "complianceState": "Non-Compliant",
			"statusConditions": ready("False", "ArtifactFailed", failure)},
	})
	if err := agent.ReportStatus(ctx, "baseline", &agentapi.StatusReport{Generation: state.Configurations[0].Generation,
		ComplianceState: "Non-Compliant", ProvisioningState: "Succeeded", RepositoryPublicKey: deployKey,
		SourceSyncedCommitID: "master@sha1:7f3c2e1", Statuses: statuses}); err != nil {
		t.Fatal(err)
	}
}

func TestPortalInBrowser(t *testing.T) {
	b := open(t, hub(t))
	b.signIn()
	b.overviewLive()
	b.keyboard()
	b.failingConfiguration()
	b.clustersGraphActivityPolicy()
	b.signOut()
	b.readerAndForgery()
}

// tab is a browser tab on the hub, the test's steps as its methods.
type tab struct {
	t     *testing.T
	f     fleet
	ctx   context.Context
	shots string // where screenshots go
	// failing is the URL of the Non-Compliant configuration's page.
	failing string
}

func open(t *testing.T, f fleet) *tab {
	t.Helper()
	path := chromium(t)
	shots := os.Getenv("PORTAL_SCREENSHOTS") // docs/portal, to refresh the README's
	if shots == "" {
		shots = t.TempDir()
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.IgnoreCertErrors, chromedp.WindowSize(1280, 900))...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	return &tab{t: t, f: f, ctx: ctx, shots: shots}
}

func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *tab) read(a chromedp.Action[string]) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// text is the rendered text of the first element sel matches ("" when
// none), read in one script: a live update cannot swap the element out
// between finding it and reading it.
func (b *tab) text(sel string) string {
	b.t.Helper()
	return b.eval(`(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); return e ? e.innerText : "" })()`)
}

// textContent is text's, for elements that are not rendered as text (SVG).
func (b *tab) textContent(sel string) string {
	b.t.Helper()
	return b.eval(`(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); return e ? e.textContent : "" })()`)
}

// eval is the value of a script's expression (awaited when a promise).
func (b *tab) eval(js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

func (b *tab) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(b.shots, name), png, 0o644)
	}
	if err != nil {
		b.t.Fatal(err)
	}
}

// poll reads sel's text until ok holds (the agents and the policy engine
// work in the background) or 30 s pass, reloading in between.
func (b *tab) poll(sel chromedp.CSS, ok func(string) bool) string {
	b.t.Helper()
	text := b.text(string(sel))
	for deadline := time.Now().Add(30 * time.Second); !ok(text) && time.Now().Before(deadline); text = b.text(string(sel)) {
		b.do(chromedp.Reload(), chromedp.WaitVisible(sel))
	}
	return text
}

// watch reads sel's text until ok holds or 30 s pass, without reloading:
// the page must update itself.
func (b *tab) watch(sel chromedp.CSS, ok func(string) bool) string {
	b.t.Helper()
	text := b.text(string(sel))
	for deadline := time.Now().Add(30 * time.Second); !ok(text) && time.Now().Before(deadline); text = b.text(string(sel)) {
		b.do(chromedp.Sleep(100*time.Millisecond), chromedp.WaitVisible(sel))
	}
	return text
}

// rowsOf are a table body's rows, each as its cells' texts.
func rowsOf(text string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		rows = append(rows, strings.Split(l, "\t"))
	}
	return rows
}

// states are the overview's configurations as "cluster state", in order.
func states(text string) string {
	var out []string
	for _, row := range rowsOf(text) {
		if len(row) < 4 {
			return text // not the table yet
		}
		out = append(out, row[1]+" "+row[3])
	}
	return strings.Join(out, ", ")
}

// configs is the overview's table of configurations.
var configs = chromedp.CSS(`section[aria-labelledby=configs] tbody`)

func (b *tab) signIn() {
	// Any page sends a browser without a session to sign in.
	b.do(chromedp.Navigate(b.f.ts.URL+"/portal/"), chromedp.WaitVisible(chromedp.CSS(`#appId`)))
	if title, location := b.read(chromedp.Title()), b.read(chromedp.Location()); title != "Sign in · arcgitops" || location != b.f.ts.URL+"/portal/signin" {
		b.t.Fatalf("without a session: %q at %s", title, location)
	}
	b.shot("signin.png")

	// A wrong secret: the page says so, and the browser stays signed out.
	b.do(chromedp.SendKeys(chromedp.CSS(`#appId`), b.f.owner.AppID), chromedp.SendKeys(chromedp.CSS(`#secret`), "not the secret"),
		chromedp.Submit(chromedp.CSS(`#secret`)), chromedp.WaitVisible(chromedp.CSS(`.problem`)))
	if problem := b.text(`.problem`); !strings.Contains(problem, "wrong") {
		b.t.Fatalf("a wrong secret: %q", problem)
	}
}

func (b *tab) overviewLive() {
	// Signed in: the overview, the worst first: c4's configuration
	// Non-Compliant, c3's Pending (its agent has never called), the rest
	// Compliant.
	b.do(chromedp.SetValue(chromedp.CSS(`#secret`), b.f.owner.Password), chromedp.Submit(chromedp.CSS(`#secret`)), chromedp.WaitVisible(configs))
	want := "c4 Non-Compliant, c3 Pending, c0 Compliant, c1 Compliant, c2 Compliant"
	if got := states(b.poll(configs, func(s string) bool { return states(s) == want })); got != want {
		b.t.Fatalf("configurations, the worst first: %s", got)
	}
	if stale := b.text(`section[aria-labelledby=stale]`); !strings.Contains(stale, "c3") || strings.Contains(stale, "c0") {
		b.t.Fatalf("agents not seen:\n%s", stale)
	}
	if chart := b.textContent(`svg.chart title`); chart != "Configurations by compliance state: Non-Compliant 1, Pending 1, Compliant 3" {
		b.t.Fatalf("chart: %q", chart)
	}
	b.shot("overview.png")

	// Live: c3's agent calls and reports; the open page shows it without
	// being reloaded (the marker set in this page's window survives).
	b.eval(`window.notReloaded = "yes"; "set"`)
	dataplanetest.Agent(b.t, b.f.ts.URL, b.f.pending.id, b.f.pending.token, b.f.ts.Client())
	want = "c4 Non-Compliant, c0 Compliant, c1 Compliant, c2 Compliant, c3 Compliant"
	if got := states(b.watch(configs, func(s string) bool { return states(s) == want })); got != want {
		b.t.Fatalf("configurations after c3's agent reported, without a reload: %s", got)
	}
	if marker := b.eval(`String(window.notReloaded)`); marker != "yes" {
		b.t.Fatalf("the page was reloaded to update (marker %q)", marker)
	}
	if stale := b.watch(chromedp.CSS(`section[aria-labelledby=stale]`), func(s string) bool { return !strings.Contains(s, "c3") }); strings.Contains(stale, "c3") {
		b.t.Fatalf("agents not seen, after c3's called:\n%s", stale)
	}
}

// active describes the focused element: its tag and text.
func (b *tab) active() string {
	b.t.Helper()
	return b.eval(`document.activeElement.tagName + " " + document.activeElement.textContent.trim()`)
}

// tabTo presses Tab until the focused element's description starts with
// prefix (at most 40 times), and checks that the focus shows.
func (b *tab) tabTo(prefix string) {
	b.t.Helper()
	for range 40 {
		b.do(chromedp.KeyEvent(kb.Tab))
		if strings.HasPrefix(b.active(), prefix) {
			if outline := b.eval(`getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
				b.t.Fatalf("%s has the focus, without an outline", prefix)
			}
			return
		}
	}
	b.t.Fatalf("40 Tabs did not reach %q (last: %q)", prefix, b.active())
}

// keyboard goes from the overview to the Non-Compliant configuration's
// page with the keyboard only: the skip link first (shown when focused),
// then Tab to the configuration's link and Enter.
func (b *tab) keyboard() {
	b.do(chromedp.Navigate(b.f.ts.URL+"/portal/"), chromedp.WaitVisible(configs))
	b.tabTo("A Skip to the content")
	if left := b.eval(`String(document.activeElement.getBoundingClientRect().left >= 0)`); left != "true" {
		b.t.Fatalf("the focused skip link is off the screen")
	}
	b.do(chromedp.KeyEvent(kb.Enter))
	if location := b.read(chromedp.Location()); !strings.HasSuffix(location, "#main") {
		b.t.Fatalf("the skip link went to %s", location)
	}
	b.tabTo("A baseline") // the first configuration, the worst: c4's
	b.do(chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS(`svg.graph`)))
}

func (b *tab) failingConfiguration() {
	// The Non-Compliant configuration's page: the failing Kustomization in
	// the dependsOn graph, its message, the deploy key.
	if h1 := b.text(`h1`); h1 != "baseline Non-Compliant" {
		b.t.Fatalf("the configuration's heading: %q", h1)
	}
	if boxes := strings.Join(strings.Fields(b.textContent(`svg.graph`)), " "); !strings.HasSuffix(boxes, "srs-kustomization1 Compliant srs-kustomization2 Non-Compliant") {
		b.t.Fatalf("the dependsOn graph: %q", boxes)
	}
	ks := rowsOf(b.text(`section[aria-labelledby=kustomizations] tbody`))
	if len(ks) != 2 || ks[1][0] != "srs-kustomization2" || ks[1][4] != "Non-Compliant" || ks[1][5] != failure {
		b.t.Fatalf("the Kustomizations: %q", ks)
	}
	if objects := b.text(`section[aria-labelledby=objects] tbody`); !strings.Contains(objects, "Ready=False (ArtifactFailed): "+failure) {
		b.t.Fatalf("the Flux objects:\n%s", objects)
	}
	if key := b.read(chromedp.Value(chromedp.CSS(`#public-key`))); key != deployKey {
		b.t.Fatalf("the deploy key: %q", key)
	}
	b.do(chromedp.Click(chromedp.CSS(`button[data-copy=public-key]`)))
	if note := b.watch(chromedp.CSS(`#public-key-copied`), func(s string) bool { return s != "" }); note != "Copied to the clipboard." {
		b.t.Fatalf("after Copy: %q", note)
	}
	// Reading the clipboard back needs a permission a user would grant.
	b.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: "clipboard-read"}, Setting: browser.PermissionSettingGranted, Origin: b.f.ts.URL})
		return err
	}))
	if copied := b.eval(`navigator.clipboard.readText()`); copied != deployKey {
		b.t.Fatalf("the clipboard holds %q", copied)
	}
	b.shot("configuration.png")
	// Suspend and resume, with the keyboard.
	suspend := chromedp.CSS(`form[action="/portal/configuration/suspend"] button`)
	willResume := chromedp.CSS(`form[action="/portal/configuration/suspend"] input[name=suspend][value=false]`)
	willSuspend := chromedp.CSS(`form[action="/portal/configuration/suspend"] input[name=suspend][value=true]`)
	b.tabTo("BUTTON Suspend")
	b.do(chromedp.KeyEvent(kb.Enter), chromedp.WaitReady(willResume))
	if button, facts := b.text(string(suspend)), b.text(`dl.facts`); button != "Resume" || !strings.Contains(facts, "(suspended)") {
		b.t.Fatalf("after Suspend: the button says %q; the facts:\n%s", button, facts)
	}
	b.tabTo("BUTTON Resume")
	b.do(chromedp.KeyEvent(kb.Enter), chromedp.WaitReady(willSuspend))
	if button := b.text(string(suspend)); button != "Suspend" {
		b.t.Fatalf("after Resume: the button says %q", button)
	}
	b.failing = b.read(chromedp.Location())

	// The compliance history: the one change c4's agent reported. Reconcile
	// now: the page says it was asked.
	if history := rowsOf(b.text(`section[aria-labelledby=history] tbody`)); len(history) != 1 || history[0][1] != "Non-Compliant" {
		b.t.Fatalf("the compliance history: %q", history)
	}
	b.do(chromedp.Click(chromedp.CSS(`form[action="/portal/configuration/reconcile"] button`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if notice := b.text(`.notice`); !strings.HasPrefix(notice, "Reconcile requested") {
		b.t.Fatalf("after Reconcile now: %q", notice)
	}
}

func (b *tab) clustersGraphActivityPolicy() {
	// The clusters, filtered by compliance from the form; a cluster's page.
	b.do(chromedp.Click(chromedp.CSS(`header nav a[href="/portal/clusters"]`)), chromedp.WaitVisible(chromedp.CSS(`#compliance`)),
		chromedp.SetValue(chromedp.CSS(`#compliance`), "Non-Compliant"), chromedp.Submit(chromedp.CSS(`#compliance`)),
		chromedp.WaitVisible(chromedp.CSS(`main table`)))
	if list := b.text(`main tbody`); !strings.HasPrefix(list, "c4\tfleet") || strings.Count(list, "\n") > 1 {
		b.t.Fatalf("clusters with a Non-Compliant configuration:\n%s", list)
	}
	b.shot("clusters.png")
	b.do(chromedp.Click(chromedp.CSS(`main tbody a`)), chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby=configs] table`)))
	if h1 := b.text(`h1`); h1 != "c4" {
		b.t.Fatalf("the cluster's page: %q", h1)
	}

	// The Resource Graph explorer: a stock query one click away, its
	// result as a table and a chart; a bad query's error next to it.
	b.do(chromedp.Click(chromedp.CSS(`header nav a[href="/portal/graph"]`)), chromedp.WaitVisible(chromedp.CSS(`#q`)),
		chromedp.Click(chromedp.CSS(`nav.stock a:first-child`)), chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby=result] table`)))
	if chart := b.textContent(`#result-chart`); chart != "Compliant · cluster 4, Non-Compliant · cluster 1" {
		b.t.Fatalf("the result's chart: %q", chart)
	}
	b.shot("graph.png")
	b.do(chromedp.SetValue(chromedp.CSS(`#q`), "Resources | sumarize count()"), chromedp.Submit(chromedp.CSS(`#q`)), chromedp.WaitVisible(chromedp.CSS(`.problem`)))
	if problem := b.text(`.problem`); !strings.Contains(problem, "did you mean 'summarize'?") {
		b.t.Fatalf("a bad query: %q", problem)
	}

	// The activity log: the writes that made the fleet, newest first.
	b.do(chromedp.Click(chromedp.CSS(`header nav a[href="/portal/activity"]`)), chromedp.WaitVisible(chromedp.CSS(`main table`)))
	if log := b.text(`main tbody`); !strings.Contains(log, "Microsoft.KubernetesConfiguration/fluxConfigurations/write") ||
		!strings.Contains(log, b.f.owner.AppID) {
		b.t.Fatalf("the activity log:\n%s", log)
	}

	// Policy: the assignment's compliance, then a remediation from the page.
	b.do(chromedp.Click(chromedp.CSS(`header nav a[href="/portal/policy"]`)), chromedp.WaitVisible(chromedp.CSS(`main table`)))
	compliance := b.poll(chromedp.CSS(`main tbody td:nth-child(3)`), func(s string) bool { return s == "0% (0 of 5)" })
	if compliance != "0% (0 of 5)" {
		b.t.Fatalf("the assignment's compliance: %q", compliance)
	}
	b.shot("policy.png")
	b.do(chromedp.Click(chromedp.CSS(`button[aria-label="Remediate gitops-baseline"]`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if notice := b.text(`.notice`); !strings.HasPrefix(notice, "Remediation portal-") {
		b.t.Fatalf("after remediating: %q", notice)
	}
}

func (b *tab) signOut() {
	// Signing out ends the session.
	b.do(chromedp.Click(chromedp.CSS(`.signout button`)), chromedp.WaitVisible(chromedp.CSS(`#appId`)),
		chromedp.Navigate(b.f.ts.URL+"/portal/"), chromedp.WaitVisible(chromedp.CSS(`#appId`)))
	if location := b.read(chromedp.Location()); location != b.f.ts.URL+"/portal/signin" {
		b.t.Fatalf("after signing out: %s", location)
	}
}

func (b *tab) readerAndForgery() {
	// A Reader, a user signed in with its name and password, sees the
	// configuration with no button that changes it; the POST a button
	// would send, forged with the session's own CSRF token, is refused by
	// the hub's RBAC, and nothing changes.
	name, password := b.f.reader(b.t)
	b.do(chromedp.SetValue(chromedp.CSS(`#appId`), name), chromedp.SetValue(chromedp.CSS(`#secret`), password), chromedp.Submit(chromedp.CSS(`#secret`)),
		chromedp.WaitVisible(configs))
	if who := b.text(`.who`); who != "Signed in as Auditor" {
		b.t.Fatalf("the user signed in as %q", who)
	}
	b.do(chromedp.Navigate(b.failing), chromedp.WaitVisible(chromedp.CSS(`svg.graph`)))
	if forms := b.eval(`String(document.querySelectorAll("main form, main .actions, a.danger, main button:not([data-copy])").length)`); forms != "0" {
		b.t.Fatalf("a Reader's configuration page has %s write controls", forms)
	}
	forged := b.eval(`(async () => {
		const id = new URLSearchParams(location.search).get("id");
		const csrf = document.querySelector(".signout input[name=csrf]").value;
		const r = await fetch("/portal/configuration/suspend", {method: "POST", body: new URLSearchParams({id, suspend: "true", csrf})});
		return r.status + " " + await r.text();
	})()`)
	if !strings.HasPrefix(forged, "403 Refused: ") || !strings.Contains(forged, "does not have authorization") {
		b.t.Fatalf("a Reader's POST: %q", forged)
	}
	var cfg struct{ Properties struct{ Suspend bool } }
	if _, err := b.f.arm.Get(context.Background(), b.f.failing.id+"/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/baseline?api-version=2024-11-01", &cfg); err != nil || cfg.Properties.Suspend {
		b.t.Fatalf("after a Reader's POST: suspend %v, %v", cfg.Properties.Suspend, err)
	}

	// A cross-site form posting to the portal: the browser keeps the
	// SameSite session cookie to itself and says where the form came from;
	// the portal refuses it.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `<!DOCTYPE html><form method="post" action="%s/portal/configuration/delete">
<input name="id" value="%s/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/baseline"></form>
<script>document.forms[0].submit()</script>`, b.f.ts.URL, b.f.failing.id)
	}))
	defer other.Close()
	b.do(chromedp.Navigate(other.URL), chromedp.WaitVisible(chromedp.CSS(`body`)))
	if text := b.watch(chromedp.CSS(`body`), func(s string) bool { return strings.Contains(s, "portal") }); !strings.Contains(text, "must be sent from this portal") {
		b.t.Fatalf("a cross-site POST: %q", text)
	}
	if _, err := b.f.arm.Get(context.Background(), b.f.failing.id+"/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/baseline?api-version=2024-11-01", nil); err != nil {
		b.t.Fatalf("after a cross-site POST: %v", err)
	}
}
