package portal

import (
	"cmp"
	"slices"
	"time"
)

// Cluster is a cluster the signed-in principal may read.
type Cluster struct {
	ID, Name, Subscription, ResourceGroup, Location string
	Tags                                            map[string]string
	// Connectivity is Connected once its agent has called (Connecting
	// before); LastSeen is the agent's last heartbeat (zero: never), at
	// most a heartbeat interval (2 minutes) behind its last call.
	Connectivity string
	LastSeen     time.Time
}

// Configuration is a fluxConfiguration the signed-in principal may read.
type Configuration struct {
	ID, Name, ClusterID, ClusterName   string
	Scope, Namespace                   string
	ComplianceState, ProvisioningState string
	// Message is the configuration's errorMessage.
	Message string
	// UpdatedAt is when its agent last reported (statusUpdatedAt).
	UpdatedAt time.Time
	// WaitingForProtectedSettings: the data plane failed it until it is
	// applied again with its protected settings (they expired before
	// reaching the cluster, or were lost with their key).
	WaitingForProtectedSettings bool
}

// Fleet is what the signed-in principal may read.
type Fleet struct {
	Clusters       []Cluster
	Configurations []Configuration
}

// StaleAfter is how long an agent may go unseen before the overview lists
// it: agents long-poll for 30 seconds at most, so a few minutes is many
// missed polls.
const StaleAfter = 5 * time.Minute

// PageSize is how many configurations a page of the overview lists.
const PageSize = 50

// StaleShown is how many of the agents not seen recently the overview
// lists (a fleet can have thousands).
const StaleShown = 20

// Overview is the fleet overview: counts, the configurations by state,
// agents not seen recently, and a page of the configurations, the worst
// first.
type Overview struct {
	Clusters, Connected int
	// Stale are the first StaleShown clusters whose agent has not been
	// seen for StaleAfter (or never), the longest unseen first; StaleCount
	// counts them all.
	Stale      []Cluster
	StaleCount int
	// Waiting are the first StaleShown configurations waiting for their
	// protected settings, by cluster and name; WaitingCount counts them all.
	Waiting      []Configuration
	WaitingCount int
	// States are the configurations by compliance state, the worst first
	// (only states some configuration is in).
	States []StateCount
	// Configurations is the page asked for, the worst first.
	Configurations   []Configuration
	Page, Pages, All int
}

// StateCount is how many configurations are in a state, and its share of
// all (0 to 100, for the chart).
type StateCount struct {
	State   string
	Count   int
	Percent float64
}

// severity orders compliance states, the worst first; states Azure does
// not name come after Unknown.
var severity = map[string]int{"Non-Compliant": 0, "Unknown": 2, "Pending": 3, "Suspended": 4, "Compliant": 5}

func rank(state string) int {
	if r, ok := severity[state]; ok {
		return r
	}
	return 1
}

// Summarize makes the overview of f at now, with the page'th page of
// configurations (from 1; out of range pages are the nearest).
func Summarize(f Fleet, now time.Time, page int) Overview {
	o := Overview{Clusters: len(f.Clusters), All: len(f.Configurations)}
	for _, c := range f.Clusters {
		if c.Connectivity == "Connected" {
			o.Connected++
		}
		if c.LastSeen.IsZero() || now.Sub(c.LastSeen) >= StaleAfter {
			o.Stale = append(o.Stale, c)
		}
	}
	slices.SortStableFunc(o.Stale, func(a, b Cluster) int {
		return cmp.Or(a.LastSeen.Compare(b.LastSeen), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	o.StaleCount = len(o.Stale)
	o.Stale = o.Stale[:min(len(o.Stale), StaleShown)]
	counts := map[string]int{}
	for _, c := range f.Configurations {
		counts[c.ComplianceState]++
		if c.WaitingForProtectedSettings {
			o.Waiting = append(o.Waiting, c)
		}
	}
	slices.SortFunc(o.Waiting, func(a, b Configuration) int {
		return cmp.Or(cmp.Compare(a.ClusterName, b.ClusterName), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	o.WaitingCount = len(o.Waiting)
	o.Waiting = o.Waiting[:min(len(o.Waiting), StaleShown)]
	for state, n := range counts {
		o.States = append(o.States, StateCount{State: state, Count: n, Percent: 100 * float64(n) / float64(len(f.Configurations))})
	}
	slices.SortFunc(o.States, func(a, b StateCount) int {
		return cmp.Or(cmp.Compare(rank(a.State), rank(b.State)), cmp.Compare(a.State, b.State))
	})
	worst := slices.Clone(f.Configurations)
	slices.SortFunc(worst, func(a, b Configuration) int {
		return cmp.Or(cmp.Compare(rank(a.ComplianceState), rank(b.ComplianceState)), cmp.Compare(a.ClusterName, b.ClusterName),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	o.Pages = max(1, (len(worst)+PageSize-1)/PageSize)
	o.Page = min(max(page, 1), o.Pages)
	o.Configurations = worst[min((o.Page-1)*PageSize, len(worst)):min(o.Page*PageSize, len(worst))]
	return o
}
