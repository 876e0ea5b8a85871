package dataplane

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/kql"
)

const graphPath = "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01"

// graphFleet: clusters g0..g5 in resource group fleet (g5 in other); a
// cluster-scope configuration on g0..g3 reported Compliant, except g3's
// Non-Compliant; a namespace-scope one on g4, not reported (Pending).
func graphFleet(f *fixture) {
	f.t.Helper()
	for i := range 6 {
		rg := "fleet"
		if i == 5 {
			rg = "other"
		}
		id := sub1 + "/resourceGroups/" + rg + "/providers/Microsoft.Kubernetes/connectedClusters/" + fmt.Sprintf("g%d", i)
		token := f.register(id)
		if i > 4 {
			continue
		}
		body := example(f.t, "create-git.json")
		if i == 4 {
			body = strings.Replace(body, `"scope": "cluster"`, `"scope": "namespace"`, 1)
		}
		if r := f.do(http.MethodPut, av(id+fluxPath+"/baseline"), body); r.status != http.StatusCreated {
			f.t.Fatalf("config: %d %s", r.status, r.body)
		}
		if i == 4 {
			continue
		}
		state := "Compliant"
		if i == 3 {
			state = "Non-Compliant"
		}
		report := `{"generation":1,"complianceState":"` + state + `","provisioningState":"Succeeded"}`
		if i == 3 {
			report = `{"generation":1,"complianceState":"Non-Compliant","provisioningState":"Succeeded","errorMessage":"Kustomization apps: build failed",` +
				`"statusUpdatedAt":"` + f.now.Add(-time.Hour).Format(time.RFC3339) + `"}`
		}
		if r := f.do(http.MethodPut, agentapi.PathPrefix+id+"/fluxConfigurations/baseline/status", report, "Authorization", "Bearer "+token); r.status != http.StatusNoContent {
			f.t.Fatalf("report: %d %s", r.status, r.body)
		}
	}
	f.srv.graph.wait()
}

// corrected is the nth corrected query of docs/resource-graph.md: the
// nth kusto block.
func corrected(tb testing.TB, n int) string {
	tb.Helper()
	raw, err := os.ReadFile("../../docs/resource-graph.md")
	if err != nil {
		tb.Fatal(err)
	}
	blocks := strings.Split(string(raw), "```kusto\n")
	if len(blocks) <= n {
		tb.Fatalf("docs/resource-graph.md has %d kusto blocks", len(blocks)-1)
	}
	return blocks[n][:strings.Index(blocks[n], "```")]
}

func (f *fixture) graph(body string, headers ...string) response {
	f.t.Helper()
	f.srv.graph.wait()
	return f.do(http.MethodPost, graphPath, body, headers...)
}

func graphQuery(q string) string {
	b, _ := json.Marshal(map[string]any{"query": q})
	return string(b)
}

func graphRows(t *testing.T, r response, cols ...string) []string {
	t.Helper()
	var out []string
	for _, d := range r.json(t)["data"].([]any) {
		m := d.(map[string]any)
		var parts []string
		for _, c := range cols {
			parts = append(parts, fmt.Sprint(m[c]))
		}
		out = append(out, strings.Join(parts, " "))
	}
	sort.Strings(out)
	return out
}

