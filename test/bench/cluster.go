package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/auth"
	"github.com/arcgitops/arcgitops/internal/builder"
	fccontroller "github.com/arcgitops/arcgitops/internal/controller"
	"github.com/arcgitops/arcgitops/internal/testenv"
)

func measureKeys(rep *report) error {
	progress("7. Key generation cost")
	for _, alg := range []auth.KeyAlgorithm{"rsa-4096", "ecdsa-p256", "ed25519"} {
		n := 20
		if alg == "rsa-4096" {
			n = 5
		}
		var d []time.Duration
		for i := 0; i < n; i++ {
			t := time.Now()
			if _, err := auth.GenerateKeyPair(alg); err != nil {
				return err
			}
			d = append(d, time.Since(t))
		}
		rep.add(row{name: "7. key generation, " + string(alg) + " (median of " + strconv.Itoa(n) + ")", value: ms(median(d))})
	}
	return nil
}

// cluster is a kube-apiserver with etcd, and a directory for the processes'
// kubeconfig and logs.
type cluster struct {
	env        *testenv.Env
	dir        string
	kubeconfig string
	apiserver  int // pid
}

func startCluster() (*cluster, error) {
	progress("Starting kube-apiserver and etcd")
	env, err := testenv.Start()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "arcgitops-bench-")
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	c := &cluster{env: env, dir: dir, kubeconfig: filepath.Join(dir, "kubeconfig")}
	if err := env.WriteKubeconfig(c.kubeconfig); err != nil {
		c.stop()
		return nil, err
	}
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		c.stop()
		return nil, err
	}
	if c.apiserver, err = pidOf("kube-apiserver", "--secure-port="+u.Port()); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *cluster) stop() {
	_ = c.env.Stop()
	_ = os.RemoveAll(c.dir)
}

// profile saves the kube-apiserver's /debug/pprof/<which> to path.
func (c *cluster) profile(which, path string) error {
	hc, err := rest.HTTPClientFor(c.env.Config)
	if err != nil {
		return err
	}
	return save(hc, strings.TrimSuffix(c.env.Config.Host, "/")+"/debug/pprof/"+which, path)
}

// requests counts the requests kube-apiserver has served, by verb and
// resource ("APPLY kustomizations", "PATCH fluxconfigs/status"), from its
// apiserver_request_total; watches are left out.
func (c *cluster) requests() (map[string]float64, error) {
	hc, err := rest.HTTPClientFor(c.env.Config)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Get(strings.TrimSuffix(c.env.Config.Host, "/") + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	label := func(labels, name string) string {
		_, v, ok := strings.Cut(labels, name+`="`)
		if !ok {
			return ""
		}
		v, _, _ = strings.Cut(v, `"`)
		return v
	}
	out := map[string]float64{}
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		labels, value, ok := strings.Cut(strings.TrimPrefix(s.Text(), "apiserver_request_total{"), "} ")
		if !ok || !strings.HasPrefix(s.Text(), "apiserver_request_total{") {
			continue
		}
		verb, resource := label(labels, "verb"), label(labels, "resource")
		if verb == "WATCH" || resource == "" {
			continue
		}
		if sub := label(labels, "subresource"); sub != "" {
			resource += "/" + sub
		}
		v, err := strconv.ParseFloat(value, 64)
		if err == nil {
			out[verb+" "+resource] += v
		}
	}
	return out, s.Err()
}

// perConfigRequests renders after-before per n FluxConfigs, the largest
// first, leaving out what is under 0.05 per FluxConfig.
func perConfigRequests(before, after map[string]float64, n int) string {
	type kv struct {
		k string
		v float64
	}
	var all []kv
	for k, v := range after {
		if d := (v - before[k]) / float64(n); d >= 0.05 {
			all = append(all, kv{k, d})
		}
	}
	slices.SortFunc(all, func(a, b kv) int {
		if a.v != b.v {
			return cmp.Compare(b.v, a.v)
		}
		return strings.Compare(a.k, b.k)
	})
	var parts []string
	for _, e := range all {
		parts = append(parts, fmt.Sprintf("%s %.2f", e.k, e.v))
	}
	return strings.Join(parts, ", ")
}

