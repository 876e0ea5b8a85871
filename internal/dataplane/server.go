// Package dataplane is the stand-in for Azure's Kubernetes Configuration
// data plane: the ARM-shaped API for fluxConfigurations and cluster
// registration, and the API the agents in the clusters poll and report to.
//
// Handlers are thin: decode, validate (internal/validation, the CRD's own
// rules), call the store, encode.
package dataplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/identity"
	"github.com/arcgitops/arcgitops/internal/portal"
)

// Options configure a Server.
type Options struct {
	// DataDir holds the store (unless Etcd is set) and the keys.
	DataDir string
	// Etcd, when set, keeps the store on etcd instead of in DataDir.
	Etcd *store.EtcdOptions
	// KeysDir holds the protected settings keys (default DataDir), and
	// SigningKeysDir the token signing keys (default KeysDir/token-signing).
	// Replicas share them (Secrets mounted in each): InitKeys makes them.
	KeysDir, SigningKeysDir string
	// ProtectedSettingsTTL is how long protected settings wait for their
	// cluster (Azure: 48 hours).
	ProtectedSettingsTTL time.Duration
	// RemediationClaimTTL is how long a replica running a remediation may
	// go unheard (it renews its claim every third of it while it works) before
	// another replica takes the remediation over.
	RemediationClaimTTL time.Duration
	// ResetProtectedSettings gives up, at start, protected settings whose
	// encryption key is missing (their configurations are marked Failed);
	// without it the data plane refuses to start with them.
	ResetProtectedSettings bool
	// RotateProtectedSettingsKey makes a new encryption key active at start
	// and seals every protected setting again with it.
	RotateProtectedSettingsKey bool
	// TokenGracePeriod is how long a regenerated agent token's predecessor
	// stays valid, so that a running agent picks up the new one without a
	// gap; 0 revokes it at once.
	TokenGracePeriod time.Duration
	// MaxBodyBytes caps request bodies.
	MaxBodyBytes int64
	// MaxConcurrentBodies caps the requests with a body (PUT, PATCH, POST)
	// read and decoded at once, so that body memory stays under
	// MaxConcurrentBodies x MaxBodyBytes; others wait for a slot (up to
	// BodySlotWait, then 503 with Retry-After).
	MaxConcurrentBodies int
	BodySlotWait        time.Duration
	// PageSize is the number of items per LIST page.
	PageSize int
	// MaxClustersPerSubscription and MaxConfigsPerCluster are quotas, as in
	// ARM, so that the store cannot be filled.
	MaxClustersPerSubscription int
	MaxConfigsPerCluster       int
	// SourceHostAllowlist, when set, lists the source hosts configurations
	// may read from (shell patterns such as *.github.com); empty allows any.
	SourceHostAllowlist []string
	// TenantID and Subscriptions are what GET /tenants and /subscriptions
	// serve (DefaultTenant and DefaultSubscription when empty).
	TenantID      string
	Subscriptions []Subscription
	// ExternalURL is the scheme and host clients reach the data plane at
	// (behind a proxy or load balancer), used in nextLink and Location;
	// empty means the address each connection came in on.
	ExternalURL string
	// Issuer is the iss of the built-in issuer's tokens, e.g.
	// https://hub.example.com/adfs (default: ExternalURL + "/adfs", or
	// https://localhost/adfs without one).
	Issuer string
	// Audience is the aud of its tokens (DefaultAudience when empty).
	Audience string
	// TokenLifetime is how long an access token is valid.
	TokenLifetime time.Duration
	// NewOwner makes a new owner principal at start, with Owner at the root
	// scope, and writes its credentials to OwnerCredentialsFile, even when
	// other owners exist: the way back in after their secrets are lost.
	NewOwner bool
	// RotateSigningKey makes a new token signing key active at start; the
	// old one verifies the tokens it signed until they expire.
	RotateSigningKey bool
	// OIDCIssuerURL, when set, is an external OpenID Connect issuer whose
	// access tokens (aud OIDCAudience) are accepted too, their oid (or sub)
	// claim naming the principal in role assignments. OIDCHTTPClient reads
	// its discovery document and keys (http.DefaultClient when nil).
	OIDCIssuerURL  string
	OIDCAudience   string
	OIDCHTTPClient *http.Client
	// PortalOIDCClientID, when set, lets users sign in to the portal
	// through the external issuer (authorization code with PKCE), as this
	// client; PortalOIDCClientSecret is empty for a public client. Its
	// redirect URI is <hub URL>/portal/oidc/callback.
	PortalOIDCClientID     string
	PortalOIDCClientSecret string
	// SignInFailureRate and SignInFailureBurst limit failed sign-ins per
	// client ID and address; 0 turns the limit off.
	SignInFailureRate  float64
	SignInFailureBurst int
	// ActivityLogRetention is how long activity log events are kept
	// (Azure: 90 days); 0 keeps them forever.
	ActivityLogRetention time.Duration
	// RatePerSecond and Burst limit requests per identity (agent cluster or
	// client address); 0 turns the limit off.
	RatePerSecond float64
	Burst         int
	// Log receives access logs and errors; never request bodies or tokens.
	Log logr.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// DefaultOptions are the defaults of the command's flags.
func DefaultOptions() Options {
	return Options{
		ProtectedSettingsTTL:       48 * time.Hour,
		RemediationClaimTTL:        RunnerTTL,
		TokenGracePeriod:           time.Hour,
		MaxBodyBytes:               1 << 20,
		MaxConcurrentBodies:        64,
		MaxClustersPerSubscription: 10000,
		MaxConfigsPerCluster:       100,
		BodySlotWait:               10 * time.Second,
		PageSize:                   100,
		TokenLifetime:              time.Hour,
		Audience:                   DefaultAudience,
		SignInFailureRate:          1,
		SignInFailureBurst:         10,
		ActivityLogRetention:       90 * 24 * time.Hour,
		RatePerSecond:              50,
		Burst:                      100,
		Log:                        logr.Discard(),
	}
}

// Server serves the data plane API.
type Server struct {
	opts   Options
	store  store.Store
	sealer *sealer
	notify *notifier
	// policy evaluates policy assignments in the background.
	policy  *policyEngine
	limiter *limiters
	// signinFailures limits wrong secrets per client ID and address.
	signinFailures *limiters
	issuer         *identity.Issuer
	external       *identity.External
	bodies         chan struct{} // a slot per request body being read
	metrics        *serverMetrics
	handler        http.Handler
	// graph is the Resource Graph index; stopGraph ends its updates.
	graph     *graphIndex
	stopGraph context.CancelFunc
	graphDone chan struct{}
	// beating holds the clusters (by key) whose heartbeat is being
	// written.
	beating sync.Map
	portal  *portal.Portal
}

// New opens the store (in opts.DataDir, or on etcd) and returns a Server.
func New(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("a data directory is required")
	}
	if opts.RemediationClaimTTL < MinRunnerTTL {
		return nil, fmt.Errorf("the remediation claim TTL %s is too short: give at least %s (a runner renews its claim every third of it, and writes its progress every second)", opts.RemediationClaimTTL, MinRunnerTTL)
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil { // bbolt makes it; etcd does not
		return nil, fmt.Errorf("failed to create the data directory %s: %w", opts.DataDir, err)
	}
	if opts.KeysDir == "" {
		opts.KeysDir = opts.DataDir
	}
	if opts.SigningKeysDir == "" {
		opts.SigningKeysDir = filepath.Join(opts.KeysDir, "token-signing")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.MaxConcurrentBodies <= 0 {
		opts.MaxConcurrentBodies = DefaultOptions().MaxConcurrentBodies
	}
	if opts.TenantID == "" {
		opts.TenantID = DefaultTenant
	}
	if len(opts.Subscriptions) == 0 {
		opts.Subscriptions = []Subscription{DefaultSubscription}
	}
	if opts.MaxClustersPerSubscription <= 0 {
		opts.MaxClustersPerSubscription = DefaultOptions().MaxClustersPerSubscription
	}
	if opts.MaxConfigsPerCluster <= 0 {
		opts.MaxConfigsPerCluster = DefaultOptions().MaxConfigsPerCluster
	}
	if opts.BodySlotWait <= 0 {
		opts.BodySlotWait = DefaultOptions().BodySlotWait
	}
	if opts.Audience == "" {
		opts.Audience = DefaultAudience
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = DefaultOptions().TokenLifetime
	}
	if opts.Issuer == "" {
		opts.Issuer = "https://localhost/adfs"
		if opts.ExternalURL != "" {
			opts.Issuer = strings.TrimSuffix(opts.ExternalURL, "/") + "/adfs"
		}
	}
	var st store.Store
	var err error
	if opts.Etcd != nil {
		st, err = store.OpenEtcd(*opts.Etcd)
	} else {
		st, err = store.OpenBolt(opts.DataDir)
	}
	if err != nil {
		return nil, err
	}
	s, err := newServer(opts, st)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return s, nil
}

// newServer sets up the keys, the issuers and the handlers over st.
func newServer(opts Options, st store.Store) (*Server, error) {
	sl, err := openSealer(opts, st)
	if err != nil {
		return nil, err
	}
	keys, err := identity.LoadKeys(opts.SigningKeysDir, opts.RotateSigningKey, opts.TokenLifetime+time.Minute, opts.Now())
	if err != nil {
		return nil, fmt.Errorf("token signing keys: %w", err)
	}
	s := &Server{
		opts:           opts,
		store:          st,
		sealer:         sl,
		notify:         newNotifier(),
		limiter:        newLimiters(opts.RatePerSecond, opts.Burst),
		signinFailures: newLimiters(opts.SignInFailureRate, opts.SignInFailureBurst),
		issuer:         &identity.Issuer{Keys: keys, URL: opts.Issuer, Audience: opts.Audience, TenantID: opts.TenantID, Lifetime: opts.TokenLifetime},
		bodies:         make(chan struct{}, opts.MaxConcurrentBodies),
		metrics:        newServerMetrics(),
	}
	s.graph = newGraphIndex(s)
	s.store = indexedStore{Store: st, idx: s.graph}
	s.policy = newPolicyEngine(s)
	_, s.policy.shared = st.(store.Watcher)
	if err := s.ensureOwner(); err != nil {
		return nil, err
	}
	var portalOIDC *portal.OIDC
	if opts.OIDCIssuerURL != "" {
		hc := opts.OIDCHTTPClient
		if hc == nil {
			hc = http.DefaultClient
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if s.external, err = identity.NewExternal(ctx, opts.OIDCIssuerURL, opts.OIDCAudience, hc); err != nil {
			return nil, err
		}
		if opts.PortalOIDCClientID != "" {
			if portalOIDC, err = portal.NewOIDC(ctx, opts.OIDCIssuerURL, opts.PortalOIDCClientID, opts.PortalOIDCClientSecret, hc); err != nil {
				return nil, err
			}
		}
	} else if opts.PortalOIDCClientID != "" {
		return nil, errors.New("the portal's OpenID Connect client needs its issuer: set --oidc-issuer-url (and --oidc-audience)")
	}
	s.portal = portal.New(portal.Options{Backend: portalBackend{s}, Now: opts.Now, Log: opts.Log.WithName("portal"),
		OIDC: portalOIDC, BaseURL: s.baseURL})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", s.route)
	s.handler = s.accessLog(mux)
	ctx, cancel := context.WithCancel(context.Background())
	if w, ok := st.(store.Watcher); ok {
		// Other replicas write too: their commits wake this one's long
		// polls and update its index. Watching starts before the index
		// loads, so that no write falls between.
		if err := w.Watch(ctx, s.storeChanged); err != nil {
			cancel()
			return nil, fmt.Errorf("watching the store: %w", err)
		}
	}
	if err := s.graph.load(); err != nil {
		cancel()
		return nil, fmt.Errorf("the Resource Graph index: %w", err)
	}
	s.graphDone = make(chan struct{})
	s.stopGraph = cancel
	go func() { defer close(s.graphDone); s.graph.run(ctx) }()
	s.policy.start()
	return s, nil
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// DataDir is the data directory the server keeps its state in.
func (s *Server) DataDir() string { return s.opts.DataDir }

// Close stops the policy engine and the index, and closes the store.
func (s *Server) Close() error {
	s.policy.stop()
	if s.stopGraph != nil {
		s.stopGraph()
		<-s.graphDone
		s.stopGraph = nil
	}
	return s.store.Close()
}

// Serve serves on l until ctx ends, then shuts down gracefully, and expires
// protected settings meanwhile.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long polls last up to agentapi.MaxWait.
		WriteTimeout: 90 * time.Second,
		IdleTimeout:  120 * time.Second,
		BaseContext:  func(net.Listener) context.Context { return ctx },
	}
	go s.expireLoop(ctx)
	errCh := make(chan error, 1)
	go func() { errCh <- srv.Serve(l) }()
	select {
	case err := <-errCh:
		return err
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	}
}

// apiError is an ARM error response.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func writeError(w http.ResponseWriter, e *apiError) {
	if e.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.status, arm.ErrorResponse{Error: arm.ErrorDetail{Code: e.code, Message: e.message}})
}

