// Package cli is arcgitops, the command line that mirrors
// `az k8s-configuration flux` and `az connectedk8s` against the data plane:
// a script moves over by changing the program name.
//
// Exit codes are az's: 0 success, 1 a failed request, 2 a mistake in the
// command line (nothing was sent), 3 the resource was not found (show).
package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// DefaultAPIVersion is the fluxConfigurations api-version sent.
const DefaultAPIVersion = "2024-11-01"

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

	dataplane    string
	subscription string
	output       string
	onlyErrors   bool
}

// apiError is a data plane error answer: exit code 1, or 3 for not found.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string {
	if e.code == "" {
		return fmt.Sprintf("the data plane answered %d", e.status)
	}
	return fmt.Sprintf("(%s) %s", e.code, e.message)
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
	root.SetArgs(joinKustomizationArgs(args))
	root.SetOut(a.Out)
	root.SetErr(a.Err)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintln(a.Err, "ERROR: "+strings.TrimSpace(err.Error()))
	var ae *apiError
	var ue usageError
	switch {
	case errors.As(err, &ae) && ae.status == http.StatusNotFound:
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

// joinKustomizationArgs lets --kustomization take several key=value words,
// as az does: "--kustomization name=a path=./a prune=true" becomes one value.
func joinKustomizationArgs(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a != "--kustomization" {
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

func (a *App) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "arcgitops",
		Short: "Manage Azure-style GitOps (Flux v2) configurations on a local data plane",
		Long: `arcgitops mirrors 'az k8s-configuration flux' and 'az connectedk8s' against the
arcgitops data plane, so that scripts written for az work with the program name changed.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.dataplane, "dataplane", "", "URL of the data plane (env ARCGITOPS_DATAPLANE; default http://127.0.0.1:8090).")
	pf.StringVar(&a.subscription, "subscription", "", "Name or ID of the subscription the resources are in (env ARCGITOPS_SUBSCRIPTION; default 00000000-0000-0000-0000-000000000000).")
	pf.StringVarP(&a.output, "output", "o", "json", "Output format: json, jsonc, table, tsv, yaml or none.")
	pf.BoolVar(&a.onlyErrors, "only-show-errors", false, "Only show errors, suppressing warnings and progress messages.")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if a.dataplane == "" {
			a.dataplane = a.Getenv("ARCGITOPS_DATAPLANE")
		}
		if a.dataplane == "" {
			a.dataplane = "http://127.0.0.1:8090"
		}
		if u, err := url.Parse(a.dataplane); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef("--dataplane %q must be an http(s) URL such as http://127.0.0.1:8090", a.dataplane)
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
		return nil
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })

	k8s := &cobra.Command{Use: "k8s-configuration", Short: "Manage Kubernetes configurations (GitOps)."}
	flux := &cobra.Command{Use: "flux", Short: "Manage Flux v2 configurations of a cluster."}
	flux.AddCommand(a.fluxCreate(), a.fluxUpdate(), a.fluxShow(), a.fluxList(), a.fluxDelete(),
		a.kustomizationCommand(), a.deployedObjectCommand())
	k8s.AddCommand(flux)
	root.AddCommand(k8s, a.connectedk8sCommand())
	return root
}

// clusterFlags are --cluster-name, --cluster-type, --resource-group.
type clusterFlags struct {
	Name, Type, ResourceGroup string
}

func (c *clusterFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&c.Name, "cluster-name", "c", "", "Name of the Kubernetes cluster.")
	cmd.Flags().StringVarP(&c.Type, "cluster-type", "t", "connectedClusters", "The cluster's resource type: connectedClusters (Arc-enabled) or managedClusters (AKS).")
	cmd.Flags().StringVarP(&c.ResourceGroup, "resource-group", "g", "", "Name of the resource group.")
	_ = cmd.MarkFlagRequired("cluster-name")
	_ = cmd.MarkFlagRequired("resource-group")
}

func (a *App) clusterPath(c *clusterFlags) (string, error) {
	var rp string
	switch strings.ToLower(c.Type) {
	case "connectedclusters":
		rp = "Microsoft.Kubernetes/connectedClusters"
	case "managedclusters":
		rp = "Microsoft.ContainerService/managedClusters"
	default:
		return "", usagef("--cluster-type %q is not supported: use connectedClusters or managedClusters", c.Type)
	}
	return "/subscriptions/" + a.subscription + "/resourceGroups/" + c.ResourceGroup + "/providers/" + rp + "/" + c.Name, nil
}

func (a *App) fluxPath(c *clusterFlags, name string) (string, error) {
	p, err := a.clusterPath(c)
	if err != nil {
		return "", err
	}
	p += "/providers/Microsoft.KubernetesConfiguration/fluxConfigurations"
	if name != "" {
		p += "/" + name
	}
	return p, nil
}

// call sends one request and decodes the JSON answer into out (if any).
func (a *App) call(method, path string, body any, out any) (int, error) {
	u := strings.TrimSuffix(a.dataplane, "/") + path
	if !strings.Contains(path, "api-version=") {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		u += sep + "api-version=" + DefaultAPIVersion
	}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := a.HTTP
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("cannot reach the data plane at %s: %v (start it, or set --dataplane)", a.dataplane, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return resp.StatusCode, &apiError{status: resp.StatusCode, code: e.Error.Code, message: e.Error.Message}
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("the data plane's answer is not JSON: %w", err)
		}
	}
	return resp.StatusCode, nil
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