func TestResourceGraphBriefQueries(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	graphFleet(f)
	if !strings.Contains(example(t, "create-git.json"), `"scope": "cluster"`) {
		t.Fatal("the example's scope changed: the expectations below assume cluster")
	}
	r := f.graph(graphQuery(`KubernetesConfigurationResources
| where type == "microsoft.kubernetesconfiguration/fluxconfigurations"
| extend complianceState = properties.complianceState
| summarize count() by complianceState, tostring(properties.scope)
| order by count_ desc`))
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	g.Expect(r.json(t)).To(And(HaveKeyWithValue("totalRecords", 3.0), HaveKeyWithValue("count", 3.0), HaveKeyWithValue("resultTruncated", "false")))
	g.Expect(graphRows(t, r, "complianceState", "properties_scope", "count_")).To(Equal([]string{
		"Compliant cluster 3", "Non-Compliant cluster 1", "Pending namespace 1"}))

	r = f.graph(graphQuery(`Resources
| where type == "microsoft.kubernetes/connectedclusters"
| where id !in (
    KubernetesConfigurationResources
    | where type == "microsoft.kubernetesconfiguration/fluxconfigurations"
    | distinct tostring(properties.scope)
)
| project name, resourceGroup, location`))
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	g.Expect(graphRows(t, r, "name", "resourceGroup", "location")).To(Equal([]string{
		"g0 fleet eastus", "g1 fleet eastus", "g2 fleet eastus", "g3 fleet eastus", "g4 fleet eastus", "g5 other eastus"}))

	r = f.graph(graphQuery(`KubernetesConfigurationResources
| where type == "microsoft.kubernetesconfiguration/fluxconfigurations"
| where properties.complianceState == "Failed"
| where properties.lastUpdatedAt >= ago(24h)
| project clusterName=split(id, '/')[8], configName=name, errorMessage=properties.statusMessage`))
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	g.Expect(r.json(t)["data"]).To(BeEmpty())

	// The corrected versions (docs/resource-graph.md): clusters without a
	// configuration (the cluster's id is the configuration's up to
	// /providers/Microsoft.KubernetesConfiguration/), and configurations
	// non-compliant in the last day, with their error.
	r = f.graph(graphQuery(corrected(t, 2)))
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	g.Expect(graphRows(t, r, "name", "resourceGroup", "location")).To(Equal([]string{"g5 other eastus"}))
	r = f.graph(graphQuery(corrected(t, 3)))
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	g.Expect(graphRows(t, r, "clusterName", "configName", "errorMessage")).To(Equal([]string{"g3 baseline Kustomization apps: build failed"}))

	// The index follows the store: a report changes the answer.
	token := f.register(sub1 + "/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/g9")
	g.Expect(f.do(http.MethodPut, av(sub1+"/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/g9"+fluxPath+"/baseline"), example(t, "create-git.json")).status).To(Equal(http.StatusCreated))
	g.Expect(f.do(http.MethodPut, agentapi.PathPrefix+sub1+"/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/g9/fluxConfigurations/baseline/status",
		`{"generation":1,"complianceState":"Non-Compliant","provisioningState":"Succeeded"}`, "Authorization", "Bearer "+token).status).To(Equal(http.StatusNoContent))
	r = f.graph(graphQuery(`KubernetesConfigurationResources | where properties.complianceState == "Non-Compliant" | project cluster = tostring(split(id, "/")[8])`))
	g.Expect(graphRows(t, r, "cluster")).To(Equal([]string{"g3", "g9"}))
	g.Expect(f.do(http.MethodDelete, av(sub1+"/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/g9"), "").status).To(BeElementOf(http.StatusOK, http.StatusAccepted, http.StatusNoContent))
	r = f.graph(graphQuery(`union Resources, KubernetesConfigurationResources | where id contains "/g9" | count`))
	g.Expect(graphRows(t, r, "Count")).To(Equal([]string{"0"}))
}

