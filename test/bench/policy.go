package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/arcgitops/arcgitops/internal/agentapi"
)

// Measure 9: Azure Policy at fleet scale. For each count of clusters, a
// fresh data plane with that many registered clusters, each with an agent
// long-polling it; the corrected baseline (docs/policy) is assigned at the
// subscription, and, as in Azure, existing clusters get it from a
// remediation. Measured: the new assignment's evaluation of every cluster;
// from the remediation's PUT until every cluster has its fluxConfiguration
// and until every agent has received it; the data plane's CPU and memory
// meanwhile; a cluster registered afterwards until its agent has the
// configuration; and evaluations while nothing changes.

const (
	policySub   = "/subscriptions/00000000-0000-0000-0000-000000000000"
	policyAPI   = "?api-version=2021-06-01"
	baselineCfg = "corporate-baseline"
)

func measurePolicy(o options, rep *report) error {
	rule, err := os.ReadFile(o.policyRule)
	if err != nil {
		return fmt.Errorf("the corrected baseline rule: %w", err)
	}
	for _, n := range o.policyClusters {
		if err := policyAtScale(o, rep, n, rule); err != nil {
			return err
		}
	}
	return nil
}

func policyAtScale(o options, rep *report, n int, rule []byte) error {
	d, dir, err := freshDataPlane(o, "policy")
	if err != nil {
		return err
	}
	defer d.stopAndRemove(dir)

	progress("9. Registering %d clusters", n)
	tokens := make([]string, n)
	started := time.Now()
	var done atomic.Int64
	if err := parallel(n, 16, func(i int) error {
		_, token, err := d.register(dir, policyCluster(i))
		tokens[i] = token
		if c := done.Add(1); c%2000 == 0 {
			progress("   %d of %d registered (%s)", c, n, time.Since(started).Round(time.Second))
		}
		return err
	}); err != nil {
		return err
	}

	progress("9. Starting %d agents", n)
	agents := newPolicyAgents(d.url, n)
	defer agents.stop()
	for i := range n {
		go agents.run(i, policyCluster(i), tokens[i])
	}
	if err := agents.waitListening(2 * time.Minute); err != nil {
		return err
	}

	progress("9. Assigning the baseline at the subscription")
	def := map[string]any{"properties": map[string]any{"displayName": "Enforce GitOps Corporate Baseline on Arc Clusters", "mode": "Indexed", "policyRule": json.RawMessage(rule)}}
	if err := d.call(http.MethodPut, policySub+"/providers/Microsoft.Authorization/policyDefinitions/enforce-gitops-baseline"+policyAPI, def, nil); err != nil {
		return err
	}
	var assignment struct {
		ID       string `json:"id"`
		Identity struct {
			PrincipalID string `json:"principalId"`
		} `json:"identity"`
	}
	t0 := time.Now()
	if err := d.call(http.MethodPut, policySub+"/providers/Microsoft.Authorization/policyAssignments/baseline"+policyAPI, map[string]any{
		"location": "westeurope", "identity": map[string]any{"type": "SystemAssigned"},
		"properties": map[string]any{"policyDefinitionId": policySub + "/providers/Microsoft.Authorization/policyDefinitions/enforce-gitops-baseline"},
	}, &assignment); err != nil {
		return err
	}
	if err := every(250*time.Millisecond, 10*time.Minute, func() (bool, error) {
		nc, err := d.nonCompliant()
		return nc == n, err
	}); err != nil {
		return fmt.Errorf("the assignment's evaluation: %w", err)
	}
	evaluated := time.Since(t0)
	if err := d.call(http.MethodPut, policySub+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01", map[string]any{
		"properties": map[string]any{"roleDefinitionId": policySub + "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c",
			"principalId": assignment.Identity.PrincipalID, "principalType": "ServicePrincipal"},
	}, nil); err != nil {
		return err
	}

	progress("9. Remediating %d clusters", n)
	cpu0, err := cpuTime(d.pid())
	if err != nil {
		return err
	}
	t1 := time.Now()
	agents.since(t1)
	if err := d.call(http.MethodPut, policySub+"/providers/Microsoft.PolicyInsights/remediations/baseline?api-version=2021-10-01",
		map[string]any{"properties": map[string]any{"policyAssignmentId": assignment.ID}}, nil); err != nil {
		return err
	}
	var maxRSS float64
	var rem struct {
		Properties struct {
			ProvisioningState string `json:"provisioningState"`
			DeploymentStatus  struct {
				Total     int `json:"totalDeployments"`
				Succeeded int `json:"successfulDeployments"`
				Failed    int `json:"failedDeployments"`
			} `json:"deploymentStatus"`
		} `json:"properties"`
	}
	if err := every(100*time.Millisecond, 30*time.Minute, func() (bool, error) {
		if r, err := rss(d.pid()); err == nil {
			maxRSS = max(maxRSS, r)
		}
		err := d.call(http.MethodGet, policySub+"/providers/Microsoft.PolicyInsights/remediations/baseline?api-version=2021-10-01", nil, &rem)
		st := rem.Properties.ProvisioningState
		if st == "Failed" || st == "Canceled" {
			return false, fmt.Errorf("the remediation ended %s: %+v", st, rem.Properties.DeploymentStatus)
		}
		return st == "Succeeded", err
	}); err != nil {
		return err
	}
	deployed := time.Since(t1)
	cpu1, err := cpuTime(d.pid())
	if err != nil {
		return err
	}
	if err := agents.waitReceived(5 * time.Minute); err != nil {
		return err
	}
	received := agents.last().Sub(t1)
	if got := rem.Properties.DeploymentStatus; got.Succeeded != n {
		return fmt.Errorf("the remediation deployed %d of %d clusters (%d failed)", got.Succeeded, n, got.Failed)
	}
	rep.add(row{name: fmt.Sprintf("9. new assignment at the subscription over %d clusters, until every one is evaluated", n),
		value: secs(evaluated)})
	rep.add(row{name: fmt.Sprintf("9. remediation of %d clusters: until every cluster has its fluxConfiguration / every agent has received it", n),
		value: fmt.Sprintf("%s / %s (%.0f clusters/s); data plane CPU %.2f cores (%.2f ms per cluster), RSS peak %.0f MiB (%.0f KiB per cluster, its agent's long-poll included)",
			secs(deployed), secs(received), float64(n)/deployed.Seconds(), (cpu1-cpu0).Seconds()/deployed.Seconds(),
			float64((cpu1-cpu0).Microseconds())/1000/float64(n), maxRSS/(1<<20), maxRSS/1024/float64(n)),
		target: "< 60 s at 10,000"})

	// A cluster registered from now on gets the configuration by itself.
	progress("9. Registering %d more clusters one by one", o.samples)
	var lat []time.Duration
	for i := range o.samples {
		name := policyCluster(n + i)
		t := time.Now()
		_, token, err := d.register(dir, name)
		if err != nil {
			return err
		}
		if err := agentHas(d.url, name, token, 30*time.Second); err != nil {
			return err
		}
		lat = append(lat, time.Since(t))
	}
	rep.add(row{name: fmt.Sprintf("9. cluster registered beside %d: registration -> its agent has the configuration (%d clusters)", n, o.samples),
		value: fmt.Sprintf("p50 %s, p99 %s", ms(median(lat)), ms(percentile(lat, 99))), target: "p99 < 1 s"})

	// At rest: nothing changes, nothing is evaluated.
	progress("9. Counting policy evaluations at rest for %s", o.policyIdle)
	e0, err := metric(d.url+"/metrics", "dataplane_policy_evaluations_total", nil)
	if err != nil {
		return err
	}
	time.Sleep(o.policyIdle)
	e1, err := metric(d.url+"/metrics", "dataplane_policy_evaluations_total", nil)
	if err != nil {
		return err
	}
	rep.add(row{name: fmt.Sprintf("9. policy evaluations at rest, %d clusters and their agents, over %s", n+o.samples, o.policyIdle),
		value: fmt.Sprintf("%.1f /min", (e1-e0)/o.policyIdle.Minutes()), target: "0"})
	return nil
}

