// Package manager wires the operator: scheme, caches, controllers, probes
// and metrics. cmd/manager runs it; integration tests start the same wiring.
package manager

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	goruntime "runtime"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/agent"
	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/auth"
	"github.com/arcgitops/arcgitops/internal/cmdutil"
	fccontroller "github.com/arcgitops/arcgitops/internal/controller"
	"github.com/arcgitops/arcgitops/internal/tlsutil"
)

// Options are the manager's settings; every one is a flag.
type Options struct {
	MetricsAddr      string
	ProbeAddr        string
	PprofAddr        string
	LeaderElection   bool
	LeaderElectionNS string
	Concurrent       int
	MultiTenancy     bool
	SSHKeyAlgorithm  string
	SSHKeyWorkers    int
	Zap              zap.Options
	// MemoryLimit is the container's memory limit, and MemoryLimitRatio
	// the share of it Go's garbage collector keeps the process under.
	MemoryLimit      string
	MemoryLimitRatio float64

	// The agent runs when DataPlaneURL is set.
	DataPlaneURL   string
	AgentTokenFile string
	// DataPlaneCAFile is a PEM CA the agent trusts for the data plane,
	// besides the system's.
	DataPlaneCAFile string
	ClusterID       string
	Agent           agent.Options

	// FluxCheckInterval is how often a manager started without Flux's CRDs
	// looks for them (30s when zero).
	FluxCheckInterval time.Duration

	// SkipNameValidation lets tests start several managers in one process.
	SkipNameValidation bool
	// GenerateKeyPair replaces auth.GenerateKeyPair in the background key
	// pool, for tests.
	GenerateKeyPair func(auth.KeyAlgorithm) (*auth.KeyPair, error)
}

// DefaultOptions are the flag defaults.
func DefaultOptions() Options {
	return Options{
		MetricsAddr:      ":8080",
		ProbeAddr:        ":8081",
		PprofAddr:        "0",
		Concurrent:       4,
		MultiTenancy:     true,
		SSHKeyAlgorithm:  "rsa-4096",
		SSHKeyWorkers:    max(1, goruntime.GOMAXPROCS(0)/2),
		Agent:            agent.DefaultOptions(),
		MemoryLimit:      os.Getenv(cmdutil.MemoryLimitEnv),
		MemoryLimitRatio: 0.9,
	}
}

