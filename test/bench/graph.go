package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/portal"
)

// Measure 10: Resource Graph over a large fleet. A fresh data plane with
// o.graphClusters clusters and o.graphConfigs configurations spread over
// them, reported on by their agents. Measured: the brief's first query and
// a join (clusters without a configuration), each run o.samples/2 times;
// the index's memory per configuration; and from a status report until the
// query shows it.

// The brief's first query and the join (clusters without a configuration)
// are the portal's stock queries, as docs/resource-graph.md corrects them.
var (
	briefQuery = portal.StockQueries[0].Query
	joinQuery  = portal.StockQueries[1].Query
)

func measureGraph(o options, rep *report) error {
	d, dir, err := freshDataPlane(o, "graph")
	if err != nil {
		return err
	}
	defer d.stopAndRemove(dir)
	heap0, err := d.heapAfterGC()
	if err != nil {
		return err
	}

	n, per := o.graphClusters, o.graphConfigs/o.graphClusters
	progress("10. Registering %d clusters with %d configurations each, reported on", n, per)
	tokens := make([]string, n)
	var done atomic.Int64
	started := time.Now()
	if err := parallel(n, 16, func(i int) error {
		cluster := fmt.Sprintf("graph%05d", i)
		_, token, err := d.register(dir, cluster)
		if err != nil {
			return err
		}
		tokens[i] = token
		for j := range per {
			name := fmt.Sprintf("cfg%d", j)
			if err := d.call(http.MethodPut, configPath(cluster, name), armConfig("fleet"), nil); err != nil {
				return err
			}
			state := []string{"Compliant", "Compliant", "Non-Compliant", "Pending"}[(i+j)%4]
			if err := d.report(cluster, token, name, state); err != nil {
				return err
			}
		}
		if c := done.Add(1); c%2000 == 0 {
			progress("   %d of %d clusters (%s)", c, n, time.Since(started).Round(time.Second))
		}
		return nil
	}); err != nil {
		return err
	}
	// The index follows within moments; wait until it holds every row.
	if err := every(100*time.Millisecond, 2*time.Minute, func() (bool, error) {
		rows, err := d.graph(`KubernetesConfigurationResources | count`)
		return err == nil && len(rows) == 1 && rows[0]["Count"] == float64(n*per), err
	}); err != nil {
		return fmt.Errorf("the index never held every configuration: %w", err)
	}
	heap1, err := d.heapAfterGC()
	if err != nil {
		return err
	}

	times := func(query string, runs int) ([]time.Duration, error) {
		var out []time.Duration
		for range runs {
			t := time.Now()
			if _, err := d.graph(query); err != nil {
				return nil, err
			}
			out = append(out, time.Since(t))
		}
		return out, nil
	}
	runs := max(o.samples/2, 2)
	progress("10. Querying %d times each", runs)
	first, err := times(briefQuery, runs)
	if err != nil {
		return err
	}
	join, err := times(joinQuery, runs)
	if err != nil {
		return err
	}
	rep.add(row{name: fmt.Sprintf("10. Resource Graph, the brief's first query over %d clusters and %d configurations (%d runs)", n, n*per, runs),
		value: fmt.Sprintf("p50 %s, p99 %s", ms(median(first)), ms(percentile(first, 99))), target: "p99 < 100 ms"})
	rep.add(row{name: fmt.Sprintf("10. Resource Graph, a join: clusters without a configuration (%d runs)", runs),
		value: fmt.Sprintf("p50 %s, p99 %s", ms(median(join)), ms(percentile(join, 99)))})
	rep.add(row{name: "10. Resource Graph index, heap per configuration (clusters' rows included)",
		value: fmt.Sprintf("%.1f KiB (%.0f MiB for %d rows)", (heap1-heap0)/1024/float64(n*per), (heap1-heap0)/(1<<20), n+n*per)})

	// From a status report until the query shows it.
	progress("10. Timing %d status reports until they are queryable", runs)
	var lat []time.Duration
	for i := range runs {
		cluster, state := fmt.Sprintf("graph%05d", i), fmt.Sprintf("Unknown-%d", i)
		t := time.Now()
		if err := d.report(cluster, tokens[i], "cfg0", state); err != nil {
			return err
		}
		q := fmt.Sprintf(`KubernetesConfigurationResources | where id == "%s" | project s = tostring(properties.complianceState)`, configPath(cluster, "cfg0"))
		if err := every(time.Millisecond, 10*time.Second, func() (bool, error) {
			rows, err := d.graph(q)
			return err == nil && len(rows) == 1 && rows[0]["s"] == state, err
		}); err != nil {
			return fmt.Errorf("report %d never became queryable: %w", i, err)
		}
		lat = append(lat, time.Since(t))
	}
	rep.add(row{name: fmt.Sprintf("10. status report -> its row queryable (%d reports)", runs),
		value: fmt.Sprintf("p50 %s, p99 %s", ms(median(lat)), ms(percentile(lat, 99))), target: "< 1 s"})
	return nil
}

// report sends a configuration's status as its cluster's agent.
func (d *dataPlane) report(cluster, token, name, state string) error {
	body, _ := json.Marshal(agentapi.StatusReport{Generation: 1, ComplianceState: state, ProvisioningState: "Succeeded"})
	req, _ := http.NewRequest(http.MethodPut, d.url+agentapi.PathPrefix+clusterPath(cluster)+"/fluxConfigurations/"+name+"/status", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("status report: %s", resp.Status)
	}
	return nil
}

// graph runs a Resource Graph query (the first page) and returns its rows.
func (d *dataPlane) graph(query string) ([]map[string]any, error) {
	var out struct {
		Data []map[string]any `json:"data"`
	}
	err := d.call(http.MethodPost, "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01",
		map[string]any{"query": query, "options": map[string]any{"$top": 1000}}, &out)
	return out.Data, err
}

// heapAfterGC is the data plane's heap in use after a collection (the
// pprof heap endpoint collects first when asked).
func (d *dataPlane) heapAfterGC() (float64, error) {
	resp, err := http.Get(d.pprof + "heap?gc=1")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return metric(d.url+"/metrics", "go_memstats_heap_inuse_bytes", nil)
}