func policyCluster(i int) string { return fmt.Sprintf("fleet%05d", i) }

// nonCompliant is the subscription summary's count of non-compliant
// resources.
func (d *dataPlane) nonCompliant() (int, error) {
	var out struct {
		Value []struct {
			Results struct {
				NonCompliantResources int `json:"nonCompliantResources"`
			} `json:"results"`
		} `json:"value"`
	}
	if err := d.call(http.MethodPost, policySub+"/providers/Microsoft.PolicyInsights/policyStates/latest/summarize?api-version=2019-10-01", nil, &out); err != nil {
		return 0, err
	}
	if len(out.Value) == 0 {
		return 0, nil
	}
	return out.Value[0].Results.NonCompliantResources, nil
}

// every polls ok each period (gently: the polls are themselves requests
// to the data plane being measured) until it holds, fails, or timeout.
func every(period, timeout time.Duration, ok func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := ok()
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", timeout)
		}
		time.Sleep(period)
	}
}

// policyAgents are simulated agents: each long-polls its cluster's desired
// state, as the real agent does, and notes when the baseline arrives.
type policyAgents struct {
	url       string
	hc        *http.Client
	ctx       context.Context
	cancel    context.CancelFunc
	listening sync.WaitGroup
	mu        sync.Mutex
	from      time.Time
	got       []time.Time
	remaining atomic.Int64
	firstErr  atomic.Value
}

