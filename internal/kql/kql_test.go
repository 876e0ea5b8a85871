package kql

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

var tableNames = []string{"Resources", "KubernetesConfigurationResources"}

// fleet is 6 clusters in 2 resource groups, c0..c5, and a configuration on
// the even ones: cluster scope and Compliant, except c4's (namespace scope,
// Non-Compliant); c0 also has a second, Pending one.
func fleet() map[string]*Table {
	res := &Table{Columns: []string{"id", "name", "type", "resourceGroup", "location", "properties"}}
	cfg := &Table{Columns: []string{"id", "name", "type", "resourceGroup", "properties"}}
	for i := range 6 {
		rg := []string{"east", "west"}[i%2]
		id := fmt.Sprintf("/subscriptions/s1/resourceGroups/%s/providers/Microsoft.Kubernetes/connectedClusters/c%d", rg, i)
		res.Rows = append(res.Rows, Row{"id": id, "name": fmt.Sprintf("c%d", i), "type": "microsoft.kubernetes/connectedclusters",
			"resourceGroup": rg, "location": "westeurope", "properties": map[string]any{"totalNodeCount": int64(i + 1)}})
		if i%2 == 1 {
			continue
		}
		state, scope := "Compliant", "cluster"
		if i == 4 {
			state, scope = "Non-Compliant", "namespace"
		}
		cfg.Rows = append(cfg.Rows, Row{"id": id + "/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/baseline", "name": "baseline",
			"type": "microsoft.kubernetesconfiguration/fluxconfigurations", "resourceGroup": rg,
			"properties": map[string]any{"complianceState": state, "scope": scope, "statusUpdatedAt": now.Add(-time.Hour).Format(time.RFC3339),
				"gitRepository": map[string]any{"url": "https://github.com/org/fleet", "repositoryRef": map[string]any{"branch": "main"}},
				"statuses":      []any{map[string]any{"kind": "GitRepository"}, map[string]any{"kind": "Kustomization"}}}})
	}
	cfg.Rows = append(cfg.Rows, Row{"id": res.Rows[0]["id"].(string) + "/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/apps", "name": "apps",
		"type": "microsoft.kubernetesconfiguration/fluxconfigurations", "resourceGroup": "east",
		"properties": map[string]any{"complianceState": "Pending", "scope": "cluster", "statuses": []any{}}})
	return map[string]*Table{"Resources": res, "KubernetesConfigurationResources": cfg}
}

func run(t *testing.T, q string) (*Table, error) {
	t.Helper()
	parsed, err := Parse(q, tableNames)
	if err != nil {
		return nil, err
	}
	tables := fleet()
	return parsed.Run(Env{Now: now, Tables: func(name string) (*Table, error) {
		for k, v := range tables {
			if strings.EqualFold(k, name) {
				return v, nil
			}
		}
		return nil, fmt.Errorf("no table %s", name)
	}})
}

