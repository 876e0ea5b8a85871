// Command dataplane serves the stand-in for Azure's Kubernetes Configuration
// data plane: the ARM API for fluxConfigurations and cluster registration,
// and the API the agents poll.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/arcgitops/arcgitops/internal/cmdutil"
	"github.com/arcgitops/arcgitops/internal/dataplane"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
	"github.com/arcgitops/arcgitops/internal/tlsutil"
)

func main() {
	subcommands := map[string]func([]string) error{"migrate": migrate, "init-keys": initKeys, "init-owner": initOwner}
	if len(os.Args) > 1 && subcommands[os.Args[1]] != nil {
		err := subcommands[os.Args[1]](os.Args[2:])
		if errors.Is(err, flag.ErrHelp) {
			return // its usage is printed
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "dataplane %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dataplane:", err)
		os.Exit(1)
	}
}

func run() error {
	opts := dataplane.DefaultOptions()
	listen := flag.String("listen", "127.0.0.1:8090", "The address to serve on (HTTPS).")
	certFile := flag.String("tls-cert-file", "", "PEM certificate to serve HTTPS with (read again when it changes); empty: a certificate from a local CA made in <data-dir>/tls, whose ca.crt clients trust (--ca-file, ARCGITOPS_CA_FILE).")
	keyFile := flag.String("tls-key-file", "", "PEM private key of --tls-cert-file.")
	insecureHTTP := flag.Bool("insecure-http", false, "Serve plain HTTP instead of HTTPS, for tests only: refused unless --listen is a loopback address, since agent tokens and protected settings would cross the network in clear.")
	flag.StringVar(&opts.DataDir, "data-dir", "./dataplane-data", "The directory of the store (dataplane.db, with --store=bolt), of the local CA and owner credentials it makes, and, unless --keys-dir says otherwise, of the keys (protected-settings.key, token-signing/; created 0600 on first start; back them up with the store).")
	flag.StringVar(&opts.KeysDir, "keys-dir", "", "The directory of the protected settings keys (default: --data-dir). Replicas share it, read-only (a Secret mounted in each); dataplane init-keys makes its files.")
	flag.StringVar(&opts.SigningKeysDir, "signing-keys-dir", "", "The directory of the token signing keys (default: <keys-dir>/token-signing); replicas share it as --keys-dir.")
	storeKind := flag.String("store", "bolt", "Where the store is: bolt (dataplane.db in --data-dir, the embedded default) or etcd (--etcd-endpoints; replicas share it, and their keys: --keys-dir).")
	etcdEndpoints := flag.String("etcd-endpoints", "", "Comma-separated client URLs of the etcd cluster, with --store=etcd. Run etcd with --max-txn-ops=10000 --max-request-bytes=33554432: an update writes all its keys in one etcd transaction.")
	etcdPrefix := flag.String("etcd-prefix", "/arcgitops/", "The key prefix of this hub in etcd (one etcd can hold several hubs); ends with /.")
	etcdCA := flag.String("etcd-ca-file", "", "PEM file of the CA that signed etcd's serving certificate (https endpoints).")
	etcdCert := flag.String("etcd-cert-file", "", "PEM client certificate for etcd's client authentication.")
	etcdKey := flag.String("etcd-key-file", "", "PEM private key of --etcd-cert-file.")
	flag.DurationVar(&opts.ProtectedSettingsTTL, "protected-settings-ttl", opts.ProtectedSettingsTTL, "How long protected settings wait for their cluster before the configuration fails (Azure: 48h).")
	flag.DurationVar(&opts.RemediationClaimTTL, "remediation-claim-ttl", opts.RemediationClaimTTL, "With replicas (--store=etcd): how long the replica running a remediation may go unheard (it renews its claim every third of it while it works) before another takes the remediation over, going on from the clusters marked done. At least 3s.")
	flag.BoolVar(&opts.ResetProtectedSettings, "reset-protected-settings", false, "Recovery after losing the encryption key: give up the protected settings whose key is missing (their configurations are marked Failed until they are given again) instead of refusing to start.")
	flag.BoolVar(&opts.RotateProtectedSettingsKey, "rotate-protected-settings-key", false, "Make a new encryption key active at start and seal every waiting protected setting again with it; the old key is kept as protected-settings.<id>.retired.key.")
	flag.DurationVar(&opts.TokenGracePeriod, "agent-token-grace", opts.TokenGracePeriod, "How long a regenerated agent token's predecessor stays valid, so that a running agent picks up the new one; 0 revokes it at once.")
	flag.Int64Var(&opts.MaxBodyBytes, "max-body-bytes", opts.MaxBodyBytes, "The largest request body accepted.")
	flag.IntVar(&opts.PageSize, "page-size", opts.PageSize, "Items per LIST page (more are reached through nextLink).")
	flag.IntVar(&opts.MaxClustersPerSubscription, "max-clusters-per-subscription", opts.MaxClustersPerSubscription, "Quota: clusters one subscription may register (409 QuotaExceeded beyond). Replicas on etcd check it without making concurrent registrations wait for each other, so it may be passed by as many as commit at once.")
	flag.IntVar(&opts.MaxConfigsPerCluster, "max-configurations-per-cluster", opts.MaxConfigsPerCluster, "Quota: fluxConfigurations one cluster may have (409 QuotaExceeded beyond).")
	flag.Func("source-host-allowlist", "Comma-separated hosts (shell patterns such as *.github.com) that sources may be fetched from; empty (the default) allows any, internal addresses included, as Flux does.", func(v string) error {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				if _, err := path.Match(h, ""); err != nil {
					return fmt.Errorf("%q is not a shell pattern: %w", h, err)
				}
				opts.SourceHostAllowlist = append(opts.SourceHostAllowlist, h)
			}
		}
		return nil
	})
	flag.StringVar(&opts.TenantID, "tenant-id", dataplane.DefaultTenant, "The tenant GET /tenants and the subscriptions name (az login --tenant).")
	flag.Func("subscription", "A subscription to serve, as ID or ID=display name; repeat for more (default "+dataplane.DefaultSubscription.ID+"="+dataplane.DefaultSubscription.DisplayName+").", func(v string) error {
		id, name, _ := strings.Cut(v, "=")
		if id = strings.TrimSpace(id); id == "" || !regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`).MatchString(id) {
			return fmt.Errorf("%q is not a subscription ID: use letters, digits and '-'", v)
		}
		if name == "" {
			name = id
		}
		opts.Subscriptions = append(opts.Subscriptions, dataplane.Subscription{ID: id, DisplayName: name})
		return nil
	})
	flag.StringVar(&opts.ExternalURL, "external-url", "", "The URL clients reach the data plane at, e.g. https://hub.example.com, used in nextLink and Location; empty: the address each connection came in on (never the client's Host header).")
	flag.IntVar(&opts.MaxConcurrentBodies, "max-concurrent-bodies", opts.MaxConcurrentBodies, "Requests with a body read and handled at once (bounds memory to this many times --max-body-bytes); others wait up to 10s, then get 503.")
	flag.Float64Var(&opts.RatePerSecond, "rate-limit", opts.RatePerSecond, "Requests per second allowed per client or agent (0: no limit); over it the answer is 429 with Retry-After.")
	flag.IntVar(&opts.Burst, "rate-burst", opts.Burst, "Requests a client or agent may send at once before the rate limit applies.")
	flag.StringVar(&opts.Issuer, "token-issuer", "", "The iss of the access tokens the built-in issuer signs and accepts, e.g. https://hub.example.com/adfs; empty: --external-url + /adfs, else https://<--listen>/adfs.")
	flag.StringVar(&opts.Audience, "audience", opts.Audience, "The aud of the built-in issuer's access tokens: the resource ID clients ask a token for (az cloud register --endpoint-active-directory-resource-id).")
	flag.DurationVar(&opts.TokenLifetime, "token-lifetime", opts.TokenLifetime, "How long an access token of the built-in issuer is valid.")
	flag.BoolVar(&opts.NewOwner, "new-owner", false, "Make a new owner principal at start (Owner at the root scope) and write its credentials to <data-dir>/owner-credentials.json (0600), even when owners exist: the way back in for whoever holds the data directory after the owners' secrets are lost.")
	flag.BoolVar(&opts.RotateSigningKey, "rotate-signing-key", false, "Make a new token signing key active at start (in <data-dir>/token-signing); the old one keeps verifying the tokens it signed until they expire, so nobody is signed out.")
	flag.StringVar(&opts.OIDCIssuerURL, "oidc-issuer-url", "", "An external OpenID Connect issuer (Entra ID, Dex, Keycloak) whose access tokens are accepted besides the built-in issuer's; its discovery document and keys are read at start. Role assignments name its principals by their oid claim, or sub without one.")
	flag.StringVar(&opts.OIDCAudience, "oidc-audience", "", "The aud the external issuer's access tokens must carry for this hub (required with --oidc-issuer-url).")
	flag.StringVar(&opts.PortalOIDCClientID, "portal-oidc-client-id", "", "The client ID registered at --oidc-issuer-url for the portal: users then sign in to /portal through the issuer (authorization code with PKCE). Register <hub URL>/portal/oidc/callback as its redirect URI; role assignments name users by their oid claim, or sub.")
	portalSecretFile := flag.String("portal-oidc-client-secret-file", "", "A file holding the portal client's secret at the issuer (a confidential client); none: a public client, PKCE alone.")
	oidcCAFile := flag.String("oidc-ca-file", "", "PEM file of a CA to trust, besides the system's, when reading the external issuer's discovery document and keys.")
	flag.Float64Var(&opts.SignInFailureRate, "signin-failure-rate", opts.SignInFailureRate, "Failed sign-ins per second allowed per client ID and address, after --signin-failure-burst; beyond, the token endpoint answers 429 without checking the secret (0: no limit).")
	flag.IntVar(&opts.SignInFailureBurst, "signin-failure-burst", opts.SignInFailureBurst, "Failed sign-ins a client ID may make from one address before --signin-failure-rate applies.")
	flag.DurationVar(&opts.ActivityLogRetention, "activity-log-retention", opts.ActivityLogRetention, "How long activity log events are kept (Azure: 90 days); 0 keeps them forever.")
	pprofAddr := flag.String("pprof-bind-address", "", "The address Go's /debug/pprof/ profiling endpoints bind to, e.g. 127.0.0.1:8092; empty (the default) turns them off.")
	verbose := flag.Bool("access-log", true, "Log one line per request (method, path, status, duration).")
	memoryLimit := flag.String("memory-limit", os.Getenv(cmdutil.MemoryLimitEnv), "The container's memory limit, e.g. 2Gi or a number of bytes (default: $MEMORY_LIMIT, which the hub's Helm chart sets from the container's resources.limits.memory); Go's garbage collector then keeps the data plane under --memory-limit-ratio of it (a soft limit, as GOMEMLIMIT; GOMEMLIMIT, when set, wins). Empty: no soft limit.")
	memoryRatio := flag.Float64("memory-limit-ratio", 0.9, "The share of --memory-limit the heap is kept under, above 0 and at most 1.")
	flag.Parse()
	cmdutil.MustNoArgs(flag.CommandLine, os.Exit)
	if _, err := cmdutil.SetMemoryLimit(*memoryLimit, *memoryRatio); err != nil {
		return err
	}

	cfg := zap.NewProductionConfig()
	if *verbose {
		cfg.Level = zap.NewAtomicLevelAt(zapcore.Level(-1))
	}
	zl, err := cfg.Build()
	if err != nil {
		return err
	}
	defer func() { _ = zl.Sync() }()
	opts.Log = zapr.NewLogger(zl)
	if opts.Issuer == "" {
		opts.Issuer = defaultIssuer(opts.ExternalURL, *listen)
	}
	if opts.OIDCIssuerURL != "" {
		cfg, err := tlsutil.ClientConfig(*oidcCAFile)
		if err != nil {
			return fmt.Errorf("--oidc-ca-file: %w", err)
		}
		opts.OIDCHTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment}}
	}

	if *portalSecretFile != "" {
		secret, err := os.ReadFile(*portalSecretFile)
		if err != nil {
			return fmt.Errorf("--portal-oidc-client-secret-file: %w", err)
		}
		opts.PortalOIDCClientSecret = strings.TrimSpace(string(secret))
	}

	if opts.Etcd, err = etcdOptions(*storeKind, *etcdEndpoints, *etcdPrefix, *etcdCA, *etcdCert, *etcdKey); err != nil {
		return err
	}

	srv, err := dataplane.New(opts)
	if err != nil {
		return err
	}
	defer func() { _ = srv.Close() }()
	tlsConfig, caFile, err := serverTLS(*listen, opts.DataDir, *certFile, *keyFile, *insecureHTTP)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", *listen)
	if err != nil {
		return fmt.Errorf("failed to listen on %s: %w", *listen, err)
	}
	scheme := "http"
	if tlsConfig != nil {
		l, scheme = tls.NewListener(l, tlsConfig), "https"
	}
	if *pprofAddr != "" {
		pl, err := lc.Listen(ctx, "tcp", *pprofAddr)
		if err != nil {
			return fmt.Errorf("failed to listen on %s for pprof: %w", *pprofAddr, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		ps := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ps.Serve(pl) }()
		defer ps.Close()
	}
	kv := []any{"url", scheme + "://" + l.Addr().String(), "dataDir", opts.DataDir}
	if caFile != "" {
		kv = append(kv, "caFile", caFile)
	}
	opts.Log.Info("Serving the data plane", kv...)
	return srv.Serve(ctx, l)
}

// defaultIssuer is the built-in issuer's URL: under the external URL, or
// under the address served (localhost for an unspecified host).
// initKeys makes the key files replicas share: `dataplane init-keys
// --keys-dir DIR`.
func initKeys(args []string) error {
	fs := flag.NewFlagSet("dataplane init-keys", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: dataplane init-keys --keys-dir <dir>\n\n"+
			"Makes the keys a hub's replicas share (keeping any already there): <dir>/protected-settings.key, which seals\n"+
			"protected settings, and <dir>/token-signing/<id>.key, which signs access tokens. Put them in two Secrets:\n"+
			"  kubectl create secret generic hub-keys --from-file=<dir>/protected-settings.key\n"+
			"  kubectl create secret generic hub-signing-keys --from-file=<dir>/token-signing\n\nFlags:")
		fs.PrintDefaults()
	}
	dir := fs.String("keys-dir", "", "Where to make the keys (created 0700, files 0600).")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		return errors.New("give --keys-dir, and nothing else")
	}
	if err := dataplane.InitKeys(*dir); err != nil {
		return err
	}
	fmt.Printf("Keys in %s: protected-settings.key, token-signing/.\n", *dir)
	return nil
}

