package kql

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unique"
)

// Values are nil, bool, int64, float64, string, time.Time, time.Duration,
// and dynamic: []any, map[string]any and *Object (a property bag as an
// index keeps it).

// Row is one row, by column name. A row made by extend or mv-expand holds
// only its new columns and, under baseKey, the row it extends (so that
// extending a large table copies nothing); read rows with Get.
type Row = map[string]any

// baseKey holds an overlay row's base row.
const baseKey = "\x00base"

// Get reads a column of a row, through its bases.
func Get(r Row, col string) (any, bool) {
	for r != nil {
		if v, ok := r[col]; ok {
			return v, true
		}
		r, _ = r[baseKey].(Row)
	}
	return nil, false
}

// WithBase makes r read base's columns where it has none of its own (rows
// that share common columns keep them once).
func WithBase(r, base Row) Row {
	r[baseKey] = base
	return r
}

// over is a row of cols over base.
func over(base Row, size int) Row {
	r := make(Row, size+1)
	r[baseKey] = base
	return r
}

// flatten is a row without bases: its own map, to change.
func flatten(r Row) Row {
	base, _ := r[baseKey].(Row)
	if base == nil {
		return maps.Clone(r)
	}
	out := flatten(base)
	for k, v := range r {
		if k != baseKey {
			out[k] = v
		}
	}
	return out
}

// Table is a result: its columns in order and its rows.
type Table struct {
	Columns []string
	Rows    []Row
}

// Source gives the rows of the tables a query names.
type Source func(table string) (*Table, error)

// Env is what a query runs with.
type Env struct {
	Tables Source
	// Now is the time now() and ago() read.
	Now time.Time
	// Filter, when set, answers a table's leading `where column ==
	// "value"` (=~ when fold) from an index: the table's rows for which it
	// holds, and true; false when it cannot, and the engine filters.
	Filter func(table, column, value string, fold bool) (*Table, bool, error)
}

// Run evaluates the query.
func (q *Query) Run(env Env) (*Table, error) {
	ev := &evaluator{env: env, tables: map[string]*Table{}, scalars: map[string]any{}, inSets: &inSets{m: map[*inList]valueSet{}}}
	for _, l := range q.lets {
		if l.tab != nil {
			t, err := ev.tabular(l.tab)
			if err != nil {
				return nil, err
			}
			ev.tables[strings.ToLower(l.name)] = t
			continue
		}
		v, err := ev.scalar(l.scalar, nil)
		if err != nil {
			return nil, err
		}
		ev.scalars[strings.ToLower(l.name)] = v
	}
	return ev.tabular(q.body)
}

type evaluator struct {
	env Env
	// tables and scalars are the query's lets, by lower-case name.
	tables  map[string]*Table
	scalars map[string]any
	// inSets are the values of each `in (subquery)`, run once per query
	// (shared by the evaluators of a query's parts).
	inSets *inSets
	keyBuf []byte
	// stack holds the arguments of the calls being evaluated.
	stack []any
}

// source is t's input, and the operators left to run on it: a leading
// equality on a column of a named table is answered by the environment's
// Filter, when it can, and left out of the where.
func (ev *evaluator) source(t *tabular) (*Table, []operator, error) {
	switch {
	case t.sub != nil:
		in, err := ev.tabular(t.sub)
		return in, t.ops, err
	case t.union != nil:
		in, err := ev.union(&Table{}, t.union)
		return in, t.ops, err
	}
	if let, ok := ev.tables[strings.ToLower(t.table)]; ok {
		return let, t.ops, nil
	}
	if ev.env.Filter != nil && len(t.ops) > 0 && t.ops[0].name == "where" {
		if eq, rest, ok := leadingEquality(t.ops[0].pred); ok {
			in, done, err := ev.env.Filter(t.table, eq.col, eq.value, eq.fold)
			if err != nil {
				return nil, nil, err
			}
			if done {
				ops := slices.Clone(t.ops)
				if rest == nil {
					return in, ops[1:], nil
				}
				ops[0].pred = rest
				return in, ops, nil
			}
		}
	}
	in, err := ev.env.Tables(t.table)
	return in, t.ops, err
}