func newPolicyAgents(url string, n int) *policyAgents {
	ctx, cancel := context.WithCancel(context.Background())
	a := &policyAgents{url: url, ctx: ctx, cancel: cancel, got: make([]time.Time, n),
		hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}}}
	a.listening.Add(n)
	a.remaining.Store(int64(n))
	return a
}

func (a *policyAgents) stop() { a.cancel() }

// since starts the clock the arrivals are measured from.
func (a *policyAgents) since(t time.Time) { a.mu.Lock(); a.from = t; a.mu.Unlock() }

func (a *policyAgents) run(i int, cluster, token string) {
	etag, first := "", true
	for a.ctx.Err() == nil {
		has, next, err := listOnce(a.ctx, a.hc, a.url, cluster, token, etag, 30*time.Second)
		if first {
			first = false
			a.listening.Done()
		}
		if err != nil {
			if a.ctx.Err() == nil {
				a.firstErr.CompareAndSwap(nil, err.Error())
				time.Sleep(time.Second)
			}
			continue
		}
		etag = next
		if has {
			a.mu.Lock()
			a.got[i] = time.Now()
			a.mu.Unlock()
			a.remaining.Add(-1)
			return
		}
	}
}

func (a *policyAgents) waitListening(timeout time.Duration) error {
	done := make(chan struct{})
	go func() { a.listening.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("the agents did not all start within %s", timeout)
	}
}

func (a *policyAgents) waitReceived(timeout time.Duration) error {
	return every(10*time.Millisecond, timeout, func() (bool, error) {
		if err, ok := a.firstErr.Load().(string); ok {
			return false, fmt.Errorf("an agent: %s", err)
		}
		return a.remaining.Load() == 0, nil
	})
}

// last is when the last agent received the baseline.
func (a *policyAgents) last() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	var t time.Time
	for _, g := range a.got {
		if g.After(t) {
			t = g
		}
	}
	return t
}

// listOnce is one long-poll of the agent API; it reports whether the
// desired state holds the baseline.
func listOnce(ctx context.Context, hc *http.Client, url, cluster, token, etag string, wait time.Duration) (bool, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+agentapi.PathPrefix+clusterPath(cluster)+"/fluxConfigurations?wait="+wait.String(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, etag, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return false, etag, nil
	case http.StatusOK:
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return false, etag, fmt.Errorf("list %s: %s %s", cluster, resp.Status, strings.TrimSpace(string(b)))
	}
	var state agentapi.DesiredState
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		return false, etag, err
	}
	for _, c := range state.Configurations {
		if c.Name == baselineCfg {
			return true, resp.Header.Get("ETag"), nil
		}
	}
	return false, resp.Header.Get("ETag"), nil
}

// agentHas long-polls until the cluster's desired state holds the baseline.
func agentHas(url, cluster, token string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	hc := &http.Client{}
	etag := ""
	for {
		has, next, err := listOnce(ctx, hc, url, cluster, token, etag, timeout)
		if err != nil {
			return fmt.Errorf("cluster %s never received the baseline: %w", cluster, err)
		}
		if has {
			return nil
		}
		etag = next
	}
}
