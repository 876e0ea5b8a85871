package portal

import (
	"testing"

	. "github.com/onsi/gomega"
)

func TestAssignments(t *testing.T) {
	g := NewWithT(t)
	as := []Assignment{{ID: "a", Compliant: 3, NonCompliant: 1}, {ID: "b"}, {ID: "c", Compliant: 1, NonCompliant: 3}, {ID: "d", Compliant: 2, NonCompliant: 2}, {ID: "e", NonCompliant: 2}}
	SortAssignments(as)
	var order []string
	var pcts []int
	for _, a := range as {
		order, pcts = append(order, a.ID), append(pcts, a.Percent())
	}
	g.Expect(order).To(Equal([]string{"e", "c", "d", "a", "b"}))
	g.Expect(pcts).To(Equal([]int{0, 25, 50, 75, 100}))
}
