package portal

import (
	"cmp"
	"slices"
)

// Assignment is a policy assignment as the policy page shows it: how many
// of the resources it evaluated comply.
type Assignment struct {
	ID, Name, DisplayName, Scope string
	Compliant, NonCompliant      int
	// NonCompliantResources are the IDs of those that do not comply.
	NonCompliantResources []string
	// CanRemediate: the principal may start a remediation of it.
	CanRemediate bool
}

// Total counts the resources the assignment evaluated.
func (a Assignment) Total() int { return a.Compliant + a.NonCompliant }

// Percent is the share that comply, 0 to 100 (100 when none were
// evaluated, as Azure Policy shows an assignment with no resources).
func (a Assignment) Percent() int {
	if a.Total() == 0 {
		return 100
	}
	return a.Compliant * 100 / a.Total()
}

// SortAssignments orders assignments the least compliant first.
func SortAssignments(as []Assignment) {
	slices.SortFunc(as, func(a, b Assignment) int {
		return cmp.Or(cmp.Compare(a.Percent(), b.Percent()), cmp.Compare(b.NonCompliant, a.NonCompliant), cmp.Compare(a.ID, b.ID))
	})
}
