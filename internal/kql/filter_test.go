package kql

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// A leading `where column == "value"` is answered by Env.Filter where it
// can, and the answer is the one the engine gives without it.
func TestFilterPushdown(t *testing.T) {
	type call struct {
		table, col, value string
		fold              bool
	}
	cases := []struct {
		query string
		calls []call // what Filter is asked
	}{
		{`Resources | where type == "microsoft.kubernetes/connectedclusters" | project name`,
			[]call{{"Resources", "type", "microsoft.kubernetes/connectedclusters", false}}},
		{`Resources | where "microsoft.kubernetes/connectedclusters" == type and resourceGroup == "east" | project name`,
			[]call{{"Resources", "type", "microsoft.kubernetes/connectedclusters", false}}},
		{`Resources | where type =~ "Microsoft.Kubernetes/ConnectedClusters" and toint(properties.totalNodeCount) > 2 and name != "c4" | project name`,
			[]call{{"Resources", "type", "Microsoft.Kubernetes/ConnectedClusters", true}}},
		// The filter the source cannot answer (name): the engine filters.
		{`Resources | where name == "c3" | project name`, []call{{"Resources", "name", "c3", false}}},
		// Not a leading equality of a column with a string: not asked.
		{`Resources | where type == "x" or name == "c1" | project name`, nil},
		{`Resources | where resourceGroup != "east" | project name`, nil},
		{`Resources | where type == "" | project name`, nil},
		{`Resources | project name, type | where type == "microsoft.kubernetes/connectedclusters"`, nil},
		// Inside subqueries and joins, each table is asked on its own.
		{`Resources | where type == "microsoft.kubernetes/connectedclusters" | extend clusterId = tolower(id)
| join kind=leftanti (KubernetesConfigurationResources | where type == "microsoft.kubernetesconfiguration/fluxconfigurations"
    | extend clusterId = tolower(tostring(split(id, "/providers/Microsoft.KubernetesConfiguration/")[0]))) on clusterId | project name`,
			[]call{{"Resources", "type", "microsoft.kubernetes/connectedclusters", false},
				{"KubernetesConfigurationResources", "type", "microsoft.kubernetesconfiguration/fluxconfigurations", false}}},
		// A let's table is not the source's.
		{`let c = Resources | where type == "microsoft.kubernetes/connectedclusters"; c | where type == "x" | count`,
			[]call{{"Resources", "type", "microsoft.kubernetes/connectedclusters", false}}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			g := NewWithT(t)
			want, err := run(t, tc.query)
			g.Expect(err).NotTo(HaveOccurred())
			parsed, err := Parse(tc.query, tableNames)
			g.Expect(err).NotTo(HaveOccurred())
			tables := fleet()
			var calls []call
			got, err := parsed.Run(Env{Now: now,
				Tables: func(name string) (*Table, error) { return tables[canonical(name)], nil },
				// The source answers for type only, from its own reading of the rows.
				Filter: func(table, col, value string, fold bool) (*Table, bool, error) {
					calls = append(calls, call{table, col, value, fold})
					if col != "type" {
						return nil, false, nil
					}
					in := tables[canonical(table)]
					out := &Table{Columns: in.Columns}
					for _, r := range in.Rows {
						typ := r["type"].(string)
						if typ == value || fold && strings.EqualFold(typ, value) {
							out.Rows = append(out.Rows, r)
						}
					}
					return out, true, nil
				}})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(calls).To(Equal(tc.calls))
			g.Expect(rows(got)).To(Equal(rows(want)))
			g.Expect(got.Columns).To(Equal(want.Columns))
		})
	}
	// The pushed-down answer is trusted: rows the source gives are not
	// filtered again by the equality (a source that answers wrongly shows).
	parsed, err := Parse(`Resources | where type == "nothing" | count`, tableNames)
	if err != nil {
		t.Fatal(err)
	}
	res, err := parsed.Run(Env{Now: now, Tables: func(string) (*Table, error) { return nil, fmt.Errorf("not asked") },
		Filter: func(string, string, string, bool) (*Table, bool, error) { return fleet()["Resources"], true, nil }})
	if err != nil || len(res.Rows) != 1 || res.Rows[0]["Count"] != int64(6) {
		t.Fatalf("got %v, %v: want the source's 6 rows counted", res, err)
	}
}

func canonical(name string) string {
	i := slices.IndexFunc(tableNames, func(n string) bool { return strings.EqualFold(n, name) })
	return tableNames[i]
}