// equality is `column == "value"` (=~ when fold).
type equality struct {
	col, value string
	fold       bool
}

// leadingEquality is pred's first conjunct when it is an equality of a
// column with a (non-empty) string, and the conjuncts after it (nil when
// none).
func leadingEquality(pred expr) (equality, expr, bool) {
	b, ok := pred.(*binary)
	if !ok {
		return equality{}, nil, false
	}
	if b.op == "and" {
		eq, rest, ok := leadingEquality(b.l)
		if !ok {
			return equality{}, nil, false
		}
		if rest == nil {
			return eq, b.r, true
		}
		return eq, &binary{op: "and", l: rest, r: b.r, pos: b.pos}, true
	}
	if b.op != "==" && b.op != "=~" {
		return equality{}, nil, false
	}
	l, r := b.l, b.r
	if _, isCol := r.(*column); isCol {
		l, r = r, l
	}
	col, ok := l.(*column)
	lit, ok2 := r.(*literal)
	if !ok || !ok2 {
		return equality{}, nil, false
	}
	v, ok := lit.v.(string)
	if !ok || v == "" {
		return equality{}, nil, false
	}
	return equality{col: col.name, value: v, fold: b.op == "=~"}, nil, true
}

// tabular evaluates t: each run of row-wise operators as one pipeline,
// which a summarize right after it reads as the rows pass.
func (ev *evaluator) tabular(t *tabular) (*Table, error) {
	cur, ops, err := ev.source(t)
	if err != nil {
		return nil, err
	}
	for len(ops) > 0 {
		n := 0
		for n < len(ops) && rowWise(ops[n]) {
			n++
		}
		if n == 0 {
			if cur, err = ev.apply(ops[0], cur); err != nil {
				return nil, err
			}
			ops = ops[1:]
			continue
		}
		p, err := ev.pipeline(ops[:n], cur.Columns)
		if err != nil {
			return nil, err
		}
		ops = ops[n:]
		if len(ops) > 0 && groups(ops[0]) {
			cur, err = ev.summarize(ops[0], cur, p)
			ops = ops[1:]
		} else {
			cur, err = p.table(cur)
		}
		if err != nil {
			return nil, err
		}
	}
	return cur, nil
}

// groups: op is a summarize, or a distinct by expressions (one without
// aggregates).
func groups(op operator) bool {
	return op.name == "summarize" || op.name == "distinct" && op.names == nil
}

func (ev *evaluator) apply(op operator, in *Table) (*Table, error) {
	if groups(op) {
		p, _ := ev.pipeline(nil, in.Columns)
		return ev.summarize(op, in, p)
	}
	switch op.name { // row-wise operators run in pipelines (tabular)
	case "project-away":
		return projectAway(op, in), nil
	case "project-rename":
		return projectRename(op, in)
	case "order":
		out := &Table{Columns: in.Columns, Rows: slices.Clone(in.Rows)}
		return out, ev.sort(out.Rows, op.orderBy)
	case "take", "top":
		n, err := ev.count(op.n)
		if err != nil {
			return nil, err
		}
		rows := in.Rows
		if op.name == "top" {
			rows = slices.Clone(rows)
			if err := ev.sort(rows, op.orderBy); err != nil {
				return nil, err
			}
		}
		return &Table{Columns: in.Columns, Rows: rows[:min(n, len(rows))]}, nil
	case "distinct":
		return distinctRows(in), nil
	case "count":
		return &Table{Columns: []string{"Count"}, Rows: []Row{{"Count": int64(len(in.Rows))}}}, nil
	case "union":
		return ev.union(in, op.tables)
	case "join":
		return ev.join(op, in)
	case "mv-expand":
		return ev.mvExpand(op, in)
	}
	return nil, errorf(op.pos, "the operator %s is not served", op.name)
}