// rows renders a result's rows as "v1 v2 ..." lines over its columns.
func rows(t *Table) []string {
	var out []string
	for _, r := range t.Rows {
		var parts []string
		for _, c := range t.Columns {
			v, _ := Get(r, c)
			parts = append(parts, str(v))
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

// The brief's three queries, as written, with the expected rows computed
// from fleet() by hand.
func TestBriefQueries(t *testing.T) {
	g := NewWithT(t)
	res, err := run(t, `// Compliance of fluxConfigurations
KubernetesConfigurationResources
| where type == "microsoft.kubernetesconfiguration/fluxconfigurations"
| extend complianceState = properties.complianceState
| summarize count() by complianceState, tostring(properties.scope)
| order by count_ desc`)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Columns).To(Equal([]string{"complianceState", "properties_scope", "count_"}))
	// baseline on c0, c2 (Compliant, cluster), c4 (Non-Compliant,
	// namespace); apps on c0 (Pending, cluster).
	g.Expect(rows(res)[0]).To(Equal("Compliant cluster 2"))
	g.Expect(rows(res)[1:]).To(ConsistOf("Non-Compliant namespace 1", "Pending cluster 1"))

	// Compares cluster ids with scopes ("cluster", "namespace"): no id is
	// one, so every cluster is listed.
	res, err = run(t, `Resources
| where type == "microsoft.kubernetes/connectedclusters"
| where id !in (
    KubernetesConfigurationResources
    | where type == "microsoft.kubernetesconfiguration/fluxconfigurations"
    | distinct tostring(properties.scope)
)
| project name, resourceGroup, location`)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Columns).To(Equal([]string{"name", "resourceGroup", "location"}))
	g.Expect(rows(res)).To(Equal([]string{"c0 east westeurope", "c1 west westeurope", "c2 east westeurope", "c3 west westeurope", "c4 east westeurope", "c5 west westeurope"}))

	// No configuration is "Failed" (the states are Compliant,
	// Non-Compliant, Pending...), and they have no lastUpdatedAt.
	res, err = run(t, `KubernetesConfigurationResources
| where type == "microsoft.kubernetesconfiguration/fluxconfigurations"
| where properties.complianceState == "Failed"
| where properties.lastUpdatedAt >= ago(24h)
| project clusterName=split(id, '/')[8], configName=name, errorMessage=properties.statusMessage`)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Columns).To(Equal([]string{"clusterName", "configName", "errorMessage"}))
	g.Expect(res.Rows).To(BeEmpty())

	// Functions not served yet say so.
	_, err = run(t, `Resources
| where type == "microsoft.kubernetes/connectedclusters"
| where tolower(id) !in (KubernetesConfigurationResources | extend cluster = tolower(strcat_array(array_slice(split(id, '/'), 0, 8), '/')) | distinct cluster)
| project name`)
	g.Expect(err).To(MatchError(ContainSubstring("unknown function 'strcat_array'")))
	_, err = run(t, `Resources
| where type == "microsoft.kubernetes/connectedclusters"
| where tolower(id) !in (KubernetesConfigurationResources | extend cluster = tolower(substring(id, 0, indexof(id, '/providers/Microsoft.KubernetesConfiguration'))) | distinct cluster)
| project name`)
	g.Expect(err).To(MatchError(ContainSubstring("unknown function 'indexof'")))
}

