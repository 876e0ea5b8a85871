package portal

import (
	"cmp"
	"slices"
	"strings"
)

// ClusterQuery filters the clusters page: each field empty for any.
type ClusterQuery struct {
	Subscription, ResourceGroup string
	// Tag is "key" (has the tag) or "key=value".
	Tag string
	// Compliance is a cluster's worst configuration state, or "None" for
	// clusters without a configuration.
	Compliance string
}

// ClusterRow is a cluster on the clusters page: its worst configuration
// state and how many it has.
type ClusterRow struct {
	Cluster
	Compliance     string
	Configurations int
}

// ClusterList is a page of the clusters a query matches, the worst first,
// and the choices its filters offer.
type ClusterList struct {
	Query                         ClusterQuery
	Rows                          []ClusterRow
	Page, Pages, Matched          int
	Subscriptions, ResourceGroups []string
	States                        []string
}

// Clusters lists the clusters of f that q matches, the page'th page.
func Clusters(f Fleet, q ClusterQuery, page int) ClusterList {
	worst, counts := map[string]string{}, map[string]int{}
	for _, c := range f.Configurations {
		id := strings.ToLower(c.ClusterID)
		counts[id]++
		if w, ok := worst[id]; !ok || rank(c.ComplianceState) < rank(w) {
			worst[id] = c.ComplianceState
		}
	}
	l := ClusterList{Query: q}
	subs, groups, states := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, c := range f.Clusters {
		id := strings.ToLower(c.ID)
		row := ClusterRow{Cluster: c, Compliance: worst[id], Configurations: counts[id]}
		if row.Configurations == 0 {
			row.Compliance = "None"
		}
		subs[c.Subscription], groups[c.ResourceGroup], states[row.Compliance] = true, true, true
		if q.matches(row) {
			l.Rows = append(l.Rows, row)
		}
	}
	l.Subscriptions, l.ResourceGroups = sortedKeys(subs), sortedKeys(groups)
	l.States = sortedKeys(states)
	slices.SortFunc(l.States, func(a, b string) int { return cmp.Compare(stateOrder(a), stateOrder(b)) })
	slices.SortFunc(l.Rows, func(a, b ClusterRow) int {
		return cmp.Or(cmp.Compare(stateOrder(a.Compliance), stateOrder(b.Compliance)), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	l.Matched = len(l.Rows)
	l.Pages = max(1, (len(l.Rows)+PageSize-1)/PageSize)
	l.Page = min(max(page, 1), l.Pages)
	l.Rows = l.Rows[min((l.Page-1)*PageSize, len(l.Rows)):min(l.Page*PageSize, len(l.Rows))]
	return l
}

// stateOrder is rank, with clusters without a configuration last.
func stateOrder(s string) int {
	if s == "None" {
		return 99
	}
	return rank(s)
}

func (q ClusterQuery) matches(r ClusterRow) bool {
	if q.Subscription != "" && !strings.EqualFold(q.Subscription, r.Subscription) ||
		q.ResourceGroup != "" && !strings.EqualFold(q.ResourceGroup, r.ResourceGroup) ||
		q.Compliance != "" && q.Compliance != r.Compliance {
		return false
	}
	if q.Tag == "" {
		return true
	}
	key, value, hasValue := strings.Cut(q.Tag, "=")
	for k, v := range r.Tags {
		if strings.EqualFold(k, strings.TrimSpace(key)) && (!hasValue || v == strings.TrimSpace(value)) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