// union appends the rows of others to in's; the columns are all of theirs.
func (ev *evaluator) union(in *Table, others []*tabular) (*Table, error) {
	out := &Table{Columns: slices.Clone(in.Columns), Rows: slices.Clone(in.Rows)}
	for _, o := range others {
		t, err := ev.tabular(o)
		if err != nil {
			return nil, err
		}
		for _, c := range t.Columns {
			if !slices.Contains(out.Columns, c) {
				out.Columns = append(out.Columns, c)
			}
		}
		out.Rows = append(out.Rows, t.Rows...)
	}
	for i, r := range out.Rows { // every row has every column, null where its table had none
		var row Row
		for _, c := range out.Columns {
			if _, has := Get(r, c); !has {
				if row == nil {
					row = over(r, 1)
				}
				row[c] = nil
			}
		}
		if row != nil {
			out.Rows[i] = row
		}
	}
	return out, nil
}

// join joins in (left) with the operator's right side on its keys. The
// right's columns follow the left's, renamed with a number where the
// left has the name (id1, name1), as KQL does.
func (ev *evaluator) join(op operator, left *Table) (*Table, error) {
	right, err := ev.tabular(op.tables[0])
	if err != nil {
		return nil, err
	}
	for _, k := range op.on {
		if !slices.Contains(left.Columns, k.left) {
			return nil, errorf(op.pos, "join: the left side has no column '%s'", k.left)
		}
		if !slices.Contains(right.Columns, k.right) {
			return nil, errorf(op.pos, "join: the right side has no column '%s'", k.right)
		}
	}
	leftKey := func(r Row) string { return joinValue(r, op.on, false) }
	rightKey := func(r Row) string { return joinValue(r, op.on, true) }
	byKey := map[string][]Row{}
	for _, r := range right.Rows {
		k := rightKey(r)
		byKey[k] = append(byKey[k], r)
	}
	kind := map[string]string{"anti": "leftanti", "semi": "leftsemi"}[op.kind]
	if kind == "" {
		kind = op.kind
	}
	if strings.HasSuffix(kind, "anti") || strings.HasSuffix(kind, "semi") {
		return semiJoin(kind, left, right, leftKey, rightKey), nil
	}
	// The right's columns, renamed where the left has them.
	out := &Table{Columns: slices.Clone(left.Columns)}
	rename := map[string]string{}
	for _, c := range right.Columns {
		name := c
		for n := 1; slices.Contains(out.Columns, name); n++ {
			name = c + strconv.Itoa(n)
		}
		rename[c] = name
		out.Columns = append(out.Columns, name)
	}
	seen := map[string]bool{}
	for _, l := range left.Rows {
		k := leftKey(l)
		if kind == "innerunique" {
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		matches := byKey[k]
		if len(matches) == 0 && kind == "leftouter" {
			row := over(l, len(right.Columns))
			for _, c := range right.Columns {
				row[rename[c]] = nil
			}
			out.Rows = append(out.Rows, row)
		}
		for _, r := range matches {
			row := over(l, len(right.Columns))
			for _, c := range right.Columns {
				row[rename[c]], _ = Get(r, c)
			}
			out.Rows = append(out.Rows, row)
		}
	}
	return out, nil
}

// semiJoin keeps the rows of one side that have (semi) or lack (anti) a
// match on the other.
func semiJoin(kind string, left, right *Table, leftKey, rightKey func(Row) string) *Table {
	keep, other, keyOf, otherKey := left, right, leftKey, rightKey
	if strings.HasPrefix(kind, "right") {
		keep, other, keyOf, otherKey = right, left, rightKey, leftKey
	}
	keys := map[string]bool{}
	for _, r := range other.Rows {
		keys[otherKey(r)] = true
	}
	out := &Table{Columns: keep.Columns}
	for _, r := range keep.Rows {
		if keys[keyOf(r)] == strings.HasSuffix(kind, "semi") {
			out.Rows = append(out.Rows, r)
		}
	}
	return out
}

// mvExpand expands arrays (and property bags, a row per entry) into rows;
// several columns expand in parallel, the shorter ones padded with null.
// A null gives one row; an empty array or bag, none.
func (ev *evaluator) mvExpand(op operator, in *Table) (*Table, error) {
	limit := math.MaxInt
	if op.n != nil {
		n, err := ev.count(op.n)
		if err != nil {
			return nil, err
		}
		limit = n
	}
	out := &Table{Columns: slices.Clone(in.Columns)}
	names := make([]string, len(op.cols))
	for i, a := range op.cols {
		names[i] = columnName(a, i)
		if !slices.Contains(out.Columns, names[i]) {
			out.Columns = append(out.Columns, names[i])
		}
	}
	if op.index != "" {
		out.Columns = append(out.Columns, op.index)
	}
	for _, r := range in.Rows {
		lists := make([][]any, len(op.cols))
		n := 0
		for i, a := range op.cols {
			v, err := ev.scalar(a.e, r)
			if err != nil {
				return nil, err
			}
			lists[i] = elements(v)
			n = max(n, len(lists[i]))
		}
		for j := 0; j < min(n, limit); j++ {
			row := over(r, len(op.cols)+1)
			for i := range op.cols {
				var v any
				if j < len(lists[i]) {
					v = cast(lists[i][j], op.types[i])
				}
				row[names[i]] = v
			}
			if op.index != "" {
				row[op.index] = int64(j)
			}
			out.Rows = append(out.Rows, row)
		}
	}
	return out, nil
}

// elements are what mv-expand makes rows of: an array's elements, a bag's
// entries as one-entry bags, a null as itself, anything else as itself.
func elements(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case *Object:
		return elements(x.Map())
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = map[string]any{k: x[k]}
		}
		return out
	}
	return []any{v}
}