// BindFlags registers the options as flags on fs.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr, "The address the Prometheus metrics endpoint binds to; \"0\" turns it off.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", o.ProbeAddr, "The address the /healthz and /readyz probes bind to; \"0\" turns them off.")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", o.PprofAddr, "The address Go's /debug/pprof/ profiling endpoints bind to, e.g. 127.0.0.1:8082; \"0\" (the default) turns them off.")
	fs.BoolVar(&o.LeaderElection, "leader-elect", o.LeaderElection, "Elect a leader (a Lease) so that only one of several replicas reconciles.")
	fs.StringVar(&o.LeaderElectionNS, "leader-election-namespace", o.LeaderElectionNS, "The namespace of the leader election Lease (default: the namespace the manager runs in).")
	fs.StringVar(&o.MemoryLimit, "memory-limit", o.MemoryLimit, "The container's memory limit, e.g. 512Mi or a number of bytes (default: $MEMORY_LIMIT, which the Helm chart sets from the container's resources.limits.memory); Go's garbage collector then keeps the manager under --memory-limit-ratio of it (a soft limit, as GOMEMLIMIT; GOMEMLIMIT, when set, wins). Empty: no soft limit.")
	fs.Float64Var(&o.MemoryLimitRatio, "memory-limit-ratio", o.MemoryLimitRatio, "The share of --memory-limit the heap is kept under, above 0 and at most 1; the rest is left to goroutine stacks and memory not yet returned.")
	fs.IntVar(&o.Concurrent, "concurrent", o.Concurrent, "The number of FluxConfigs reconciled at the same time.")
	fs.BoolVar(&o.MultiTenancy, "enforce-multi-tenancy", o.MultiTenancy, "Make Kustomizations apply as the flux-applier ServiceAccount of their namespace (Azure's multiTenancy.enforce). When off, they apply as kustomize-controller, and namespace-scope configurations are refused (Stalled): nothing would confine them.")
	fs.StringVar(&o.SSHKeyAlgorithm, "ssh-key-algorithm", o.SSHKeyAlgorithm, "The algorithm of generated SSH key pairs: rsa-4096 (accepted by every Git host, including Azure DevOps), ecdsa-p256, ecdsa-p384, ecdsa-p521 or ed25519.")
	fs.IntVar(&o.SSHKeyWorkers, "ssh-key-workers", o.SSHKeyWorkers, "How many RSA key pairs are generated at once, in the background (default: half the CPUs); a burst of new SSH configurations waits for them without holding up other reconciles.")
	fs.StringVar(&o.DataPlaneURL, "dataplane-url", o.DataPlaneURL, "The data plane to sync with, e.g. https://127.0.0.1:8090, or its replicas' URLs separated by commas (the agent keeps to one while it answers, and moves to the next when it cannot be reached or answers 502, 503 or 504); the agent is off when empty.")
	fs.StringVar(&o.AgentTokenFile, "agent-token-file", o.AgentTokenFile, "A file holding the cluster's agent token (printed by connectedk8s connect).")
	fs.StringVar(&o.DataPlaneCAFile, "dataplane-ca-file", o.DataPlaneCAFile, "A PEM file of the CA that signed the data plane's certificate, trusted besides the system's (the data plane's own local CA is <data-dir>/tls/ca.crt).")
	fs.StringVar(&o.ClusterID, "cluster-resource-id", o.ClusterID, "The cluster's ARM resource ID, e.g. /subscriptions/SUB/resourceGroups/RG/providers/Microsoft.Kubernetes/connectedClusters/NAME.")
	fs.DurationVar(&o.Agent.LongPoll, "agent-long-poll", o.Agent.LongPoll, "How long the data plane may hold the agent's list request before answering 'not modified' (at most 60s).")
	fs.DurationVar(&o.Agent.PollInterval, "agent-poll-interval", o.Agent.PollInterval, "The pause between lists, with jitter, when the data plane answers at once instead of holding the request.")
	fs.DurationVar(&o.Agent.MaxBackoff, "agent-max-backoff", o.Agent.MaxBackoff, "The longest wait between retries while the data plane cannot be reached.")
	fs.Func("cluster-scope-namespaces", "Comma-separated namespaces the agent may place cluster-scope configurations in (default flux-system; * for any but kube-*); kube-* namespaces are refused to every configuration. Keep it equal to the admission policy's list (Helm value multiTenancy.clusterScopeNamespaces).",
		func(v string) error {
			o.Agent.ClusterScopeNamespaces = nil
			for _, ns := range strings.Split(v, ",") {
				if ns = strings.TrimSpace(ns); ns != "" {
					o.Agent.ClusterScopeNamespaces = append(o.Agent.ClusterScopeNamespaces, ns)
				}
			}
			if len(o.Agent.ClusterScopeNamespaces) == 0 {
				return errors.New("give at least one namespace, or * for any")
			}
			return nil
		})
	o.Zap.BindFlags(fs)
}

// Scheme returns a scheme with every type the manager reads or writes.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	utilruntime.Must(sourcev1.AddToScheme(s))
	utilruntime.Must(kustomizev1.AddToScheme(s))
	return s
}

// managedOnly caches only the objects the operator manages: a cluster's
// Secrets, ServiceAccounts and bindings are never all held in memory.
func managedOnly() cache.ByObject {
	return cache.ByObject{Label: labels.SelectorFromSet(labels.Set{v1alpha1.LabelIsManaged: "true"})}
}