func TestResourceGraphAccessPagingAndErrors(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	graphFleet(f)

	// A Reader of resource group other sees only its cluster.
	_, token := f.principal("reader", "Reader", sub1+"/resourceGroups/other")
	r := f.graph(graphQuery(`Resources | project name`), "Authorization", "Bearer "+token)
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	g.Expect(graphRows(t, r, "name")).To(Equal([]string{"g5"}))
	// So it does where the index answers the type filter itself.
	for _, q := range []string{`Resources | where type == "microsoft.kubernetes/connectedclusters" | project name`,
		`Resources | where type =~ "Microsoft.Kubernetes/connectedClusters" and name != "g0" | project name`} {
		r = f.graph(graphQuery(q), "Authorization", "Bearer "+token)
		g.Expect(graphRows(t, r, "name")).To(Equal([]string{"g5"}), q)
		r = f.graph(graphQuery(q))
		g.Expect(r.json(t)["data"]).To(HaveLen(6-strings.Count(q, "g0")), q)
	}

	// A row by its id (answered by the index): as ARM spells it with ==,
	// in any case with =~, and only where the caller may read it.
	g0 := sub1 + "/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/g0"
	g5 := sub1 + "/resourceGroups/other/providers/Microsoft.Kubernetes/connectedClusters/g5"
	for _, tc := range []struct {
		query, token string
		want         []string
	}{
		{`Resources | where id == "` + g0 + `" | project name`, "", []string{"g0"}},
		{`Resources | where id == "` + strings.ToLower(g0) + `" | project name`, "", nil},
		{`Resources | where id =~ "` + strings.ToUpper(g0) + `" and name == "g0" | project name`, "", []string{"g0"}},
		{`Resources | where id =~ "` + strings.ToUpper(g0) + `" and name == "g1" | project name`, "", nil},
		{`Resources | where id == "` + g0 + `" | project name`, token, nil},
		{`Resources | where id == "` + g5 + `" | project name`, token, []string{"g5"}},
		{`ResourceContainers | where id == "` + g5 + `" | project name`, "", nil},
	} {
		var headers []string
		if tc.token != "" {
			headers = []string{"Authorization", "Bearer " + tc.token}
		}
		r = f.graph(graphQuery(tc.query), headers...)
		g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
		g.Expect(graphRows(t, r, "name")).To(Equal(tc.want), tc.query)
	}

	// Pages: $top, then the $skipToken.
	r = f.graph(`{"query":"Resources | order by name asc | project name","options":{"$top":4}}`)
	g.Expect(r.json(t)).To(And(HaveKeyWithValue("count", 4.0), HaveKeyWithValue("totalRecords", 6.0), HaveKeyWithValue("resultTruncated", "true")))
	skip := r.json(t)["$skipToken"].(string)
	r = f.graph(`{"query":"Resources | order by name asc | project name","options":{"$skipToken":"` + skip + `"}}`)
	g.Expect(graphRows(t, r, "name")).To(Equal([]string{"g4", "g5"}))
	g.Expect(r.json(t)).NotTo(HaveKey("$skipToken"))

	// The table format, and a subscription filter.
	r = f.graph(`{"query":"Resources | where name == 'g0' | project name, n = 1","subscriptions":["` + strings.TrimPrefix(sub1, "/subscriptions/") + `"],"options":{"resultFormat":"table"}}`)
	g.Expect(r.json(t)["data"]).To(Equal(map[string]any{"columns": []any{map[string]any{"name": "name", "type": "string"}, map[string]any{"name": "n", "type": "integer"}},
		"rows": []any{[]any{"g0", 1.0}}}))

	// Facets: counts of the result by an expression; a bad one is an
	// error entry, and the query's answer stands.
	r = f.graph(`{"query":"Resources | project name, resourceGroup, location","facets":[
		{"expression":"resourceGroup"},
		{"expression":"resourceGroup","options":{"filter":"name != 'g5'","sortBy":"resourceGroup","sortOrder":"asc","$top":1}},
		{"expression":"tolower(location)","options":{"$top":5}},
		{"expression":"nosuch(location)"}]}`)
	g.Expect(r.status).To(Equal(http.StatusOK), string(r.body))
	g.Expect(r.json(t)["facets"]).To(Equal([]any{
		map[string]any{"expression": "resourceGroup", "resultType": "FacetResult", "totalRecords": 2.0, "count": 2.0,
			"data": []any{map[string]any{"resourceGroup": "fleet", "count": 5.0}, map[string]any{"resourceGroup": "other", "count": 1.0}}},
		map[string]any{"expression": "resourceGroup", "resultType": "FacetResult", "totalRecords": 1.0, "count": 1.0,
			"data": []any{map[string]any{"resourceGroup": "fleet", "count": 5.0}}},
		map[string]any{"expression": "tolower(location)", "resultType": "FacetResult", "totalRecords": 1.0, "count": 1.0,
			"data": []any{map[string]any{"tolower(location)": "eastus", "count": 6.0}}},
		map[string]any{"expression": "nosuch(location)", "resultType": "FacetError", "errors": []any{map[string]any{"code": "InvalidFacet",
			"message": "The facet's expression is not valid: line 1, column 1: unknown function 'nosuch'"}}},
	}))
	g.Expect(r.json(t)["data"]).To(HaveLen(6))

	for _, tc := range []struct{ body, code, message string }{
		{graphQuery(`Resources | sumarize count()`), "InvalidQuery", "line 1, column 13: unknown operator 'sumarize': did you mean 'summarize'?"},
		{`{"query":""}`, "BadRequest", "query is required"},
		{`{"query":"Resources","managementGroups":["mg"]}`, "BadRequest", "managementGroups are not served"},
		{`{"query":"Resources","options":{"$top":5000}}`, "BadRequest", "options.$top must be 1 to 1000"},
		{`{"query":"Resources","subscriptions":["nope"]}`, "SubscriptionNotFound", ""},
		{`{"query":"Resources","options":{"resultFormat":"csv"}}`, "BadRequest", "is not objectArray or table"},
	} {
		r := f.graph(tc.body)
		g.Expect(r.status).To(BeNumerically(">=", 400), tc.body)
		g.Expect(r.code()).To(Equal(tc.code), string(r.body))
		g.Expect(r.message()).To(ContainSubstring(tc.message))
	}
}