// serveOne answers a GET of one stored resource: read it, 404 with
// notFound when it is not there, else render it.
func serveOne[T any](s *Server, w http.ResponseWriter, read func(store.Tx) (*T, error), notFound *apiError, render func(*T) map[string]any) {
	var v *T
	err := s.store.View(func(tx store.Tx) (err error) { v, err = read(tx); return err })
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, notFound)
	case err != nil:
		s.fail(w, err)
	default:
		writeJSON(w, http.StatusOK, render(v))
	}
}

// serveList answers a GET of a list: value holds what comes first (built-
// ins), then the stored ones read returns that keep accepts, rendered.
func serveList[T any](s *Server, w http.ResponseWriter, value []any, read func(store.Tx) ([]T, error), keep func(*T) bool, render func(*T) map[string]any) {
	if value == nil {
		value = []any{}
	}
	err := s.store.View(func(tx store.Tx) error {
		all, err := read(tx)
		for i := range all {
			if keep == nil || keep(&all[i]) {
				value = append(value, render(&all[i]))
			}
		}
		return err
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": value})
}

// putStatus is ARM's status for a PUT: 201 when it created the resource,
// 200 when it updated it.
func putStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func internalError() *apiError {
	return &apiError{http.StatusInternalServerError, "InternalServerError", "The data plane failed to process the request; it has been logged."}
}

// withBodySlot runs next for a request that carries a body once a body
// slot is free; it answers 503 with Retry-After when none frees up within
// BodySlotWait, and nothing when the client went away meanwhile.
func (s *Server) withBodySlot(w http.ResponseWriter, r *http.Request, next func()) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodOptions:
		next()
		return
	}
	t := time.NewTimer(s.opts.BodySlotWait)
	defer t.Stop()
	select {
	case s.bodies <- struct{}{}:
		defer func() { <-s.bodies }()
		next()
	case <-t.C:
		w.Header().Set("Retry-After", "1")
		writeError(w, &apiError{http.StatusServiceUnavailable, "ServerBusy",
			"The data plane is reading as many request bodies as it may at once: retry after a second."})
	case <-r.Context().Done():
	}
}