// rig is a cluster with a manager running against it and the bench's
// watches on it.
type rig struct {
	*cluster
	m      *managerProc
	w      *watcher
	ctx    context.Context
	cancel context.CancelFunc
}

// withManager starts a manager (with args) and the watches.
func (c *cluster) withManager(o options, name string, args ...string) (*rig, error) {
	m, err := startManager(o, c, name, args...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := startWatcher(ctx, c.env.Config)
	if err != nil {
		cancel()
		m.stop()
		return nil, err
	}
	return &rig{cluster: c, m: m, w: w, ctx: ctx, cancel: cancel}, nil
}

func (r *rig) stop() {
	r.cancel()
	r.m.stop()
}

// managerProc is a running manager with its metrics and pprof endpoints.
type managerProc struct {
	*proc
	metrics, pprof string
}

// startManager runs the manager against c with args added to the bench's.
func startManager(o options, c *cluster, name string, args ...string) (*managerProc, error) {
	metricsAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	pprofAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	p, err := start(c.dir, name, o.manager, []string{"KUBECONFIG=" + c.kubeconfig},
		append(append([]string{"--metrics-bind-address=" + metricsAddr, "--health-probe-bind-address=0",
			"--pprof-bind-address=" + pprofAddr, "--zap-log-level=error"}, args...), o.mgrArgs...)...)
	if err != nil {
		return nil, err
	}
	m := &managerProc{proc: p, metrics: "http://" + metricsAddr + "/metrics", pprof: "http://" + pprofAddr + "/debug/pprof/"}
	if err := waitHTTP(p, m.metrics); err != nil {
		p.stop()
		return nil, err
	}
	return m, nil
}

// writes sums the manager's create, update, patch and delete requests.
func (m *managerProc) writes() (float64, error) {
	return metric(m.metrics, "rest_client_requests_total", hasLabel(`method="POST"`, `method="PUT"`, `method="PATCH"`, `method="DELETE"`))
}

func (m *managerProc) requests() (float64, error) {
	return metric(m.metrics, "rest_client_requests_total", nil)
}

func (m *managerProc) reconciles() (float64, error) {
	return metric(m.metrics, "controller_runtime_reconcile_total", hasLabel(`controller="fluxconfig"`))
}

// memory is the manager's RSS and its live heap: the heap profile asked
// for first runs a garbage collection (and is saved to profile when set).
func (m *managerProc) memory(profile string) (rssBytes, heap float64, err error) {
	if profile == "" {
		profile = os.DevNull
	}
	if err := download(m.pprof+"heap?gc=1", profile); err != nil {
		return 0, 0, fmt.Errorf("heap profile: %w", err)
	}
	if rssBytes, err = rss(m.pid()); err != nil {
		return 0, 0, err
	}
	heap, err = metric(m.metrics, "go_memstats_heap_alloc_bytes", nil)
	return rssBytes, heap, err
}

// counters are the manager's cumulative work, read before and after a run.
type counters struct{ reconciles, requests, writes float64 }

func (m *managerProc) counters() (counters, error) {
	var c counters
	var err error
	if c.reconciles, err = m.reconciles(); err != nil {
		return c, err
	}
	if c.requests, err = m.requests(); err != nil {
		return c, err
	}
	c.writes, err = m.writes()
	return c, err
}

// measureCluster runs measures 1 (convergence) and 2 (idle writes) against
// one manager, in that order: idle is counted with every FluxConfig of the
// convergence runs in place.
func measureCluster(o options, rep *report) error {
	c, err := startCluster()
	if err != nil {
		return err
	}
	defer c.stop()
	k := c.env.Client
	if err := installFloorCRD(context.Background(), k); err != nil {
		return fmt.Errorf("floor CRD: %w", err)
	}
	if o.measures["converge"] {
		if err := requestCosts(context.Background(), c, rep); err != nil {
			return err
		}
	}
	progress("Starting the manager (ed25519 keys, so that convergence measures the operator, not key generation)")
	r, err := c.withManager(o, "manager", "--ssh-key-algorithm=ed25519")
	if err != nil {
		return err
	}
	defer r.stop()
	conv := &convergence{rig: r, o: o}
	if o.measures["converge"] {
		for _, n := range o.sizes {
			if err := conv.size(n, n == slices.Max(o.sizes), rep); err != nil {
				return err
			}
		}
		conv.growth(rep)
	}
	total, m := conv.total, r.m

	if !o.measures["idle"] {
		return nil
	}
	progress("2. Counting the manager's writes while idle for %s", o.idle)
	time.Sleep(5 * time.Second) // let the last statuses settle
	w0, err := m.writes()
	if err != nil {
		return err
	}
	time.Sleep(o.idle)
	w1, err := m.writes()
	if err != nil {
		return err
	}
	rep.add(row{name: fmt.Sprintf("2. idle writes, %d FluxConfigs, over %s", total, o.idle),
		value: fmt.Sprintf("%.1f /min", (w1-w0)/o.idle.Minutes()), target: "0"})
	return nil
}

// convergence runs measure 1 on a rig, size after size; the FluxConfigs of
// every run stay, so total grows.
type convergence struct {
	*rig
	o     options
	total int
	// byKind are the rows of requests by kind, one per size.
	byKind []row
	// per are each size's median time and kube-apiserver CPU per
	// FluxConfig, the operator's and the floor's.
	per []perConfig
}

type perConfig struct {
	n                    int
	op, fl, opCPU, flCPU time.Duration
}

// reps is how often n FluxConfigs are converged: o.reps times up to 1,000,
// once above (a run of 5,000 takes minutes, and varies less).
func (c *convergence) reps(n int) int {
	if n > 1000 {
		return 1
	}
	return c.o.reps
}

// size converges n FluxConfigs against the floor and adds the rows of
// measure 1. The largest size is profiled (with --profile-dir).
func (c *convergence) size(n int, largest bool, rep *report) error {
	var op, fl []time.Duration
	var opCPU, flCPU time.Duration
	before, err := c.m.counters()
	if err != nil {
		return err
	}
	reps := c.reps(n)
	for i := 0; i < reps; i++ {
		progress("1. Converge N=%d, repetition %d of %d", n, i+1, reps)
		d, cpu, err := c.operator(n, i, largest && i == 0)
		if err != nil {
			return err
		}
		op, opCPU, c.total = append(op, d), opCPU+cpu, c.total+n
		if d, cpu, err = c.floor(n, i, largest && i == 0); err != nil {
			return err
		}
		fl, flCPU = append(fl, d), flCPU+cpu
	}
	after, err := c.m.counters()
	if err != nil {
		return err
	}
	mo, mf := median(op), median(fl)
	rep.add(row{name: fmt.Sprintf("1. converge N=%d (median of %d)", n, reps), value: secs(mo), floor: secs(mf),
		ratio: fmt.Sprintf("%.2f", mo.Seconds()/mf.Seconds()), target: "<= 1.5 at N=1000"})
	per := float64(n * reps)
	rep.add(row{name: fmt.Sprintf("1. work per FluxConfig at N=%d", n),
		value: fmt.Sprintf("%.2f reconciles, %.1f API requests (%.1f writes)", (after.reconciles-before.reconciles)/per,
			(after.requests-before.requests)/per, (after.writes-before.writes)/per),
		floor: "8 writes (its FluxConfig creation included; the bench creates the operator's)"})
	rep.add(row{name: fmt.Sprintf("1. kube-apiserver CPU per FluxConfig at N=%d", n), value: ms(opCPU / time.Duration(n*reps)),
		floor: ms(flCPU / time.Duration(n*reps)), ratio: fmt.Sprintf("%.2f", opCPU.Seconds()/flCPU.Seconds())})
	for _, r := range c.byKind {
		rep.add(r)
	}
	c.byKind = nil
	c.per = append(c.per, perConfig{n: n, op: mo / time.Duration(n), fl: mf / time.Duration(n),
		opCPU: opCPU / time.Duration(n*reps), flCPU: flCPU / time.Duration(n*reps)})
	return nil
}

// growth adds the row of measure 1 that shows whether the cost of a
// FluxConfig stays flat as N grows.
func (c *convergence) growth(rep *report) {
	if len(c.per) < 2 {
		return
	}
	var ns, t, cpu, ft, fcpu []string
	for _, p := range c.per {
		ns = append(ns, strconv.Itoa(p.n))
		t, cpu = append(t, fmt.Sprintf("%.1f", ms64(p.op))), append(cpu, fmt.Sprintf("%.1f", ms64(p.opCPU)))
		ft, fcpu = append(ft, fmt.Sprintf("%.1f", ms64(p.fl))), append(fcpu, fmt.Sprintf("%.1f", ms64(p.flCPU)))
	}
	rep.add(row{name: "1. growth, per FluxConfig at N=" + strings.Join(ns, " / "),
		value: fmt.Sprintf("converge %s ms, kube-apiserver CPU %s ms", strings.Join(t, " / "), strings.Join(cpu, " / ")),
		floor: fmt.Sprintf("%s ms, CPU %s ms", strings.Join(ft, " / "), strings.Join(fcpu, " / "))})
}

func ms64(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// operator times repetition i of the manager converging n FluxConfigs, and
// the kube-apiserver CPU it took; with profile, CPU profiles of the manager
// and the API server are taken meanwhile.
func (c *convergence) operator(n, i int, profile bool) (time.Duration, time.Duration, error) {
	var profiled chan error
	if profile && c.o.profile != "" {
		profiled = make(chan error, 2)
		go func() {
			time.Sleep(c.o.profileAfter)
			profiled <- download(c.m.pprof+"profile?seconds=30", filepath.Join(c.o.profile, fmt.Sprintf("manager-cpu-N%d.pprof", n)))
		}()
		go func() {
			time.Sleep(c.o.profileAfter)
			profiled <- c.profile("profile?seconds=30", filepath.Join(c.o.profile, fmt.Sprintf("apiserver-cpu-N%d.pprof", n)))
		}()
	}
	cpu0, _ := cpuTime(c.apiserver)
	req0, err := c.requests()
	if err != nil {
		return 0, 0, err
	}
	d, err := converge(c.ctx, c.env.Client, c.w, fmt.Sprintf("op-%d-%d", n, i), n)
	if err != nil {
		return 0, 0, err
	}
	cpu1, _ := cpuTime(c.apiserver)
	if i == 0 {
		// Wait for the second reconciles' reads to land in the count.
		time.Sleep(2 * time.Second)
		req1, err := c.requests()
		if err != nil {
			return 0, 0, err
		}
		c.byKind = append(c.byKind, row{name: fmt.Sprintf("1. kube-apiserver requests per FluxConfig at N=%d (the bench's create included, watches not)", n),
			value: perConfigRequests(req0, req1, n)})
	}
	for j := 0; profiled != nil && j < 2; j++ {
		if err := <-profiled; err != nil {
			return 0, 0, fmt.Errorf("CPU profile: %w", err)
		}
	}
	return d, cpu1 - cpu0, nil
}

// floor times the plain client reaching the state of repetition i of the
// operator, and the kube-apiserver CPU it took; with profile, a CPU profile
// of the API server is taken meanwhile, to set beside the operator's.
func (c *convergence) floor(n, i int, profile bool) (time.Duration, time.Duration, error) {
	k := c.env.Client
	template, err := statusTemplate(c.ctx, k, fmt.Sprintf("op-%d-%d", n, i))
	if err != nil {
		return 0, 0, err
	}
	var profiled chan error
	if profile && c.o.profile != "" {
		profiled = make(chan error, 1)
		go func() {
			time.Sleep(c.o.profileAfter)
			profiled <- c.profile("profile?seconds=30", filepath.Join(c.o.profile, fmt.Sprintf("apiserver-cpu-floor-N%d.pprof", n)))
		}()
	}
	cpu0, _ := cpuTime(c.apiserver)
	d, err := floor(c.ctx, k, fmt.Sprintf("fl-%d-%d", n, i), n, c.o.floorPar, template)
	if err != nil {
		return 0, 0, err
	}
	cpu1, _ := cpuTime(c.apiserver)
	if profiled != nil {
		if err := <-profiled; err != nil {
			return 0, 0, fmt.Errorf("CPU profile: %w", err)
		}
	}
	if err := sameObjects(c.ctx, k, fmt.Sprintf("op-%d-%d", n, i), fmt.Sprintf("fl-%d-%d", n, i)); err != nil {
		return 0, 0, err
	}
	return d, cpu1 - cpu0, nil
}

// sameObjects checks that the floor wrote what the operator wrote: the
// objects of configuration c0 in the runs with the two prefixes, apart from
// what names the run or the moment (namespace, UIDs, key, hash, times).
func sameObjects(ctx context.Context, k client.Client, op, fl string) error {
	type object struct {
		gvk  schema.GroupVersionKind
		name string
	}
	kinds := []object{
		{corev1.SchemeGroupVersion.WithKind("Secret"), builder.KeySecretName("c0")},
		{corev1.SchemeGroupVersion.WithKind("Secret"), builder.AuthSecretName("c0")},
		{schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"}, "c0"},
	}
	for _, name := range []string{"infra", "apps", "tests"} {
		kinds = append(kinds, object{kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind), "c0-" + name})
	}
	for _, kd := range kinds {
		var objs [2]string
		for j, prefix := range []string{op, fl} {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(kd.gvk)
			if err := k.Get(ctx, client.ObjectKey{Namespace: prefix + "-0", Name: kd.name}, u); err != nil {
				return fmt.Errorf("comparing the floor's objects with the operator's: %w", err)
			}
			raw, err := json.Marshal(withoutRunDetails(u).Object)
			if err != nil {
				return err
			}
			objs[j] = strings.ReplaceAll(string(raw), prefix, "<run>")
		}
		if objs[0] != objs[1] {
			return fmt.Errorf("the floor's %s %s is not the operator's:\noperator: %s\nfloor:    %s", kd.gvk.Kind, kd.name, objs[0], objs[1])
		}
	}
	return nil
}

// withoutRunDetails is u without what differs between two runs by design, but
// for the run's prefix in names (the caller replaces it).
func withoutRunDetails(u *unstructured.Unstructured) *unstructured.Unstructured {
	u = u.DeepCopy()
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "finalizers"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	delete(u.Object, "status")
	labels := u.GetLabels()
	delete(labels, v1alpha1.LabelIsManaged) // "none" in the floor, on purpose
	u.SetLabels(labels)
	if ann := u.GetAnnotations(); ann != nil {
		for k := range ann {
			ann[k] = "" // hashes and times; the keys must match
		}
		u.SetAnnotations(ann)
	}
	refs := u.GetOwnerReferences()
	for j := range refs {
		refs[j].UID, refs[j].APIVersion = "", ""
	}
	u.SetOwnerReferences(refs)
	if data, ok := u.Object["data"].(map[string]any); ok {
		for k := range data {
			data[k] = "" // another key pair; the keys must match
		}
	}
	return u
}

// spec is one benchmark configuration: SSH with a generated key, three
// kustomizations in a dependsOn chain.
func spec() v1alpha1.FluxConfigSpec {
	return v1alpha1.FluxConfigSpec{
		GitRepository: &v1alpha1.GitRepositoryDefinition{URL: "ssh://git@github.com/org/fleet",
			RepositoryRef: &v1alpha1.RepositoryRefDefinition{Branch: "main"}},
		Kustomizations: map[string]v1alpha1.KustomizationDefinition{
			"infra": {Path: "./infra"}, "apps": {Path: "./apps", DependsOn: []string{"infra"}},
			"tests": {Path: "./tests", DependsOn: []string{"apps"}},
		},
	}
}

const namespaces = 10

func createNamespaces(ctx context.Context, k client.Client, prefix string) error {
	for i := 0; i < namespaces; i++ {
		if err := k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i)}}); err != nil {
			return err
		}
	}
	return nil
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case err := <-errs:
			close(next)
			wg.Wait()
			return err
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// converged reports whether fc has a status for its generation (with its
// public key when it has an SSH source).
func converged(fc *v1alpha1.FluxConfig) bool {
	return fc.Status.ObservedGeneration == fc.Generation && len(fc.Status.Conditions) > 0 &&
		(fc.Status.RepositoryPublicKey != "" || !auth.NeedsGeneratedKey(&fc.Spec, nil))
}

