// Command bench measures the operator (`make bench`), each measure numbered
// as in the sections of docs/benchmarks.md, which it writes:
//
//  1. convergence of N FluxConfigs against a floor (a plain client creating
//     the same objects), and how its cost per configuration grows with N,
//  2. write requests while idle,
//  3. the manager's memory, with Ed25519 and RSA-4096 key Secrets,
//  4. the status round trip (a Flux object's Ready change -> the data
//     plane's GET),
//  5. propagation (an ARM PUT -> the FluxConfig in the cluster),
//  6. the data plane's capacity with simulated agents (a separate load
//     process: this binary run as `bench load`, see load.go),
//  7. key generation cost, and reconcile latency of an HTTPS configuration
//     during a burst of SSH configurations with RSA keys.
//
// It runs the manager and the data plane as their own processes against a
// real kube-apiserver, and prints a table; with --out it also writes it as
// Markdown.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/arcgitops/arcgitops/internal/cmdutil"
)

type options struct {
	sizes     []int
	reps      int
	idle      time.Duration
	samples   int
	agents    []int
	burst     int
	window    time.Duration
	manager   string
	dataplane string
	out       string
	profile   string
	// profileAfter delays the convergence's CPU profiles.
	profileAfter time.Duration
	floorPar     int
	mgrArgs      []string
	measures     map[string]bool
	// policyClusters are the fleet sizes of measure 9; policyRule the
	// corrected baseline's rule; policyIdle the rest window.
	policyClusters []int
	policyRule     string
	policyIdle     time.Duration
	// graphClusters and graphConfigs size measure 10's fleet.
	graphClusters, graphConfigs int
	// portalClusters sizes measure 11's fleet.
	portalClusters int
	// hubAgents are the agents of measure 12's replica kill; hubLoadAgents
	// those of its comparison of bbolt and etcd (0: none).
	hubAgents, hubLoadAgents int
	// memorySizes are the FluxConfig counts of measure 3, memoryLimit the
	// manager's container limit there.
	memorySizes []int
	memoryLimit string
}

var allMeasures = []string{"keys", "converge", "idle", "memory", "roundtrip", "propagation", "capacity", "burst", "arm", "policy", "graph", "portal", "hub"}

