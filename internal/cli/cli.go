// Package cli is arcgitops, the command line that mirrors
// `az k8s-configuration flux` and `az connectedk8s` against the data plane:
// a script moves over by changing the program name.
//
// Exit codes are az's: 0 success, 1 a failed request, 2 a mistake in the
// command line (nothing was sent), 3 the resource was not found (show).
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	jmespath "github.com/jmespath-community/go-jmespath"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armclient"
	"github.com/arcgitops/arcgitops/internal/tlsutil"
)

// App is one invocation's environment.
type App struct {
	Out, Err io.Writer
	In       io.Reader
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string
	// HTTP is the client (a default with a timeout when nil).
	HTTP *http.Client
	// ConfigDir is where agent tokens are stored (os.UserConfigDir when empty).
	ConfigDir string
	// PollInterval is the wait between polls of a long-running operation
	// that gives no Retry-After (a second when zero).
	PollInterval time.Duration
	// Now is the clock (time.Now when nil): it stamps SSH key rotation
	// requests.
	Now func() time.Time

	dataplane    string
	caFile       string
	subscription string
	output       string
	onlyErrors   bool
	queryText    string
	queryExpr    jmespath.JMESPath
	tokens       *tokenSource
}

// usageError is a mistake in the command line: exit code 2, no request sent.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// notFoundf is a resource that does not exist: exit code 3, as az's.
func notFoundf(format string, args ...any) error {
	return &armclient.Error{StatusCode: http.StatusNotFound, Code: "ResourceNotFound", Message: fmt.Sprintf(format, args...)}
}

// Run executes args and returns the exit code.
func (a *App) Run(args []string) int {
	if a.Getenv == nil {
		a.Getenv = os.Getenv
	}
	if a.In == nil {
		a.In = os.Stdin
	}
	root := a.rootCommand()
	root.SetArgs(joinThreeState(joinKustomizationArgs(args)))
	root.SetOut(a.Out)
	root.SetErr(a.Err)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintln(a.Err, "ERROR: "+strings.TrimSpace(err.Error()))
	var ae *armclient.Error
	var ue usageError
	switch {
	case armclient.IsNotFound(err):
		return 3
	case errors.As(err, &ae):
		return 1
	case errors.As(err, &ue), isCobraUsage(err):
		return 2
	default:
		return 1
	}
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand", "flag needs an argument", "invalid argument", "required flag", "unknown command", "accepts ", "invalid value"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// joinKustomizationArgs lets --kustomization (-k) take several key=value
// words, as az does: "--kustomization name=a path=./a prune=true" becomes
// one value. Under "flux kustomization", -k is the kustomization's name.
func joinKustomizationArgs(args []string) []string {
	var out []string
	underKustomization := slices.Contains(args, "kustomization")
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a != "--kustomization" && (a != "-k" || underKustomization) {
			out = append(out, a)
			continue
		}
		var parts []string
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") && strings.Contains(args[i+1], "=") {
			i++
			parts = append(parts, args[i])
		}
		out = append(out, a, strings.Join(parts, "\x00"))
	}
	return out
}

// threeStateFlags are the flags az declares as three-state booleans: absent,
// given alone (true), or given a value ("--suspend false").
var threeStateFlags = map[string]bool{
	"--suspend": true, "--prune": true, "--force": true, "--disable-health-check": true,
	"--wait-for-reconciliation": true, "--sp-cert-send-chain": true,
	"--use-workload-identity": true, "--bucket-insecure": true,
}

// joinThreeState turns az's "--suspend false" into "--suspend=false", which
// the flag parser reads (it takes a bare --suspend as true, and a following
// word as an argument otherwise).
func joinThreeState(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		if threeStateFlags[args[i]] && i+1 < len(args) {
			switch strings.ToLower(args[i+1]) {
			case "true", "yes":
				out = append(out, args[i]+"=true")
				i++
				continue
			case "false", "no":
				out = append(out, args[i]+"=false")
				i++
				continue
			}
		}
		out = append(out, args[i])
	}
	return out
}