// New returns a manager with the controllers registered, not started.
func New(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	alg, err := auth.ParseKeyAlgorithm(o.SSHKeyAlgorithm)
	if err != nil {
		return nil, fmt.Errorf("--ssh-key-algorithm: %w", err)
	}
	if o.Concurrent < 1 {
		return nil, fmt.Errorf("--concurrent must be at least 1, got %d", o.Concurrent)
	}
	if o.SSHKeyWorkers < 1 {
		return nil, fmt.Errorf("--ssh-key-workers must be at least 1, got %d", o.SSHKeyWorkers)
	}
	generate := auth.GenerateKeyPair
	if o.GenerateKeyPair != nil {
		generate = o.GenerateKeyPair
	}
	scheme := Scheme()
	// Flux's CRDs decide what the manager runs (and caches).
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("failed to reach the API server: %w", err)
	}
	missing, err := fccontroller.MissingFluxKinds(mapper)
	if err != nil {
		return nil, fmt.Errorf("failed to look up Flux's kinds: %w", err)
	}
	byObject := map[client.Object]cache.ByObject{
		// Secrets as metadata only, and read whole from the API server
		// (Client.Cache below): see controller.SecretMetadata.
		fccontroller.SecretMetadata(): managedOnly(),
		&corev1.ServiceAccount{}:      managedOnly(),
		&rbacv1.RoleBinding{}:         managedOnly(),
		&rbacv1.ClusterRoleBinding{}:  managedOnly(),
	}
	var deployed []schema.GroupVersionKind
	if len(missing) == 0 {
		// What the Kustomizations apply of the deployed kinds the cluster
		// serves: metadata only, and only what kustomize-controller applied.
		applied, err := labels.Parse(fccontroller.AppliedByKustomize)
		if err != nil {
			return nil, err
		}
		for _, gvk := range fccontroller.DeployedKinds() {
			if _, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
				deployed = append(deployed, gvk)
				byObject[fccontroller.DeployedMetadata(gvk)] = cache.ByObject{Label: applied}
			} else if !meta.IsNoMatchError(err) {
				return nil, fmt.Errorf("failed to look up %s: %w", gvk.Kind, err)
			}
		}
		byObject[&sourcev1.GitRepository{}] = managedOnly()
		byObject[&sourcev1.Bucket{}] = managedOnly()
		byObject[&sourcev1.OCIRepository{}] = managedOnly()
		byObject[&kustomizev1.Kustomization{}] = managedOnly()
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:  o.ProbeAddr,
		PprofBindAddress:        o.PprofAddr,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        "fluxconfig-manager.clusterconfig.azure.com",
		LeaderElectionNamespace: o.LeaderElectionNS,
		// A stopping leader hands over at once instead of after the lease.
		LeaderElectionReleaseOnCancel: true,
		Cache: cache.Options{
			// managedFields are most of an applied object's size, and unread.
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject:         byObject,
		},
		// A Secret read whole never starts an informer of whole Secrets.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("failed to create the manager: %w", err)
	}
	if len(missing) > 0 {
		// Start anyway: FluxConfigs say what is missing, deletions finish,
		// and the manager restarts once Flux is installed.
		ctrl.Log.WithName("setup").Info("Flux's CRDs are not installed: FluxConfigs are reported as waiting for them", "missing", missing)
		if err := (&fccontroller.FluxMissingReconciler{Client: mgr.GetClient(), Missing: missing}).
			SetupWithManager(mgr, controller.Options{SkipNameValidation: &o.SkipNameValidation}); err != nil {
			return nil, err
		}
		interval := o.FluxCheckInterval
		if interval <= 0 {
			interval = 30 * time.Second
		}
		if err := mgr.Add(&fccontroller.FluxArrival{Mapper: mapper, Interval: interval}); err != nil {
			return nil, err
		}
	} else if err := (&fccontroller.FluxConfigReconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		SecretCache:  mgr.GetCache(),
		Scheme:       scheme,
		Recorder:     mgr.GetEventRecorder("fluxconfig-controller"),
		KeyAlgorithm: alg,
		Keys: &auth.KeyPool{
			Generate: func() (*auth.KeyPair, error) { return generate(alg) },
			Workers:  o.SSHKeyWorkers,
		},
		MultiTenancy:  o.MultiTenancy,
		WatchDeployed: deployed,
	}).SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: o.Concurrent, SkipNameValidation: &o.SkipNameValidation}); err != nil {
		return nil, fmt.Errorf("failed to set up the FluxConfig controller: %w", err)
	}
	if err := (&fccontroller.ApplierReconciler{
		Client: mgr.GetClient(),
		Scheme: scheme,
	}).SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: 1, SkipNameValidation: &o.SkipNameValidation}); err != nil {
		return nil, fmt.Errorf("failed to set up the flux-applier controller: %w", err)
	}
	if o.DataPlaneURL != "" {
		if err := setupAgent(mgr, o); err != nil {
			return nil, err
		}
	}
	if err := fccontroller.RegisterMetrics(mgr); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("failed to add the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("failed to add the ready check: %w", err)
	}
	return mgr, nil
}

