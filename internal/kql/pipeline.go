package kql

import (
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// A pipeline runs a run of row-wise operators (where, extend, project) one
// input row at a time, with no table between them: each extend or project
// writes its row into a scratch row of its own, reused for the next input
// row, and only a row its consumer keeps is copied out (keep). A summarize
// after the run reads the rows as they pass and keeps none (or, for
// arg_max/arg_min, the best so far), so that a query over a large table
// makes garbage in proportion to its result, not to the table.
type pipeline struct {
	ev     *evaluator
	stages []stage
	// columns are the columns after the last stage.
	columns []string
}

type stage struct {
	op operator
	// names are extend's and project's columns, as KQL names them.
	names []string
	// scratch is the stage's output row (nil for where): overwritten for
	// every input row.
	scratch Row
}

// rowWise operators are those a pipeline runs.
func rowWise(op operator) bool {
	return op.name == "where" || op.name == "extend" || op.name == "project"
}

func (ev *evaluator) pipeline(ops []operator, columns []string) (*pipeline, error) {
	p := &pipeline{ev: ev, columns: columns}
	for _, op := range ops {
		s := stage{op: op}
		if op.name == "where" {
			if err := ev.checkColumns(op.pred, p.columns); err != nil {
				return nil, err
			}
		} else {
			for _, a := range op.cols {
				if err := ev.checkColumns(a.e, p.columns); err != nil {
					return nil, err
				}
			}
			var cols []string
			if op.name == "extend" {
				cols = slices.Clone(p.columns)
			}
			s.names = make([]string, len(op.cols))
			for i, a := range op.cols {
				s.names[i] = columnName(a, i)
				if !slices.Contains(cols, s.names[i]) {
					cols = append(cols, s.names[i])
				}
			}
			p.columns, s.scratch = cols, make(Row, len(op.cols)+1)
		}
		p.stages = append(p.stages, s)
	}
	return p, nil
}

// checkColumns finds a column e names that is neither one of columns
// (exactly or but for case, as rows are read) nor a let: a query's columns
// are checked before it runs, as KQL does, so that the error does not
// depend on whether any row reached it.
func (ev *evaluator) checkColumns(e expr, columns []string) error {
	var err error
	walkColumns(e, func(c *column) {
		if err != nil || c.name == "*" || slices.Contains(columns, c.name) {
			return
		}
		if _, isLet := ev.scalars[strings.ToLower(c.name)]; isLet {
			return
		}
		if !slices.ContainsFunc(columns, func(n string) bool { return strings.EqualFold(n, c.name) }) {
			err = errorf(c.pos, "no column '%s'%s", c.name, suggest(c.name, columns))
		}
	})
	return err
}

// walkColumns calls fn with each column e reads (not those of its
// subqueries, which have their own).
func walkColumns(e expr, fn func(*column)) {
	switch x := e.(type) {
	case *column:
		fn(x)
	case *member:
		walkColumns(x.x, fn)
		walkColumns(x.index, fn)
	case *unary:
		walkColumns(x.x, fn)
	case *binary:
		walkColumns(x.l, fn)
		walkColumns(x.r, fn)
	case *call:
		for _, a := range x.args {
			walkColumns(a, fn)
		}
	case *inList:
		walkColumns(x.x, fn)
		for _, a := range x.list {
			walkColumns(a, fn)
		}
	}
}

// each calls fn with every input row that passes the stages, as the last
// stage made it: a scratch row, valid until fn returns (keep copies it).
func (p *pipeline) each(rows []Row, fn func(Row) error) error {
	for _, r := range rows {
		out, pass, err := p.row(r)
		if err != nil {
			return err
		}
		if pass {
			if err := fn(out); err != nil {
				return err
			}
		}
	}
	return nil
}

// row runs r through the stages; pass is false when a where drops it.
func (p *pipeline) row(r Row) (out Row, pass bool, err error) {
	for i := range p.stages {
		s := &p.stages[i]
		if s.scratch == nil {
			v, err := p.ev.scalar(s.op.pred, r)
			if err != nil {
				return nil, false, err
			}
			if b, _ := v.(bool); !b {
				return nil, false, nil
			}
			continue
		}
		next := s.scratch
		clear(next)
		if s.op.name == "extend" {
			next[baseKey] = r
		}
		for j, a := range s.op.cols {
			v, err := p.ev.scalar(a.e, r)
			if err != nil {
				return nil, false, err
			}
			next[s.names[j]] = v
		}
		r = next
	}
	return r, true, nil
}

// keep makes a row each passed a row of its own: the scratch rows it is
// made of copied, the input row it extends shared.
func (p *pipeline) keep(r Row) Row { return p.copyOut(len(p.stages)-1, r) }

func (p *pipeline) copyOut(k int, r Row) Row {
	for k >= 0 && p.stages[k].scratch == nil {
		k--
	}
	if k < 0 {
		return r
	}
	out := maps.Clone(r)
	if base, ok := r[baseKey].(Row); ok {
		out[baseKey] = p.copyOut(k-1, base)
	}
	return out
}

// clone is p for another evaluator, with scratch rows of its own.
func (p *pipeline) clone(ev *evaluator) *pipeline {
	c := &pipeline{ev: ev, stages: slices.Clone(p.stages), columns: p.columns}
	for i := range c.stages {
		if c.stages[i].scratch != nil {
			c.stages[i].scratch = make(Row, len(c.stages[i].names)+1)
		}
	}
	return c
}

// table is the pipeline's output as a table.
func (p *pipeline) table(in *Table) (*Table, error) {
	parts := make([][]Row, partsOf(len(in.Rows)))
	err := p.ev.inParts(in.Rows, len(parts), func(w *evaluator, i int, rows []Row) error {
		wp := p.clone(w)
		return wp.each(rows, func(r Row) error {
			parts[i] = append(parts[i], wp.keep(r))
			return nil
		})
	})
	return &Table{Columns: p.columns, Rows: slices.Concat(parts...)}, err
}

// A large input is split among the machine's CPUs: each part runs through
// a pipeline (and a summarize) of its own, on an evaluator of its own, and
// the parts' results are joined in order, so that the answer is the one a
// single pass gives.
// A part is minPart rows at least, and there are as many as CPUs at most
// (variables: tests split small tables into many parts).
var (
	minPart  = 8192
	maxParts = runtime.GOMAXPROCS
)

// partsOf is how many parts n rows are split into.
func partsOf(n int) int { return max(1, min(maxParts(0), n/minPart)) }

// inParts runs fn on each of n parts of rows, at once, each with an
// evaluator of its own; the error is the first part's that has one.
func (ev *evaluator) inParts(rows []Row, n int, fn func(w *evaluator, part int, rows []Row) error) error {
	if n == 1 {
		return fn(ev, 0, rows)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		part := rows[i*len(rows)/n : (i+1)*len(rows)/n]
		w := *ev
		w.stack, w.keyBuf = nil, nil
		wg.Go(func() { errs[i] = fn(&w, i, part) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
