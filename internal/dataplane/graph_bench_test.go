package dataplane

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

// benchFleet fills the index with n configuration rows, five per cluster,
// rendered as the index renders a stored configuration (from one the API
// made), and their clusters' rows, each state taken by a quarter of them.
func benchFleet(b *testing.B, n int) *fixture {
	b.Helper()
	f := newFixture(b)
	graphFleet(f)
	var cfg *store.Config
	var cl *store.Cluster
	id := sub1 + "/resourceGroups/fleet/providers/Microsoft.Kubernetes/connectedClusters/g0"
	if err := f.srv.store.View(func(tx store.Tx) (err error) {
		if cl, err = tx.Cluster(id); err != nil {
			return err
		}
		cfg, err = tx.Config(id, "baseline")
		return err
	}); err != nil {
		b.Fatal(err)
	}
	var ups []graphUpsert
	for i := range n {
		c, s := *cl, *cfg.Status
		c.Name = fmt.Sprintf("bench%06d", i/5)
		c.ID = strings.Replace(c.ID, "/g0", "/"+c.Name, 1)
		ref := refOf(&c)
		if i%5 == 0 {
			ups = append(ups, graphUpsert{"resources", strings.ToLower(c.ID), graphRow(renderCluster(&c, ""), f.srv.opts.TenantID)})
		}
		k := *cfg
		k.ClusterID, k.Name, k.Status = c.ID, fmt.Sprintf("cfg%d", i%5), &s
		s.ComplianceState = []string{"Compliant", "Compliant", "Non-Compliant", "Pending"}[i%4]
		m, err := renderConfig(ref, &k)
		if err != nil {
			b.Fatal(err)
		}
		row := graphRow(m, f.srv.opts.TenantID)
		ups = append(ups, graphUpsert{"kubernetesconfigurationresources", strings.ToLower(row["id"].(string)), row})
	}
	f.srv.graph.commit(ups, nil, nil)
	return f
}

func benchGraphQuery(b *testing.B, q string) {
	b.Helper()
	f := benchFleet(b, 100000)
	body := graphQuery(q)
	runtime.GC() // the fleet's garbage is not the query's
	b.ResetTimer()
	for range b.N {
		if r := f.do(http.MethodPost, graphPath, body); r.status != http.StatusOK {
			b.Fatalf("%d %s", r.status, r.body)
		}
	}
}

// BenchmarkResourceGraphBriefQuery is the brief's first query (as
// docs/resource-graph.md has it) through the handler (access, the index,
// the engine, the answer) over 100,000 configurations: `make bench`
// measures the same over a fleet built through the API (measure 10).
func BenchmarkResourceGraphBriefQuery(b *testing.B) { benchGraphQuery(b, corrected(b, 1)) }

// BenchmarkResourceGraphJoin is measure 10's join: clusters without a
// configuration, the docs' corrected second query.
func BenchmarkResourceGraphJoin(b *testing.B) { benchGraphQuery(b, corrected(b, 2)) }

// BenchmarkPortalOverview is the portal's fleet overview over 10,000
// clusters and 50,000 configurations, as their owner sees it: server time
// per page (through the handler, as a browser asks), and the page's size.
func BenchmarkPortalOverview(b *testing.B) {
	f := benchFleet(b, 50000)
	owner := f.ownerCredentials()
	br := f.browser()
	page := br.signIn(b, owner.AppID, owner.Password)
	if !strings.Contains(page, "<strong>10006</strong> clusters") { // and graphFleet's 6
		b.Fatalf("the overview does not count the fleet:\n%.2000s", page)
	}
	runtime.GC()
	b.ResetTimer()
	for range b.N {
		if status, _, p := br.do(http.MethodGet, "/portal/", nil); status != http.StatusOK {
			b.Fatalf("%d", status)
		} else {
			page = p
		}
	}
	b.ReportMetric(float64(len(page))/1024, "KiB/page")
}
