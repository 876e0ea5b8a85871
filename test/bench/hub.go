package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/dataplane/store/storetest"
)

// measureHub runs measure 12: the hub on a three-member etcd against the
// embedded bbolt store: a fluxConfiguration PUT's latency on each, and how
// long agents take to resume their long polls on the other replica when
// the one they used is killed.
func measureHub(o options, rep *report) error {
	dir, err := os.MkdirTemp("", "arcgitops-bench-hub-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	progress("12. Starting a three-member etcd")
	members, stopEtcd, err := storetest.Cluster(filepath.Join(dir, "etcd"), 3)
	if err != nil {
		return err
	}
	defer stopEtcd()
	keys := filepath.Join(dir, "keys")
	if out, err := exec.Command(o.dataplane, "init-keys", "--keys-dir", keys).CombinedOutput(); err != nil {
		return fmt.Errorf("init-keys: %w\n%s", err, out)
	}
	shared := []string{"--store=etcd", "--etcd-endpoints=" + strings.Join(storetest.Endpoints(members), ","), "--keys-dir=" + keys,
		"--token-issuer=https://hub.bench/adfs"}

	n := 2 * o.samples
	for _, store := range []struct {
		name  string
		flags []string
	}{{"bbolt (one data plane)", nil}, {"etcd (three members, one disk)", shared}} {
		sub := filepath.Join(dir, strings.Fields(store.name)[0])
		if err := os.MkdirAll(sub, 0o700); err != nil {
			return err
		}
		d, err := startDataPlane(o, sub, store.flags...)
		if err != nil {
			return err
		}
		progress("12. %d fluxConfiguration PUTs, one at a time, on %s", n, store.name)
		lat, err := putLatencies(d, n)
		d.stop()
		if err != nil {
			return err
		}
		rep.add(row{name: fmt.Sprintf("12. fluxConfiguration PUT on %s (%d, one at a time)", store.name, n),
			value: fmt.Sprintf("p50 %s, p99 %s", ms(median(lat)), ms(percentile(lat, 99))), target: "-"})
	}

	if o.hubLoadAgents > 0 {
		if err := hubLoads(o, dir, shared, rep); err != nil {
			return err
		}
	}

	agents := o.hubAgents
	progress("12. Two replicas on etcd, %d agents long-polling the first; then it is killed", agents)
	a, err := startDataPlane(o, filepath.Join(dir, "etcd"), append(shared, "--etcd-prefix=/recovery/")...)
	if err != nil {
		return err
	}
	defer a.stop()
	bDir := filepath.Join(dir, "replica-b")
	if err := os.MkdirAll(bDir, 0o700); err != nil {
		return err
	}
	b, err := startReplica(o, bDir, append(shared, "--etcd-prefix=/recovery/")...)
	if err != nil {
		return err
	}
	defer b.stop()
	recovered, err := recovery(a, b, bDir, agents)
	if err != nil {
		return err
	}
	rep.add(row{name: fmt.Sprintf("12. replica killed under %d agents: kill -> each agent's long poll resumed on the other replica", agents),
		value:  fmt.Sprintf("p50 %s, p99 %s (an agent retries after its 1 s minimum backoff)", ms(median(recovered)), ms(percentile(recovered, 99))),
		target: "p99 < 5 s"})
	return nil
}

// putLatencies PUTs n configurations into one cluster, one at a time.
func putLatencies(d *dataPlane, n int) ([]time.Duration, error) {
	if err := d.call(http.MethodPut, clusterPath("hub"), map[string]any{"location": "bench"}, nil); err != nil {
		return nil, err
	}
	lat := make([]time.Duration, 0, n)
	for i := range n {
		t0 := time.Now()
		if err := d.call(http.MethodPut, configPath("hub", fmt.Sprintf("c%04d", i)), armConfig("fleet"), nil); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, nil
}

// recovery registers n clusters, runs an agent for each long-polling a
// (with b as its other replica), kills a, and returns how long each agent
// took to be answered by b: after an error it waits the agent's minimum
// backoff (1 s), then reads its state again from the next replica.
func recovery(a, b *dataPlane, dir string, n int) ([]time.Duration, error) {
	tokens := make([]string, n)
	if err := parallel(n, 16, func(i int) error {
		_, token, err := a.register(dir, fmt.Sprintf("hub%05d", i))
		tokens[i] = token
		return err
	}); err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: agentapi.MaxWait + 30*time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var killed time.Time
	resumed := make([]time.Duration, n)
	polling := make(chan struct{}, n)
	left := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range n {
		c := &agentapi.Client{BaseURLs: []string{a.url, b.url}, ClusterID: clusterPath(fmt.Sprintf("hub%05d", i)), Token: tokens[i], HTTP: hc}
		wg.Go(func() {
			etag := ""
			for ctx.Err() == nil {
				wait := 20 * time.Second
				if etag == "" {
					wait = 0 // read the state again, at once
				}
				_, next, _, err := c.List(ctx, etag, wait)
				if err != nil {
					etag = ""
					time.Sleep(time.Second) // the agent's minimum backoff
					continue
				}
				mu.Lock()
				after := !killed.IsZero()
				if after && resumed[i] == 0 {
					resumed[i] = time.Since(killed)
					left <- struct{}{}
				}
				mu.Unlock()
				if etag == "" && !after {
					polling <- struct{}{}
				}
				etag = next
			}
		})
	}
	for range n {
		<-polling
	}
	time.Sleep(time.Second) // every agent inside a long poll on a
	mu.Lock()
	killed = time.Now()
	mu.Unlock()
	a.stop()
	timeout := time.After(2 * time.Minute)
	for done := 0; done < n; done++ {
		select {
		case <-left:
		case <-timeout:
			return nil, fmt.Errorf("%d of %d agents were answered by the other replica within 2 minutes", done, n)
		}
	}
	cancel()
	wg.Wait()
	return resumed, nil
}

// hubLoad registers n clusters (a configuration each) through first, and
// runs n simulated agents split across the replicas, each half in a load
// process of its own (this binary's `load` mode) for o.window; it returns
// one row per replica.
func hubLoad(o options, dir, label string, replicas []*dataPlane, n int) ([]row, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	progress("12. %s: registering %d clusters with a configuration each", label, n)
	lines := make([]string, n)
	started := time.Now()
	if err := parallel(n, 16, func(i int) error {
		cluster := fmt.Sprintf("load%05d", i)
		_, token, err := replicas[0].register(dir, cluster)
		if err != nil {
			return err
		}
		lines[i] = clusterPath(cluster) + " " + token + " fleet"
		return replicas[0].call(http.MethodPut, configPath(cluster, "fleet"), armConfig("fleet"), nil)
	}); err != nil {
		return nil, err
	}
	progress("12. %s: registered in %s; %d agents for 30 s + %s", label, time.Since(started).Round(time.Second), n, o.window)
	type result struct {
		res      *loadResult
		cpu, rss float64
		err      error
	}
	results := make([]result, len(replicas))
	var wg sync.WaitGroup
	for i, d := range replicas {
		part := lines[i*n/len(replicas) : (i+1)*n/len(replicas)]
		file := filepath.Join(dir, fmt.Sprintf("agents-%d", i))
		if err := os.WriteFile(file, []byte(strings.Join(part, "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
		wg.Go(func() {
			res, cpu, rss, err := runLoadProcess(self, d, file, len(part), o.window, fmt.Sprintf("127.0.%d.1", 20+i), dir, "")
			results[i] = result{res, cpu, rss, err}
		})
	}
	wg.Wait()
	var rows []row
	for i, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		rows = append(rows, row{name: fmt.Sprintf("12. %s, replica %d of %d: %d agents (long-poll 30 s, status every 30 s)", label, i+1, len(replicas), n/len(replicas)),
			value: fmt.Sprintf("%.0f requests/s, status p99 %.1f ms (p50 %.1f ms), %d errors; RSS %.0f MiB, CPU %.2f cores",
				float64(r.res.Requests)/r.res.Window, r.res.StatusP99, r.res.StatusP50, r.res.Errors, r.rss/(1<<20), r.cpu),
			target: "p99 < 100 ms"})
	}
	return rows, nil
}

// hubLoads compares o.hubLoadAgents agents on one bbolt data plane with the
// same agents split across two replicas on etcd.
func hubLoads(o options, dir string, shared []string, rep *report) error {
	n := o.hubLoadAgents
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		return err
	}
	if uint64(n)+fdHeadroom > limit.Cur {
		rep.note("12. %d agents skipped: each holds a connection, and the open-files limit (ulimit -n) is %d", n, limit.Cur)
		return nil
	}
	boltDir := filepath.Join(dir, "load-bolt")
	if err := os.MkdirAll(boltDir, 0o700); err != nil {
		return err
	}
	d, err := startDataPlane(o, boltDir)
	if err != nil {
		return err
	}
	rows, err := hubLoad(o, boltDir, "bbolt, one data plane", []*dataPlane{d}, n)
	d.stop()
	if err != nil {
		return err
	}
	etcdDirs := []string{filepath.Join(dir, "load-etcd-a"), filepath.Join(dir, "load-etcd-b")}
	for _, p := range etcdDirs {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
	}
	flags := append(shared, "--etcd-prefix=/load/")
	a, err := startDataPlane(o, etcdDirs[0], flags...)
	if err != nil {
		return err
	}
	defer a.stop()
	b, err := startReplica(o, etcdDirs[1], flags...)
	if err != nil {
		return err
	}
	defer b.stop()
	more, err := hubLoad(o, etcdDirs[0], "etcd, two replicas", []*dataPlane{a, b}, n)
	if err != nil {
		return err
	}
	for _, r := range append(rows, more...) {
		rep.add(r)
	}
	return nil
}
