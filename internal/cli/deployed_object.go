package cli

import (
	"net/http"
	"slices"

	"github.com/spf13/cobra"
)

func (a *App) deployedObjectCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "deployed-object", Short: "Show the Flux objects a configuration deployed, as the cluster reported them."}
	list := func() *cobra.Command {
		var c clusterFlags
		var config string
		cmd := &cobra.Command{
			Use:   "list",
			Short: "List the objects deployed by a Flux v2 configuration, with their compliance.",
			Args:  cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				statuses, err := a.statuses(&c, config)
				if err != nil {
					return err
				}
				return a.print(statuses, objectColumns)
			},
		}
		c.bind(cmd)
		bindConfigName(cmd, &config, "Name of the flux configuration.")
		return cmd
	}()
	show := func() *cobra.Command {
		var c clusterFlags
		var config, objName, objNS, objKind string
		cmd := &cobra.Command{
			Use:   "show",
			Short: "Show one object deployed by a Flux v2 configuration.",
			Args:  cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				statuses, err := a.statuses(&c, config)
				if err != nil {
					return err
				}
				i := slices.IndexFunc(statuses, func(s map[string]any) bool {
					return s["name"] == objName && s["namespace"] == objNS && s["kind"] == objKind
				})
				if i < 0 {
					return notFoundf("%s %s/%s is not among the objects of %s", objKind, objNS, objName, config)
				}
				return a.print(statuses[i], objectColumns)
			},
		}
		c.bind(cmd)
		cmd.Flags().StringVarP(&config, "name", "n", "", "Name of the flux configuration.")
		cmd.Flags().StringVar(&objName, "object-name", "", "Name of the object.")
		cmd.Flags().StringVar(&objNS, "object-namespace", "", "Namespace of the object.")
		cmd.Flags().StringVar(&objKind, "object-kind", "", "Kind of the object: GitRepository, Bucket, OCIRepository, Kustomization or HelmRelease.")
		for _, f := range []string{"name", "object-name", "object-namespace", "object-kind"} {
			_ = cmd.MarkFlagRequired(f)
		}
		return cmd
	}()
	cmd.AddCommand(list, show)
	return cmd
}

func (a *App) statuses(c *clusterFlags, config string) ([]map[string]any, error) {
	path, err := a.fluxPath(c, config)
	if err != nil {
		return nil, err
	}
	var out struct {
		Properties struct {
			Statuses []map[string]any `json:"statuses"`
		} `json:"properties"`
	}
	if _, err := a.call(http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	if out.Properties.Statuses == nil {
		return []map[string]any{}, nil
	}
	return out.Properties.Statuses, nil
}