// storeChanged takes what a store shared by replicas says any of them
// committed: a cluster's new desired state wakes its long polls here, a
// changed record goes to the index. When the store lost its place, the
// index is built again and every long poll woken.
func (s *Server) storeChanged(cs []store.Change) {
	var idx []change
	assignments := false
	for _, c := range cs {
		switch kind := indexedBuckets[c.Bucket]; {
		case c.Bucket == "":
			if err := s.graph.rebuild(); err != nil {
				s.opts.Log.Error(err, "Failed to rebuild the Resource Graph index after the store's watch lost its place")
			}
			s.notify.changedAll()
			assignments = true
		case c.Bucket == store.ChangedRevision:
			s.notify.changed(c.Key)
		case kind != "":
			idx = append(idx, change{kind, c.Key})
		}
		assignments = assignments || c.Bucket == store.ChangedPolicyAssignment
	}
	s.graph.changed(idx)
	if assignments && s.policy != nil {
		// An assignment made through another replica: this one's engine
		// evaluates from now on too.
		s.policy.refresh()
	}
}

// indexedBuckets are the kinds of index change of the store's buckets.
var indexedBuckets = map[string]string{store.ChangedCluster: chCluster, store.ChangedConfig: chConfig, store.ChangedGroup: chGroup,
	store.ChangedVault: chVault, store.ChangedExtension: chExtension, store.ChangedPolicyState: chState,
	store.ChangedPolicyAssignment: chAssignment}

