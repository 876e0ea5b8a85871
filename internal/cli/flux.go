package cli

import (
	"context"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
	"github.com/arcgitops/arcgitops/internal/armclient"
)

func (a *App) fluxCommand() *cobra.Command {
	flux := &cobra.Command{Use: "flux", Short: "Manage Flux v2 configurations of a cluster."}
	flux.AddCommand(a.fluxCreate(), a.fluxUpdate(), a.fluxShow(), a.fluxList(), a.fluxDelete(),
		a.kustomizationCommand(), a.deployedObjectCommand())
	return flux
}

// bindConfigName registers the required --name of a configuration.
func bindConfigName(cmd *cobra.Command, name *string, usage string) {
	cmd.Flags().StringVarP(name, "name", "n", "", usage)
	_ = cmd.MarkFlagRequired("name")
}

func (a *App) fluxCreate() *cobra.Command {
	var c clusterFlags
	var f sourceFlags
	var name string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a Flux v2 configuration on a cluster.",
		Example: `  arcgitops k8s-configuration flux create -g my-rg -c my-cluster -t connectedClusters -n cluster-config \
    --namespace cluster-config --scope cluster -u https://github.com/Azure/gitops-flux2-kustomize-helm-mt --branch main \
    --kustomization name=infra path=./infrastructure prune=true \
    --kustomization name=apps path=./apps/staging prune=true depends_on=infra`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.changed = cmd.Flags().Changed
			body, err := f.createRequest(name)
			if err != nil {
				return err
			}
			path, err := a.fluxPath(&c, name)
			if err != nil {
				return err
			}
			var out map[string]any
			if _, err := a.call(http.MethodPut, path, body, &out); err != nil {
				return err
			}
			return a.print(out, fluxColumns)
		},
	}
	c.bind(cmd)
	bindConfigName(cmd, &name, "Name of the flux configuration (1-30 lowercase letters, digits and '-').")
	bindSourceFlags(cmd, &f, true)
	return cmd
}

func (a *App) fluxUpdate() *cobra.Command {
	var c clusterFlags
	var f sourceFlags
	var name string
	cmd := &cobra.Command{
		Use:     "update",
		Short:   "Update a Flux v2 configuration: only the flags given change.",
		Example: `  arcgitops k8s-configuration flux update -g my-rg -c my-cluster -n cluster-config --interval 5m`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.changed = cmd.Flags().Changed
			path, err := a.fluxPath(&c, name)
			if err != nil {
				return err
			}
			// Flags are checked first; the GET only learns the source kind.
			if _, err := f.updateBody(v1alpha1.SourceKindGitRepository); err != nil {
				return err
			}
			var current struct {
				Properties struct {
					SourceKind v1alpha1.SourceKindType `json:"sourceKind"`
				} `json:"properties"`
			}
			if _, err := a.call(http.MethodGet, path, nil, &current); err != nil {
				return err
			}
			body, err := f.updateBody(current.Properties.SourceKind)
			if err != nil {
				return err
			}
			var out map[string]any
			if _, err := a.call(http.MethodPatch, path, body, &out); err != nil {
				return err
			}
			return a.print(out, fluxColumns)
		},
	}
	c.bind(cmd)
	bindConfigName(cmd, &name, "Name of the flux configuration.")
	bindSourceFlags(cmd, &f, false)
	return cmd
}

// getConfig reads one configuration.
func (a *App) getConfig(c *clusterFlags, name string) (map[string]any, error) {
	path, err := a.fluxPath(c, name)
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
	var c clusterFlags
	var name string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show a Flux v2 configuration, with its compliance and status.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			out, err := a.getConfig(&c, name)
			if err != nil {
				return err
			}
			return a.print(out, fluxColumns)
		},
	}
	c.bind(cmd)
	bindConfigName(cmd, &name, "Name of the flux configuration.")
	return cmd
}

func (a *App) fluxList() *cobra.Command {
	var c clusterFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the Flux v2 configurations of a cluster.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path, err := a.fluxPath(&c, "")
			if err != nil {
				return err
			}
			all, err := armclient.List[map[string]any](context.Background(), a.client(), path)
			if err != nil {
				return a.reachable(err)
			}
			return a.print(all, fluxColumns)
		},
	}
	c.bind(cmd)
	return cmd
}

func (a *App) fluxDelete() *cobra.Command {
	var c clusterFlags
	var name string
	var yes, force bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a Flux v2 configuration; the cluster removes its objects first.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path, err := a.fluxPath(&c, name)
			if err != nil {
				return err
			}
			if err := a.confirm(yes, "delete flux configuration "+name); err != nil {
				return err
			}
			if force {
				path += "?forceDelete=true"
			}
			resp, err := a.call(http.MethodDelete, path, nil, nil)
			if err != nil {
				return err
			}
			if resp.StatusCode == http.StatusAccepted {
				a.warn("deletion of %s started: the cluster removes its objects, then the configuration disappears", name)
			}
			return nil
		},
	}
	c.bind(cmd)
	bindConfigName(cmd, &name, "Name of the flux configuration.")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "Do not prompt for confirmation.")
	cmd.Flags().BoolVar(&force, "force", false, "Delete the configuration from the data plane without waiting for the cluster to clean up.")
	return cmd
}
