// Command localenv is `make run`: the whole system on 127.0.0.1, with a
// sample configuration applied through the CLI, until Ctrl-C.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/cmdutil"
	"github.com/arcgitops/arcgitops/internal/fluxsettings"
	"github.com/arcgitops/arcgitops/internal/localenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		os.Exit(1)
	}
}

// serveCluster writes where the cluster-only environment is and waits.
func serveCluster(ctx context.Context, env *localenv.Env, dir string) error {
	file := filepath.Join(dir, "cluster.env")
	vars := fmt.Sprintf("E2E_KUBECONFIG=%s\nE2E_RECEIVER_ADDR=%s\n", env.Kubeconfig, env.ReceiverAddr)
	if err := os.WriteFile(file, []byte(vars), 0o600); err != nil {
		return err
	}
	fmt.Printf(`
The cluster is running (no operator in it). Everything listens on 127.0.0.1.

  kubectl:   export KUBECONFIG=%s
  e2e:       make test-e2e E2E_KUBECONFIG=%[1]s E2E_RECEIVER_ADDR=%s
  (both in %s)

Press Ctrl-C to stop every component.
`, env.Kubeconfig, env.ReceiverAddr, file)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
			if name := env.Exited(); name != "" {
				return fmt.Errorf("%s stopped; its log: %s\n%s", name, env.Components()[name], env.LogTail(name, 20))
			}
		}
	}
}

func run() error {
	dir := flag.String("dir", ".local/run", "Directory for the environment's state and logs (wiped at start).")
	var settings []string
	flag.Func("flux-setting", "A setting of Azure's microsoft.flux extension, key=value (repeat for more); the keys:\n"+fluxsettings.Help(),
		func(v string) error { settings = append(settings, v); return nil })
	var managerArgs []string
	flag.Func("manager-arg", "An extra flag for the manager, e.g. --memory-limit=1Gi (repeat for more; `bin/manager -h` lists them). The manager runs with --memory-limit=512Mi, the chart's default container limit, unless told otherwise.",
		func(v string) error { managerArgs = append(managerArgs, v); return nil })
	clusterOnly := flag.Bool("cluster-only", false, "Start the cluster alone (kube-apiserver, etcd, kube-controller-manager and Flux; no FluxConfig CRD, Git server, data plane or manager), as a stand-in for someone else's cluster: `make test-e2e E2E_KUBECONFIG=<dir>/kubeconfig` then installs the chart into it. Writes <dir>/cluster.env (E2E_KUBECONFIG, E2E_RECEIVER_ADDR) once ready.")
	flag.Parse()
	cmdutil.MustNoArgs(flag.CommandLine, os.Exit)
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	_ = os.RemoveAll(abs)
	bins, crds, err := localenv.BinariesFromEnv()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	env, err := localenv.Start(ctx, localenv.Options{Dir: abs, Bins: bins, CRDPaths: crds, Progress: os.Stdout, FluxSettings: settings,
		ManagerArgs: managerArgs, ClusterOnly: *clusterOnly})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("==> Stopping every component")
		env.Stop()
	}()
	if *clusterOnly {
		return serveCluster(ctx, env, abs)
	}

	fmt.Println("==> Creating the sample repository and configuration")
	if err := env.CreateSample(abs); err != nil {
		return err
	}
	caFile := filepath.Join(abs, "git-ca.pem")
	fmt.Println("==> Waiting for the sample configuration to be Compliant")
	last := ""
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out, err := env.CLI("k8s-configuration", "flux", "show", "-g", "local", "-c", "local", "-n", "sample")
		var cfg struct {
			// az's flattened shape: the properties at the top level.
			ComplianceState, ProvisioningState, ErrorMessage string
		}
		if err == nil && json.Unmarshal([]byte(out), &cfg) == nil {
			state := cfg.ComplianceState
			if state != last {
				fmt.Printf("    complianceState: %s %s\n", state, cfg.ErrorMessage)
				last = state
			}
			if state == "Compliant" {
				break
			}
		}
		if name := env.Exited(); name != "" {
			return fmt.Errorf("%s stopped; its log: %s\n%s", name, env.Components()[name], env.LogTail(name, 20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the sample configuration is not Compliant after 3 minutes (state %q); logs are in %s", last, filepath.Join(abs, "logs"))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}

	printSecret := fmt.Sprintf(`python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["password"])' %s`, env.OwnerFile)
	secret := `"$(` + printSecret + `)"`
	fmt.Printf(`
The local environment is running. Everything listens on 127.0.0.1.

  kubectl:     export KUBECONFIG=%[1]s
               %[2]s/kubectl get fluxconfigs,gitrepositories,kustomizations -A
  data plane:  %[3]s (HTTPS, CA %[9]s)
  owner:       %[10]s (appId %[11]s; the file holds its secret, mode 0600)
  CLI:         export ARCGITOPS_DATAPLANE=%[3]s ARCGITOPS_CA_FILE=%[9]s
               %[4]s login --service-principal -u %[11]s -p %[12]s
               %[4]s k8s-configuration flux show -g local -c local -n sample -o table
               %[4]s k8s-configuration flux list -g local -c local -o table
  az CLI:      export REQUESTS_CA_BUNDLE=%[9]s AZURE_CONFIG_DIR=%[13]s
               az cloud register -n arcgitops-local --endpoint-resource-manager %[3]s/ --endpoint-active-directory %[3]s --endpoint-active-directory-resource-id %[14]s --endpoint-active-directory-graph-resource-id https://graph.arcgitops.local/
               az cloud set -n arcgitops-local
               az login --service-principal -u %[11]s -p %[12]s --tenant adfs
  portal:      %[3]s/portal/ (the browser warns of the CA above: import it, or accept the warning)
               sign in with app ID %[11]s and the secret this prints: %[15]s
  git:         %[5]s (HTTPS, CA %[6]s), ssh://git@%[7]s
  logs:        %[8]s

Press Ctrl-C to stop every component.
`, env.Kubeconfig, bins.Assets, env.DataPlaneURL, bins.CLI, env.Git.HTTPSURL, caFile, env.Git.SSHAddr, filepath.Join(abs, "logs"), env.DataPlaneCAFile,
		env.OwnerFile, env.Owner.AppID, secret, filepath.Join(abs, "az"), arm.DefaultAudience, printSecret)

	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
			if name := env.Exited(); name != "" {
				return fmt.Errorf("%s stopped; its log: %s", name, env.Components()[name])
			}
		}
	}
}