// TestResourceGraphIndexSurvivesRestart: the index is rebuilt from the
// store at start.
func TestResourceGraphIndexSurvivesRestart(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	graphFleet(f)
	f.restart()
	r := f.graph(graphQuery(`KubernetesConfigurationResources | summarize count() by tostring(properties.complianceState)`))
	g.Expect(graphRows(t, r, "properties_complianceState", "count_")).To(Equal([]string{"Compliant 3", "Non-Compliant 1", "Pending 1"}))
	r = f.graph(graphQuery(`ResourceContainers | count`))
	g.Expect(r.status).To(Equal(http.StatusOK))
}

// TestGraphIndexKeepsOrder: whatever a batch puts, replaces and removes
// (rows, and clusters with everything under them), each table's list
// holds exactly its rows, by id, each entry with its current row.
func TestGraphIndexKeepsOrder(t *testing.T) {
	g := newGraphIndex(nil)
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() string {
		k := fmt.Sprintf("/subscriptions/s/resourcegroups/rg/providers/microsoft.kubernetes/connectedclusters/c%d", rng.IntN(20))
		if rng.IntN(2) == 0 {
			k += fmt.Sprintf("/providers/microsoft.kubernetesconfiguration/fluxconfigurations/f%d", rng.IntN(5))
		}
		return k
	}
	tables := []string{"resources", "kubernetesconfigurationresources"}
	for batch := range 300 {
		var ups []graphUpsert
		var gone []graphKey
		var trees []string
		for range rng.IntN(12) {
			table := tables[rng.IntN(2)]
			switch k := key(); rng.IntN(6) {
			case 0:
				gone = append(gone, graphKey{table, k})
			case 1:
				trees = append(trees, k)
			default:
				ups = append(ups, graphUpsert{table, k, kql.Row{"id": strings.ToUpper(k), "type": table, "batch": batch}})
			}
		}
		g.commit(ups, gone, trees)
		for _, table := range tables {
			var keys []string
			for k := range g.rows[table] {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var list []graphEntry
			g.sorted[table].Ascend(func(e graphEntry) bool { list = append(list, e); return true })
			if len(list) != len(keys) {
				t.Fatalf("batch %d, %s: %d entries for %d rows", batch, table, len(list), len(keys))
			}
			for i, e := range list {
				if e.key != keys[i] || e.row["batch"] != g.rows[table][keys[i]]["batch"] || e.id != strings.ToUpper(keys[i]) {
					t.Fatalf("batch %d, %s: entry %d is %s (batch %v), want %s (batch %v)", batch, table, i, e.key, e.row["batch"], keys[i], g.rows[table][keys[i]]["batch"])
				}
			}
		}
	}
	if g.sorted["resources"].Len() == 0 || g.sorted["kubernetesconfigurationresources"].Len() == 0 {
		t.Fatal("the batches left nothing to check")
	}
}
