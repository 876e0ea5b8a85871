package cli

import (
	"net/http"

	"github.com/spf13/cobra"
)

// graphAPIVersion is the Resource Graph api-version az graph sends.
const graphAPIVersion = "2022-10-01"

func (a *App) graphCommand() *cobra.Command {
	return group("graph", "Query the fleet with Resource Graph's KQL.", a.graphQuery())
}

func (a *App) graphQuery() *cobra.Command {
	var query, skipToken string
	var first, skip int
	var subscriptions, managementGroups []string
	cmd := leaf("query", "Run a Resource Graph query (KQL) over Resources, ResourceContainers, KubernetesConfigurationResources and PolicyResources.", func(*cobra.Command) error {
		if first < 1 || first > 1000 {
			return usagef("--first must be 1 to 1000")
		}
		if skip < 0 {
			return usagef("--skip must be 0 or more")
		}
		options := map[string]any{"$top": first, "resultFormat": "table"}
		if skip > 0 {
			options["$skip"] = skip
		}
		if skipToken != "" {
			options["$skipToken"] = skipToken
		}
		body := map[string]any{"query": query, "options": options}
		if len(subscriptions) > 0 {
			body["subscriptions"] = subscriptions
		}
		if len(managementGroups) > 0 {
			body["managementGroups"] = managementGroups
		}
		var res struct {
			Count        int     `json:"count"`
			TotalRecords int     `json:"totalRecords"`
			SkipToken    *string `json:"$skipToken"`
			Data         struct {
				Columns []struct {
					Name string `json:"name"`
				} `json:"columns"`
				Rows [][]any `json:"rows"`
			} `json:"data"`
		}
		if _, err := a.call(http.MethodPost, "/providers/Microsoft.ResourceGraph/resources?api-version="+graphAPIVersion, body, &res); err != nil {
			return err
		}
		// As az graph query prints it: the rows as objects, and the page.
		columns := make([]column, len(res.Data.Columns))
		data := make([]map[string]any, len(res.Data.Rows))
		for i, c := range res.Data.Columns {
			columns[i] = column{Header: c.Name, Path: c.Name}
		}
		for i, row := range res.Data.Rows {
			data[i] = map[string]any{}
			for j, c := range res.Data.Columns {
				if j < len(row) {
					data[i][c.Name] = row[j]
				}
			}
		}
		out := map[string]any{"count": res.Count, "data": data, "skip_token": res.SkipToken, "total_records": res.TotalRecords}
		return a.printRows(out, data, columns)
	})
	required(cmd, &query, "graph-query", "q", "The KQL query, e.g. \"KubernetesConfigurationResources | summarize count() by tostring(properties.complianceState)\".")
	cmd.Flags().IntVar(&first, "first", 100, "The most rows to return: 1 to 1000.")
	cmd.Flags().IntVar(&skip, "skip", 0, "Rows to skip first.")
	cmd.Flags().StringVar(&skipToken, "skip-token", "", "The skip_token of the previous page, for the next.")
	cmd.Flags().StringSliceVar(&subscriptions, "subscriptions", nil, "Only these subscriptions (IDs).")
	cmd.Flags().StringSliceVarP(&managementGroups, "management-groups", "m", nil, "Management groups (not served by the data plane: it answers with what to use instead).")
	return cmd
}
