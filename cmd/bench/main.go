// Command bench measures the operator (`make bench`): key generation cost,
// convergence of N FluxConfigs against a floor (a plain client creating the
// same objects), write requests while idle, and the manager's memory. It
// runs the manager as its own process against a real kube-apiserver, and
// prints a table; with --out it also writes it as Markdown.
//
// Not measured yet (issue 8): status round trip, ARM propagation, data
// plane capacity with 10,000 agents, reconcile latency during a key burst.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/auth"
	"github.com/arcgitops/arcgitops/internal/testenv"
)

type options struct {
	sizes   []int
	reps    int
	idle    time.Duration
	manager string
	out     string
}

func main() {
	var o options
	sizes := flag.String("sizes", "100,1000", "Comma-separated numbers of FluxConfigs to converge.")
	flag.IntVar(&o.reps, "reps", 5, "Repetitions of each convergence; the median is reported.")
	flag.DurationVar(&o.idle, "idle", 5*time.Minute, "How long to count the manager's writes while nothing changes.")
	flag.StringVar(&o.manager, "manager", "bin/manager", "The manager binary.")
	flag.StringVar(&o.out, "out", "", "Also write the results as Markdown to this file.")
	flag.Parse()
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "ERROR: --sizes %q: use numbers such as 100,1000\n", *sizes)
			os.Exit(2)
		}
		o.sizes = append(o.sizes, n)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		os.Exit(1)
	}
}

type row struct{ name, value, floor, ratio, target string }

func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, "==> "+format+"\n", args...) }

func run(o options) error {
	var rows []row
	started := time.Now()

	progress("Key generation cost")
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
		rows = append(rows, row{name: "7. key generation, " + string(alg) + " (median of " + strconv.Itoa(n) + ")", value: ms(median(d)), target: "-"})
	}

	progress("Starting kube-apiserver and etcd")
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	dir, err := os.MkdirTemp("", "arcgitops-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}
	k := env.Client

	progress("Starting the manager (ed25519 keys, so that convergence is not key generation)")
	metricsAddr, err := freePort()
	if err != nil {
		return err
	}
	cmd := exec.Command(o.manager, "--metrics-bind-address="+metricsAddr, "--health-probe-bind-address=0",
		"--ssh-key-algorithm=ed25519", "--zap-log-level=error")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()
	if err := waitHTTP("http://" + metricsAddr + "/metrics"); err != nil {
		return fmt.Errorf("manager: %w", err)
	}

	ctx := context.Background()
	total := 0
	memory := map[int][2]float64{}
	for _, n := range o.sizes {
		var op, fl []time.Duration
		for rep := 0; rep < o.reps; rep++ {
			progress("Converge N=%d, repetition %d of %d", n, rep+1, o.reps)
			d, err := converge(ctx, k, fmt.Sprintf("op-%d-%d", n, rep), n)
			if err != nil {
				return err
			}
			op = append(op, d)
			total += n
			d, err = floor(ctx, k, fmt.Sprintf("fl-%d-%d", n, rep), n)
			if err != nil {
				return err
			}
			fl = append(fl, d)
		}
		mo, mf := median(op), median(fl)
		rows = append(rows, row{name: fmt.Sprintf("1. converge N=%d (median of %d)", n, o.reps), value: secs(mo), floor: secs(mf),
			ratio: fmt.Sprintf("%.2f", mo.Seconds()/mf.Seconds()), target: "<= 1.5 at N=1000"})
		rss, heap, err := managerMemory(cmd.Process.Pid, metricsAddr)
		if err != nil {
			return err
		}
		memory[total] = [2]float64{rss, heap}
		rows = append(rows, row{name: fmt.Sprintf("3. manager memory with %d FluxConfigs", total),
			value: fmt.Sprintf("RSS %.0f MiB, heap %.0f MiB", rss/(1<<20), heap/(1<<20)), target: "< 300 MiB at 5000"})
	}
	if len(memory) >= 2 {
		var counts []int
		for c := range memory {
			counts = append(counts, c)
		}
		slices.Sort(counts)
		lo, hi := counts[0], counts[len(counts)-1]
		per := (memory[hi][1] - memory[lo][1]) / float64(hi-lo)
		rows = append(rows, row{name: fmt.Sprintf("3. heap per FluxConfig (%d -> %d)", lo, hi), value: fmt.Sprintf("%.1f KiB", per/1024), target: "-"})
	}

	progress("Counting the manager's writes while idle for %s", o.idle)
	time.Sleep(5 * time.Second) // let the last statuses settle
	w0, err := managerWrites(metricsAddr)
	if err != nil {
		return err
	}
	time.Sleep(o.idle)
	w1, err := managerWrites(metricsAddr)
	if err != nil {
		return err
	}
	rows = append(rows, row{name: fmt.Sprintf("2. idle writes, %d FluxConfigs, over %s", total, o.idle),
		value: fmt.Sprintf("%.1f /min", (w1-w0)/o.idle.Minutes()), target: "0"})

	report := render(rows, time.Since(started))
	fmt.Print(report)
	if o.out != "" {
		return os.WriteFile(o.out, []byte(report), 0o644)
	}
	return nil
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

// parallel runs f(0..n-1) on workers goroutines.
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

// converge creates n FluxConfigs at once and times until every one has all
// its objects and a status for its generation.
func converge(ctx context.Context, k client.Client, prefix string, n int) (time.Duration, error) {
	if err := createNamespaces(ctx, k, prefix); err != nil {
		return 0, err
	}
	start := time.Now()
	err := parallel(n, 8, func(i int) error {
		return k.Create(ctx, &v1alpha1.FluxConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("%s-%d", prefix, i%namespaces), Name: fmt.Sprintf("c%d", i)},
			Spec:       spec(),
		})
	})
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(20 * time.Minute)
	for time.Now().Before(deadline) {
		done := 0
		ks := 0
		for i := 0; i < namespaces; i++ {
			ns := fmt.Sprintf("%s-%d", prefix, i)
			var list v1alpha1.FluxConfigList
			if err := k.List(ctx, &list, client.InNamespace(ns)); err != nil {
				return 0, err
			}
			for _, fc := range list.Items {
				if fc.Status.ObservedGeneration == fc.Generation && len(fc.Status.Conditions) > 0 && fc.Status.RepositoryPublicKey != "" {
					done++
				}
			}
			var kl kustomizev1.KustomizationList
			if err := k.List(ctx, &kl, client.InNamespace(ns)); err != nil {
				return 0, err
			}
			ks += len(kl.Items)
		}
		if done == n && ks == 3*n {
			return time.Since(start), nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 0, fmt.Errorf("%d FluxConfigs did not converge in 20 minutes", n)
}

// floor creates the same objects directly, as fast as a plain client can:
// per configuration the key and auth Secrets (with a generated key), the
// GitRepository and three Kustomizations; per namespace the applier's
// ServiceAccount and binding.
func floor(ctx context.Context, k client.Client, prefix string, n int) (time.Duration, error) {
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
	err := parallel(n, 4, func(i int) error {
		ns, name := fmt.Sprintf("%s-%d", prefix, i%namespaces), fmt.Sprintf("c%d", i)
		kp, err := auth.GenerateKeyPair("ed25519")
		if err != nil {
			return err
		}
		objs := []client.Object{
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-ssh-key"}, Data: kp.SecretData()},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-auth"}, Data: map[string][]byte{
				"identity": kp.PrivateKey, "identity.pub": kp.PublicKey, "known_hosts": []byte(auth.BuiltinKnownHosts)}},
			&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: sourcev1.GitRepositorySpec{
				URL: "ssh://git@github.com/org/fleet", Interval: metav1.Duration{Duration: 10 * time.Minute},
				Reference: &sourcev1.GitRepositoryRef{Branch: "main"}, SecretRef: &meta.LocalObjectReference{Name: name + "-auth"}}},
		}
		for _, kn := range []string{"infra", "apps", "tests"} {
			objs = append(objs, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-" + kn},
				Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: 10 * time.Minute}, Path: "./" + kn,
					SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: name}, ServiceAccountName: "flux-applier"}})
		}
		for _, o := range objs {
			if err := k.Create(ctx, o); err != nil {
				return err
			}
		}
		return nil
	})
	return time.Since(start), err
}

