// Package localenv runs the whole system on 127.0.0.1 without Docker: a
// real kube-apiserver and etcd, kube-controller-manager (garbage
// collection), Flux's source-, kustomize-, helm- and notification-controller
// (what Azure's microsoft.flux extension installs by default), a Git
// server (HTTPS and SSH), the data plane and the manager with its agent.
// `make run` (hack/localenv) and the end-to-end tests (test/e2e) start it.
package localenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/internal/dataplane"
	"github.com/arcgitops/arcgitops/internal/fluxsettings"
	"github.com/arcgitops/arcgitops/internal/gitserver"
	"github.com/arcgitops/arcgitops/internal/testenv"
	"github.com/arcgitops/arcgitops/internal/tlsutil"
)

// ClusterID is the ARM resource ID the local cluster is registered as.
const ClusterID = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/Microsoft.Kubernetes/connectedClusters/local"

// Binaries are the programs the environment runs.
type Binaries struct {
	// Assets holds etcd, kube-apiserver and kube-controller-manager.
	Assets string
	// Flux holds source-, kustomize-, helm- and notification-controller.
	Flux      string
	Manager   string
	Dataplane string
	CLI       string
}

// Options configure Start.
type Options struct {
	// Dir keeps the state: kubeconfig, logs, data plane data, Git repositories.
	Dir      string
	Bins     Binaries
	CRDPaths []string
	// Progress receives one line per step.
	Progress io.Writer
	// ManagerArgs are extra flags for the manager.
	ManagerArgs []string
	// FluxSettings are the microsoft.flux extension's settings
	// (key=value) the Flux controllers and the manager run with
	// (internal/fluxsettings); none gives Azure's defaults.
	FluxSettings []string
	// ClusterOnly starts the cluster alone: kube-apiserver, etcd,
	// kube-controller-manager and Flux, without the FluxConfig CRD, the Git
	// server, the data plane or the manager: a stand-in for someone else's
	// cluster, for External.
	ClusterOnly bool
	// External attaches to an existing cluster instead of starting one
	// (external.go).
	External *External
}