// notifier wakes long polls when a cluster's desired state changes.
type notifier struct {
	mu      sync.Mutex
	waiters map[string]chan struct{}
}

func newNotifier() *notifier { return &notifier{waiters: map[string]chan struct{}{}} }

// wait returns a channel closed at the next change of clusterKey.
func (n *notifier) wait(clusterKey string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch, ok := n.waiters[clusterKey]
	if !ok {
		ch = make(chan struct{})
		n.waiters[clusterKey] = ch
	}
	return ch
}

// changed wakes every waiter of clusterKey.
func (n *notifier) changed(clusterKey string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ch, ok := n.waiters[clusterKey]; ok {
		close(ch)
		delete(n.waiters, clusterKey)
	}
}

// changedAll wakes every waiter.
func (n *notifier) changedAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, ch := range n.waiters {
		close(ch)
		delete(n.waiters, k)
	}
}

// limiters rate-limits per identity.
type limiters struct {
	mu    sync.Mutex
	rps   rate.Limit
	burst int
	by    map[string]*rate.Limiter
}

func newLimiters(rps float64, burst int) *limiters {
	return &limiters{rps: rate.Limit(rps), burst: burst, by: map[string]*rate.Limiter{}}
}

// has reports whether identity has a request left, without taking it.
func (l *limiters) has(identity string) bool {
	if l.rps <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.by[identity]
	return !ok || lim.Tokens() >= 1
}