// agentFluxConfig is FluxConfig i of a run with prefix, as the agent creates
// it: with the controller's finalizer from the start.
func agentFluxConfig(prefix string, i int) *v1alpha1.FluxConfig {
	return &v1alpha1.FluxConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("%s-%d", prefix, i%namespaces), Name: fmt.Sprintf("c%d", i),
			Finalizers: []string{v1alpha1.FluxConfigFinalizer}},
		Spec: spec(),
	}
}

// converge creates n FluxConfigs at once, as the agent does, and times
// until every one has all its objects and a status for its generation.
func converge(ctx context.Context, k client.Client, w *watcher, prefix string, n int) (time.Duration, error) {
	if err := createNamespaces(ctx, k, prefix); err != nil {
		return 0, err
	}
	start := time.Now()
	err := parallel(n, 8, func(i int) error { return k.Create(ctx, agentFluxConfig(prefix, i)) })
	if err != nil {
		return 0, err
	}
	if err := waitConverged(ctx, w, prefix, n, 20*time.Minute); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// waitConverged waits until the n FluxConfigs in the namespaces of prefix
// have converged and their 3n Kustomizations exist. It reads from watches,
// so that waiting costs the API server almost nothing, and it costs the
// bench little too: no copies of what it reads, and a namespace found done
// is not read again (the bench shares the cores with what it measures; at
// N=5,000, copying every Kustomization of the run 20 times a second took
// half a core from the operator).
func waitConverged(ctx context.Context, w *watcher, prefix string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	done := make([]bool, namespaces)
	for time.Now().Before(deadline) {
		all := true
		for i := 0; i < namespaces; i++ {
			if done[i] {
				continue
			}
			want := n / namespaces // agentFluxConfig puts configuration j in namespace j%namespaces
			if i < n%namespaces {
				want++
			}
			ns := fmt.Sprintf("%s-%d", prefix, i)
			var list v1alpha1.FluxConfigList
			if err := w.List(ctx, &list, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
				return err
			}
			converging := 0
			for j := range list.Items {
				if converged(&list.Items[j]) {
					converging++
				}
			}
			var kl metav1.PartialObjectMetadataList
			kl.SetGroupVersionKind(kustomizev1.GroupVersion.WithKind("KustomizationList"))
			if err := w.List(ctx, &kl, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
				return err
			}
			done[i] = converging == want && len(kl.Items) == 3*want
			all = all && done[i]
		}
		if all {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%d FluxConfigs did not converge in %s", n, timeout)
}

// watcher is the bench's cache of FluxConfigs and Kustomizations
// (metadata only), filled by watches.
type watcher struct{ cache.Cache }

func startWatcher(ctx context.Context, cfg *rest.Config) (*watcher, error) {
	c, err := cache.New(cfg, cache.Options{Scheme: testenv.Scheme})
	if err != nil {
		return nil, err
	}
	go func() { _ = c.Start(ctx) }()
	ks := &metav1.PartialObjectMetadata{}
	ks.SetGroupVersionKind(kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind))
	for _, obj := range []client.Object{&v1alpha1.FluxConfig{}, ks} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			return nil, err
		}
	}
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the bench's watches did not sync")
	}
	return &watcher{c}, nil
}