// initOwner makes a hub's first owner in etcd, before its replicas start:
// `dataplane init-owner --etcd-endpoints <etcd> --out <file>`.
func initOwner(args []string) error {
	fs := flag.NewFlagSet("dataplane init-owner", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: dataplane init-owner --etcd-endpoints <etcd> --out <file> [flags]\n\n"+
			"Makes the hub's owner (a service principal holding Owner at the root scope) in etcd under --etcd-prefix, and\n"+
			"writes its credentials to --out (0600), for a hub whose replicas write to no disk of yours. Refused when the hub\n"+
			"has an owner already, unless --new-owner (the way back in after the owners' secrets are lost). Sign in with them:\n"+
			"  az login --service-principal -u <appId> -p <password> --tenant adfs\n\nFlags:")
		fs.PrintDefaults()
	}
	etcd := addEtcdFlags(fs, "etcd-endpoints", "Comma-separated client URLs of the hub's etcd cluster.",
		"The key prefix of the hub in etcd, as its replicas are given.")
	out := fs.String("out", "", "Where to write the owner's credentials (a new file, 0600).")
	tenant := fs.String("tenant-id", dataplane.DefaultTenant, "The hub's tenant, as its replicas are given (--tenant-id).")
	always := fs.Bool("new-owner", false, "Make an owner even though the hub has one.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *etcd.endpoints == "" || *out == "" {
		return errors.New("give --etcd-endpoints (the hub's etcd) and --out (where to write the credentials)")
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("--out %s exists: give a new file, so that no credentials are overwritten", *out)
	}
	eo, err := etcd.options()
	if err != nil {
		return err
	}
	st, err := store.OpenEtcd(*eo)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	creds, err := dataplane.MakeOwner(st, *tenant, time.Now(), *always)
	if err != nil {
		return err
	}
	if creds == nil {
		return fmt.Errorf("the hub under %s has an owner already: sign in as it, or give --new-owner to make another", eo.Prefix)
	}
	raw, _ := json.MarshalIndent(creds, "", "  ")
	if err := os.WriteFile(*out, append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("the owner %s was made, but its credentials could not be written (run again with --new-owner): %w", creds.AppID, err)
	}
	fmt.Printf("Made the owner %s (object %s); its credentials are in %s.\n", creds.AppID, creds.ObjectID, *out)
	return nil
}