func TestOperators(t *testing.T) {
	for _, tc := range []struct {
		name, q string
		cols    []string
		want    []string
		ordered bool
	}{
		{"where and", `Resources | where resourceGroup == "east" and properties.totalNodeCount > 2 | project name`, []string{"name"}, []string{"c2", "c4"}, false},
		{"filter", `Resources | filter name =~ "C1" | project name`, []string{"name"}, []string{"c1"}, false},
		{"extend keeps columns", `Resources | extend nodes = properties.totalNodeCount * 2 | where name == "c2" | project name, nodes`, []string{"name", "nodes"}, []string{"c2 6"}, false},
		{"project expression unnamed", `Resources | where name == "c3" | project properties.totalNodeCount`, []string{"properties_totalNodeCount"}, []string{"4"}, false},
		{"project-away", `Resources | project-away id, type, properties, location | where name == "c0"`, []string{"name", "resourceGroup"}, []string{"c0 east"}, false},
		{"project-rename", `Resources | project-rename group = resourceGroup | where name == "c1" | project group`, []string{"group"}, []string{"west"}, false},
		{"summarize by", `Resources | summarize clusters = count(), nodes = sum(toint(properties.totalNodeCount)) by resourceGroup | order by resourceGroup asc`,
			[]string{"resourceGroup", "clusters", "nodes"}, []string{"east 3 9", "west 3 12"}, true},
		{"summarize aggregates", `Resources | summarize countif(resourceGroup == "east"), dcount(location), avg(todouble(properties.totalNodeCount)), min(name), max(name)`,
			[]string{"countif_", "dcount_location", "avg_", "min_name", "max_name"}, []string{"3 1 3.5 c0 c5"}, false},
		{"make_set and make_list", `Resources | summarize set = make_set(resourceGroup), list = make_list(location) | project array_length(set), array_length(list)`,
			[]string{"set", "list"}, []string{"2 6"}, false},
		{"make_set and make_list with a maximum size", `Resources | summarize s = make_set(resourceGroup, 1), l = make_list(name, 3) | project tostring(s), tostring(l)`,
			[]string{"s", "l"}, []string{`["east"] ["c0","c1","c2"]`}, false},
		{"summarize of nothing", `Resources | where name == "none" | summarize count()`, []string{"count_"}, []string{"0"}, false},
		{"order desc by default", `Resources | order by name | take 2 | project name`, []string{"name"}, []string{"c5", "c4"}, true},
		{"sort asc, then", `Resources | sort by resourceGroup asc, name desc | take 3 | project name`, []string{"name"}, []string{"c4", "c2", "c0"}, true},
		{"limit", `Resources | limit 1 | project name`, []string{"name"}, []string{"c0"}, true},
		{"top", `Resources | top 2 by toint(properties.totalNodeCount) | project name`, []string{"name"}, []string{"c5", "c4"}, true},
		{"distinct columns", `Resources | distinct resourceGroup, location | order by resourceGroup asc`, []string{"resourceGroup", "location"}, []string{"east westeurope", "west westeurope"}, true},
		{"distinct *", `Resources | project location | distinct *`, []string{"location"}, []string{"westeurope"}, false},
		{"count", `KubernetesConfigurationResources | count`, []string{"Count"}, []string{"4"}, false},
		{"in list", `Resources | where name in ("c1", "c3", "nope") | project name`, []string{"name"}, []string{"c1", "c3"}, false},
		{"!in dynamic", `Resources | where name !in (dynamic(["c0", "c1", "c2", "c3"])) | project name`, []string{"name"}, []string{"c4", "c5"}, false},
		{"in subquery", `Resources | where name in (KubernetesConfigurationResources | where properties.complianceState == "Compliant" | project tostring(split(id, "/")[8])) | project name`,
			[]string{"name"}, []string{"c0", "c2"}, false},
		{"nested tabular", `(Resources | where resourceGroup == "west") | count`, []string{"Count"}, []string{"3"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			res, err := run(t, tc.q)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Columns).To(Equal(tc.cols))
			got := rows(res)
			if !tc.ordered {
				sort.Strings(got)
			}
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func TestScalarFunctions(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{`tostring(42)`, "42"}, {`toint("17")`, "17"}, {`tolong(2.9)`, "2"}, {`todouble("1.5")`, "1.5"}, {`tobool("true")`, "true"},
		{`todatetime("2026-11-26")`, "2026-11-26T00:00:00.0000000Z"}, {`totimespan("01:30:00")`, "01:30:00"},
		{`tolower("ABC")`, "abc"}, {`toupper("abc")`, "ABC"}, {`strlen("héllo")`, "5"}, {`substring("abcdef", 2, 3)`, "cde"},
		{`substring("abc", 1)`, "bc"}, {`split("a/b/c", "/")[1]`, "b"}, {`split("a/b/c", "/", 2)`, `["c"]`}, {`strcat("a", 1, true)`, "a1true"},
		{`iff(1 > 2, "yes", "no")`, "no"}, {`iif(true, 1, 2)`, "1"}, {`case(false, "a", 1 == 1, "b", "c")`, "b"}, {`case(false, "a", "c")`, "c"},
		{`coalesce("", "x")`, "x"}, {`isempty("")`, "true"}, {`isnotempty("a")`, "true"}, {`isnull(dynamic(null))`, "true"}, {`isnotnull(1)`, "true"},
		{`array_length(dynamic([1, 2, 3]))`, "3"}, {`bag_keys(dynamic({"b": 1, "a": 2}))`, `["a","b"]`},
		{`parse_json('{"a": {"b": [10, 20]}}').a.b[1]`, "20"}, {`parse_json('{"x": 1}')['x']`, "1"}, {`todynamic('[1]')[0]`, "1"},
		{`now()`, "2026-11-26T12:00:00.0000000Z"}, {`ago(1d)`, "2026-11-25T12:00:00.0000000Z"}, {`now(-2h)`, "2026-11-26T10:00:00.0000000Z"},
		{`bin(datetime(2026-11-26T12:34:56Z), 1h)`, "2026-11-26T12:00:00.0000000Z"}, {`bin(17, 5)`, "15"}, {`datetime(2026-11-26) + 1d`, "2026-11-27T00:00:00.0000000Z"},
		{`timespan(2d) / 2`, "1.00:00:00"}, {`1h * 3`, "03:00:00"}, {`1d / 12h`, "2"}, {`7 / 2`, "3"}, {`7.0 / 2`, "3.5"}, {`7 % 4`, "3"}, {`-(3)`, "-3"}, {`1 + 2 * 3`, "7"},
		{`"abc" has "b"`, "false"}, {`"a-b c" has "b"`, "true"}, {`"abc" contains "B"`, "true"}, {`"abc" contains_cs "B"`, "false"},
		{`"abc" startswith "AB"`, "true"}, {`"abc" endswith "bc"`, "true"}, {`"abc" !contains "z"`, "true"}, {`"abc" !has "abc"`, "false"},
		{`"abc" matches regex "^a.c$"`, "true"}, {`"ABC" =~ "abc"`, "true"}, {`"ABC" !~ "abc"`, "false"}, {`"ABC" == "abc"`, "false"},
		{`1 == 1.0`, "true"}, {`"1" == 1`, "false"}, {`dynamic(null) == dynamic(null)`, "false"}, {`not(1 > 2)`, "true"},
		{`1 < 2 or 1 / 0 == 0`, "true"}, {`2d > 24h`, "true"}, {`100ms < 1s`, "true"}, {`@"c:\dir" == 'c:\\dir'`, "true"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			g := NewWithT(t)
			res, err := run(t, `Resources | take 1 | project v = `+tc.expr)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(str(res.Rows[0]["v"])).To(Equal(tc.want))
		})
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ q, want string }{
		{`Resources | sumarize count()`, "line 1, column 13: unknown operator 'sumarize': did you mean 'summarize'?"},
		{`Resourcs | count`, "line 1, column 1: unknown table 'Resourcs': did you mean 'Resources'?"},
		{"Resources\n| where tolowr(name) == 'x'", "line 2, column 9: unknown function 'tolowr': did you mean 'tolower'?"},
		{`Resources | where name == "x`, `line 1, column 27: the string has no closing "`},
		{`Resources | where (name == "x"`, "expected ')', found the end of the query"},
		{`Resources | project substring("a")`, "substring takes 2 to 3 arguments, not 1"},
		{`Resources | summarize count(name)`, "count takes 0 arguments, not 1"},
		{`Resources | summarize tolower(name)`, "summarize takes aggregates (count(), sum(x), ...) before by"},
		{`Resources | where count() > 1`, "count() is an aggregate: use it in summarize"},
		{`Resources | project nme`, "no column 'nme': did you mean 'name'?"},
		{`Resources | order name`, "expected 'by' after order"},
		{`Resources | take "five"`, "expected a whole number of rows"},
		{`Resources | where name matches "x"`, "expected 'regex' after matches"},
		{`Resources | where name == "x" extra`, "expected '|' or the end of the query, found 'extra'"},
		{`Resources | where name matches regex "("`, "matches regex: error parsing regexp"},
		{`Resources | where todatetime(datetime(yesterday)) > now()`, "'yesterday' is not a datetime"},
		{`Resources | project x = 1 # 2`, "unexpected character '#'"},
		{`Resources | project-rename a = 1`, "project-rename takes new = old column pairs"},
		{`Resources | project-rename a = nothere`, "no column 'nothere' to rename"},
		{`Resources | summarize make_list(name, 0)`, "line 1, column 39: make_list: the maximum size must be a whole number, 1 or more"},
		{`Resources | summarize make_set(name, "ten")`, "make_set: the maximum size must be a whole number, 1 or more"},
		{`Resources | where type == "x" | summarize count() by nosuch`, "no column 'nosuch'"},
		{`Resources | summarize arg_max(nosuch, *)`, "no column 'nosuch'"},
	} {
		_, err := run(t, tc.q)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n  got  %v\n  want %q", tc.q, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`Resources | where name == "x" | project a = 1 + 2`, `T | summarize count() by tostring(p.s) | order by count_ desc`,
		`Resources | where id !in (Resources | distinct name)`, `Resources | project v = dynamic({"a": [1, -2.5]})`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s, tableNames)
		if err != nil {
			return
		}
		tables := fleet()
		_, _ = q.Run(Env{Now: now, Tables: func(name string) (*Table, error) {
			for k, v := range tables {
				if strings.EqualFold(k, name) {
					return v, nil
				}
			}
			return &Table{}, nil
		}})
	})
}