func managerMemory(pid int, metricsAddr string) (rss, heap float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) >= 2 && fields[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(fields[1], 64)
			rss = kb * 1024
		}
	}
	heap, err = metric(metricsAddr, "go_memstats_heap_alloc_bytes", nil)
	return rss, heap, err
}

// managerWrites sums the manager's create, update, patch and delete requests.
func managerWrites(metricsAddr string) (float64, error) {
	return metric(metricsAddr, "rest_client_requests_total", func(labels string) bool {
		for _, m := range []string{`method="POST"`, `method="PUT"`, `method="PATCH"`, `method="DELETE"`} {
			if strings.Contains(labels, m) {
				return true
			}
		}
		return false
	})
}

// metric sums the samples of name whose labels pass keep (all when nil).
func metric(addr, name string, keep func(labels string) bool) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sum := 0.0
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		line := s.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := strings.TrimPrefix(line, name)
		labels := ""
		if strings.HasPrefix(rest, "{") {
			end := strings.Index(rest, "}")
			labels, rest = rest[:end+1], rest[end+1:]
		} else if !strings.HasPrefix(rest, " ") {
			continue
		}
		if keep != nil && !keep(labels) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err == nil {
			sum += v
		}
	}
	return sum, s.Err()
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitHTTP(url string) error {
	for i := 0; i < 300; i++ {
		if resp, err := http.Get(url); err == nil {
			_ = resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer", url)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string   { return fmt.Sprintf("%.2f ms", float64(d.Nanoseconds())/1e6) }
func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func render(rows []row, took time.Duration) string {
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nRun %s on %s (%d CPUs, %s/%s), with `make bench`, in %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, took.Round(time.Second))
	b.WriteString("| measure | value | floor | ratio | target |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.name, r.value, orDash(r.floor), orDash(r.ratio), r.target)
	}
	b.WriteString("\nNot measured yet: 4. status round trip, 5. ARM propagation, 6. data plane capacity, 7. reconcile latency during a key burst.\n")
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