// cast applies mv-expand's to typeof(): values not of the type are null.
func cast(v any, typ string) any {
	switch typ {
	case "", "dynamic":
		return v
	case "string":
		if s, ok := v.(string); ok {
			return s
		}
	case "long", "int":
		if i, ok := v.(int64); ok {
			return i
		}
	case "real", "double":
		if f := toFloat(v); !math.IsNaN(f) {
			return f
		}
	case "bool", "boolean":
		if b, ok := v.(bool); ok {
			return b
		}
	case "datetime", "date":
		if s, ok := v.(string); ok {
			if t, err := parseDatetime(s); err == nil {
				return t
			}
		}
		if t, ok := v.(time.Time); ok {
			return t
		}
	}
	return nil
}

func projectAway(op operator, in *Table) *Table {
	out := &Table{}
	for _, c := range in.Columns {
		if !slices.Contains(op.names, c) {
			out.Columns = append(out.Columns, c)
		}
	}
	for _, r := range in.Rows {
		nr := make(Row, len(out.Columns))
		for _, c := range out.Columns {
			nr[c], _ = Get(r, c)
		}
		out.Rows = append(out.Rows, nr)
	}
	return out
}

func projectRename(op operator, in *Table) (*Table, error) {
	out := &Table{Columns: slices.Clone(in.Columns)}
	for _, a := range op.cols {
		old := a.e.(*column).name
		i := slices.Index(out.Columns, old)
		if i < 0 {
			return nil, errorf(a.e.position(), "no column '%s' to rename", old)
		}
		out.Columns[i] = a.name
	}
	for _, r := range in.Rows {
		nr := flatten(r)
		for _, a := range op.cols {
			old := a.e.(*column).name
			nr[a.name], _ = Get(r, old)
			delete(nr, old)
		}
		out.Rows = append(out.Rows, nr)
	}
	return out, nil
}

// distinctRows are the distinct rows of in, over all its columns.
func distinctRows(in *Table) *Table {
	out := &Table{Columns: in.Columns}
	seen := map[string]bool{}
	for _, r := range in.Rows {
		if k := key(r, in.Columns); !seen[k] {
			seen[k] = true
			out.Rows = append(out.Rows, r)
		}
	}
	return out
}