// flagAliases are az's other names of the flags, read as the flag they name
// (so that a script written for az runs, and "changed" sees either name).
var flagAliases = map[string]string{
	"ns":                                              "namespace",
	"service-principal-client-id":                     "sp-client-id",
	"service-principal-tenant-id":                     "sp-tenant-id",
	"service-principal-client-secret":                 "sp-client-secret",
	"service-principal-client-certificate":            "sp-client-cert",
	"service-principal-client-certificate-password":   "sp-cert-password",
	"sp-client-cert-password":                         "sp-cert-password",
	"service-principal-client-certificate-send-chain": "sp-cert-send-chain",
	"sp-client-cert-send-chain":                       "sp-cert-send-chain",
	"managed-identity-client-id":                      "mi-client-id",
	"oci-digest":                                      "digest",
	"oci-insecure":                                    "bucket-insecure",
	"oci-media-type":                                  "layer-selector-media-type",
	"oci-operation":                                   "layer-selector-operation",
	"cluster-rp":                                      "cluster-resource-provider",
	"dependencies":                                    "depends",
}

func normalizeFlag(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if canonical, ok := flagAliases[name]; ok {
		return pflag.NormalizedName(canonical)
	}
	return pflag.NormalizedName(name)
}

func (a *App) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "arcgitops",
		Short: "Manage Azure-style GitOps (Flux v2) configurations on a local data plane",
		Long: `arcgitops mirrors 'az k8s-configuration flux', 'az connectedk8s', 'az policy' and 'az graph' against the
arcgitops data plane, so that scripts written for az work with the program name changed.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.dataplane, "dataplane", "", "URL of the data plane (env ARCGITOPS_DATAPLANE; default https://127.0.0.1:8090).")
	pf.StringVar(&a.caFile, "ca-file", "", "PEM file of the CA the data plane's certificate is signed by, trusted besides the system's (env ARCGITOPS_CA_FILE; the data plane's own is <data-dir>/tls/ca.crt).")
	pf.StringVar(&a.subscription, "subscription", "", "Name or ID of the subscription the resources are in (env ARCGITOPS_SUBSCRIPTION; default 00000000-0000-0000-0000-000000000000).")
	pf.StringVarP(&a.output, "output", "o", "json", "Output format: json, jsonc, table, tsv, yaml or none.")
	pf.BoolVar(&a.onlyErrors, "only-show-errors", false, "Only show errors, suppressing warnings and progress messages.")
	pf.StringVar(&a.queryText, "query", "", "JMESPath query string, as az's (see http://jmespath.org/ for more information and examples); tables then show the keys of the result.")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if a.dataplane == "" {
			a.dataplane = a.Getenv("ARCGITOPS_DATAPLANE")
		}
		if a.dataplane == "" {
			a.dataplane = "https://127.0.0.1:8090"
		}
		if u, err := url.Parse(a.dataplane); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef("--dataplane %q must be an http(s) URL such as https://127.0.0.1:8090", a.dataplane)
		}
		if a.caFile == "" {
			a.caFile = a.Getenv("ARCGITOPS_CA_FILE")
		}
		if a.HTTP == nil {
			cfg, err := tlsutil.ClientConfig(a.caFile)
			if err != nil {
				return usagef("--ca-file: %v", err)
			}
			a.HTTP = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment}}
		}
		if a.subscription == "" {
			a.subscription = a.Getenv("ARCGITOPS_SUBSCRIPTION")
		}
		if a.subscription == "" {
			a.subscription = "00000000-0000-0000-0000-000000000000"
		}
		switch a.output {
		case "json", "jsonc", "table", "tsv", "yaml", "yamlc", "none":
		default:
			return usagef("--output %q is not an output format: use json, table, tsv, yaml or none", a.output)
		}
		return a.compileQuery()
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	root.SetGlobalNormalizationFunc(normalizeFlag)

	k8s := &cobra.Command{Use: "k8s-configuration", Short: "Manage Kubernetes configurations (GitOps)."}
	k8s.AddCommand(a.fluxCommand())
	root.AddCommand(k8s, a.connectedk8sCommand(), a.loginCommand(), a.logoutCommand(), a.accountCommand(),
		a.adCommand(), a.roleCommand(), a.monitorCommand(), a.policyCommand(), a.graphCommand())
	return root
}

// clusterFlags are --cluster-name, --cluster-type, --resource-group and
// az's --cluster-resource-provider.
type clusterFlags struct {
	Cluster, Type, ResourceGroup, Provider string
}

func (c *clusterFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&c.Cluster, "cluster-name", "c", "", "Name of the Kubernetes cluster.")
	cmd.Flags().StringVarP(&c.Type, "cluster-type", "t", "connectedClusters", "The cluster's resource type: connectedClusters (Arc-enabled) or managedClusters (AKS).")
	cmd.Flags().StringVarP(&c.ResourceGroup, "resource-group", "g", "", "Name of the resource group.")
	cmd.Flags().StringVar(&c.Provider, "cluster-resource-provider", "", "The cluster's resource provider (also --cluster-rp); implied by --cluster-type: Microsoft.Kubernetes or Microsoft.ContainerService.")
	_ = cmd.MarkFlagRequired("cluster-name")
	_ = cmd.MarkFlagRequired("resource-group")
}

// fluxPath is the path of configuration c, or of the cluster's
// fluxConfigurations when c has no name.
func (a *App) fluxPath(c *configFlags) (string, error) {
	t, ok := arm.ClusterTypeForName(c.Type)
	if !ok {
		return "", usagef("--cluster-type %q is not supported: use connectedClusters or managedClusters", c.Type)
	}
	if rp := strings.SplitN(t, "/", 2)[0]; c.Provider != "" && !strings.EqualFold(c.Provider, rp) {
		return "", usagef("--cluster-resource-provider %q does not go with --cluster-type %s: use %s", c.Provider, c.Type, rp)
	}
	return arm.FluxConfigID(arm.ClusterID(a.subscription, c.ResourceGroup, t, c.Cluster), c.Name), nil
}

// client is the ARM client of the data plane.
func (a *App) client() *armclient.Client {
	hc := a.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	if a.tokens == nil {
		a.tokens = &tokenSource{a: a}
	}
	return &armclient.Client{BaseURL: a.dataplane, APIVersion: arm.FluxConfigAPIVersion, HTTP: hc, Token: a.tokens}
}

// call sends one request (the fluxConfigurations api-version unless path
// has one) and decodes the JSON answer into out (if any). A data plane
// that cannot be reached is said so, with what to do.
func (a *App) call(method, path string, body any, out any) (*armclient.Response, error) {
	resp, err := a.client().Do(context.Background(), armclient.Request{Method: method, Path: path, Body: body}, out)
	return resp, a.reachable(err)
}

// reachable says what to do when err is a data plane that cannot be
// reached, and returns any other error as it is.
func (a *App) reachable(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("cannot reach the data plane at %s: %v (start it, or set --dataplane)", a.dataplane, ue.Err)
	}
	return err
}

// confirm asks before a destructive operation unless --yes was given.
func (a *App) confirm(yes bool, what string) error {
	if yes {
		return nil
	}
	fmt.Fprintf(a.Err, "Are you sure you want to perform this operation (%s)? (y/n): ", what)
	line, err := bufio.NewReader(a.In).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(a.Err)
		return usagef("no answer to the confirmation: pass --yes to run without a prompt")
	}
	if ans := strings.ToLower(strings.TrimSpace(line)); ans != "y" && ans != "yes" {
		return usagef("operation cancelled")
	}
	return nil
}

func (a *App) warn(format string, args ...any) {
	if !a.onlyErrors {
		fmt.Fprintf(a.Err, "WARNING: "+format+"\n", args...)
	}
}
