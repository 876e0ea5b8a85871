package kql

import (
	"fmt"
	"maps"
	"slices"
)

// summarize groups the rows p passes by op.by and aggregates op.cols
// (distinct with expressions is a summarize without aggregates). Each
// group's aggregates are added to row by row, so no group holds its rows.
func (ev *evaluator) summarize(op operator, in *Table, p *pipeline) (*Table, error) {
	for _, a := range op.cols {
		if c, ok := a.e.(*call); !ok || !isAggregate(c.fn) {
			return nil, errorf(a.e.position(), "summarize takes aggregates (count(), sum(x), ...) before by")
		}
	}
	for _, a := range append(slices.Clone(op.cols), op.by...) {
		if err := ev.checkColumns(a.e, p.columns); err != nil {
			return nil, err
		}
	}
	byNames := make([]string, len(op.by))
	for i, b := range op.by {
		byNames[i] = columnName(b, i)
	}
	// Each aggregate gives a column, except arg_max/arg_min: theirs.
	aggNames := make([][]string, len(op.cols))
	var allAgg []string
	for i, a := range op.cols {
		aggNames[i] = []string{columnName(a, i)}
		if c := a.e.(*call); c.fn == "arg_max" || c.fn == "arg_min" {
			aggNames[i] = argColumns(c, p.columns, byNames)
		}
		allAgg = append(allAgg, aggNames[i]...)
	}
	limits, err := ev.listLimits(op.cols)
	if err != nil {
		return nil, err
	}
	newGroup := func(key string, vals []any) *group {
		g := &group{key: key, keys: vals, aggs: make([]accumulator, len(op.cols))}
		for i, a := range op.cols {
			g.aggs[i] = accumulator{c: a.e.(*call), limit: limits[i], allInt: true}
		}
		return g
	}
	parts := make([]grouping, partsOf(len(in.Rows)))
	err = ev.inParts(in.Rows, len(parts), func(w *evaluator, i int, rows []Row) error {
		return w.group(op, p.clone(w), rows, &parts[i], newGroup)
	})
	if err != nil {
		return nil, err
	}
	all := parts[0]
	for _, part := range parts[1:] { // in order: groups keep the order they were first seen in
		for _, g := range part.groups {
			first := all.index[g.key]
			if first == nil {
				all.add(g)
				continue
			}
			for i := range first.aggs {
				ev.merge(&first.aggs[i], &g.aggs[i])
			}
		}
	}
	groups := all.groups
	if len(op.by) == 0 && len(groups) == 0 {
		groups = append(groups, newGroup("", nil)) // summarize count() of nothing is one row of 0
	}
	out := &Table{Columns: append(slices.Clone(byNames), allAgg...)}
	for _, g := range groups {
		row := make(Row, len(out.Columns))
		for i, n := range byNames {
			row[n] = g.keys[i]
		}
		for i := range g.aggs {
			a := &g.aggs[i]
			if a.c.fn == "arg_max" || a.c.fn == "arg_min" {
				vals, err := ev.argExtreme(a, aggNames[i])
				if err != nil {
					return nil, err
				}
				maps.Copy(row, vals)
				continue
			}
			row[aggNames[i][0]] = a.result()
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

// group is one group of a summarize: its key, its by values and its
// aggregates so far.
type group struct {
	key  string
	keys []any
	aggs []accumulator
}

// grouping is a summarize's groups, in the order first seen.
type grouping struct {
	groups []*group
	index  map[string]*group
}

func (gs *grouping) add(g *group) {
	if gs.index == nil {
		gs.index = map[string]*group{}
	}
	gs.index[g.key] = g
	gs.groups = append(gs.groups, g)
}

// group adds the rows p passes to their groups in gs.
func (ev *evaluator) group(op operator, p *pipeline, rows []Row, gs *grouping, newGroup func(string, []any) *group) error {
	vals := make([]any, len(op.by))
	var buf []byte
	return p.each(rows, func(r Row) error {
		buf = buf[:0]
		for i, b := range op.by {
			v, err := ev.scalar(b.e, r)
			if err != nil {
				return err
			}
			vals[i], buf = v, appendKey(buf, v)
		}
		g := gs.index[string(buf)]
		if g == nil {
			g = newGroup(string(buf), slices.Clone(vals))
			gs.add(g)
		}
		for i := range g.aggs {
			if err := ev.accumulate(&g.aggs[i], r, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// listLimits are make_list's and make_set's maxSize arguments, per
// aggregate (0: none).
func (ev *evaluator) listLimits(cols []assignment) ([]int, error) {
	out := make([]int, len(cols))
	for i, a := range cols {
		c := a.e.(*call)
		if (c.fn == "make_list" || c.fn == "make_set") && len(c.args) == 2 {
			v, err := ev.scalar(c.args[1], nil)
			n, ok := v.(int64)
			if err != nil || !ok || n < 1 {
				return nil, errorf(c.args[1].position(), "%s: the maximum size must be a whole number, 1 or more", c.fn)
			}
			out[i] = int(n)
		}
	}
	return out, nil
}

// accumulator is one aggregate of one group, as far as it has read.
type accumulator struct {
	c *call
	// n counts rows (count, countif) and numbers (sum, avg).
	n      int64
	si     int64
	sf     float64
	allInt bool
	// best is min's and max's value, and arg_max's and arg_min's, whose
	// row is bestRow.
	best    any
	bestRow Row
	// list is make_list's values, and make_set's and dcount's distinct
	// ones (seen by key); limit caps it (0: none).
	list  []any
	seen  map[string]bool
	limit int
}

// accumulate adds row r (as p passed it) to a.
func (ev *evaluator) accumulate(a *accumulator, r Row, p *pipeline) error {
	if a.c.fn == "count" {
		a.n++
		return nil
	}
	v, err := ev.scalar(a.c.args[0], r)
	if err != nil {
		return err
	}
	switch a.c.fn {
	case "countif":
		if b, _ := v.(bool); b {
			a.n++
		}
	case "dcount", "make_set":
		ev.addDistinct(a, v)
	case "make_list":
		if v != nil && (a.limit == 0 || len(a.list) < a.limit) {
			a.list = append(a.list, v)
		}
	case "sum", "avg":
		switch x := v.(type) {
		case int64:
			a.si += x
			a.sf += float64(x)
			a.n++
		case float64:
			a.sf += x
			a.allInt = false
			a.n++
		}
	case "min", "max":
		if v != nil && (a.best == nil || a.c.fn == "min" && compareValues(v, a.best) < 0 || a.c.fn == "max" && compareValues(v, a.best) > 0) {
			a.best = v
		}
	case "arg_max", "arg_min":
		if v != nil && (a.bestRow == nil || a.c.fn == "arg_max" && compareValues(v, a.best) > 0 || a.c.fn == "arg_min" && compareValues(v, a.best) < 0) {
			a.best, a.bestRow = v, p.keep(r)
		}
	default:
		return errorf(a.c.pos, "the aggregate %s is not served", a.c.fn)
	}
	return nil
}

// merge adds what b read (a later part's) to a, as if a had read it.
func (ev *evaluator) merge(a, b *accumulator) {
	switch a.c.fn {
	case "count", "countif":
		a.n += b.n
	case "sum", "avg":
		a.n, a.si, a.sf, a.allInt = a.n+b.n, a.si+b.si, a.sf+b.sf, a.allInt && b.allInt
	case "min", "max":
		if b.best != nil && (a.best == nil || a.c.fn == "min" && compareValues(b.best, a.best) < 0 || a.c.fn == "max" && compareValues(b.best, a.best) > 0) {
			a.best = b.best
		}
	case "arg_max", "arg_min":
		if b.bestRow != nil && (a.bestRow == nil || a.c.fn == "arg_max" && compareValues(b.best, a.best) > 0 || a.c.fn == "arg_min" && compareValues(b.best, a.best) < 0) {
			a.best, a.bestRow = b.best, b.bestRow
		}
	case "make_list":
		for _, v := range b.list {
			if a.limit > 0 && len(a.list) >= a.limit {
				break
			}
			a.list = append(a.list, v)
		}
	case "dcount", "make_set":
		for _, v := range b.list {
			ev.addDistinct(a, v)
		}
	}
}

// addDistinct adds v to a set (make_set, dcount) unless it holds it.
func (ev *evaluator) addDistinct(a *accumulator, v any) {
	if v == nil || a.limit > 0 && len(a.list) >= a.limit {
		return
	}
	ev.keyBuf = appendKey(ev.keyBuf[:0], v)
	if !a.seen[string(ev.keyBuf)] {
		if a.seen == nil {
			a.seen = map[string]bool{}
		}
		a.seen[string(ev.keyBuf)] = true
		a.list = append(a.list, v)
	}
}

// result is the aggregate's value (not arg_max's or arg_min's: see
// argExtreme).
func (a *accumulator) result() any {
	switch a.c.fn {
	case "count", "countif":
		return a.n
	case "dcount":
		return int64(len(a.list))
	case "make_list", "make_set":
		if a.list == nil {
			return []any{}
		}
		return a.list
	case "sum":
		if a.allInt {
			return a.si
		}
		return a.sf
	case "avg":
		if a.n == 0 {
			return nil
		}
		return a.sf / float64(a.n)
	}
	return a.best // min, max
}

// argColumns are arg_max/arg_min's columns: the maximized expression's
// (its name, or max_/min_), then those it returns (every input column but
// the by ones for *).
func argColumns(c *call, input, by []string) []string {
	first := pathName(c.args[0])
	if first == "" {
		first = aggregates[c.fn].column + "1"
	}
	out := []string{first}
	for _, a := range c.args[1:] {
		if col, ok := a.(*column); ok && col.name == "*" {
			for _, in := range input {
				if !slices.Contains(by, in) && !slices.Contains(out, in) {
					out = append(out, in)
				}
			}
			continue
		}
		if n := pathName(a); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// argExtreme is arg_max's or arg_min's result: the best row's values of
// the columns it returns, as names.
func (ev *evaluator) argExtreme(a *accumulator, names []string) (Row, error) {
	best := a.bestRow
	out := Row{names[0]: a.best}
	for i, arg := range a.c.args[1:] {
		if col, ok := arg.(*column); ok && col.name == "*" {
			for _, n := range names[1:] {
				if best != nil {
					if v, has := Get(best, n); has {
						out[n] = v
					}
				}
			}
			continue
		}
		if best == nil {
			continue
		}
		v, err := ev.scalar(arg, best)
		if err != nil {
			return nil, err
		}
		if n := pathName(arg); n != "" {
			out[n] = v
		} else {
			out[fmt.Sprintf("Column%d", i+1)] = v
		}
	}
	for _, n := range names {
		if _, has := out[n]; !has {
			out[n] = nil
		}
	}
	return out, nil
}
