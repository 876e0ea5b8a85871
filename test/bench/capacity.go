package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// fdHeadroom is the open files a process needs besides its agents'
// connections (status reports, the store, logs).
const fdHeadroom = 800

// capacityP99 is the latency bound of "the largest agent count it holds".
const capacityP99 = 100 * time.Millisecond

// measureCapacity runs measure 6: the data plane serving simulated agents
// (a separate load process, this binary's `load` mode), at each count of
// o.agents.
func measureCapacity(o options, rep *report) error {
	d, dir, err := freshDataPlane(o, "capacity")
	if err != nil {
		return err
	}
	defer d.stopAndRemove(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}

	most := slices.Max(o.agents)
	progress("6. Registering %d clusters with one configuration each", most)
	lines := make([]string, most)
	var mu sync.Mutex
	done := 0
	started := time.Now()
	err = parallel(most, 16, func(i int) error {
		cluster := fmt.Sprintf("agent%05d", i)
		_, token, err := d.register(dir, cluster)
		if err != nil {
			return err
		}
		if err := d.call(http.MethodPut, configPath(cluster, "fleet"), armConfig("fleet"), nil); err != nil {
			return err
		}
		lines[i] = clusterPath(cluster) + " " + token + " fleet"
		mu.Lock()
		if done++; done%2000 == 0 {
			progress("   %d of %d registered (%s)", done, most, time.Since(started).Round(time.Second))
		}
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	agentsFile := filepath.Join(dir, "agents")
	if err := os.WriteFile(agentsFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}

	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		return err
	}
	// Each agent holds a connection, an open file in the data plane and in
	// the load process (which inherit this process's limit): raise it when
	// the counts need more, as root may.
	if need := uint64(slices.Max(o.agents)) + fdHeadroom; limit.Cur < need {
		raised := syscall.Rlimit{Cur: need, Max: max(need, limit.Max)}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			rep.note("6. The open-files limit was raised from %d to %d for the data plane and the load process (one connection per agent in each).", limit.Cur, raised.Cur)
			limit = raised
		} else {
			rep.note("6. The open-files limit (%d) could not be raised to %d (%v): counts above it are skipped.", limit.Cur, need, err)
		}
	}
	type usage struct{ rss, heap, stacks, goroutines float64 }
	used := map[int]usage{}
	largest := 0
	for step, n := range o.agents {
		if uint64(n)+fdHeadroom > limit.Cur {
			rep.note("6. %d agents skipped: each holds a connection, and the open-files limit (ulimit -n) is %d", n, limit.Cur)
			continue
		}
		progress("6. %d agents: starting them over 30 s, then measuring for %s", n, o.window)
		res, cpu, rssBytes, err := runLoadProcess(self, d, agentsFile, n, o.window, fmt.Sprintf("127.0.%d.1", 1+step), dir, o.profile)
		if err != nil {
			return err
		}
		rep.add(row{name: fmt.Sprintf("6. data plane with %d agents (long-poll 30 s, status every 30 s)", n),
			value: fmt.Sprintf("%.0f requests/s, status p99 %.1f ms (p50 %.1f ms), long-poll overshoot p99 %.1f ms, %d errors; RSS %.0f MiB (live heap %.0f MiB), CPU %.2f cores",
				float64(res.Requests)/res.Window, res.StatusP99, res.StatusP50, res.OvershootP99, res.Errors, rssBytes/(1<<20), res.Heap/(1<<20), cpu),
			target: "p99 < 100 ms"})
		if res.FirstError != "" {
			rep.note("6. With %d agents, the first error was: %s", n, res.FirstError)
		}
		used[n] = usage{rssBytes, res.Heap, res.Stacks, res.Goroutines}
		if res.Errors == 0 && time.Duration(res.StatusP99*float64(time.Millisecond)) < capacityP99 {
			largest = max(largest, n)
		}
	}
	value := fmt.Sprintf("%d agents", largest)
	if largest == 0 {
		value = "none of the counts tried"
	}
	rep.add(row{name: fmt.Sprintf("6. largest agent count held with p99 < 100 ms (of %v)", o.agents), value: value})
	var counts []int
	for n := range used {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	if len(counts) >= 2 {
		// Between the smallest and largest count: the fixed cost is out.
		lo, hi := used[counts[0]], used[counts[len(counts)-1]]
		d := float64(counts[len(counts)-1] - counts[0])
		rep.add(row{name: fmt.Sprintf("6. data plane memory per connected agent (%d -> %d agents)", counts[0], counts[len(counts)-1]),
			value: fmt.Sprintf("RSS %.1f KiB: live heap %.1f KiB, goroutine stacks %.1f KiB (%.2f goroutines)",
				(hi.rss-lo.rss)/d/1024, (hi.heap-lo.heap)/d/1024, (hi.stacks-lo.stacks)/d/1024, (hi.goroutines-lo.goroutines)/d)})
	}
	return nil
}

// runLoadProcess runs `bench load` for n agents and returns its result with
// the data plane's CPU (cores) and RSS over the measurement window.
func runLoadProcess(self string, d *dataPlane, agentsFile string, n int, window time.Duration, sourceIP, dir, profileDir string) (*loadResult, float64, float64, error) {
	log, err := os.Create(filepath.Join(dir, fmt.Sprintf("load-%d.log", n)))
	if err != nil {
		return nil, 0, 0, err
	}
	defer log.Close()
	cmd := exec.Command(self, "load", "--url="+d.url, "--agents-file="+agentsFile, fmt.Sprintf("--agents=%d", n),
		"--window="+window.String(), "--source-ip="+sourceIP)
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, 0, err
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, 0, 0, err
	}
	if err := cmd.Start(); err != nil {
		return nil, 0, 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	s := bufio.NewScanner(out)
	var cpu0, cpu1 time.Duration
	var t0, t1 time.Time
	var sample loadResult
	var rssBytes float64
	for s.Scan() {
		line := s.Text()
		switch line {
		case "window":
			cpu0, _ = cpuTime(d.pid())
			t0 = time.Now()
			continue
		case "sample":
			// Every agent is still connected: what the data plane holds for
			// them, the live heap after a collection.
			cpu1, _ = cpuTime(d.pid())
			t1 = time.Now()
			profile := os.DevNull
			if profileDir != "" {
				profile = filepath.Join(profileDir, fmt.Sprintf("dataplane-heap-%d.pprof", n))
				if err := download(d.pprof+"goroutine", filepath.Join(profileDir, fmt.Sprintf("dataplane-goroutine-%d.pprof", n))); err != nil {
					return nil, 0, 0, err
				}
			}
			if err := download(d.pprof+"heap?gc=1", profile); err != nil {
				return nil, 0, 0, err
			}
			if rssBytes, err = rss(d.pid()); err != nil {
				return nil, 0, 0, err
			}
			for name, v := range map[string]*float64{"go_memstats_heap_alloc_bytes": &sample.Heap,
				"go_memstats_stack_inuse_bytes": &sample.Stacks, "go_goroutines": &sample.Goroutines} {
				if *v, err = metric(d.url+"/metrics", name, nil); err != nil {
					return nil, 0, 0, err
				}
			}
			if _, err := io.WriteString(in, "done\n"); err != nil {
				return nil, 0, 0, err
			}
			continue
		}
		var res loadResult
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			return nil, 0, 0, fmt.Errorf("load process: %q: %w", line, err)
		}
		res.Heap, res.Stacks, res.Goroutines = sample.Heap, sample.Stacks, sample.Goroutines
		return &res, (cpu1 - cpu0).Seconds() / t1.Sub(t0).Seconds(), rssBytes, nil
	}
	b, _ := os.ReadFile(log.Name())
	return nil, 0, 0, fmt.Errorf("the load process with %d agents ended without a result: %s", n, strings.TrimSpace(string(b)))
}
