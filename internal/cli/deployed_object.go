package cli

import (
	"slices"

	"github.com/spf13/cobra"
)

func (a *App) deployedObjectCommand() *cobra.Command {
	list := a.readCommand("list", "List the objects deployed by a Flux v2 configuration, with their compliance.", nil,
		func(_ *configFlags, cfg map[string]any) error {
			all := statuses(cfg)
			return a.printRows(all, objectRows(all), objectColumns)
		})

	var objName, objNS, objKind string
	show := a.readCommand("show", "Show one object deployed by a Flux v2 configuration.",
		func(cmd *cobra.Command) {
			required(cmd, &objName, "object-name", "", "Name of the object.")
			required(cmd, &objNS, "object-namespace", "", "Namespace of the object.")
			required(cmd, &objKind, "object-kind", "", "Kind of the object: GitRepository, Bucket, OCIRepository, Kustomization, HelmRepository, HelmRelease or HelmChart.")
		},
		func(c *configFlags, cfg map[string]any) error {
			all := statuses(cfg)
			i := slices.IndexFunc(all, func(s map[string]any) bool {
				return s["name"] == objName && s["namespace"] == objNS && s["kind"] == objKind
			})
			if i < 0 {
				return notFoundf("%s %s/%s is not among the objects of %s", objKind, objNS, objName, c.Name)
			}
			return a.printRows(all[i], objectRows(all[i:i+1]), objectColumns)
		})
	return group("deployed-object", "Show the Flux objects a configuration deployed, as the cluster reported them.", list, show)
}

// statuses are the objects the cluster reported for a configuration (its
// statuses[]), never nil.
func statuses(cfg map[string]any) []map[string]any {
	props, _ := cfg["properties"].(map[string]any)
	list, _ := props["statuses"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, s := range list {
		if m, ok := s.(map[string]any); ok {
			out = append(out, withAttrs(m, azObjectAttrs))
		}
	}
	return out
}