func TestJoinUnionMvExpandLet(t *testing.T) {
	cfg := `KubernetesConfigurationResources | extend cluster = tostring(split(id, "/")[8]) | project cluster, config = name`
	for _, tc := range []struct {
		name, q string
		cols    []string
		want    []string
	}{
		{"inner join", `Resources | project cluster = name, resourceGroup | join kind=inner (` + cfg + `) on cluster | project cluster, config`,
			[]string{"cluster", "config"}, []string{"c0 apps", "c0 baseline", "c2 baseline", "c4 baseline"}},
		{"innerunique keeps one left row per key", `(` + cfg + `) | join (Resources | project cluster = name, resourceGroup) on cluster | count`,
			[]string{"Count"}, []string{"3"}},
		{"leftouter", `Resources | project cluster = name | join kind=leftouter (` + cfg + `) on $left.cluster == $right.cluster | where isnull(config) | project cluster`,
			[]string{"cluster"}, []string{"c1", "c3", "c5"}},
		{"renamed right columns", `Resources | where name == "c2" | project name, id | join kind=inner (KubernetesConfigurationResources | project name = "c2", id) on name | project name, id1`,
			[]string{"name", "id1"}, []string{"c2 /subscriptions/s1/resourceGroups/east/providers/Microsoft.Kubernetes/connectedClusters/c0/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/apps",
				"c2 /subscriptions/s1/resourceGroups/east/providers/Microsoft.Kubernetes/connectedClusters/c0/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/baseline",
				"c2 /subscriptions/s1/resourceGroups/east/providers/Microsoft.Kubernetes/connectedClusters/c2/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/baseline",
				"c2 /subscriptions/s1/resourceGroups/east/providers/Microsoft.Kubernetes/connectedClusters/c4/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/baseline"}},
		{"leftanti", `Resources | project cluster = name | join kind=leftanti (` + cfg + `) on cluster`, []string{"cluster"}, []string{"c1", "c3", "c5"}},
		{"leftsemi", `Resources | project cluster = name | join kind=leftsemi (` + cfg + `) on cluster`, []string{"cluster"}, []string{"c0", "c2", "c4"}},
		{"union operator", `Resources | where name == "c1" | project name | union (KubernetesConfigurationResources | where name == "apps" | project name, type)`,
			[]string{"name", "type"}, []string{"apps microsoft.kubernetesconfiguration/fluxconfigurations", "c1 "}},
		{"union source", `union Resources, KubernetesConfigurationResources | count`, []string{"Count"}, []string{"10"}},
		{"mv-expand array", `KubernetesConfigurationResources | where name == "baseline" | mv-expand status = properties.statuses | project kind = tostring(status.kind) | distinct kind`,
			[]string{"kind"}, []string{"GitRepository", "Kustomization"}},
		{"mv-expand: empty array gives no row, index", `KubernetesConfigurationResources | mv-expand with_itemindex=i s = properties.statuses | summarize count(), max(i)`,
			[]string{"count_", "max_i"}, []string{"6 1"}},
		{"mv-expand bag and typeof", `Resources | where name == "c0" | mv-expand p = properties | extend k = tostring(bag_keys(p)[0]) | project k`,
			[]string{"k"}, []string{"totalNodeCount"}},
		{"mv-expand limit", `KubernetesConfigurationResources | where name == "baseline" | mv-expand s = properties.statuses limit 1 | count`, []string{"Count"}, []string{"3"}},
		{"let scalar and tabular", `let big = 3; let clusters = Resources | where toint(properties.totalNodeCount) > big; clusters | project name`,
			[]string{"name"}, []string{"c3", "c4", "c5"}},
		{"arg_max *", `Resources | summarize arg_max(toint(properties.totalNodeCount), *) by resourceGroup | project resourceGroup, name`,
			[]string{"resourceGroup", "name"}, []string{"east c4", "west c5"}},
		{"arg_min columns", `Resources | summarize arg_min(name, location) by resourceGroup`,
			[]string{"resourceGroup", "name", "location"}, []string{"east c0 westeurope", "west c1 westeurope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			res, err := run(t, tc.q)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Columns).To(Equal(tc.cols))
			got := rows(res)
			sort.Strings(got)
			g.Expect(got).To(Equal(tc.want))
		})
	}
	for _, tc := range []struct{ q, want string }{
		{`Resources | join kind=fullouter (Resources) on name`, "join kind 'fullouter' is not served"},
		{`Resources | join (Resources) by name`, "expected 'on' and the join's keys"},
		{`Resources | join (Resources) on $left.name == name`, "a join key compares $left.column with $right.column"},
		{`Resources | join (Resources | project x = 1) on name`, "join: the right side has no column 'name'"},
		{`Resources | union withsource=T Resources`, "union's withsource= is not served"},
		{`let x = 1 Resources`, "expected ';'"},
		{`Resources | mv-expand p = properties to typeof string`, "expected '('"},
	} {
		_, err := run(t, tc.q)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n  got  %v\n  want %q", tc.q, err, tc.want)
		}
	}
}
