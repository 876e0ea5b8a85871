package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armclient"
)

func (a *App) connectedk8sCommand() *cobra.Command {
	return group("connectedk8s", "Register clusters with the data plane (as Azure Arc does).",
		a.connectedConnect(), a.connectedShow(), a.connectedList(), a.connectedDelete())
}

// connectedFlags name one cluster: --name and --resource-group.
type connectedFlags struct{ Name, ResourceGroup string }

func (c *connectedFlags) bind(cmd *cobra.Command) {
	required(cmd, &c.Name, "name", "n", "Name of the cluster.")
	required(cmd, &c.ResourceGroup, "resource-group", "g", "Name of the resource group.")
}

func (a *App) connectedConnect() *cobra.Command {
	var c connectedFlags
	var location, tokenFile string
	cmd := leaf("connect", "Register a cluster and store its agent token; prints how to start the agent.", func(*cobra.Command) error {
		var out map[string]any
		resp, err := a.call(http.MethodPut, a.connectedPath(c.ResourceGroup, c.Name), map[string]any{"location": location}, &out)
		if err != nil {
			return err
		}
		props, _ := out["properties"].(map[string]any)
		token, _ := props["agentToken"].(string)
		delete(props, "agentToken")
		if resp.StatusCode != http.StatusCreated || token == "" {
			a.warn("cluster %s was already registered: its agent token is unchanged", c.Name)
			return a.print(out, clusterColumns)
		}
		file, err := a.storeToken(tokenFile, c.ResourceGroup, c.Name, token)
		if err != nil {
			return err
		}
		id, _ := out["id"].(string)
		if !a.onlyErrors {
			caFlag, caValue := "", ""
			if a.caFile != "" {
				caFlag, caValue = " --dataplane-ca-file "+a.caFile, " --set-file agent.caCert="+a.caFile
			}
			fmt.Fprintf(a.Err, "Cluster %s registered. Its agent token is in %s (mode 0600).\nStart the agent in the cluster with:\n"+
				"  manager --dataplane-url %s%s --cluster-resource-id %s --agent-token-file %s\n"+
				"or with Helm:\n  helm install fluxconfig charts/fluxconfig -n flux-system --set agent.dataplaneURL=%s%s --set agent.clusterResourceID=%s --set-file agent.token=%s\n",
				c.Name, file, a.dataplane, caFlag, id, file, a.dataplane, caValue, id, file)
		}
		return a.print(out, clusterColumns)
	})
	c.bind(cmd)
	cmd.Flags().StringVarP(&location, "location", "l", "", "Location (region) of the cluster.")
	cmd.Flags().StringVar(&tokenFile, "agent-token-file", "", "Where to store the agent token (default: <user config dir>/arcgitops/tokens/<resource-group>_<name>.token).")
	return cmd
}

func (a *App) connectedShow() *cobra.Command {
	var c connectedFlags
	cmd := leaf("show", "Show a registered cluster.", func(*cobra.Command) error {
		var out map[string]any
		if _, err := a.call(http.MethodGet, a.connectedPath(c.ResourceGroup, c.Name), nil, &out); err != nil {
			return err
		}
		return a.print(out, clusterColumns)
	})
	c.bind(cmd)
	return cmd
}

func (a *App) connectedList() *cobra.Command {
	var rg string
	cmd := leaf("list", "List the registered clusters of a resource group.", func(*cobra.Command) error {
		path := arm.ResourceGroupID(a.subscription, rg) + "/providers/" + arm.ConnectedClustersType + "?api-version=" + arm.ClusterAPIVersion
		all, err := armclient.List[map[string]any](context.Background(), a.client(), path)
		if err != nil {
			return a.reachable(err)
		}
		return a.print(all, clusterColumns)
	})
	required(cmd, &rg, "resource-group", "g", "Name of the resource group.")
	return cmd
}

func (a *App) connectedDelete() *cobra.Command {
	var c connectedFlags
	var yes bool
	cmd := leaf("delete", "Unregister a cluster and delete its configurations from the data plane.", func(*cobra.Command) error {
		if err := a.confirm(yes, "delete cluster "+c.Name+" and its configurations"); err != nil {
			return err
		}
		_, err := a.call(http.MethodDelete, a.connectedPath(c.ResourceGroup, c.Name), nil, nil)
		return err
	})
	c.bind(cmd)
	bindYes(cmd, &yes)
	return cmd
}

// connectedPath is the path of a connected cluster, with its api-version.
func (a *App) connectedPath(rg, name string) string {
	return arm.ClusterID(a.subscription, rg, arm.ConnectedClustersType, name) + "?api-version=" + arm.ClusterAPIVersion
}

// storeToken writes the agent token to a 0600 file and returns its path.
func (a *App) storeToken(path, rg, name, token string) (string, error) {
	if path == "" {
		dir, err := a.configDir()
		if err != nil {
			return "", fmt.Errorf("%w (set --agent-token-file)", err)
		}
		path = filepath.Join(dir, "tokens", rg+"_"+name+".token")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("cannot store the agent token in %s: %w", path, err)
	}
	return path, nil
}