// Run starts the manager against the cluster of $KUBECONFIG (or in-cluster
// config) and blocks until SIGINT or SIGTERM.
func Run(o Options) error {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.Zap)))
	soft, err := cmdutil.SetMemoryLimit(o.MemoryLimit, o.MemoryLimitRatio)
	if err != nil {
		return err
	}
	if soft > 0 {
		ctrl.Log.WithName("setup").Info("Soft memory limit set", "bytes", soft, "memoryLimit", o.MemoryLimit, "ratio", o.MemoryLimitRatio)
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("failed to load the Kubernetes config: %w", err)
	}
	mgr, err := New(cfg, o)
	if err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("Starting the manager",
		"multiTenancy", o.MultiTenancy, "sshKeyAlgorithm", o.SSHKeyAlgorithm, "concurrent", o.Concurrent)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// setupAgent adds the agent to mgr.
func setupAgent(mgr ctrl.Manager, o Options) error {
	if o.AgentTokenFile == "" || o.ClusterID == "" {
		return fmt.Errorf("--dataplane-url needs --agent-token-file and --cluster-resource-id")
	}
	// Read once to fail early; the agent reads it again when it changes.
	raw, err := os.ReadFile(o.AgentTokenFile)
	if err != nil {
		return fmt.Errorf("--agent-token-file: %w", err)
	}
	if strings.TrimSpace(string(raw)) == "" {
		return fmt.Errorf("--agent-token-file %s is empty", o.AgentTokenFile)
	}
	urls, err := dataPlaneURLs(o.DataPlaneURL)
	if err != nil {
		return err
	}
	tlsConfig, err := tlsutil.ClientConfig(o.DataPlaneCAFile)
	if err != nil {
		return fmt.Errorf("--dataplane-ca-file: %w", err)
	}
	a := &agent.Agent{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Cache:     mgr.GetCache(),
		DataPlane: &agentapi.Client{BaseURLs: urls, ClusterID: o.ClusterID, TokenFile: o.AgentTokenFile,
			HTTP: &http.Client{Timeout: agentapi.MaxWait + 30*time.Second,
				Transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment}}},
		Options: o.Agent,
		Log:     ctrl.Log.WithName("agent"),
	}
	if err := a.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the agent: %w", err)
	}
	return nil
}

// dataPlaneURLs reads --dataplane-url: one URL, or its replicas' separated
// by commas.
func dataPlaneURLs(flag string) ([]string, error) {
	urls := strings.Split(flag, ",")
	for i, u := range urls {
		u = strings.TrimSpace(u)
		if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return nil, fmt.Errorf("--dataplane-url %q must be an http(s) URL, or several separated by commas", u)
		}
		urls[i] = u
	}
	return urls, nil
}