// migrate copies a stopped data plane's bbolt store into etcd, and checks
// the copy: `dataplane migrate --from <data dir> --to <etcd endpoints>`.
func migrate(args []string) error {
	fs := flag.NewFlagSet("dataplane migrate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: dataplane migrate --from <data dir> --to <etcd endpoints> [flags]\n\n"+
			"Copies the store of a stopped data plane (dataplane.db in --from) into etcd under --etcd-prefix, which must hold\n"+
			"nothing yet, then reads every record back and compares it. The data directory's key files stay where they are:\n"+
			"give each replica the same ones (--data-dir), and start them with --store=etcd.\n\nFlags:")
		fs.PrintDefaults()
	}
	from := fs.String("from", "", "The data directory of the bbolt store to copy (its data plane stopped).")
	etcd := addEtcdFlags(fs, "to", "Comma-separated client URLs of the etcd cluster to copy into.",
		"The key prefix of the hub in etcd; it must hold nothing yet.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *from == "" || *etcd.endpoints == "" {
		return errors.New("give --from (the bbolt data directory) and --to (the etcd endpoints)")
	}
	if _, err := os.Stat(filepath.Join(*from, "dataplane.db")); err != nil {
		return fmt.Errorf("--from %s holds no store: %w", *from, err)
	}
	eo, err := etcd.options()
	if err != nil {
		return err
	}
	src, err := store.OpenBolt(*from)
	if err != nil {
		return err
	}
	defer func() { _ = src.Close() }()
	dst, err := store.OpenEtcd(*eo)
	if err != nil {
		return err
	}
	defer func() { _ = dst.Close() }()
	total := 0
	copied, err := store.Migrate(src, dst, func(bucket string, n int) {
		total += n
		fmt.Fprintf(os.Stderr, "==> %s: %d records\n", bucket, n)
	})
	if err != nil {
		return err
	}
	fmt.Printf("Copied and verified %d records of %d buckets from %s to %s under %s.\n", total, len(copied), *from, *etcd.endpoints, eo.Prefix)
	return nil
}

