package cli

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/arcgitops/arcgitops/internal/arm"
)

func (a *App) connectedk8sCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "connectedk8s", Short: "Register clusters with the data plane (as Azure Arc does)."}
	var name, rg, location, tokenFile string
	connect := &cobra.Command{
		Use:   "connect",
		Short: "Register a cluster and store its agent token; prints how to start the agent.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var out map[string]any
			resp, err := a.call(http.MethodPut, a.connectedPath(rg, name), map[string]any{"location": location}, &out)
			if err != nil {
				return err
			}
			props, _ := out["properties"].(map[string]any)
			token, _ := props["agentToken"].(string)
			delete(props, "agentToken")
			if resp.StatusCode == http.StatusCreated && token != "" {
				file, err := a.storeToken(tokenFile, rg, name, token)
				if err != nil {
					return err
				}
				id, _ := out["id"].(string)
				if !a.onlyErrors {
					fmt.Fprintf(a.Err, "Cluster %s registered. Its agent token is in %s (mode 0600).\nStart the agent in the cluster with:\n"+
						"  manager --dataplane-url %s --cluster-resource-id %s --agent-token-file %s\n"+
						"or with Helm:\n  helm install fluxconfig charts/fluxconfig -n flux-system --set agent.dataplaneURL=%s --set agent.clusterResourceID=%s --set-file agent.token=%s\n",
						name, file, a.dataplane, id, file, a.dataplane, id, file)
				}
			} else {
				a.warn("cluster %s was already registered: its agent token is unchanged", name)
			}
			return a.print(out, clusterColumns)
		},
	}
	connect.Flags().StringVarP(&name, "name", "n", "", "Name of the cluster.")
	connect.Flags().StringVarP(&rg, "resource-group", "g", "", "Name of the resource group.")
	connect.Flags().StringVarP(&location, "location", "l", "", "Location (region) of the cluster.")
	connect.Flags().StringVar(&tokenFile, "agent-token-file", "", "Where to store the agent token (default: <user config dir>/arcgitops/tokens/<resource-group>_<name>.token).")
	_ = connect.MarkFlagRequired("name")
	_ = connect.MarkFlagRequired("resource-group")

	show := &cobra.Command{
		Use:   "show",
		Short: "Show a registered cluster.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var out map[string]any
			if _, err := a.call(http.MethodGet, a.connectedPath(rg, name), nil, &out); err != nil {
				return err
			}
			return a.print(out, clusterColumns)
		},
	}
	show.Flags().StringVarP(&name, "name", "n", "", "Name of the cluster.")
	show.Flags().StringVarP(&rg, "resource-group", "g", "", "Name of the resource group.")
	_ = show.MarkFlagRequired("name")
	_ = show.MarkFlagRequired("resource-group")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the registered clusters of a resource group.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var out struct {
				Value []map[string]any `json:"value"`
			}
			path := arm.ResourceGroupID(a.subscription, rg) + "/providers/" + arm.ConnectedClustersType + "?api-version=" + arm.ClusterAPIVersion
			if _, err := a.call(http.MethodGet, path, nil, &out); err != nil {
				return err
			}
			if out.Value == nil {
				out.Value = []map[string]any{}
			}
			return a.print(out.Value, clusterColumns)
		},
	}
	list.Flags().StringVarP(&rg, "resource-group", "g", "", "Name of the resource group.")
	_ = list.MarkFlagRequired("resource-group")

	var yes bool
	del := &cobra.Command{
		Use:   "delete",
		Short: "Unregister a cluster and delete its configurations from the data plane.",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := a.confirm(yes, "delete cluster "+name+" and its configurations"); err != nil {
				return err
			}
			_, err := a.call(http.MethodDelete, a.connectedPath(rg, name), nil, nil)
			return err
		},
	}
	del.Flags().StringVarP(&name, "name", "n", "", "Name of the cluster.")
	del.Flags().StringVarP(&rg, "resource-group", "g", "", "Name of the resource group.")
	del.Flags().BoolVarP(&yes, "yes", "y", false, "Do not prompt for confirmation.")
	_ = del.MarkFlagRequired("name")
	_ = del.MarkFlagRequired("resource-group")

	cmd.AddCommand(connect, show, list, del)
	return cmd
}

// connectedPath is the path of a connected cluster, with its api-version.
func (a *App) connectedPath(rg, name string) string {
	return arm.ClusterID(a.subscription, rg, arm.ConnectedClustersType, name) + "?api-version=" + arm.ClusterAPIVersion
}

// storeToken writes the agent token to a 0600 file and returns its path.
func (a *App) storeToken(path, rg, name, token string) (string, error) {
	if path == "" {
		dir := a.ConfigDir
		if dir == "" {
			d, err := os.UserConfigDir()
			if err != nil {
				return "", fmt.Errorf("cannot find a config directory for the token: %w (set --agent-token-file)", err)
			}
			dir = d
		}
		path = filepath.Join(dir, "arcgitops", "tokens", rg+"_"+name+".token")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("cannot store the agent token in %s: %w", path, err)
	}
	return path, nil
}
