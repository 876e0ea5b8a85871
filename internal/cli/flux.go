package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/armclient"
)

func (a *App) fluxCommand() *cobra.Command {
	return group("flux", "Manage Flux v2 configurations of a cluster.",
		a.fluxCreate(), a.fluxUpdate(), a.fluxShow(), a.fluxList(), a.fluxDelete(),
		a.kustomizationCommand(), a.deployedObjectCommand())
}

func (a *App) fluxCreate() *cobra.Command {
	var c configFlags
	var f sourceFlags
	var noWait bool
	cmd := leaf("create", "Create a Flux v2 configuration on a cluster, and wait until the cluster has applied it (unless --no-wait).", func(cmd *cobra.Command) error {
		f.changed = cmd.Flags().Changed
		body, err := f.createRequest(c.Name)
		if err != nil {
			return err
		}
		return a.write(http.MethodPut, &c, body, noWait)
	})
	bindNoWait(cmd, &noWait)
	cmd.Example = `  arcgitops k8s-configuration flux create -g my-rg -c my-cluster -t connectedClusters -n cluster-config \
    --namespace cluster-config --scope cluster -u https://github.com/Azure/gitops-flux2-kustomize-helm-mt --branch main \
    --kustomization name=infra path=./infrastructure prune=true \
    --kustomization name=apps path=./apps/staging prune=true depends_on=infra`
	c.bind(cmd, "Name of the flux configuration (1-30 lowercase letters, digits and '-').")
	bindSourceFlags(cmd, &f, true)
	return cmd
}

// write sends a PUT or PATCH of configuration c and prints the answer.
func (a *App) write(method string, c *configFlags, body any, noWait bool) error {
	out, err := a.writeAndSettle(method, c, body, noWait)
	if err != nil {
		return err
	}
	return a.print(azFlux(out), fluxColumns)
}

func (a *App) fluxUpdate() *cobra.Command {
	var c configFlags
	var f sourceFlags
	var noWait, yes bool
	cmd := leaf("update", "Update a Flux v2 configuration: only the flags given change; waits until the cluster has applied it (unless --no-wait).", func(cmd *cobra.Command) error {
		f.changed = cmd.Flags().Changed
		// Flags are checked first (the kind unknown yet); the GET only
		// learns the source kind.
		if _, err := f.updateBody(""); err != nil {
			return err
		}
		current, err := a.getConfig(&c)
		if err != nil {
			return err
		}
		props, _ := current["properties"].(map[string]any)
		kind, _ := props["sourceKind"].(string)
		f.current = props
		body, err := f.updateBody(v1alpha1.SourceKindType(kind))
		if err != nil {
			return err
		}
		if to, swapped, _ := f.newKind(v1alpha1.SourceKindType(kind)); swapped {
			if err := a.confirm(yes, fmt.Sprintf("change source kind %s to %s; the kustomizations may need other paths", kind, to)); err != nil {
				return err
			}
		}
		out, err := a.writeAndSettle(http.MethodPatch, &c, body, noWait)
		if err != nil {
			return err
		}
		if f.rotation.requested != "" && !noWait {
			if err := a.awaitPendingKey(&c, f.rotation.requested); err != nil {
				return err
			}
		}
		return a.print(azFlux(out), fluxColumns)
	})
	bindNoWait(cmd, &noWait)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "Do not ask for confirmation when --kind changes the source kind.")
	cmd.Example = `  arcgitops k8s-configuration flux update -g my-rg -c my-cluster -n cluster-config --interval 5m
  # A new deploy key: prints the public key to add, switches once it is confirmed (or after a day)
  arcgitops k8s-configuration flux update -g my-rg -c my-cluster -n cluster-config --rotate-ssh-key
  arcgitops k8s-configuration flux update -g my-rg -c my-cluster -n cluster-config --confirm-ssh-key-rotation`
	c.bind(cmd, configNameUsage)
	bindSourceFlags(cmd, &f, false)
	bindRotationFlags(cmd, &f.rotation)
	f.rotation.now = func() time.Time {
		if a.Now != nil {
			return a.Now()
		}
		return time.Now()
	}
	return cmd
}

// getConfig reads one configuration.
func (a *App) getConfig(c *configFlags) (map[string]any, error) {
	path, err := a.fluxPath(c)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if _, err := a.call(http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (a *App) fluxShow() *cobra.Command {
	return a.readCommand("show", "Show a Flux v2 configuration, with its compliance and status.", nil,
		func(_ *configFlags, cfg map[string]any) error { return a.print(azFlux(cfg), fluxColumns) })
}

func (a *App) fluxList() *cobra.Command {
	var c clusterFlags
	cmd := leaf("list", "List the Flux v2 configurations of a cluster.", func(*cobra.Command) error {
		path, err := a.fluxPath(&configFlags{clusterFlags: c})
		if err != nil {
			return err
		}
		all, err := armclient.List[map[string]any](context.Background(), a.client(), path)
		if err != nil {
			return a.reachable(err)
		}
		return a.print(azFluxList(all), fluxColumns)
	})
	c.bind(cmd)
	return cmd
}

func (a *App) fluxDelete() *cobra.Command {
	var c configFlags
	var yes, force, noWait bool
	cmd := leaf("delete", "Delete a Flux v2 configuration; the cluster removes its objects first, and the command waits for that (unless --no-wait).", func(*cobra.Command) error {
		path, err := a.fluxPath(&c)
		if err != nil {
			return err
		}
		if err := a.confirm(yes, "delete flux configuration "+c.Name); err != nil {
			return err
		}
		if force {
			path += "?forceDelete=true"
		}
		resp, err := a.call(http.MethodDelete, path, nil, nil)
		if err != nil {
			return err
		}
		if noWait && resp.StatusCode == http.StatusAccepted {
			a.warn("deletion of %s started: the cluster removes its objects, then the configuration disappears", c.Name)
		}
		return a.settle(resp, noWait)
	})
	bindNoWait(cmd, &noWait)
	c.bind(cmd, configNameUsage)
	bindYes(cmd, &yes)
	cmd.Flags().BoolVar(&force, "force", false, "Delete the configuration from the data plane without waiting for the cluster to clean up.")
	return cmd
}