// columnName is an assignment's column, as KQL names it: its name; a
// column's own; a property path joined with '_' (properties.scope is
// properties_scope), also as the one argument of a function
// (tostring(properties.scope)); an aggregate's (count_, sum_x); else
// Column and its index (Column1, ...).
func columnName(a assignment, i int) string {
	if a.name != "" {
		return a.name
	}
	if c, ok := a.e.(*call); ok && isAggregate(c.fn) {
		return aggregateColumn(c)
	}
	if n := pathName(a.e); n != "" {
		return n
	}
	return fmt.Sprintf("Column%d", i+1)
}

func pathName(e expr) string {
	switch x := e.(type) {
	case *column:
		return x.name
	case *member:
		base := pathName(x.x)
		l, ok := x.index.(*literal)
		if base == "" || !ok {
			return ""
		}
		switch v := l.v.(type) {
		case string:
			return base + "_" + v
		case int64:
			return base + "_" + strconv.FormatInt(v, 10)
		}
	case *call:
		if len(x.args) >= 1 {
			return pathName(x.args[0])
		}
	}
	return ""
}

func (ev *evaluator) count(e expr) (int, error) {
	v, err := ev.scalar(e, nil)
	if err != nil {
		return 0, err
	}
	n, ok := v.(int64)
	if !ok || n < 0 {
		return 0, errorf(e.position(), "expected a whole number of rows")
	}
	return int(n), nil
}

func (ev *evaluator) sort(rows []Row, by []ordering) error {
	keys := make([][]any, len(rows))
	for i, r := range rows {
		for _, o := range by {
			v, err := ev.scalar(o.e, r)
			if err != nil {
				return err
			}
			keys[i] = append(keys[i], v)
		}
	}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		for k, o := range by {
			c := compareValues(keys[a][k], keys[b][k])
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	sorted := make([]Row, len(rows))
	for i, j := range idx {
		sorted[i] = rows[j]
	}
	copy(rows, sorted)
	return nil
}

// key is a row's identity over cols, for grouping.
func key(r Row, cols []string) string {
	var b []byte
	for _, c := range cols {
		v, _ := Get(r, c)
		b = appendKey(b, v)
	}
	return string(b)
}

// joinValue is a row's identity over join's keys, the right side's or the
// left's.
func joinValue(r Row, on []joinKey, right bool) string {
	var b []byte
	for _, k := range on {
		col := k.left
		if right {
			col = k.right
		}
		v, _ := Get(r, col)
		b = appendKey(b, v)
	}
	return string(b)
}

// appendKey appends a value's identity, for grouping: the value with its
// kind, so that 1 and "1" differ; dynamic values as JSON.
func appendKey(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		b = append(b, 'n')
	case string:
		b = append(append(b, 's'), v...)
	case int64:
		b = strconv.AppendInt(append(b, 'i'), v, 10)
	case bool:
		b = strconv.AppendBool(append(b, 'b'), v)
	default:
		j, _ := marshal(v)
		b = append(append(b, 'j'), j...)
	}
	return append(b, 0)
}

// ---- scalar evaluation ----

