package portal

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestSummarize(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cfg := func(name, cluster, state string) Configuration {
		return Configuration{ID: cluster + "/" + name, Name: name, ClusterName: cluster, ComplianceState: state}
	}
	for _, tc := range []struct {
		name        string
		fleet       Fleet
		page        int
		connected   int
		stale       []string
		states      []StateCount
		configs     []string
		pageOf, all int
	}{
		{name: "empty", page: 1, pageOf: 1},
		{name: "states worst first, configurations worst first then by cluster and name",
			fleet: Fleet{Configurations: []Configuration{cfg("a", "c2", "Compliant"), cfg("b", "c1", "Pending"), cfg("a", "c1", "Non-Compliant"),
				cfg("z", "c0", "Compliant"), cfg("x", "c3", "Unknown"), cfg("y", "c3", "Suspended"), cfg("q", "c4", "Weird")}},
			page: 1, pageOf: 1, all: 7,
			states: []StateCount{{"Non-Compliant", 1, 100.0 / 7}, {"Weird", 1, 100.0 / 7}, {"Unknown", 1, 100.0 / 7}, {"Pending", 1, 100.0 / 7},
				{"Suspended", 1, 100.0 / 7}, {"Compliant", 2, 200.0 / 7}},
			configs: []string{"c1/a", "c4/q", "c3/x", "c1/b", "c3/y", "c0/z", "c2/a"}},
		{name: "agents unseen for StaleAfter or never, the longest first; connected counted",
			fleet: Fleet{Clusters: []Cluster{
				{Name: "fresh", Connectivity: "Connected", LastSeen: now.Add(-time.Minute)},
				{Name: "edge", Connectivity: "Connected", LastSeen: now.Add(-StaleAfter)},
				{Name: "old", Connectivity: "Connected", LastSeen: now.Add(-time.Hour)},
				{Name: "never"},
			}},
			page: 1, pageOf: 1, connected: 3, stale: []string{"never", "old", "edge"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			o := Summarize(tc.fleet, now, tc.page)
			g.Expect(o.Clusters).To(Equal(len(tc.fleet.Clusters)))
			g.Expect(o.Connected).To(Equal(tc.connected))
			var stale []string
			for _, c := range o.Stale {
				stale = append(stale, c.Name)
			}
			g.Expect(stale).To(Equal(tc.stale))
			g.Expect(o.States).To(HaveLen(len(tc.states)))
			for i, s := range tc.states {
				g.Expect(o.States[i].State).To(Equal(s.State))
				g.Expect(o.States[i].Count).To(Equal(s.Count))
				g.Expect(o.States[i].Percent).To(BeNumerically("~", s.Percent, 1e-9))
			}
			var ids []string
			for _, c := range o.Configurations {
				ids = append(ids, c.ID)
			}
			g.Expect(ids).To(Equal(tc.configs))
			g.Expect(o.Pages).To(Equal(tc.pageOf))
			g.Expect(o.All).To(Equal(tc.all))
		})
	}
}

func TestSummarizeCapsStale(t *testing.T) {
	g := NewWithT(t)
	var f Fleet
	now := time.Now()
	for i := range StaleShown + 5 {
		f.Clusters = append(f.Clusters, Cluster{Name: fmt.Sprintf("c%02d", i), LastSeen: now.Add(-time.Duration(i+10) * time.Minute)})
	}
	o := Summarize(f, now, 1)
	g.Expect(o.StaleCount).To(Equal(StaleShown + 5))
	g.Expect(o.Stale).To(HaveLen(StaleShown))
	g.Expect(o.Stale[0].Name).To(Equal(fmt.Sprintf("c%02d", StaleShown+4))) // unseen the longest
}

func TestSummarizePages(t *testing.T) {
	g := NewWithT(t)
	var f Fleet
	for i := range 2*PageSize + 3 {
		f.Configurations = append(f.Configurations, Configuration{ID: fmt.Sprintf("c%03d", i), Name: fmt.Sprintf("c%03d", i), ComplianceState: "Compliant"})
	}
	for _, tc := range []struct{ ask, page, first, n int }{
		{1, 1, 0, PageSize}, {2, 2, PageSize, PageSize}, {3, 3, 2 * PageSize, 3}, {0, 1, 0, PageSize}, {-4, 1, 0, PageSize}, {99, 3, 2 * PageSize, 3},
	} {
		o := Summarize(f, time.Now(), tc.ask)
		g.Expect(o.Pages).To(Equal(3))
		g.Expect(o.Page).To(Equal(tc.page), "page %d", tc.ask)
		g.Expect(o.Configurations).To(HaveLen(tc.n))
		g.Expect(o.Configurations[0].ID).To(Equal(fmt.Sprintf("c%03d", tc.first)))
	}
}

func TestSummarizeWaiting(t *testing.T) {
	g := NewWithT(t)
	var f Fleet
	for i := range StaleShown + 3 {
		f.Configurations = append(f.Configurations,
			Configuration{ID: fmt.Sprintf("w%02d", i), Name: "cfg", ClusterName: fmt.Sprintf("c%02d", StaleShown+3-i), ComplianceState: "Pending", WaitingForProtectedSettings: true},
			Configuration{ID: fmt.Sprintf("o%02d", i), Name: "other", ClusterName: fmt.Sprintf("c%02d", i), ComplianceState: "Pending"})
	}
	o := Summarize(f, time.Now(), 1)
	g.Expect(o.WaitingCount).To(Equal(StaleShown + 3))
	g.Expect(o.Waiting).To(HaveLen(StaleShown))
	g.Expect(o.Waiting[0].ClusterName).To(Equal("c01")) // by cluster
	for _, c := range o.Waiting {
		g.Expect(c.WaitingForProtectedSettings).To(BeTrue())
	}
	g.Expect(Summarize(Fleet{Configurations: f.Configurations[1:2]}, time.Now(), 1).Waiting).To(BeEmpty())
}