// Env is a running environment.
type Env struct {
	Dir          string
	Kubeconfig   string
	DataPlaneURL string
	// DataPlaneCAFile is the CA the data plane's certificate is signed by.
	DataPlaneCAFile string
	// OwnerFile holds the credentials of the owner the data plane made at
	// its first start; Owner is what it holds. CLI signs in as it.
	OwnerFile string
	Owner     dataplane.Credentials
	TokenFile string
	// ReceiverAddr is where notification-controller serves webhook
	// Receivers (host:port, plain HTTP); empty when it does not run.
	ReceiverAddr string
	Git          *gitserver.Server
	Client       client.Client
	Bins         Binaries

	api      *testenv.Env
	external *attached
	mu       sync.Mutex
	procs    []*proc
	progress io.Writer
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func (e *Env) step(format string, args ...any) {
	if e.progress != nil {
		fmt.Fprintf(e.progress, "==> "+format+"\n", args...)
	}
}

// Start starts every component and waits until each is ready. On error,
// everything started so far is stopped, and the error names the component
// and its log.
func Start(ctx context.Context, o Options) (_ *Env, err error) {
	settings, err := fluxsettings.Parse(o.FluxSettings)
	if err != nil {
		return nil, fmt.Errorf("flux settings: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	e := &Env{Dir: o.Dir, Bins: o.Bins, progress: o.Progress}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()

	if o.External != nil {
		return e, e.attach(ctx, o)
	}

	e.step("Starting kube-apiserver and etcd")
	_ = os.Setenv("KUBEBUILDER_ASSETS", o.Bins.Assets)
	_ = os.Setenv("FLUX_CRDS", strings.Join(o.CRDPaths, ":"))
	var apiOpts []testenv.Option
	if o.ClusterOnly {
		apiOpts = append(apiOpts, testenv.WithoutFluxConfigCRD())
	}
	if e.api, err = testenv.Start(apiOpts...); err != nil {
		return nil, fmt.Errorf("kube-apiserver: %w", err)
	}
	e.Client = e.api.Client
	e.Kubeconfig = filepath.Join(o.Dir, "kubeconfig")
	if err := e.api.WriteKubeconfig(e.Kubeconfig); err != nil {
		return nil, err
	}
	for _, ns := range []string{"flux-system"} {
		if err := e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); client.IgnoreAlreadyExists(err) != nil {
			return nil, err
		}
	}

	e.step("Starting kube-controller-manager (garbage collection, namespace deletion, aggregated roles)")
	if err := e.startProc("kube-controller-manager", filepath.Join(o.Bins.Assets, "kube-controller-manager"), nil,
		"--kubeconfig="+e.Kubeconfig, "--controllers=garbage-collector-controller,namespace-controller,clusterrole-aggregation-controller",
		"--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=false"); err != nil {
		return nil, err
	}

	if err := os.MkdirAll(filepath.Join(o.Dir, "flux-storage"), 0o755); err != nil {
		return nil, err
	}
	fluxEnv := []string{"KUBECONFIG=" + e.Kubeconfig, "RUNTIME_NAMESPACE=flux-system"}
	// Every port the controllers serve on, chosen at once so that no two
	// are the same, and no metrics port (--metrics-addr=0): a controller
	// binding an ephemeral port while another has yet to bind its chosen
	// one could take it (source-controller's artifact server lost its port
	// so once).
	ports, err := freePorts(7)
	if err != nil {
		return nil, err
	}
	storage, events := ports[0], ports[1]
	e.ReceiverAddr = ports[2]
	health := map[string]string{}
	// Each controller's own flags; the settings add theirs. Every
	// controller but notification-controller sends it its events (Alerts).
	own := map[string][]string{
		fluxsettings.SourceController: {"--storage-path=" + filepath.Join(o.Dir, "flux-storage"),
			"--storage-addr=" + storage, "--storage-adv-addr=" + storage, "--events-addr=http://" + events},
		fluxsettings.KustomizeController:    {"--events-addr=http://" + events},
		fluxsettings.HelmController:         {"--events-addr=http://" + events},
		fluxsettings.NotificationController: {"--events-addr=" + events, "--receiverAddr=" + e.ReceiverAddr},
	}
	for i, c := range settings.Controllers() {
		health[c.Name] = ports[3+i]
		e.step("Starting Flux %s", c.Name)
		args := slices.Concat([]string{"--enable-leader-election=false", "--metrics-addr=0", "--health-addr=" + health[c.Name]}, own[c.Name], c.Args)
		if err := e.startProc(c.Name, filepath.Join(o.Bins.Flux, c.Name), slices.Concat(fluxEnv, c.Env), args...); err != nil {
			return nil, err
		}
	}
	if _, ok := health[fluxsettings.NotificationController]; !ok {
		e.ReceiverAddr = "" // notification-controller.enabled=false
	}
	for name, addr := range health {
		e.step("Waiting for %s to be healthy", name)
		if err := e.waitHTTP(ctx, name, "http://"+addr+"/healthz"); err != nil {
			return nil, err
		}
	}

	if o.ClusterOnly {
		return e, nil
	}
	if err := e.startHub(ctx, o, "127.0.0.1"); err != nil {
		return nil, err
	}

	mgrHealth, _ := freePort()
	e.step("Starting the manager and its agent")
	args := append([]string{"--metrics-bind-address=0", "--health-probe-bind-address=" + mgrHealth,
		"--dataplane-url=" + e.DataPlaneURL, "--dataplane-ca-file=" + e.DataPlaneCAFile,
		"--agent-token-file=" + e.TokenFile, "--cluster-resource-id=" + ClusterID,
		"--agent-long-poll=20s", "--agent-max-backoff=5s",
		// The chart's default container limit: the heap is kept under 90%
		// of it, as in a cluster (o.ManagerArgs may say otherwise).
		"--memory-limit=512Mi",
		// A development cluster with no admission policy: cluster scope in
		// any namespace but kube-*.
		"--cluster-scope-namespaces=*"}, append(settings.ManagerArgs(), o.ManagerArgs...)...)
	if err := e.startProc("manager", o.Bins.Manager, []string{"KUBECONFIG=" + e.Kubeconfig}, args...); err != nil {
		return nil, err
	}
	if err := e.waitHTTP(ctx, "manager", "http://"+mgrHealth+"/readyz"); err != nil {
		return nil, err
	}
	return e, nil
}

// startHub starts what the cluster syncs from, listening on host: the Git
// server, and the data plane with the cluster registered in it.
func (e *Env) startHub(ctx context.Context, o Options, host string) (err error) {
	e.step("Starting the Git server (HTTPS and SSH) on %s", host)
	if e.Git, err = gitserver.StartOn(filepath.Join(o.Dir, "git"), host); err != nil {
		return fmt.Errorf("git server: %w", err)
	}

	dpAddr, err := freePortOn(host)
	if err != nil {
		return err
	}
	e.DataPlaneURL = "https://" + dpAddr
	// The data plane serves HTTPS with a local CA it makes in its data
	// directory; the manager and the CLI trust that CA.
	e.DataPlaneCAFile = filepath.Join(o.Dir, "dataplane", "tls", tlsutil.CAFile)
	e.step("Starting the data plane on %s", e.DataPlaneURL)
	if err := e.startProc("dataplane", o.Bins.Dataplane, nil, "--listen="+dpAddr, "--data-dir="+filepath.Join(o.Dir, "dataplane")); err != nil {
		return err
	}
	if err := e.waitHTTP(ctx, "dataplane", e.DataPlaneURL+"/healthz"); err != nil {
		return err
	}
	e.OwnerFile = filepath.Join(o.Dir, "dataplane", dataplane.OwnerCredentialsFile)
	if e.Owner, err = dataplane.ReadCredentials(e.OwnerFile); err != nil {
		return fmt.Errorf("the data plane's owner: %w", err)
	}

	e.step("Registering the cluster (connectedk8s connect)")
	e.TokenFile = filepath.Join(o.Dir, "agent.token")
	if out, err := e.CLI("connectedk8s", "connect", "-n", "local", "-g", "local", "-l", "local", "--agent-token-file", e.TokenFile, "-o", "none"); err != nil {
		return fmt.Errorf("registering the cluster: %w: %s", err, out)
	}
	return nil
}

// cliTimeout bounds one CLI command, so that a hung one fails its test
// instead of the whole suite's timeout.
const cliTimeout = 2 * time.Minute

// CLI runs the arcgitops CLI against the data plane and returns its output.
func (e *Env) CLI(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.Bins.CLI, args...)
	cmd.Env = append(os.Environ(), "ARCGITOPS_DATAPLANE="+e.DataPlaneURL, "ARCGITOPS_CA_FILE="+e.DataPlaneCAFile,
		"ARCGITOPS_CLIENT_ID="+e.Owner.AppID, "ARCGITOPS_CLIENT_SECRET="+e.Owner.Password)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// freePorts are n distinct free loopback addresses, held open together
// while chosen.
func freePorts(n int) ([]string, error) {
	var lc net.ListenConfig
	out := make([]string, 0, n)
	for range n {
		l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out, nil
}

func freePort() (string, error) { return freePortOn("127.0.0.1") }

// freePortOn is a free address of host.
func freePortOn(host string) (string, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func (e *Env) startProc(name, bin string, env []string, args ...string) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: binary %s: %w", name, bin, err)
	}
	logPath := filepath.Join(e.Dir, "logs", name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	// Not CommandContext: a component lives until Stop, which ends it with
	// SIGTERM and waits; a context would SIGKILL it.
	cmd := exec.Command(bin, args...) //nolint:noctx // see above
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return fmt.Errorf("%s: failed to start: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = f.Close(); close(p.done) }()
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	return nil
}

// waitHTTP waits until url answers 200, failing early if name exits.
func (e *Env) waitHTTP(ctx context.Context, name, url string) error {
	p := e.find(name)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if p != nil {
			select {
			case <-p.done:
				return fmt.Errorf("%s exited while starting; its log: %s\n%s", name, p.log, e.LogTail(name, 20))
			default:
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		hc := http.DefaultClient
		if strings.HasPrefix(url, "https://") {
			// The data plane makes its CA on start: trusted once it exists.
			if cfg, err := tlsutil.ClientConfig(e.DataPlaneCAFile); err == nil {
				hc = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
			}
		}
		resp, err := hc.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not become ready at %s within 2 minutes; its log: %s", name, url, e.logPath(name))
}

// stop ends p with SIGTERM, and SIGKILL after 10 seconds.
func (p *proc) stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (e *Env) find(name string) *proc {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (e *Env) logPath(name string) string { return filepath.Join(e.Dir, "logs", name+".log") }

// Exited reports a process that stopped on its own, or "".
func (e *Env) Exited() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.procs {
		select {
		case <-p.done:
			return p.name
		default:
		}
	}
	return ""
}

// Components lists the started processes and their logs.
func (e *Env) Components() map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]string{}
	for _, p := range e.procs {
		out[p.name] = p.log
	}
	return out
}

// LogTail returns the last n lines of a component's log.
func (e *Env) LogTail(name string, n int) string {
	b, err := os.ReadFile(e.logPath(name))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Stop stops every process (SIGTERM, then SIGKILL), the Git server and the
// API server; attached to an external cluster, it first removes what it
// installed there (Cleanup).
func (e *Env) Stop() {
	if e.external != nil {
		if err := e.Cleanup(context.Background()); err != nil {
			e.step("Cleaning up the cluster: %v", err)
		}
	}
	e.mu.Lock()
	procs := append([]*proc(nil), e.procs...)
	e.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop()
	}
	if e.Git != nil {
		e.Git.Close()
	}
	if e.api != nil {
		_ = e.api.Stop()
	}
}

// BinariesFromEnv reads the binaries' locations from the environment that
// the Makefile sets: KUBEBUILDER_ASSETS, FLUX_BIN and BIN_DIR (manager,
// dataplane, arcgitops), and FLUX_CRDS for the CRDs.
func BinariesFromEnv() (Binaries, []string, error) {
	b := Binaries{Assets: os.Getenv("KUBEBUILDER_ASSETS"), Flux: os.Getenv("FLUX_BIN")}
	binDir := os.Getenv("BIN_DIR")
	var missing []string
	for k, v := range map[string]string{"KUBEBUILDER_ASSETS": b.Assets, "FLUX_BIN": b.Flux, "BIN_DIR": binDir, "FLUX_CRDS": os.Getenv("FLUX_CRDS")} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return b, nil, fmt.Errorf("%s not set: run this through make (make run, make test-e2e), which builds and locates the binaries", strings.Join(missing, ", "))
	}
	b.Manager = filepath.Join(binDir, "manager")
	b.Dataplane = filepath.Join(binDir, "dataplane")
	b.CLI = filepath.Join(binDir, "arcgitops")
	return b, strings.Split(os.Getenv("FLUX_CRDS"), ":"), nil
}