// etcdFlags are a subcommand's flags that name the hub's etcd.
type etcdFlags struct{ endpoints, prefix, ca, cert, key *string }

// addEtcdFlags defines them on fs, the endpoints under the name given.
func addEtcdFlags(fs *flag.FlagSet, endpointsFlag, endpointsHelp, prefixHelp string) etcdFlags {
	return etcdFlags{
		endpoints: fs.String(endpointsFlag, "", endpointsHelp),
		prefix:    fs.String("etcd-prefix", "/arcgitops/", prefixHelp),
		ca:        fs.String("etcd-ca-file", "", "PEM file of the CA that signed etcd's serving certificate."),
		cert:      fs.String("etcd-cert-file", "", "PEM client certificate for etcd."),
		key:       fs.String("etcd-key-file", "", "PEM private key of --etcd-cert-file."),
	}
}

func (f etcdFlags) options() (*store.EtcdOptions, error) {
	return etcdOptions("etcd", *f.endpoints, *f.prefix, *f.ca, *f.cert, *f.key)
}

// etcdOptions are the store's etcd options for --store=etcd (nil for
// bolt), with a clear error for flags that do not fit together.
func etcdOptions(kind, endpoints, prefix, caFile, certFile, keyFile string) (*store.EtcdOptions, error) {
	switch kind {
	case "bolt":
		if endpoints != "" {
			return nil, errors.New("--etcd-endpoints needs --store=etcd")
		}
		return nil, nil
	case "etcd":
	default:
		return nil, fmt.Errorf("--store is bolt or etcd, not %q", kind)
	}
	if endpoints == "" {
		return nil, errors.New("--store=etcd needs --etcd-endpoints (e.g. https://etcd-0:2379,https://etcd-1:2379)")
	}
	if !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("--etcd-prefix %q must end with /", prefix)
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("give --etcd-cert-file and --etcd-key-file together")
	}
	o := &store.EtcdOptions{Endpoints: strings.Split(endpoints, ","), Prefix: prefix}
	if caFile != "" || certFile != "" {
		cfg, err := tlsutil.ClientConfig(caFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-ca-file: %w", err)
		}
		if certFile != "" {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("--etcd-cert-file/--etcd-key-file: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		o.TLS = cfg
	}
	return o, nil
}

func defaultIssuer(externalURL, listen string) string {
	if externalURL != "" {
		return strings.TrimSuffix(externalURL, "/") + "/adfs"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "https://" + listen + "/adfs"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "https://" + net.JoinHostPort(host, port) + "/adfs"
}

// serverTLS decides how the data plane serves: HTTPS with the given
// certificate, or with one of a local CA in the data directory (made on
// first start; its CA file is returned for clients to trust), or, only on
// a loopback address, plain HTTP (nil).
func serverTLS(listen, dataDir, certFile, keyFile string, insecureHTTP bool) (*tls.Config, string, error) {
	switch {
	case insecureHTTP && !tlsutil.IsLoopback(listen):
		return nil, "", fmt.Errorf("--insecure-http is for tests on a loopback address; %s is not one: agent tokens and protected settings would cross the network in clear", listen)
	case insecureHTTP:
		return nil, "", nil
	case (certFile == "") != (keyFile == ""):
		return nil, "", errors.New("give --tls-cert-file and --tls-key-file together")
	}
	caFile := ""
	if certFile == "" {
		var err error
		if certFile, keyFile, caFile, err = tlsutil.EnsureLocalCA(filepath.Join(dataDir, "tls"), tlsutil.Hosts(listen)...); err != nil {
			return nil, "", fmt.Errorf("failed to make the local CA: %w", err)
		}
	}
	r, err := tlsutil.NewReloader(certFile, keyFile)
	if err != nil {
		return nil, "", err
	}
	return tlsutil.ServerConfig(r), caFile, nil
}