// floorGroup is the API group of the floor's copy of the FluxConfig CRD:
// the same schema and validation, but no manager watches it.
const floorGroup = "floor.clusterconfig.azure.com"

// installFloorCRD copies the FluxConfig CRD into floorGroup.
func installFloorCRD(ctx context.Context, k client.Client) error {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := k.Get(ctx, client.ObjectKey{Name: "fluxconfigs." + v1alpha1.GroupVersion.Group}, crd); err != nil {
		return err
	}
	floorCRD := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "fluxconfigs." + floorGroup}, Spec: crd.Spec}
	floorCRD.Spec.Group = floorGroup
	if err := k.Create(ctx, floorCRD); err != nil {
		return err
	}
	for i := 0; i < 100; i++ {
		if err := k.Get(ctx, client.ObjectKeyFromObject(floorCRD), floorCRD); err != nil {
			return err
		}
		for _, c := range floorCRD.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the floor's CRD was not established")
}

// statusTemplate is the status the operator wrote for one configuration of
// the run with prefix, for the floor to write in its place.
func statusTemplate(ctx context.Context, k client.Client, prefix string) (map[string]any, error) {
	fc := &v1alpha1.FluxConfig{}
	if err := k.Get(ctx, client.ObjectKey{Namespace: prefix + "-0", Name: "c0"}, fc); err != nil {
		return nil, err
	}
	return runtime.DefaultUnstructuredConverter.ToUnstructured(&fc.Status)
}

