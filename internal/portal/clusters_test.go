package portal

import (
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
)

func TestClusters(t *testing.T) {
	cl := func(name, sub, rg string, tags map[string]string) Cluster {
		return Cluster{ID: "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Kubernetes/connectedClusters/" + name,
			Name: name, Subscription: sub, ResourceGroup: rg, Tags: tags}
	}
	fleet := Fleet{Clusters: []Cluster{
		cl("a", "s1", "east", map[string]string{"env": "prod"}),
		cl("b", "s1", "west", map[string]string{"env": "dev"}),
		cl("c", "s2", "east", nil),
		cl("d", "s2", "West", map[string]string{"Team": "x"}),
	}}
	conf := func(cluster, state string) Configuration {
		return Configuration{ClusterID: fleet.Clusters[cluster[0]-'a'].ID, ComplianceState: state}
	}
	fleet.Configurations = []Configuration{conf("a", "Compliant"), conf("a", "Non-Compliant"), conf("b", "Compliant"), conf("c", "Pending")}
	for _, tc := range []struct {
		name string
		q    ClusterQuery
		rows []string // name:compliance:configurations
	}{
		{"all, the worst first, clusters without a configuration last", ClusterQuery{}, []string{"a:Non-Compliant:2", "c:Pending:1", "b:Compliant:1", "d:None:0"}},
		{"a subscription", ClusterQuery{Subscription: "S2"}, []string{"c:Pending:1", "d:None:0"}},
		{"a resource group, but for case", ClusterQuery{ResourceGroup: "west"}, []string{"b:Compliant:1", "d:None:0"}},
		{"a tag's key, but for case", ClusterQuery{Tag: "team"}, []string{"d:None:0"}},
		{"a tag's value", ClusterQuery{Tag: "env = prod"}, []string{"a:Non-Compliant:2"}},
		{"a tag's value that no cluster has", ClusterQuery{Tag: "env=test"}, nil},
		{"compliance", ClusterQuery{Compliance: "Compliant"}, []string{"b:Compliant:1"}},
		{"no configuration", ClusterQuery{Compliance: "None"}, []string{"d:None:0"}},
		{"filters together", ClusterQuery{Subscription: "s1", Compliance: "Non-Compliant"}, []string{"a:Non-Compliant:2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			l := Clusters(fleet, tc.q, 1)
			var rows []string
			for _, r := range l.Rows {
				rows = append(rows, fmt.Sprintf("%s:%s:%d", r.Name, r.Compliance, r.Configurations))
			}
			g.Expect(rows).To(Equal(tc.rows))
			g.Expect(l.Matched).To(Equal(len(tc.rows)))
			g.Expect(l.Subscriptions).To(Equal([]string{"s1", "s2"}))
			g.Expect(l.ResourceGroups).To(Equal([]string{"West", "east", "west"}))
			g.Expect(l.States).To(Equal([]string{"Non-Compliant", "Pending", "Compliant", "None"}))
		})
	}
	var many Fleet
	for i := range PageSize + 1 {
		many.Clusters = append(many.Clusters, cl(fmt.Sprintf("c%03d", i), "s", "rg", nil))
	}
	l := Clusters(many, ClusterQuery{}, 2)
	NewWithT(t).Expect([]any{l.Page, l.Pages, len(l.Rows), l.Rows[0].Name}).To(Equal([]any{2, 2, 1, fmt.Sprintf("c%03d", PageSize)}))
}