func (ev *evaluator) scalar(e expr, r Row) (any, error) {
	switch x := e.(type) {
	case *literal:
		return x.v, nil
	case *column:
		v, ok := Get(r, x.name)
		if !ok {
			if sv, isLet := ev.scalars[strings.ToLower(x.name)]; isLet {
				return sv, nil
			}
		}
		if !ok && r != nil {
			flat := flatten(r)
			for k, val := range flat { // columns are matched exactly, then case-insensitively
				if strings.EqualFold(k, x.name) {
					return val, nil
				}
			}
			return nil, errorf(x.pos, "no column '%s'%s", x.name, suggest(x.name, keysOf(flat)))
		}
		return v, nil
	case *member:
		base, err := ev.scalar(x.x, r)
		if err != nil {
			return nil, err
		}
		idx, err := ev.scalar(x.index, r)
		if err != nil {
			return nil, err
		}
		return index(base, idx), nil
	case *unary:
		v, err := ev.scalar(x.x, r)
		if err != nil {
			return nil, err
		}
		return negate(v), nil
	case *binary:
		return ev.binary(x, r)
	case *inList:
		return ev.in(x, r)
	case *call:
		if isAggregate(x.fn) {
			return nil, errorf(x.pos, "%s() is an aggregate: use it in summarize", x.fn)
		}
		// The arguments are on a stack the evaluator reuses (no function
		// keeps its argument slice).
		base := len(ev.stack)
		for _, a := range x.args {
			v, err := ev.scalar(a, r)
			if err != nil {
				ev.stack = ev.stack[:base]
				return nil, err
			}
			ev.stack = append(ev.stack, v)
		}
		v, err := functions[x.fn].fn(ev, ev.stack[base:len(ev.stack):len(ev.stack)])
		clear(ev.stack[base:])
		ev.stack = ev.stack[:base]
		if err != nil {
			return nil, errorf(x.pos, "%s: %v", x.fn, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("unknown expression %T", e)
}

func keysOf(r Row) []string {
	out := make([]string, 0, len(r))
	for k := range r {
		out = append(out, k)
	}
	return out
}

func index(base, idx any) any {
	switch b := base.(type) {
	case *Object:
		s, _ := idx.(string)
		v, _ := b.Get(s)
		return v
	case map[string]any:
		s, _ := idx.(string)
		if v, ok := b[s]; ok {
			return v
		}
		return nil
	case []any:
		i, ok := idx.(int64)
		if !ok {
			return nil
		}
		if i < 0 {
			i += int64(len(b))
		}
		if i < 0 || i >= int64(len(b)) {
			return nil
		}
		return b[i]
	case string: // a JSON string read as dynamic
		var v any
		if json.Unmarshal([]byte(b), &v) == nil {
			return index(normalize(v), idx)
		}
	}
	return nil
}

func negate(v any) any {
	switch x := v.(type) {
	case int64:
		return -x
	case float64:
		return -x
	case time.Duration:
		return -x
	}
	return nil
}

func (ev *evaluator) binary(x *binary, r Row) (any, error) {
	l, err := ev.scalar(x.l, r)
	if err != nil {
		return nil, err
	}
	if x.op == "and" || x.op == "or" {
		lb, _ := l.(bool)
		if (x.op == "and") != lb { // false and ..., true or ...
			return lb, nil
		}
		rv, err := ev.scalar(x.r, r)
		rb, _ := rv.(bool)
		return rb, err
	}
	rv, err := ev.scalar(x.r, r)
	if err != nil {
		return nil, err
	}
	switch x.op {
	case "==":
		return equal(l, rv), nil
	case "!=":
		return !equal(l, rv), nil
	case "=~":
		return strings.EqualFold(str(l), str(rv)), nil
	case "!~":
		return !strings.EqualFold(str(l), str(rv)), nil
	case "<", "<=", ">", ">=":
		if l == nil || rv == nil || !sameKind(l, rv) {
			return false, nil
		}
		c := compareValues(l, rv)
		return map[string]bool{"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[x.op], nil
	case "+", "-", "*", "/", "%":
		return arith(x.op, l, rv), nil
	case "matches regex":
		re, err := regexp.Compile(str(rv))
		if err != nil {
			return nil, errorf(x.pos, "matches regex: %v", err)
		}
		return re.MatchString(str(l)), nil
	}
	neg := strings.HasPrefix(x.op, "!")
	op := strings.TrimPrefix(x.op, "!")
	ls, rs := str(l), str(rv)
	if !strings.HasSuffix(op, "_cs") {
		ls, rs = strings.ToLower(ls), strings.ToLower(rs)
	}
	var b bool
	switch strings.TrimSuffix(op, "_cs") {
	case "has":
		b = hasTerm(ls, rs)
	case "contains":
		b = strings.Contains(ls, rs)
	case "startswith":
		b = strings.HasPrefix(ls, rs)
	case "endswith":
		b = strings.HasSuffix(ls, rs)
	}
	return b != neg, nil
}

// hasTerm: s holds term as a whole term (delimited by non-alphanumerics).
func hasTerm(s, term string) bool {
	if term == "" {
		return true
	}
	for i := 0; ; {
		j := strings.Index(s[i:], term)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(term)
		if (start == 0 || !isAlnum(s[start-1])) && (end == len(s) || !isAlnum(s[end])) {
			return true
		}
		i = start + 1
	}
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (ev *evaluator) in(x *inList, r Row) (any, error) {
	v, err := ev.scalar(x.x, r)
	if err != nil {
		return nil, err
	}
	if x.sub != nil {
		set, err := ev.inSet(x)
		if err != nil {
			return nil, err
		}
		return set.has(v) != x.negated, nil
	}
	var candidates []any
	for _, e := range x.list {
		c, err := ev.scalar(e, r)
		if err != nil {
			return nil, err
		}
		if arr, ok := c.([]any); ok { // dynamic arrays are flattened
			candidates = append(candidates, arr...)
		} else {
			candidates = append(candidates, c)
		}
	}
	return slices.ContainsFunc(candidates, func(c any) bool { return equal(v, c) }) != x.negated, nil
}

type inSets struct {
	mu sync.Mutex
	m  map[*inList]valueSet
}

// inSet is the first column of an `in` subquery's result, run once per
// query (it cannot refer to the row). Parts running at once may both run
// it; the first to finish is kept.
func (ev *evaluator) inSet(x *inList) (valueSet, error) {
	ev.inSets.mu.Lock()
	set, ok := ev.inSets.m[x]
	ev.inSets.mu.Unlock()
	if ok {
		return set, nil
	}
	t, err := ev.tabular(x.sub)
	if err != nil {
		return valueSet{}, err
	}
	set = valueSet{keys: map[string]bool{}}
	if len(t.Columns) > 0 {
		for _, row := range t.Rows {
			c, _ := Get(row, t.Columns[0])
			set.add(c)
		}
	}
	ev.inSets.mu.Lock()
	defer ev.inSets.mu.Unlock()
	if first, ok := ev.inSets.m[x]; ok {
		return first, nil
	}
	ev.inSets.m[x] = set
	return set, nil
}

// valueSet holds values for `in`: strings, whole numbers and bools by
// key, others in a list compared one by one.
type valueSet struct {
	keys  map[string]bool
	other []any
}

func (s *valueSet) add(v any) {
	if k, ok := setKey(v); ok {
		s.keys[k] = true
	} else if v != nil {
		s.other = append(s.other, v)
	}
}

func (s valueSet) has(v any) bool {
	if k, ok := setKey(v); ok {
		return s.keys[k]
	}
	return slices.ContainsFunc(s.other, func(c any) bool { return equal(v, c) })
}

// setKey is v's key in a valueSet, when it has one: whole numbers alike
// whether int64 or float64, as == compares them.
func setKey(v any) (string, bool) {
	switch x := v.(type) {
	case string, int64, bool:
		return string(appendKey(nil, x)), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return string(appendKey(nil, int64(x))), true
		}
	}
	return "", false
}

// equal: KQL's ==: values of one kind that compare equal; null equals
// nothing.
func equal(a, b any) bool { return a != nil && b != nil && sameKind(a, b) && compareValues(a, b) == 0 }

// sameKind: the two values are of kinds that compare (numbers with
// numbers, strings with strings, ...).
func sameKind(a, b any) bool { return kindOf(a) == kindOf(b) }

func kindOf(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case int64, float64:
		return 2
	case string:
		return 3
	case time.Time:
		return 4
	case time.Duration:
		return 5
	}
	return 6
}

// compareValues orders values: by kind, then within it; strings are
// compared case-sensitively, as KQL's == does.
func compareValues(a, b any) int {
	if ka, kb := kindOf(a), kindOf(b); ka != kb {
		return cmp.Compare(ka, kb)
	}
	switch x := a.(type) {
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case int64, float64:
		return cmp.Compare(toFloat(a), toFloat(b))
	case string:
		return strings.Compare(x, b.(string))
	case time.Time:
		return x.Compare(b.(time.Time))
	case time.Duration:
		return cmp.Compare(x, b.(time.Duration))
	case nil:
		return 0
	}
	return strings.Compare(str(a), str(b))
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return math.NaN()
}

func arith(op string, a, b any) any {
	switch x := a.(type) {
	case time.Time:
		return arithTime(op, x, b)
	case time.Duration:
		return arithDuration(op, x, b)
	}
	ai, aInt := a.(int64)
	bi, bInt := b.(int64)
	if aInt && bInt {
		return arithInt(op, ai, bi)
	}
	af, bf := toFloat(a), toFloat(b)
	if math.IsNaN(af) || math.IsNaN(bf) {
		return nil
	}
	switch op {
	case "+":
		return af + bf
	case "-":
		return af - bf
	case "*":
		return af * bf
	case "/":
		return af / bf
	}
	return math.Mod(af, bf)
}

func arithTime(op string, x time.Time, b any) any {
	switch y := b.(type) {
	case time.Duration:
		if op == "+" {
			return x.Add(y)
		}
		if op == "-" {
			return x.Add(-y)
		}
	case time.Time:
		if op == "-" {
			return x.Sub(y)
		}
	}
	return nil
}

func arithDuration(op string, x time.Duration, b any) any {
	if d, ok := b.(time.Duration); ok {
		switch op {
		case "+":
			return x + d
		case "-":
			return x - d
		case "/":
			if d != 0 {
				return float64(x) / float64(d)
			}
		}
		return nil
	}
	f := toFloat(b)
	switch {
	case math.IsNaN(f):
		return nil
	case op == "*":
		return time.Duration(float64(x) * f)
	case op == "/" && f != 0:
		return time.Duration(float64(x) / f)
	}
	return nil
}

func arithInt(op string, a, b int64) any {
	switch op {
	case "+":
		return a + b
	case "-":
		return a - b
	case "*":
		return a * b
	}
	if b == 0 {
		return nil
	}
	if op == "/" {
		return a / b
	}
	return a % b
}

// str is a value as tostring() gives it.
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.0000000Z")
	case time.Duration:
		return formatTimespan(x)
	}
	b, _ := marshal(v)
	return string(b)
}

// normalize turns decoded JSON into query values (numbers as int64 when
// whole).
func normalize(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case int:
		return int64(x)
	}
	return v
}