func (l *limiters) allow(identity string) bool {
	if l.rps <= 0 {
		return true
	}
	l.mu.Lock()
	lim, ok := l.by[identity]
	if !ok {
		if len(l.by) > 100000 {
			l.by = map[string]*rate.Limiter{} // bound memory; forgets old identities
		}
		lim = rate.NewLimiter(l.rps, l.burst)
		l.by[identity] = lim
	}
	l.mu.Unlock()
	return lim.Allow()
}

type serverMetrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	polling  prometheus.Gauge
	// evaluations counts the policy engine's cluster evaluations.
	evaluations prometheus.Counter
}

func newServerMetrics() *serverMetrics {
	m := &serverMetrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dataplane_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dataplane_http_request_duration_seconds", Help: "HTTP request durations by route and method (long polls included).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 60},
		}, []string{"route", "method"}),
		polling: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dataplane_long_polls", Help: "Agent long polls waiting for a change.",
		}),
		evaluations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dataplane_policy_evaluations_total", Help: "Evaluations of a cluster (and its configurations) against the policy assignments covering it.",
		}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.polling, m.evaluations,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// statusRecorder remembers the status code for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController flush and set deadlines (the
// portal's event stream).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// metricMethod is the method as a metrics label: the methods the data plane
// serves, and "other" for any other, so that clients cannot invent label
// values (5,000 made-up methods grew /metrics to 6.9 MiB).
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodPost, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// reqInfo is what the handlers learn of a request for the access log,
// the metrics and the activity log: its route (without IDs), the ARM
// operation and scope it asked for, and its caller.
type reqInfo struct {
	route         string
	action, scope string
	caller        *caller
}

type reqInfoKey struct{}

func infoOf(r *http.Request) *reqInfo {
	info, _ := r.Context().Value(reqInfoKey{}).(*reqInfo)
	return info
}

func setRoute(r *http.Request, route string) {
	if info := infoOf(r); info != nil {
		info.route = route
	}
}

// setOperation records the ARM action and scope a request asked for.
func setOperation(r *http.Request, action, scope string) {
	if info := infoOf(r); info != nil {
		info.action, info.scope = action, scope
	}
}

// accessLog logs one structured line per request: method, path, status,
// duration. Never headers (tokens) or bodies (protected settings).
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.opts.Now()
		info := &reqInfo{route: "other"}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := info.route
		d := s.opts.Now().Sub(start)
		method := metricMethod(r.Method)
		s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(rec.status)).Inc()
		s.metrics.duration.WithLabelValues(route, method).Observe(d.Seconds())
		s.opts.Log.V(1).Info("Request", "method", r.Method, "path", r.URL.Path, "route", route,
			"status", rec.status, "durationMs", d.Milliseconds(), "remote", r.RemoteAddr)
	})
}

// expireLoop drops protected settings that waited longer than the TTL.
func (s *Server) expireLoop(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if err := s.ExpireProtectedSettings(); err != nil {
			s.opts.Log.Error(err, "Failed to expire protected settings")
		}
		if err := s.pruneActivity(); err != nil {
			s.opts.Log.Error(err, "Failed to prune the activity log")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ExpireProtectedSettings drops protected settings older than the TTL and
// marks their configurations Failed, as Azure does after 48 hours.
func (s *Server) ExpireProtectedSettings() error {
	now := s.opts.Now()
	var changed []string
	err := s.store.Update(func(tx store.Tx) (err error) {
		changed, err = eachSealed(tx, func(_ *store.Cluster, cfg *store.Config) (bool, error) {
			if now.Sub(cfg.Protected.CreatedAt) < s.opts.ProtectedSettingsTTL {
				return false, nil
			}
			cfg.Protected = nil
			cfg.Error = fmt.Sprintf("The protected settings expired after %s without reaching the cluster: "+
				"re-apply the configuration with its protected settings once the cluster is connected.", s.opts.ProtectedSettingsTTL)
			return true, nil
		})
		return err
	})
	for _, k := range changed {
		s.notify.changed(k)
	}
	return err
}