// floor reaches the operator's end state directly, as fast as a plain
// client can: per configuration it creates the FluxConfig (in the floor's
// copy of the CRD), then the operator's own objects for it, byte for byte
// what the builder and the reconciler make (labels, owner reference,
// applied-hash, Azure's patches): the key Secret (with a generated key), the
// auth Secret, the GitRepository and three Kustomizations; then it writes
// the FluxConfig's status once. Per namespace it creates the applier's
// ServiceAccount and binding. Two differences, neither of size: owner
// references name the floor's group, and the is-managed label says "none"
// instead of "true", so that the manager's label-filtered watches do not
// count the floor's objects as the operator's work.
func floor(ctx context.Context, k client.Client, prefix string, n, workers int, status map[string]any) (time.Duration, error) {
	if err := createNamespaces(ctx, k, prefix); err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < namespaces; i++ {
		ns := fmt.Sprintf("%s-%d", prefix, i)
		if err := k.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "flux-applier"}}); err != nil {
			return 0, err
		}
		if err := k.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "flux-applier-binding"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "flux-applier", Namespace: ns}}}); err != nil {
			return 0, err
		}
	}
	err := parallel(n, workers, func(i int) error {
		kp, err := auth.GenerateKeyPair("ed25519")
		if err != nil {
			return err
		}
		fc := &unstructured.Unstructured{}
		if fc.Object, err = runtime.DefaultUnstructuredConverter.ToUnstructured(agentFluxConfig(prefix, i)); err != nil {
			return err
		}
		fc.SetGroupVersionKind(schema.GroupVersionKind{Group: floorGroup, Version: v1alpha1.GroupVersion.Version, Kind: "FluxConfig"})
		if err := k.Create(ctx, fc); err != nil {
			return err
		}
		objs, err := floorObjects(fc, kp)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if err := k.Create(ctx, o); err != nil {
				return err
			}
		}
		st := runtime.DeepCopyJSON(status)
		st["repositoryPublicKey"] = string(kp.PublicKey)
		fc.Object["status"] = st
		return k.Status().Update(ctx, fc)
	})
	return time.Since(start), err
}