func main() {
	if loadMode() {
		return
	}
	// The bench's own watches log nothing.
	ctrllog.SetLogger(logr.Discard())
	var o options
	sizes := flag.String("sizes", "100,1000,5000", "Comma-separated numbers of FluxConfigs to converge (measure 1).")
	flag.IntVar(&o.reps, "reps", 5, "Repetitions of each convergence of up to 1,000 FluxConfigs (larger ones run once); the median is reported.")
	memorySizes := flag.String("memory-sizes", "1000,5000,10000", "FluxConfig counts the manager's memory is measured at, with Ed25519 and with RSA-4096 key Secrets (measure 3).")
	flag.StringVar(&o.memoryLimit, "memory-limit", "512Mi", "The manager's --memory-limit in measure 3 (the chart's default container limit).")
	flag.DurationVar(&o.idle, "idle", 5*time.Minute, "How long to count the manager's writes while nothing changes (measure 2).")
	flag.IntVar(&o.samples, "samples", 100, "Samples of the status round trip and of propagation (measures 4 and 5).")
	agents := flag.String("agents", "10000,15000,19000", "Simulated agent counts for the data plane's capacity (measure 6); the first is the target's 10,000, the rest look for the largest held with p99 under 100 ms. Each agent holds a connection, so a count needs about that many open files (ulimit -n) in the data plane and in the load process: the bench raises its limit, which they inherit, when it may (as root); counts that do not fit are skipped. A count's agents share two source addresses, so at most about 28,000 (the ephemeral ports).")
	flag.DurationVar(&o.window, "window", 60*time.Second, "How long each agent count is measured, after its agents have started (measure 6).")
	flag.IntVar(&o.burst, "burst", 1000, "SSH configurations with RSA-4096 keys created at once (measure 7).")
	flag.StringVar(&o.manager, "manager", "bin/manager", "The manager binary.")
	flag.StringVar(&o.dataplane, "dataplane", "bin/dataplane", "The data plane binary.")
	flag.StringVar(&o.out, "out", "", "Also write the results as Markdown to this file.")
	flag.StringVar(&o.profile, "profile-dir", "", "Write pprof profiles here: of the manager and kube-apiserver, CPU for 30 s during the first convergence of the largest N (and kube-apiserver's during its floor), the manager's heap after each memory row, the data plane's heap and goroutines at each agent count.")
	flag.DurationVar(&o.profileAfter, "profile-after", 0, "How long into a convergence its CPU profiles start (0: at once, where the creates of the run dominate them).")
	flag.IntVar(&o.floorPar, "floor-workers", 8, "Concurrent requests of the floor's plain client.")
	mgrArgs := flag.String("manager-args", "", "Extra flags for the manager, space-separated, e.g. --concurrent=8.")
	policyClusters := flag.String("policy-clusters", "1000,10000", "Registered clusters the baseline policy is assigned over, one fresh data plane each (measure 9).")
	flag.StringVar(&o.policyRule, "policy-rule", "docs/policy/gitops-baseline.rule.json", "The policy rule assigned in measure 9.")
	flag.DurationVar(&o.policyIdle, "policy-idle", time.Minute, "How long to count policy evaluations while nothing changes (measure 9).")
	flag.IntVar(&o.graphClusters, "graph-clusters", 20000, "Clusters of measure 10's fleet.")
	flag.IntVar(&o.portalClusters, "portal-clusters", 10000, "Clusters of measure 11's fleet (a configuration each).")
	flag.IntVar(&o.hubAgents, "hub-agents", 1000, "Agents long-polling the replica measure 12 kills.")
	flag.IntVar(&o.hubLoadAgents, "hub-load-agents", 10000, "Agents of measure 12's comparison: on one bbolt data plane, then split across two replicas on etcd (0: skip it).")
	flag.IntVar(&o.graphConfigs, "graph-configurations", 100000, "Configurations of measure 10's fleet, spread evenly over its clusters.")
	only := flag.String("measures", strings.Join(allMeasures, ","), "The measures to run, comma-separated: "+strings.Join(allMeasures, ", ")+".")
	flag.Parse()
	cmdutil.MustNoArgs(flag.CommandLine, os.Exit)

	o.mgrArgs = strings.Fields(*mgrArgs)
	var err error
	if o.sizes, err = positiveInts(*sizes); err != nil {
		fail(2, "--sizes %q: use numbers such as 100,1000", *sizes)
	}
	if o.memorySizes, err = positiveInts(*memorySizes); err != nil || !slices.IsSorted(o.memorySizes) {
		fail(2, "--memory-sizes %q: use growing numbers such as 1000,5000,10000", *memorySizes)
	}
	if o.agents, err = positiveInts(*agents); err != nil {
		fail(2, "--agents %q: use numbers such as 10000,15000", *agents)
	}
	if o.policyClusters, err = positiveInts(*policyClusters); err != nil {
		fail(2, "--policy-clusters %q: use numbers such as 1000,10000", *policyClusters)
	}
	o.measures = map[string]bool{}
	for _, m := range strings.Split(*only, ",") {
		m = strings.TrimSpace(m)
		if !slices.Contains(allMeasures, m) {
			fail(2, "--measures: unknown measure %q; use some of %s", m, strings.Join(allMeasures, ","))
		}
		o.measures[m] = true
	}
	if o.portalClusters < 1 {
		fail(2, "--portal-clusters must be at least 1")
	}
	if o.graphClusters < 1 || o.graphConfigs < o.graphClusters {
		fail(2, "--graph-clusters must be at least 1 and --graph-configurations at least as many")
	}
	if o.reps < 1 || o.samples < 2 || o.burst < 1 || o.window < 10*time.Second {
		fail(2, "--reps and --burst must be at least 1, --samples at least 2, --window at least 10s")
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			fail(2, "--profile-dir: %v", err)
		}
	}
	if err := run(o); err != nil {
		fail(1, "%v", err)
	}
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ERROR: "+format+"\n", args...)
	os.Exit(code)
}

func positiveInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// row is one line of the table; notes are printed below it.
type row struct{ name, value, floor, ratio, target string }

type report struct {
	rows  []row
	notes []string
}

func (r *report) add(x row) {
	r.rows = append(r.rows, x)
	fmt.Fprintf(os.Stderr, "    %s: %s\n", x.name, x.value)
}
func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, "==> "+format+"\n", args...) }

