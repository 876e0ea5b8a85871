package dataplane

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/portal"
)

// browser is a cookie-keeping client of the fixture's portal that does not
// follow redirects (the tests read them).
type browser struct {
	f  *fixture
	hc *http.Client
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values, headers ...string) (int, http.Header, string) {
	b.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.f.ts.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.hc.Do(req) //nolint:bodyclose // the reading goroutine closes it
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(raw)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(tb testing.TB, page string) string {
	tb.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		tb.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// signIn signs the browser in, returning the overview page.
func (b *browser) signIn(tb testing.TB, appID, secret string) string {
	tb.Helper()
	_, _, page := b.do(http.MethodGet, "/portal/signin", nil)
	status, h, _ := b.do(http.MethodPost, "/portal/signin", url.Values{"csrf": {csrfOf(tb, page)}, "appId": {appID}, "secret": {secret}})
	if status != http.StatusSeeOther || h.Get("Location") != "/portal/" {
		tb.Fatalf("sign-in: %d to %q", status, h.Get("Location"))
	}
	status, _, page = b.do(http.MethodGet, "/portal/", nil)
	if status != http.StatusOK {
		tb.Fatalf("overview: %d", status)
	}
	return page
}

func TestPortalSignInAndOverview(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	graphFleet(f)
	owner := f.ownerCredentials()
	b := f.browser()

	// No page without a session: the browser is sent to sign in.
	status, h, _ := b.do(http.MethodGet, "/portal/", nil)
	g.Expect(status).To(Equal(http.StatusSeeOther))
	g.Expect(h.Get("Location")).To(Equal("/portal/signin"))

	// The sign-in form: its CSRF token in an HttpOnly, SameSite=Strict cookie.
	status, h, page := b.do(http.MethodGet, "/portal/signin", nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(h.Get("Content-Security-Policy")).To(ContainSubstring("default-src 'none'"))
	g.Expect(h.Values("Set-Cookie")).To(ContainElement(And(ContainSubstring("arcgitops-portal-signin="), ContainSubstring("HttpOnly"), ContainSubstring("SameSite=Strict"))))
	csrf := csrfOf(t, page)

	// Refused, changing nothing: a wrong secret, a missing or wrong form
	// token, a form from another site.
	const current = "the form's token" // replaced by the latest form's
	for _, tc := range []struct {
		form    url.Values
		headers []string
		status  int
		says    string
	}{
		{url.Values{"csrf": {current}, "appId": {owner.AppID}, "secret": {"wrong"}}, nil, http.StatusUnauthorized, "The name or password (app ID or secret) is wrong"},
		{url.Values{"csrf": {"forged"}, "appId": {owner.AppID}, "secret": {owner.Password}}, nil, http.StatusForbidden, "sign in again"},
		{url.Values{"appId": {owner.AppID}, "secret": {owner.Password}}, nil, http.StatusForbidden, "sign in again"},
		{url.Values{"csrf": {current}, "appId": {owner.AppID}, "secret": {owner.Password}}, []string{"Origin", "https://evil.example"}, http.StatusForbidden, "another site"},
		{url.Values{"csrf": {current}, "appId": {""}, "secret": {owner.Password}}, nil, http.StatusBadRequest, "name and password, or a service principal"},
	} {
		if tc.form.Get("csrf") == current {
			tc.form.Set("csrf", csrf)
		}
		status, h, page := b.do(http.MethodPost, "/portal/signin", tc.form, tc.headers...)
		g.Expect(status).To(Equal(tc.status), page)
		g.Expect(page).To(ContainSubstring(tc.says))
		g.Expect(h.Values("Set-Cookie")).NotTo(ContainElement(HavePrefix("arcgitops-portal=")))
		g.Expect(page).NotTo(ContainSubstring(owner.Password))
		// Each refusal gave a new form token: read it for the next try.
		if m := csrfField.FindStringSubmatch(page); m != nil {
			csrf = m[1]
		}
	}

	// Signed in: the overview counts the fleet and lists the worst first.
	page = b.signIn(t, owner.AppID, owner.Password)
	g.Expect(page).To(ContainSubstring("<strong>6</strong> clusters"))
	g.Expect(page).To(ContainSubstring("<strong>5</strong> configurations"))
	g.Expect(page).To(ContainSubstring("Non-Compliant 1, Pending 1, Compliant 3"))
	g.Expect(page).To(MatchRegexp(`(?s)baseline</a></td><td>g3</td>.*Kustomization apps: build failed.*baseline</a></td><td>g4</td>.*baseline</a></td><td>g0</td>`))
	// The agents of g0..g3 reported just now (the fixture's clock); g4 and
	// g5 never called.
	g.Expect(page).To(MatchRegexp(`(?s)Agents not seen.*<td>g4</td>.*<td>g5</td>.*Configurations, the worst first`))
	g.Expect(page).NotTo(MatchRegexp(`(?s)Agents not seen.*<td>g0</td>.*Configurations, the worst first`))

	// A configuration's page: its source, Kustomizations as a dependsOn
	// graph, and what its agent reported.
	g3 := sub1 + "/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/g3" + fluxPath + "/baseline"
	g.Expect(page).To(ContainSubstring(`href="/portal/configuration?id=` + strings.ReplaceAll(url.QueryEscape(g3), "%2F", "%2f") + `"`))
	status, _, cfg := b.do(http.MethodGet, "/portal/configuration?id="+url.QueryEscape(g3), nil)
	g.Expect(status).To(Equal(http.StatusOK), cfg)
	g.Expect(cfg).To(ContainSubstring("https://github.com/Azure/arc-k8s-demo (branch master)"))
	g.Expect(cfg).To(ContainSubstring("Kustomization apps: build failed"))
	g.Expect(cfg).To(MatchRegexp(`(?s)<svg class="graph".*<text x="10" y="18">srs-kustomization1</text>.*<text x="10" y="18">srs-kustomization2</text>`))
	for _, missing := range []string{"nosuch", strings.Replace(g3, "baseline", "other", 1)} {
		status, _, _ = b.do(http.MethodGet, "/portal/configuration?id="+url.QueryEscape(missing), nil)
		g.Expect(status).To(Equal(http.StatusNotFound))
	}
	status, h, _ = b.do(http.MethodPost, "/portal/configuration", url.Values{"csrf": {csrfOf(t, page)}})
	g.Expect(status).To(Equal(http.StatusMethodNotAllowed))
	g.Expect(h.Get("Allow")).To(Equal("GET"))

	// The clusters, filtered; a cluster's page lists its configurations.
	g5 := sub1 + "/resourceGroups/other/providers/Microsoft.Kubernetes/connectedClusters/g5"
	r := f.do(http.MethodPut, av(g5), `{"location":"eastus","tags":{"env":"prod"}}`)
	g.Expect(r.status).To(BeNumerically("<", 300), string(r.body))
	g.Expect(r.json(t)["tags"]).To(Equal(map[string]any{"env": "prod"}))
	r = f.do(http.MethodPut, av(g5), `{"location":"eastus"}`) // an agent's re-registration keeps them
	g.Expect(r.json(t)["tags"]).To(Equal(map[string]any{"env": "prod"}))
	f.srv.graph.wait()
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"g3", "g4", "g0", "g1", "g2", "g5"}},
		{"?compliance=Non-Compliant", []string{"g3"}},
		{"?compliance=None", []string{"g5"}},
		{"?resourceGroup=other", []string{"g5"}},
		{"?tag=env%3Dprod", []string{"g5"}},
		{"?tag=env%3Ddev", nil},
		{"?subscription=" + strings.TrimPrefix(sub1, "/subscriptions/") + "&resourceGroup=fleet&compliance=Compliant", []string{"g0", "g1", "g2"}},
	} {
		status, _, list := b.do(http.MethodGet, "/portal/clusters"+tc.query, nil)
		g.Expect(status).To(Equal(http.StatusOK))
		var names []string
		for _, m := range regexp.MustCompile(`connectedClusters%2f(g\d)">`).FindAllStringSubmatch(list, -1) {
			names = append(names, m[1])
		}
		g.Expect(names).To(Equal(tc.want), tc.query)
	}
	status, _, cl := b.do(http.MethodGet, "/portal/cluster?id="+url.QueryEscape(sub1+"/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/g3"), nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(cl).To(MatchRegexp(`(?s)<h1>g3</h1>.*baseline</a>.*Non-Compliant.*Kustomization apps: build failed`))
	status, _, cl = b.do(http.MethodGet, "/portal/cluster?id="+url.QueryEscape(g5), nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(cl).To(ContainSubstring(`<span class="tag">env=prod</span>`))
	status, _, _ = b.do(http.MethodGet, "/portal/cluster?id=nosuch", nil)
	g.Expect(status).To(Equal(http.StatusNotFound))

	// The Resource Graph explorer: a stock query's result as a table and a
	// chart; the engine's error next to a bad query.
	status, _, explorer := b.do(http.MethodGet, "/portal/graph?q="+url.QueryEscape(portal.StockQueries[0].Query), nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(explorer).To(ContainSubstring("<p>3 rows.</p>"))
	g.Expect(explorer).To(ContainSubstring(`<title id="result-chart">Compliant · cluster 3, Non-Compliant · cluster 1, Pending · namespace 1</title>`))
	g.Expect(explorer).To(MatchRegexp(`(?s)<th scope="col">complianceState</th><th scope="col">properties_scope</th><th scope="col">count_</th>.*<td class="message">Compliant</td><td class="message">cluster</td><td class="message">3</td>`))
	status, _, explorer = b.do(http.MethodGet, "/portal/graph?q="+url.QueryEscape("Resources | sumarize count()"), nil)
	g.Expect(status).To(Equal(http.StatusBadRequest))
	g.Expect(explorer).To(ContainSubstring(`role="alert">The query is not valid: line 1, column 13: unknown operator &#39;sumarize&#39;: did you mean &#39;summarize&#39;?`))
	g.Expect(explorer).To(ContainSubstring(`>Resources | sumarize count()</textarea>`))

	// The activity log: every write, newest first, a page at a time.
	for range portal.ActivityPageSize {
		f.do(http.MethodPut, av(g5), `{"location":"eastus"}`)
	}
	status, _, log := b.do(http.MethodGet, "/portal/activity", nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(strings.Count(log, "<tr><td>")).To(Equal(portal.ActivityPageSize))
	g.Expect(log).To(MatchRegexp(`<td>` + owner.AppID + `</td><td>Microsoft.Kubernetes/connectedClusters/write</td><td class="message">` + g5 + `</td><td>Succeeded \(200\)</td>`))
	older := regexp.MustCompile(`href="/portal/activity\?before=([^"]+)"`).FindStringSubmatch(log)
	g.Expect(older).NotTo(BeNil())
	status, _, log = b.do(http.MethodGet, "/portal/activity?before="+older[1], nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(log).To(ContainSubstring("fluxConfigurations/write"))
	g.Expect(log).To(ContainSubstring("connectedClusters/g0</td>"))

	// Signing out takes the session's form token; a forged one is refused.
	status, _, _ = b.do(http.MethodPost, "/portal/signout", url.Values{"csrf": {"forged"}})
	g.Expect(status).To(Equal(http.StatusForbidden))
	status, _, _ = b.do(http.MethodGet, "/portal/", nil)
	g.Expect(status).To(Equal(http.StatusOK))
	status, h, _ = b.do(http.MethodPost, "/portal/signout", url.Values{"csrf": {csrfOf(t, page)}})
	g.Expect(status).To(Equal(http.StatusSeeOther))
	g.Expect(h.Values("Set-Cookie")).To(ContainElement(And(HavePrefix("arcgitops-portal="), ContainSubstring("Max-Age=0"))))
	status, _, _ = b.do(http.MethodGet, "/portal/", nil)
	g.Expect(status).To(Equal(http.StatusSeeOther))
}

// A Reader of one resource group sees that group's clusters only, and
// nothing a page shows can run as script or break out of an attribute.
func TestPortalAccessAndEscaping(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	graphFleet(f)
	hostile := `<script>alert(1)</script>" onmouseover="alert(2)`
	raw, _ := json.Marshal(hostile)
	quoted := string(raw) // as a JSON string
	id := sub1 + "/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/h0"
	token := f.register(id)
	// Hostile values wherever a page shows one: a tag, a Kustomization's
	// path, the agent's message, revision and deploy key, an object's name,
	// kind and condition (and the history keeps the message).
	r := f.do(http.MethodPut, av(id), `{"location":"eastus","tags":{"owner":`+quoted+`}}`)
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	r = f.do(http.MethodPut, av(id+fluxPath+"/baseline"), strings.Replace(example(t, "create-git.json"), `"./test/path"`, quoted, 1))
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	report := `{"generation":1,"complianceState":"Non-Compliant","provisioningState":"Succeeded","errorMessage":` + quoted +
		`,"sourceSyncedCommitId":` + quoted + `,"repositoryPublicKey":` + quoted +
		`,"statuses":[{"name":` + quoted + `,"namespace":"flux-system","kind":` + quoted + `,"complianceState":"Non-Compliant",` +
		`"statusConditions":[{"type":"Ready","status":"False","reason":"Failed","message":` + quoted + `}]}]}`
	r = f.do(http.MethodPut, agentapi.PathPrefix+id+"/fluxConfigurations/baseline/status", report, "Authorization", "Bearer "+token)
	g.Expect(r.status).To(Equal(http.StatusNoContent), string(r.body))
	reader, _ := f.principal(strings.Trim(quoted, `"`), "Reader", id)
	f.srv.graph.wait()

	page := f.browser().signIn(t, reader.AppID, reader.Password)
	g.Expect(page).To(ContainSubstring("<strong>1</strong> clusters"))
	g.Expect(page).To(ContainSubstring("<td>h0</td>"))
	g.Expect(page).NotTo(ContainSubstring("<td>g0</td>"))
	g.Expect(page).NotTo(ContainSubstring("<script>"))
	g.Expect(page).NotTo(ContainSubstring(`" onmouseover`))
	g.Expect(page).To(ContainSubstring("&lt;script&gt;alert(1)&lt;/script&gt;&#34; onmouseover=&#34;alert(2)"))
	g.Expect(strings.Count(page, "&lt;script&gt;")).To(Equal(2)) // the principal's name and the message

	// The configuration's page shows the message as text too; another
	// cluster's configuration is not the reader's to see.
	b := f.browser()
	b.signIn(t, reader.AppID, reader.Password)
	status, _, cfg := b.do(http.MethodGet, "/portal/configuration?id="+url.QueryEscape(id+fluxPath+"/baseline"), nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(cfg).NotTo(ContainSubstring("<script>"))
	g.Expect(cfg).NotTo(ContainSubstring(`" onmouseover`))
	// The principal, path, revision, message, key, history, object's kind, name and condition.
	g.Expect(strings.Count(cfg, "&lt;script&gt;alert(1)&lt;/script&gt;&#34; onmouseover=&#34;alert(2)")).To(Equal(9))
	for _, tc := range []struct {
		path  string
		shown int // how many times the hostile text is shown, all as text
	}{
		{"/portal/clusters", 1},                          // the principal's name
		{"/portal/cluster?id=" + url.QueryEscape(id), 3}, // and the tag, and the configuration's message
		{"/portal/graph?q=" + url.QueryEscape("Resources | project name, tags, t = tostring(tags)"), 3}, // and the tags column, and t
	} {
		status, _, page := b.do(http.MethodGet, tc.path, nil)
		g.Expect(status).To(Equal(http.StatusOK), tc.path)
		g.Expect(page).NotTo(ContainSubstring("<script>"), tc.path)
		g.Expect(page).NotTo(ContainSubstring(`" onmouseover`), tc.path)
		g.Expect(strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;")).To(Equal(tc.shown), tc.path)
	}
	g.Expect(cfg).To(ContainSubstring("&lt;script&gt;alert(1)&lt;/script&gt;&#34; onmouseover=&#34;alert(2)"))
	g0 := sub1 + "/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/g0" + fluxPath + "/baseline"
	status, _, _ = b.do(http.MethodGet, "/portal/configuration?id="+url.QueryEscape(g0), nil)
	g.Expect(status).To(Equal(http.StatusNotFound))
	status, _, _ = b.do(http.MethodGet, "/portal/cluster?id="+url.QueryEscape(strings.TrimSuffix(g0, fluxPath+"/baseline")), nil)
	g.Expect(status).To(Equal(http.StatusNotFound))
	// The reader's activity log holds its cluster's writes only.
	status, _, log := b.do(http.MethodGet, "/portal/activity", nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(log).To(ContainSubstring("connectedClusters/h0</td>"))
	g.Expect(log).NotTo(ContainSubstring("connectedClusters/g0"))
	// Queries see what the reader may read, and show values as text.
	status, _, explorer := b.do(http.MethodGet, "/portal/graph?q="+url.QueryEscape("KubernetesConfigurationResources | project name, properties.errorMessage"), nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(explorer).To(ContainSubstring("<p>1 rows.</p>"))
	g.Expect(explorer).NotTo(ContainSubstring("<script>"))
}

// ownerCredentials are the owner's app ID and secret, made at first start.
func (f *fixture) ownerCredentials() Credentials {
	f.t.Helper()
	c, err := ReadCredentials(filepath.Join(f.srv.opts.DataDir, OwnerCredentialsFile))
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// TestPortalPolicy: assignments with their compliance, the non-compliant
// resources, and a remediation started from the page as the principal
// (the ARM checks apply: a Reader sees no button, and its forged POST is
// refused by the hub's access check and logged nowhere as a success).
func TestPortalPolicy(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	for _, c := range []string{"c1", "c2"} {
		f.register(cluster(c))
	}
	assignmentID := f.baselineAssigned()
	// Another assignment of it, whose display name is hostile: text.
	r := f.do(http.MethodPut, assignPath+"audit-only"+policyAPI, `{"location":"westeurope","identity":{"type":"SystemAssigned"},"properties":{"displayName":"<script>alert(1)</script>\" onmouseover=\"x",`+
		`"enforcementMode":"DoNotEnforce","policyDefinitionId":"`+strings.TrimSuffix(defPath, "/")+`/enforce-gitops-baseline"}}`)
	g.Expect(r.status).To(Equal(http.StatusCreated), string(r.body))
	f.states(assignmentID) // evaluated
	f.srv.graph.wait()
	owner := f.ownerCredentials()
	b := f.browser()
	b.signIn(t, owner.AppID, owner.Password)
	status, _, page := b.do(http.MethodGet, "/portal/policy", nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(page).To(ContainSubstring(`&lt;script&gt;alert(1)&lt;/script&gt;&#34; onmouseover=&#34;x<div class="sub">audit-only</div>`))
	g.Expect(page).NotTo(ContainSubstring("<script>"))
	g.Expect(page).To(ContainSubstring(`<span class="state bad">0%</span> (0 of 2)`))
	g.Expect(page).To(ContainSubstring("<div>" + cluster("c1") + "</div><div>" + cluster("c2") + "</div>"))
	g.Expect(page).To(ContainSubstring(`<button type="submit" aria-label="Remediate gitops-baseline-assignment">Remediate</button>`))

	status, h, _ := b.do(http.MethodPost, "/portal/policy/remediate", url.Values{"csrf": {csrfOf(t, page)}, "assignment": {assignmentID}})
	g.Expect(status).To(Equal(http.StatusSeeOther))
	g.Expect(h.Get("Location")).To(HavePrefix("/portal/policy?remediation=portal-"))
	name := strings.TrimPrefix(h.Get("Location"), "/portal/policy?remediation=")
	g.Expect(f.remediation(sub1, name)["provisioningState"]).To(Equal("Succeeded"))
	f.states(assignmentID)
	f.srv.graph.wait()
	status, _, page = b.do(http.MethodGet, h.Get("Location"), nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(page).To(ContainSubstring("Remediation " + name + " started"))
	g.Expect(page).To(ContainSubstring(`<span class="state ok">100%</span> (2 of 2)`))
	g.Expect(page).NotTo(ContainSubstring(`aria-label="Remediate`)) // nothing left to remediate
	_, _, log := b.do(http.MethodGet, "/portal/activity", nil)      // the action is the owner's in the activity log
	g.Expect(log).To(ContainSubstring("<td>" + owner.AppID + "</td><td>Microsoft.PolicyInsights/remediations/write</td>"))

	// A Reader: the assignment, no button; a forged POST is refused by ARM.
	reader, _ := f.principal("reader", "Reader", sub1)
	rb := f.browser()
	rb.signIn(t, reader.AppID, reader.Password)
	status, _, page = rb.do(http.MethodGet, "/portal/policy", nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(page).To(ContainSubstring("gitops-baseline-assignment"))
	g.Expect(page).NotTo(ContainSubstring("Remediate</button>"))
	status, _, page = rb.do(http.MethodPost, "/portal/policy/remediate", url.Values{"csrf": {csrfOf(t, page)}, "assignment": {assignmentID}})
	g.Expect(status).To(Equal(http.StatusForbidden))
	g.Expect(page).To(ContainSubstring("The remediation was refused: "))
	g.Expect(page).To(ContainSubstring("Microsoft.PolicyInsights/remediations/write"))
}

// TestPortalConfigurationActions: suspend, resume and delete (after a
// confirmation page) as the principal, through ARM: a Reader sees no
// buttons and its forged POSTs are refused, changing nothing.
func TestPortalConfigurationActions(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	graphFleet(f)
	id := sub1 + "/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/g0" + fluxPath + "/baseline"
	suspended := func() any {
		return f.do(http.MethodGet, av(id), "").json(t)["properties"].(map[string]any)["suspend"]
	}

	reader, _ := f.principal("reader", "Reader", sub1)
	rb := f.browser()
	rb.signIn(t, reader.AppID, reader.Password)
	status, _, page := rb.do(http.MethodGet, "/portal/configuration?id="+url.QueryEscape(id), nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(page).NotTo(ContainSubstring(`action="/portal/configuration/suspend"`))
	g.Expect(page).NotTo(ContainSubstring("Delete…"))
	csrf := csrfOf(t, page)
	for _, path := range []string{"/portal/configuration/suspend", "/portal/configuration/reconcile", "/portal/configuration/delete"} {
		status, _, answer := rb.do(http.MethodPost, path, url.Values{"csrf": {csrf}, "id": {id}, "suspend": {"true"}})
		g.Expect(status).To(Equal(http.StatusForbidden), path)
		g.Expect(answer).To(ContainSubstring("Refused: "))
		g.Expect(answer).To(ContainSubstring("Microsoft.KubernetesConfiguration/fluxConfigurations/"))
	}
	g.Expect(suspended()).To(BeFalse())

	owner := f.ownerCredentials()
	b := f.browser()
	b.signIn(t, owner.AppID, owner.Password)
	_, _, page = b.do(http.MethodGet, "/portal/configuration?id="+url.QueryEscape(id), nil)
	g.Expect(page).To(ContainSubstring(`<button type="submit">Suspend</button>`))
	csrf = csrfOf(t, page)
	status, h, _ := b.do(http.MethodPost, "/portal/configuration/suspend", url.Values{"csrf": {csrf}, "id": {id}, "suspend": {"true"}})
	g.Expect(status).To(Equal(http.StatusSeeOther))
	g.Expect(suspended()).To(BeTrue())
	f.srv.graph.wait()
	_, _, page = b.do(http.MethodGet, h.Get("Location"), nil)
	g.Expect(page).To(ContainSubstring(`<button type="submit">Resume</button>`))
	g.Expect(page).To(ContainSubstring("(suspended)"))
	status, _, _ = b.do(http.MethodPost, "/portal/configuration/suspend", url.Values{"csrf": {csrf}, "id": {id}, "suspend": {"false"}})
	g.Expect(status).To(Equal(http.StatusSeeOther))
	g.Expect(suspended()).To(BeFalse())

	// Reconcile now: the record carries the request for the agent, and the
	// page says it was asked.
	g.Expect(page).NotTo(ContainSubstring("Reconcile now"), "a suspended configuration is not reconciled")
	f.srv.graph.wait()
	_, _, page = b.do(http.MethodGet, "/portal/configuration?id="+url.QueryEscape(id), nil)
	g.Expect(page).To(ContainSubstring(`<button type="submit">Reconcile now</button>`))
	status, h, _ = b.do(http.MethodPost, "/portal/configuration/reconcile", url.Values{"csrf": {csrf}, "id": {id}})
	g.Expect(status).To(Equal(http.StatusSeeOther))
	g.Expect(h.Get("Location")).To(HaveSuffix("&reconcile=requested"))
	var asked string
	g.Expect(f.srv.store.View(func(tx store.Tx) error {
		cfg, err := tx.Config(sub1+"/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/g0", "baseline")
		if err == nil {
			asked = cfg.ReconcileRequestedAt
		}
		return err
	})).To(Succeed())
	g.Expect(asked).To(Equal(f.now.UTC().Format(time.RFC3339Nano)))
	_, _, page = b.do(http.MethodGet, h.Get("Location"), nil)
	g.Expect(page).To(ContainSubstring("Reconcile requested"))

	// Bad input: not a configuration's ID; a forged token.
	status, _, _ = b.do(http.MethodPost, "/portal/configuration/suspend", url.Values{"csrf": {csrf}, "id": {sub1}})
	g.Expect(status).To(Equal(http.StatusBadRequest))
	status, _, _ = b.do(http.MethodPost, "/portal/configuration/delete", url.Values{"csrf": {"forged"}, "id": {id}})
	g.Expect(status).To(Equal(http.StatusForbidden))

	// Delete: a confirmation page, then the DELETE (the agent of g0 has
	// not confirmed yet: the configuration is Deleting).
	status, _, confirm := b.do(http.MethodGet, "/portal/configuration/delete?id="+url.QueryEscape(id), nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(confirm).To(ContainSubstring("<h1>Delete baseline?</h1>"))
	status, h, _ = b.do(http.MethodPost, "/portal/configuration/delete", url.Values{"csrf": {csrfOf(t, confirm)}, "id": {id}})
	g.Expect(status).To(Equal(http.StatusSeeOther))
	g.Expect(h.Get("Location")).To(Equal("/portal/"))
	r := f.do(http.MethodGet, av(id), "")
	g.Expect(r.status).To(Equal(http.StatusOK))
	g.Expect(r.json(t)["properties"].(map[string]any)["provisioningState"]).To(Equal("Deleting"))
}

// TestPortalEvents: a signed-in page's event stream says "fleet" when an
// agent reports, and a browser without a session gets none.
func TestPortalEvents(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	graphFleet(f)
	f.srv.graph.wait()
	owner := f.ownerCredentials()

	status, _, answer := f.browser().do(http.MethodGet, "/portal/events", nil)
	g.Expect(status).To(Equal(http.StatusUnauthorized))
	g.Expect(answer).To(ContainSubstring("Sign in"))

	b := f.browser()
	b.signIn(t, owner.AppID, owner.Password)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.ts.URL+"/portal/events", nil)
	resp, err := b.hc.Do(req) //nolint:bodyclose // the reading goroutine closes it
	if err != nil {
		t.Fatal(err)
	}
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	g.Expect(resp.Header.Get("Content-Type")).To(Equal("text/event-stream"))
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	g.Eventually(lines).Should(Receive(Equal("retry: 5000")))

	// Nothing changes: no event. A configuration is written: one.
	g.Consistently(lines, 300*time.Millisecond).ShouldNot(Receive(HavePrefix("event:")))
	id := sub1 + "/resourceGroups/other/providers/Microsoft.Kubernetes/connectedClusters/g5"
	r := f.do(http.MethodPut, av(id+fluxPath+"/late"), example(t, "create-git.json"))
	g.Expect(r.status).To(Equal(http.StatusCreated), r.body)
	g.Eventually(lines, 5*time.Second).Should(Receive(Equal("event: fleet")))
	g.Expect(<-lines).To(Equal("data: changed"))

	// Another write at once, while the stream pauses between events: it
	// is sent after the pause, not lost.
	r = f.do(http.MethodPut, av(id+fluxPath+"/later"), example(t, "create-git.json"))
	g.Expect(r.status).To(Equal(http.StatusCreated), r.body)
	g.Eventually(lines, 5*time.Second).Should(Receive(Equal("event: fleet")))
}

// TestPortalHistoryAndWaiting: a configuration's page lists the compliance
// changes its agent reported, the newest first; the overview lists the
// configurations waiting for their protected settings.
func TestPortalHistoryAndWaiting(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, func(o *Options) { o.ProtectedSettingsTTL = time.Hour })
	id := sub1 + "/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/h0"
	token := f.register(id)
	g.Expect(f.do(http.MethodPut, av(id+fluxPath+"/apps"), example(t, "create-git.json")).status).To(Equal(http.StatusCreated))
	report := func(state, msg string) {
		t.Helper()
		body, _ := json.Marshal(agentapi.StatusReport{Generation: 1, ComplianceState: state, ProvisioningState: "Succeeded", ErrorMessage: msg})
		r := f.do(http.MethodPut, agentapi.PathPrefix+id+"/fluxConfigurations/apps/status", string(body), "Authorization", "Bearer "+token)
		g.Expect(r.status).To(Equal(http.StatusNoContent), r.body)
		f.advance(time.Minute)
	}
	report("Pending", "")
	report("Compliant", "")
	report("Compliant", "") // the same again: no change
	report("Non-Compliant", `Kustomization apps: <script>alert(1)</script> "build" failed`)

	// The protected settings of another configuration expire before its
	// agent takes them.
	body := strings.Replace(example(t, "create-git.json"), `"waitForReconciliation"`,
		`"configurationProtectedSettings": {"httpsKey": "dG9wLXNlY3JldC12YWx1ZQ=="}, "waitForReconciliation"`, 1)
	g.Expect(f.do(http.MethodPut, av(id+fluxPath+"/private"), body).status).To(Equal(http.StatusCreated))
	f.advance(61 * time.Minute)
	g.Expect(f.srv.ExpireProtectedSettings()).To(Succeed())
	f.srv.graph.wait()

	owner := f.ownerCredentials()
	b := f.browser()
	page := b.signIn(t, owner.AppID, owner.Password)
	waiting := section(t, page, "waiting")
	g.Expect(waiting).To(ContainSubstring(`>private</a></td><td>h0</td>`))
	g.Expect(waiting).To(ContainSubstring("The protected settings expired after 1h0m0s"))
	g.Expect(waiting).NotTo(ContainSubstring(">apps<"))

	_, _, page = b.do(http.MethodGet, "/portal/configuration?id="+url.QueryEscape(id+fluxPath+"/apps"), nil)
	history := section(t, page, "history")
	g.Expect(strings.Count(history, "<tr>")).To(Equal(3)) // a header, two changes
	g.Expect(strings.Index(history, "Non-Compliant")).To(BeNumerically("<", strings.Index(history, ">Compliant<")))
	g.Expect(history).To(ContainSubstring("Kustomization apps: &lt;script&gt;alert(1)&lt;/script&gt; &#34;build&#34; failed"))
	g.Expect(history).NotTo(ContainSubstring("<script>"))
}

// section is the HTML of a page's section labelled by id.
func section(tb testing.TB, page, id string) string {
	tb.Helper()
	start := strings.Index(page, `<section aria-labelledby="`+id+`">`)
	if start < 0 {
		tb.Fatalf("no section %q in:\n%s", id, page)
	}
	end := strings.Index(page[start:], "</section>")
	return page[start : start+end]
}
