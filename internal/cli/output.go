package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// column is a table column: a header and a path into the object.
type column struct {
	Header string
	Path   string // dotted, e.g. properties.complianceState
}

// print writes v (an object or a list of objects) in the chosen format;
// table and tsv show columns.
func (a *App) print(v any, columns []column) error {
	return a.printRows(v, nil, columns)
}

// printRows writes v as json or yaml, and rows (v when nil) as a table or
// tsv, as az's table transformers do; --query applies to v, and a table of
// its result shows the result.
func (a *App) printRows(v any, rows []map[string]any, columns []column) error {
	if a.queryExpr != nil {
		rows = nil
	}
	v, columns, err := a.query(v, columns)
	if err != nil {
		return err
	}
	switch a.output {
	case "none":
		return nil
	case "json", "jsonc":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(a.Out, string(b))
		return err
	case "yaml", "yamlc":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = a.Out.Write(b)
		return err
	}
	if rows == nil {
		rows = asRows(v)
	}
	if a.output == "tsv" {
		for _, r := range rows {
			vals := make([]string, len(columns))
			for i, c := range columns {
				vals[i] = lookup(r, c.Path)
			}
			fmt.Fprintln(a.Out, strings.Join(vals, "\t"))
		}
		return nil
	}
	tw := tabwriter.NewWriter(a.Out, 0, 0, 2, ' ', 0)
	headers := make([]string, len(columns))
	rules := make([]string, len(columns))
	for i, c := range columns {
		headers[i] = c.Header
		rules[i] = strings.Repeat("-", len(c.Header))
	}
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	fmt.Fprintln(tw, strings.Join(rules, "\t"))
	for _, r := range rows {
		vals := make([]string, len(columns))
		for i, c := range columns {
			vals[i] = lookup(r, c.Path)
		}
		fmt.Fprintln(tw, strings.Join(vals, "\t"))
	}
	return tw.Flush()
}

func asRows(v any) []map[string]any {
	switch t := v.(type) {
	case nil:
		return nil
	case string, bool, float64, json.Number:
		return []map[string]any{{"": t}}
	case []any:
		if len(t) > 0 {
			if _, ok := t[0].(map[string]any); !ok {
				rows := make([]map[string]any, 0, len(t))
				for _, x := range t {
					rows = append(rows, map[string]any{"": x})
				}
				return rows
			}
		}
	}
	b, _ := json.Marshal(v)
	var list []map[string]any
	if json.Unmarshal(b, &list) == nil {
		return list
	}
	var one map[string]any
	if json.Unmarshal(b, &one) == nil {
		return []map[string]any{one}
	}
	return nil
}

func lookup(m map[string]any, path string) string {
	var cur any = m
	if path == "" {
		cur = m[""] // a plain value (a --query result)
	}
	for _, p := range strings.Split(path, ".") {
		if path == "" {
			break
		}
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	switch t := cur.(type) {
	case nil:
		return ""
	case string:
		return t
	case []any, map[string]any:
		b, _ := json.Marshal(t)
		return string(b)
	default:
		return fmt.Sprint(t)
	}
}

// fluxColumns are az's table columns of a flux configuration (its
// flattened shape).
var fluxColumns = []column{
	{"Namespace", "namespace"},
	{"Name", "name"},
	{"Scope", "scope"},
	{"ProvisioningState", "provisioningState"},
	{"ComplianceState", "complianceState"},
	{"StatusUpdatedAt", "statusUpdatedAt"},
	{"SourceUpdatedAt", "sourceUpdatedAt"},
}

// kustomizationColumns are az's, over kustomizationRows.
var kustomizationColumns = []column{
	{"Name", "name"},
	{"Path", "path"},
	{"DependsOn", "dependsOn"},
	{"SyncInterval", "syncInterval"},
	{"Timeout", "timeout"},
	{"Prune", "prune"},
	{"Force", "force"},
}

// objectColumns are az's, over objectRows.
var objectColumns = []column{
	{"Kind", "kind"},
	{"Namespace", "namespace"},
	{"Name", "name"},
	{"ComplianceState", "complianceState"},
	{"Message", "message"},
}

var clusterColumns = []column{
	{"Name", "name"},
	{"Location", "location"},
	{"ProvisioningState", "properties.provisioningState"},
	{"Type", "type"},
}
