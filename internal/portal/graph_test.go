package portal

import (
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
)

func TestLayout(t *testing.T) {
	col := func(c int) int { return c * (BoxWidth + gapX) }
	row := func(r int) int { return r * (BoxHeight + gapY) }
	for _, tc := range []struct {
		name  string
		deps  map[string][]string
		boxes []string // name@column,row (missing marked !)
		edges int
	}{
		{"none", map[string][]string{}, nil, 0},
		{"one", map[string][]string{"apps": nil}, []string{"apps@0,0"}, 0},
		{"a chain and a fork: columns by the longest path, names in order within one",
			map[string][]string{"infra": nil, "crds": nil, "apps": {"infra", "crds"}, "tests": {"apps"}, "monitoring": {"infra"}},
			[]string{"crds@0,0", "infra@0,1", "apps@1,0", "monitoring@1,1", "tests@2,0"}, 4},
		{"a dependency the configuration lacks is drawn missing",
			map[string][]string{"apps": {"ghost"}}, []string{"ghost!@0,0", "apps@1,0"}, 1},
		{"a cycle does not loop", map[string][]string{"a": {"b"}, "b": {"a"}}, []string{"b@0,0", "a@1,0"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			out := Layout(tc.deps, map[string]string{"apps": "Compliant"})
			var boxes []string
			for _, b := range out.Boxes {
				mark := ""
				if b.Missing {
					mark = "!"
				}
				c, r := b.X/(BoxWidth+gapX), b.Y/(BoxHeight+gapY)
				g.Expect(b.X).To(Equal(col(c)))
				g.Expect(b.Y).To(Equal(row(r)))
				boxes = append(boxes, fmt.Sprintf("%s%s@%d,%d", b.Name, mark, c, r))
				if b.Name == "apps" {
					g.Expect(b.State).To(Equal("Compliant"))
				}
			}
			g.Expect(boxes).To(Equal(tc.boxes))
			g.Expect(out.Edges).To(HaveLen(tc.edges))
			for _, e := range out.Edges { // from a box's right side into another's left side, at mid-height
				g.Expect((e.X1 - BoxWidth) % (BoxWidth + gapX)).To(Equal(0))
				g.Expect(e.X2 % (BoxWidth + gapX)).To(Equal(0))
				g.Expect((e.Y1 - BoxHeight/2) % (BoxHeight + gapY)).To(Equal(0))
				g.Expect((e.Y2 - BoxHeight/2) % (BoxHeight + gapY)).To(Equal(0))
			}
			if len(tc.boxes) > 0 {
				g.Expect(out.Width).To(BeNumerically(">=", BoxWidth))
				g.Expect(out.Height).To(BeNumerically(">=", BoxHeight))
			}
		})
	}
}
