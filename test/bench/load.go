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
// then one JSON line of loadResult when it closes.

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
	// Heap is the data plane's, filled in by the bench.
	Heap float64 `json:"-"`
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
	lists := &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{LocalAddr: listAddr, Timeout: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: n,
		DisableCompression:  true,
	}, Timeout: period + time.Minute}
	reports := &http.Client{Transport: &http.Transport{
		DialContext:        (&net.Dialer{LocalAddr: reportAddr, Timeout: 30 * time.Second}).DialContext,
		DisableKeepAlives:  true,
		DisableCompression: true,
	}, Timeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var measuring atomic.Bool
	var requests, errs atomic.Int64
	var firstErr atomic.Value
	var status, overshoot latencies
	record := func(err error) {
		if !measuring.Load() {
			return
		}
		requests.Add(1)
		if err != nil {
			errs.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
	}
	hold := period.String()
	var started sync.WaitGroup
	started.Add(len(agents))
	for _, a := range agents {
		// Agents start spread over one period, as clusters do.
		offset := time.Duration(rand.Int64N(int64(period)))
		go func() {
			time.Sleep(offset)
			etag := ""
			first := true
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
					url+agentapi.PathPrefix+a.cluster+"/fluxConfigurations?wait="+hold, nil)
				req.Header.Set("Authorization", "Bearer "+a.token)
				if etag != "" {
					req.Header.Set("If-None-Match", etag)
				}
				t := time.Now()
				resp, err := lists.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						etag = resp.Header.Get("ETag")
					} else if resp.StatusCode != http.StatusNotModified {
						err = fmt.Errorf("list: %s", resp.Status)
					}
				}
				if ctx.Err() != nil {
					return
				}
				if err == nil && !first && measuring.Load() {
					overshoot.add(time.Since(t) - period)
				}
				record(err)
				if first {
					first = false
					started.Done()
				}
				if err != nil {
					time.Sleep(time.Second)
				}
			}
		}()
		go func() {
			time.Sleep(offset)
			body, _ := json.Marshal(agentapi.StatusReport{Generation: 1, ComplianceState: "Compliant", ProvisioningState: "Succeeded"})
			for {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPut,
					url+agentapi.PathPrefix+a.cluster+"/fluxConfigurations/"+a.config+"/status", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+a.token)
				req.Header.Set("Content-Type", "application/json")
				t := time.Now()
				resp, err := reports.Do(req)
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
				if measuring.Load() {
					status.add(time.Since(t))
				}
				record(err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(period - time.Since(t)):
				}
			}
		}()
	}
	started.Wait()
	// One more period so that every agent is in its steady rhythm.
	time.Sleep(period)
	fmt.Println("window")
	measuring.Store(true)
	time.Sleep(window)
	measuring.Store(false)
	res := &loadResult{Agents: n, Window: window.Seconds(), Requests: requests.Load(), Errors: errs.Load()}
	if v, ok := firstErr.Load().(string); ok {
		res.FirstError = v
	}
	status.mu.Lock()
	if len(status.d) > 0 {
		res.StatusP50 = float64(percentile(status.d, 50).Microseconds()) / 1000
		res.StatusP99 = float64(percentile(status.d, 99).Microseconds()) / 1000
	}
	status.mu.Unlock()
	overshoot.mu.Lock()
	if len(overshoot.d) > 0 {
		res.OvershootP99 = float64(percentile(overshoot.d, 99).Microseconds()) / 1000
	}
	overshoot.mu.Unlock()
	return res, nil
}