// floorObjects are the objects the operator writes for the floor's
// FluxConfig fc (as the API server returned it, defaulted and with its
// UID), with kp as its generated key.
func floorObjects(fc *unstructured.Unstructured, kp *auth.KeyPair) ([]client.Object, error) {
	typed := &v1alpha1.FluxConfig{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(fc.Object, typed); err != nil {
		return nil, err
	}
	built, err := builder.Build(typed, builder.Options{MultiTenancy: true, HasAuthSecret: true})
	if err != nil {
		return nil, err
	}
	authData, err := auth.SecretData(auth.Input{Spec: &typed.Spec, Generated: kp})
	if err != nil {
		return nil, err
	}
	state := auth.KeyState{Current: kp, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	objs := []client.Object{fccontroller.KeySecret(typed, state), fccontroller.OwnSecret(typed, builder.AuthSecretName(typed.Name), authData), built.Source}
	for _, ks := range built.Kustomizations {
		objs = append(objs, ks)
	}
	for _, o := range objs[1:] { // the key Secret has no applied-hash
		if err := fccontroller.WithAppliedHash(o); err != nil {
			return nil, err
		}
	}
	for _, o := range objs {
		refs := o.GetOwnerReferences()
		refs[0].APIVersion = floorGroup + "/" + v1alpha1.GroupVersion.Version
		o.SetOwnerReferences(refs)
		o.GetLabels()[v1alpha1.LabelIsManaged] = "none"
	}
	return objs, nil
}