func run(o options) error {
	var rep report
	started := time.Now()
	if o.measures["keys"] {
		if err := measureKeys(&rep); err != nil {
			return err
		}
	}
	if o.measures["converge"] || o.measures["idle"] {
		if err := measureCluster(o, &rep); err != nil {
			return err
		}
	}
	if o.measures["memory"] {
		if err := measureMemory(o, &rep); err != nil {
			return err
		}
	}
	if o.measures["roundtrip"] || o.measures["propagation"] {
		if err := measureRoundTrips(o, &rep); err != nil {
			return err
		}
	}
	if o.measures["burst"] {
		if err := measureBurst(o, &rep); err != nil {
			return err
		}
	}
	if o.measures["capacity"] {
		if err := measureCapacity(o, &rep); err != nil {
			return err
		}
	}
	if o.measures["arm"] {
		if err := measureARM(o, &rep); err != nil {
			return err
		}
	}
	if o.measures["policy"] {
		if err := measurePolicy(o, &rep); err != nil {
			return err
		}
	}
	if o.measures["graph"] {
		if err := measureGraph(o, &rep); err != nil {
			return err
		}
	}
	if o.measures["portal"] {
		if err := measurePortal(o, &rep); err != nil {
			return err
		}
	}
	if o.measures["hub"] {
		if err := measureHub(o, &rep); err != nil {
			return err
		}
	}
	out := render(o, rep, time.Since(started))
	fmt.Print(out)
	if o.out == "" {
		return nil
	}
	return writeOut(o, out)
}

// writeOut writes the run to --out, keeping the file's hand-written reading
// of the run (below the marker).
func writeOut(o options, out string) error {
	if old, err := os.ReadFile(o.out); err == nil {
		if i := strings.Index(string(old), handWritten); i >= 0 {
			out += "\n" + string(old[i:])
		}
	}
	return os.WriteFile(o.out, []byte(out), 0o644)
}

// handWritten marks the start of the part of --out that the bench keeps.
const handWritten = "<!-- Written by hand, kept by make bench:"

func median(d []time.Duration) time.Duration { return percentile(d, 50) }

// percentile is the nearest-rank percentile p of d.
func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) string   { return fmt.Sprintf("%.2f ms", float64(d.Nanoseconds())/1e6) }
func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func render(o options, rep report, took time.Duration) string {
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nRun %s on %s (%d CPUs, %s/%s), with `make bench`, in %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, took.Round(time.Second))
	var ran []string
	for _, m := range allMeasures {
		if o.measures[m] {
			ran = append(ran, m)
		}
	}
	var kept, keptNotes []string
	if len(ran) < len(allMeasures) {
		kept, keptNotes = keptRows(o)
		fmt.Fprintf(&b, "Measures run: %s.", strings.Join(ran, ", "))
		if len(kept) > 0 {
			b.WriteString(" The other rows are kept from the run before.")
		}
		b.WriteString("\n\n")
	}
	b.WriteString("| measure | value | floor | ratio | target |\n|---|---|---|---|---|\n")
	for _, line := range kept {
		b.WriteString(line + "\n")
	}
	for _, r := range rep.rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.name, r.value, orDash(r.floor), orDash(r.ratio), orDash(r.target))
	}
	if len(keptNotes)+len(rep.notes) > 0 {
		b.WriteString("\n")
		for _, n := range keptNotes {
			b.WriteString(n + "\n")
		}
		for _, n := range rep.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

// measureNumbers are the numbers each measure's rows start with.
var measureNumbers = map[string][]string{"keys": {"7"}, "converge": {"1"}, "idle": {"2"}, "memory": {"3"}, "roundtrip": {"4"},
	"propagation": {"5"}, "capacity": {"6"}, "burst": {"7"}, "arm": {"8"}, "policy": {"9"}, "graph": {"10"}, "portal": {"11"}, "hub": {"12"}}

// keptRows are the table rows of --out, and the notes under the table,
// that belong to measures not run this time, so that a run of some
// measures updates only their rows and notes.
func keptRows(o options) (rows, notes []string) {
	if o.out == "" {
		return nil, nil
	}
	old, err := os.ReadFile(o.out)
	if err != nil {
		return nil, nil
	}
	if i := strings.Index(string(old), handWritten); i >= 0 {
		old = old[:i]
	}
	replaced := map[string]bool{}
	for m, run := range o.measures {
		for _, n := range measureNumbers[m] {
			replaced[n] = run || replaced[n]
		}
	}
	for _, line := range strings.Split(string(old), "\n") {
		kind := line[:min(2, len(line))]
		if kind != "| " && kind != "- " {
			continue
		}
		if i := strings.Index(line, ". "); i > 2 && !replaced[line[2:i]] {
			if _, err := strconv.Atoi(line[2:i]); err != nil {
				continue
			}
			if kind == "| " {
				rows = append(rows, line)
			} else {
				notes = append(notes, line)
			}
		}
	}
	return rows, notes
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