// String is a value as tostring() gives it (datetimes in ISO 8601,
// timespans as [d.]hh:mm:ss, dynamic values as JSON).
func String(v any) string { return str(v) }

// Normalize turns decoded JSON into the values queries read: whole
// numbers as int64.
func Normalize(v any) any { return normalize(v) }

// Compact is Normalize for values kept long (an index's rows): property
// bags become Objects (read in one block of memory), and every key, and
// every value short enough to repeat (names, states, types), is the one
// copy of that string in the process (unique.Make), held in an interface
// many rows share, so that rows hold it once, and a scan reads it from
// cache rather than from each row.
func Compact(v any) any {
	switch x := v.(type) {
	case string:
		if len(x) <= compactLen {
			return box(x)
		}
		return x
	case map[string]any:
		return objectOf(x, Compact)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Compact(e)
		}
		return out
	}
	return normalize(v)
}

// compactLen is the longest value Compact shares: longer ones (ids,
// messages) are mostly unique.
const compactLen = 64

// intern is the one copy of s in the process.
func intern(s string) string { return unique.Make(s).Value() }

// boxes are short strings as interface values, shared: an interface holds
// a string through a pointer, so rows that share the interface share what
// they read. It is bounded: when full it starts again (the values it made
// stay valid).
var boxes struct {
	sync.Mutex
	m map[string]any
}

const maxBoxes = 1 << 16

func box(s string) any {
	boxes.Lock()
	defer boxes.Unlock()
	v, ok := boxes.m[s]
	if !ok {
		if boxes.m == nil || len(boxes.m) >= maxBoxes {
			boxes.m = make(map[string]any, 1024)
		}
		s = intern(s)
		v = s
		boxes.m[s] = v
	}
	return v
}
