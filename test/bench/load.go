package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/cmdutil"
)

// The load process of measure 6: `bench load` simulates agents, each a
// goroutine pair that long-polls the data plane for its desired state and
// reports the status of its configuration every period, over its own
// connection, as real agents in separate clusters would. It prints
// "window" when every agent has started and the measurement window opens,
// "sample" when it closes (then waits for a line on stdin, while the bench
// samples the data plane with every agent connected), then one JSON line of
// loadResult.

// loadResult is what the load process measured in its window.
type loadResult struct {
	Agents   int     `json:"agents"`
	Window   float64 `json:"windowSeconds"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	// Status reports are answered at once: their latency is the data
	// plane's. Lists are held for the long-poll; their overshoot is how
	// late past the hold they returned.
	StatusP50    float64 `json:"statusP50ms"`
	StatusP99    float64 `json:"statusP99ms"`
	OvershootP99 float64 `json:"listOvershootP99ms"`
	FirstError   string  `json:"firstError,omitempty"`
	// Heap, Stacks (bytes in use) and Goroutines are the data plane's,
	// filled in by the bench.
	Heap, Stacks, Goroutines float64 `json:"-"`
}

// loadMode runs the load process when the first argument is "load".
func loadMode() bool {
	if len(os.Args) < 2 || os.Args[1] != "load" {
		return false
	}
	fs := flag.NewFlagSet("bench load", flag.ExitOnError)
	url := fs.String("url", "", "The data plane's URL.")
	agentsFile := fs.String("agents-file", "", "Lines of 'clusterID token configuration', one per agent.")
	count := fs.Int("agents", 0, "How many agents of the file to run.")
	period := fs.Duration("period", 30*time.Second, "Long-poll hold and status report period.")
	window := fs.Duration("window", time.Minute, "How long to measure after every agent has started.")
	source := fs.String("source-ip", "127.0.1.1", "The local address of the agents' long-polls (x.x.x.1; their status reports come from x.x.x.2): each address has its own ports.")
	_ = fs.Parse(os.Args[2:])
	cmdutil.MustNoArgs(fs, os.Exit)
	res, err := runLoad(*url, *agentsFile, *count, *period, *window, *source)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	return true
}

type simAgent struct{ cluster, token, config string }

func readAgents(path string, n int) ([]simAgent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []simAgent
	s := bufio.NewScanner(f)
	for s.Scan() && len(out) < n {
		fields := strings.Fields(s.Text())
		if len(fields) != 3 {
			return nil, fmt.Errorf("%s: bad line %q", path, s.Text())
		}
		out = append(out, simAgent{fields[0], fields[1], fields[2]})
	}
	if len(out) < n {
		return nil, fmt.Errorf("%s has %d agents, %d asked for", path, len(out), n)
	}
	return out, s.Err()
}

// latencies collects durations inside the window.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

// loadRun is one load process: the agents' HTTP clients and what is
// recorded inside the measuring window.
type loadRun struct {
	url             string
	period          time.Duration
	lists, reports  *http.Client
	measuring       atomic.Bool
	requests, errs  atomic.Int64
	firstErr        atomic.Value
	status, overrun latencies
}

func runLoad(url, agentsFile string, n int, period, window time.Duration, source string) (*loadResult, error) {
	agents, err := readAgents(agentsFile, n)
	if err != nil {
		return nil, err
	}
	// Each agent holds its long-poll connection open; its status reports
	// (one per period) open a connection each, from a second address, so
	// that the load process stays inside its open-files limit and neither
	// address runs out of ports.
	listAddr, err := net.ResolveTCPAddr("tcp", source+":0")
	if err != nil {
		return nil, err
	}
	reportAddr, err := net.ResolveTCPAddr("tcp", strings.TrimSuffix(source, ".1")+".2:0")
	if err != nil {
		return nil, err
	}
	l := &loadRun{url: url, period: period}
	l.lists = &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{LocalAddr: listAddr, Timeout: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: n,
		DisableCompression:  true,
	}, Timeout: period + time.Minute}
	l.reports = &http.Client{Transport: &http.Transport{
		DialContext:        (&net.Dialer{LocalAddr: reportAddr, Timeout: 30 * time.Second}).DialContext,
		DisableKeepAlives:  true,
		DisableCompression: true,
	}, Timeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var started sync.WaitGroup
	started.Add(len(agents))
	for _, a := range agents {
		// Agents start spread over one period, as clusters do.
		offset := time.Duration(rand.Int64N(int64(period)))
		go l.poll(ctx, a, offset, started.Done)
		go l.report(ctx, a, offset)
	}
	started.Wait()
	// One more period so that every agent is in its steady rhythm.
	time.Sleep(period)
	fmt.Println("window")
	l.measuring.Store(true)
	time.Sleep(window)
	l.measuring.Store(false)
	// The bench samples the data plane's memory with every agent still
	// connected, and says when it is done (a line on stdin).
	fmt.Println("sample")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return l.result(n, window), nil
}

// record counts a request inside the window.
func (l *loadRun) record(err error) {
	if !l.measuring.Load() {
		return
	}
	l.requests.Add(1)
	if err != nil {
		l.errs.Add(1)
		l.firstErr.CompareAndSwap(nil, err.Error())
	}
}

// poll long-polls the desired state of agent a, as the agent does, until
// ctx ends; started is called after its first answer.
func (l *loadRun) poll(ctx context.Context, a simAgent, offset time.Duration, started func()) {
	time.Sleep(offset)
	etag := ""
	first := true
	for ctx.Err() == nil {
		t := time.Now()
		newETag, err := l.list(ctx, a, etag)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			etag = newETag
			if !first && l.measuring.Load() {
				l.overrun.add(time.Since(t) - l.period)
			}
		}
		l.record(err)
		if first {
			first = false
			started()
		}
		if err != nil {
			time.Sleep(time.Second)
		}
	}
}

// list is one long-poll; it returns the ETag to send next.
func (l *loadRun) list(ctx context.Context, a simAgent, etag string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
		l.url+agentapi.PathPrefix+a.cluster+"/fluxConfigurations?wait="+l.period.String(), nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := l.lists.Do(req)
	if err != nil {
		return etag, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Header.Get("ETag"), nil
	case http.StatusNotModified:
		return etag, nil
	default:
		return etag, fmt.Errorf("list: %s", resp.Status)
	}
}

// report sends agent a's status once a period until ctx ends.
func (l *loadRun) report(ctx context.Context, a simAgent, offset time.Duration) {
	time.Sleep(offset)
	body, _ := json.Marshal(agentapi.StatusReport{Generation: 1, ComplianceState: "Compliant", ProvisioningState: "Succeeded"})
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut,
			l.url+agentapi.PathPrefix+a.cluster+"/fluxConfigurations/"+a.config+"/status", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+a.token)
		req.Header.Set("Content-Type", "application/json")
		t := time.Now()
		resp, err := l.reports.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				err = fmt.Errorf("status: %s", resp.Status)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if l.measuring.Load() {
			l.status.add(time.Since(t))
		}
		l.record(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(l.period - time.Since(t)):
		}
	}
}

// result summarizes the window.
func (l *loadRun) result(n int, window time.Duration) *loadResult {
	res := &loadResult{Agents: n, Window: window.Seconds(), Requests: l.requests.Load(), Errors: l.errs.Load()}
	if v, ok := l.firstErr.Load().(string); ok {
		res.FirstError = v
	}
	l.status.mu.Lock()
	if len(l.status.d) > 0 {
		res.StatusP50 = float64(percentile(l.status.d, 50).Microseconds()) / 1000
		res.StatusP99 = float64(percentile(l.status.d, 99).Microseconds()) / 1000
	}
	l.status.mu.Unlock()
	l.overrun.mu.Lock()
	if len(l.overrun.d) > 0 {
		res.OvershootP99 = float64(percentile(l.overrun.d, 99).Microseconds()) / 1000
	}
	l.overrun.mu.Unlock()
	return res
}
