package portal

import (
	"cmp"
	"slices"
)

// Graph is a configuration's Kustomizations drawn left to right by
// dependsOn: each one in the column after the deepest one it depends on.
type Graph struct {
	Boxes         []Box
	Edges         []Edge
	Width, Height int
}

// Box is one Kustomization in the graph; Missing when another depends on
// it but the configuration has no such Kustomization.
type Box struct {
	Name, State string
	X, Y        int
	Missing     bool
}

// Edge runs from a dependency's right side to its dependent's left side.
type Edge struct{ X1, Y1, X2, Y2 int }

// The graph's measures, in SVG units.
const (
	BoxWidth  = 190
	BoxHeight = 44
	gapX      = 56
	gapY      = 14
)

// Layout draws the Kustomizations of deps (name: the names it depends
// on) with their states. A dependency cycle, which the data plane does
// not accept, is drawn without looping: the edge that closes it is kept,
// the column counts stop at it.
func Layout(deps map[string][]string, states map[string]string) Graph {
	names := map[string]bool{}
	for n, ds := range deps {
		names[n] = true
		for _, d := range ds {
			names[d] = true
		}
	}
	column := map[string]int{}
	visiting := map[string]bool{}
	var depth func(string) int
	depth = func(n string) int {
		if c, ok := column[n]; ok {
			return c
		}
		if visiting[n] {
			return 0
		}
		visiting[n] = true
		c := 0
		for _, d := range deps[n] {
			c = max(c, depth(d)+1)
		}
		visiting[n] = false
		column[n] = c
		return c
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	least := -1
	for _, n := range sorted {
		if c := depth(n); least < 0 || c < least {
			least = c
		}
	}
	for n := range column { // a cycle can leave the first column empty
		column[n] -= least
	}
	slices.SortStableFunc(sorted, func(a, b string) int { return cmp.Compare(column[a], column[b]) })
	var g Graph
	at := map[string]Box{}
	rows := map[int]int{}
	for _, n := range sorted {
		c := column[n]
		_, defined := deps[n]
		b := Box{Name: n, State: states[n], X: c * (BoxWidth + gapX), Y: rows[c] * (BoxHeight + gapY), Missing: !defined}
		rows[c]++
		at[n] = b
		g.Boxes = append(g.Boxes, b)
		g.Width, g.Height = max(g.Width, b.X+BoxWidth), max(g.Height, b.Y+BoxHeight)
	}
	for _, n := range sorted {
		for _, d := range slices.Sorted(slices.Values(deps[n])) {
			from, to := at[d], at[n]
			g.Edges = append(g.Edges, Edge{from.X + BoxWidth, from.Y + BoxHeight/2, to.X, to.Y + BoxHeight/2})
		}
	}
	return g
}
