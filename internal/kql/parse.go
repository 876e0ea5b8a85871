package kql

import (
	"slices"
	"strconv"
	"strings"
)

// Query is a parsed query: let statements, then a tabular expression.
type Query struct {
	lets []let
	body *tabular
}

// let binds a name to a tabular expression or a scalar.
type let struct {
	name   string
	tab    *tabular
	scalar expr
}

// tabular is a source piped through operators.
type tabular struct {
	table string     // a table's name, or
	sub   *tabular   // a parenthesized tabular expression, or
	union []*tabular // union of these
	pos   Pos
	ops   []operator
}

// operator is one tabular operator.
type operator struct {
	name    string // lower case: where, extend, project, ...
	pos     Pos
	pred    expr         // where
	cols    []assignment // extend, project, summarize's aggregates, project-rename (name = old)
	names   []string     // project-away, distinct
	by      []assignment // summarize's groups
	orderBy []ordering   // order by, top
	n       expr         // take, top; mv-expand's limit
	tables  []*tabular   // union; join's right side
	kind    string       // join's kind
	on      []joinKey    // join's keys
	index   string       // mv-expand's with_itemindex
	types   []string     // mv-expand's to typeof(), per column ("" for none)
}

// joinKey is one of join's conditions: left == right.
type joinKey struct{ left, right string }

type assignment struct {
	name string // "" until named
	e    expr
}

type ordering struct {
	e    expr
	desc bool
}

// expr is a scalar expression.
type expr interface{ position() Pos }

type (
	literal struct {
		v   any
		pos Pos
	}
	column struct {
		name string
		pos  Pos
	}
	member struct { // x.name, x['name'], x[0]
		x     expr
		index expr
		pos   Pos
	}
	binary struct {
		op   string // lower case
		l, r expr
		pos  Pos
	}
	unary struct {
		op  string
		x   expr
		pos Pos
	}
	call struct {
		fn   string // lower case
		args []expr
		pos  Pos
	}
	inList struct { // x in (a, b) / x in (tabular); negated for !in
		x       expr
		list    []expr
		sub     *tabular
		negated bool
		pos     Pos
	}
)

func (e *literal) position() Pos { return e.pos }
func (e *column) position() Pos  { return e.pos }
func (e *member) position() Pos  { return e.pos }
func (e *binary) position() Pos  { return e.pos }
func (e *unary) position() Pos   { return e.pos }
func (e *call) position() Pos    { return e.pos }
func (e *inList) position() Pos  { return e.pos }

// Parse parses a query over the named tables.
func Parse(src string, tables []string) (*Query, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, tables: slices.Clone(tables)}
	q := &Query{}
	for p.word("let") {
		p.next()
		name := p.next()
		if name.kind != tIdent {
			return nil, errorf(name.pos, "expected a name after let, found %s", describeTok(name))
		}
		if err := p.expect("="); err != nil {
			return nil, err
		}
		l := let{name: name.text}
		if t := p.peek(); t.kind == tIdent && (p.isTable(t.text) || strings.EqualFold(t.text, "union")) {
			if l.tab, err = p.tabular(); err != nil {
				return nil, err
			}
			p.tables = append(p.tables, name.text)
		} else if l.scalar, err = p.expr(); err != nil {
			return nil, err
		}
		if err := p.expect(";"); err != nil {
			return nil, err
		}
		q.lets = append(q.lets, l)
	}
	t, err := p.tabular()
	if err != nil {
		return nil, err
	}
	q.body = t
	if p.is(";") {
		p.next()
	}
	if !p.at(tEOF) {
		return nil, errorf(p.peek().pos, "expected '|' or the end of the query, found %s", describeTok(p.peek()))
	}
	return q, nil
}

type parser struct {
	toks   []token
	i      int
	tables []string
}

func (p *parser) peek() token          { return p.toks[p.i] }
func (p *parser) peek2() token         { return p.toks[min(p.i+1, len(p.toks)-1)] }
func (p *parser) next() token          { t := p.toks[p.i]; p.i = min(p.i+1, len(p.toks)-1); return t }
func (p *parser) at(k tokenKind) bool  { return p.peek().kind == k }
func (p *parser) is(punct string) bool { t := p.peek(); return t.kind == tPunct && t.text == punct }

// word reports whether the next token is the identifier w (any case).
func (p *parser) word(w string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, w)
}

func (p *parser) expect(punct string) error {
	if !p.is(punct) {
		return errorf(p.peek().pos, "expected '%s', found %s", punct, describeTok(p.peek()))
	}
	p.next()
	return nil
}

func describeTok(t token) string {
	switch t.kind {
	case tEOF:
		return "the end of the query"
	case tString:
		return strconv.Quote(t.text)
	}
	return "'" + t.text + "'"
}

func (p *parser) isTable(name string) bool {
	return slices.ContainsFunc(p.tables, func(t string) bool { return strings.EqualFold(t, name) })
}

func (p *parser) tabular() (*tabular, error) {
	t := &tabular{pos: p.peek().pos}
	switch tok := p.peek(); {
	case p.is("("):
		p.next()
		sub, err := p.tabular()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		t.sub = sub
	case tok.kind == tIdent && p.isTable(tok.text):
		p.next()
		t.table = tok.text
	case tok.kind == tIdent && strings.EqualFold(tok.text, "union"):
		p.next()
		op := operator{name: "union", pos: tok.pos}
		var err error
		if op.tables, err = p.tabulars(); err != nil {
			return nil, err
		}
		t.union = op.tables
	case tok.kind == tIdent:
		return nil, errorf(tok.pos, "unknown table '%s'%s; the tables are %s", tok.text, suggest(tok.text, p.tables), strings.Join(p.tables, ", "))
	default:
		return nil, errorf(tok.pos, "expected a table, found %s", describeTok(tok))
	}
	for p.is("|") {
		p.next()
		op, err := p.operator()
		if err != nil {
			return nil, err
		}
		t.ops = append(t.ops, op)
	}
	return t, nil
}

// operatorNames are the tabular operators served.
var operatorNames = []string{"where", "filter", "extend", "project", "project-away", "project-rename", "summarize",
	"order", "sort", "take", "limit", "top", "distinct", "count", "join", "union", "mv-expand"}

func (p *parser) operator() (operator, error) {
	tok := p.next()
	name := strings.ToLower(tok.text)
	op := operator{name: name, pos: tok.pos}
	if tok.kind != tIdent || !slices.Contains(operatorNames, name) {
		return op, errorf(tok.pos, "unknown operator %s%s; the operators are %s", describeTok(tok), suggest(tok.text, operatorNames), strings.Join(operatorNames, ", "))
	}
	var err error
	switch name {
	case "where", "filter":
		op.name = "where"
		op.pred, err = p.expr()
	case "extend", "project":
		op.cols, err = p.assignments()
	case "project-away":
		op.names, err = p.names()
	case "distinct":
		if p.is("*") {
			p.next()
			op.names = []string{"*"}
		} else {
			op.by, err = p.assignments()
		}
	case "project-rename":
		op.cols, err = p.assignments()
		for _, a := range op.cols {
			if _, isCol := a.e.(*column); !isCol || a.name == "" {
				return op, errorf(op.pos, "project-rename takes new = old column pairs")
			}
		}
	case "summarize":
		if !p.word("by") {
			if op.cols, err = p.assignments(); err != nil {
				return op, err
			}
		}
		if p.word("by") {
			p.next()
			op.by, err = p.assignments()
		}
		if err == nil && len(op.cols) == 0 && len(op.by) == 0 {
			err = errorf(op.pos, "summarize needs aggregates, a by clause, or both")
		}
	case "order", "sort":
		op.name = "order"
		if !p.word("by") {
			return op, errorf(p.peek().pos, "expected 'by' after %s", name)
		}
		p.next()
		op.orderBy, err = p.orderings()
	case "take", "limit":
		op.name = "take"
		op.n, err = p.expr()
	case "union":
		op.tables, err = p.tabulars()
	case "join":
		err = p.join(&op)
	case "mv-expand":
		err = p.mvExpand(&op)
	case "top":
		if op.n, err = p.expr(); err != nil {
			return op, err
		}
		if !p.word("by") {
			return op, errorf(p.peek().pos, "expected 'by' after top's count")
		}
		p.next()
		op.orderBy, err = p.orderings()
	}
	return op, err
}

// tabulars reads union's operands: tables and parenthesized tabular
// expressions, comma-separated.
func (p *parser) tabulars() ([]*tabular, error) {
	if p.peek().kind == tIdent && p.peek2().kind == tPunct && p.peek2().text == "=" { // withsource=, kind=: not served
		return nil, errorf(p.peek().pos, "union's %s= is not served", p.peek().text)
	}
	var out []*tabular
	for {
		t := p.peek()
		switch {
		case p.is("("):
			p.next()
			sub, err := p.tabular()
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			out = append(out, sub)
		case t.kind == tIdent && p.isTable(t.text):
			p.next()
			out = append(out, &tabular{table: t.text, pos: t.pos})
		default:
			return nil, errorf(t.pos, "expected a table or a parenthesized query, found %s", describeTok(t))
		}
		if !p.is(",") {
			return out, nil
		}
		p.next()
	}
}

// joinKinds are the join flavours served.
var joinKinds = []string{"innerunique", "inner", "leftouter", "leftanti", "leftsemi", "rightanti", "rightsemi", "anti", "semi"}

func (p *parser) join(op *operator) error {
	op.kind = "innerunique"
	if p.word("kind") {
		p.next()
		if err := p.expect("="); err != nil {
			return err
		}
		k := p.next()
		op.kind = strings.ToLower(k.text)
		if !slices.Contains(joinKinds, op.kind) {
			return errorf(k.pos, "join kind '%s' is not served; the kinds are %s", k.text, strings.Join(joinKinds, ", "))
		}
	}
	right, err := p.tabulars()
	if err != nil {
		return err
	}
	if len(right) != 1 {
		return errorf(op.pos, "join takes one right-hand table")
	}
	op.tables = right
	if !p.word("on") {
		return errorf(p.peek().pos, "expected 'on' and the join's keys, found %s", describeTok(p.peek()))
	}
	p.next()
	for {
		k, err := p.joinKey()
		if err != nil {
			return err
		}
		op.on = append(op.on, k)
		if !p.is(",") && !p.word("and") {
			return nil
		}
		p.next()
	}
}

// joinKey reads "col" or "$left.a == $right.b" (either order).
func (p *parser) joinKey() (joinKey, error) {
	side := func() (string, string, error) {
		t := p.next()
		if t.kind != tIdent {
			return "", "", errorf(t.pos, "expected a column or $left.column / $right.column, found %s", describeTok(t))
		}
		if !strings.HasPrefix(t.text, "$") {
			return "", t.text, nil
		}
		if err := p.expect("."); err != nil {
			return "", "", err
		}
		c := p.next()
		if c.kind != tIdent || (t.text != "$left" && t.text != "$right") {
			return "", "", errorf(t.pos, "expected $left.column or $right.column")
		}
		return t.text, c.text, nil
	}
	s1, c1, err := side()
	if err != nil {
		return joinKey{}, err
	}
	if s1 == "" {
		return joinKey{c1, c1}, nil
	}
	if err := p.expect("=="); err != nil {
		return joinKey{}, err
	}
	s2, c2, err := side()
	if err != nil {
		return joinKey{}, err
	}
	switch {
	case s1 == "$left" && s2 == "$right":
		return joinKey{c1, c2}, nil
	case s1 == "$right" && s2 == "$left":
		return joinKey{c2, c1}, nil
	}
	return joinKey{}, errorf(p.peek().pos, "a join key compares $left.column with $right.column")
}

func (p *parser) mvExpand(op *operator) error {
	for p.word("kind") || p.word("bagexpansion") || p.word("with_itemindex") {
		w := strings.ToLower(p.next().text)
		if err := p.expect("="); err != nil {
			return err
		}
		v := p.next()
		if w == "with_itemindex" {
			op.index = v.text
		}
	}
	for {
		var a assignment
		if p.at(tIdent) && p.peek2().kind == tPunct && p.peek2().text == "=" {
			a.name = p.next().text
			p.next()
		}
		e, err := p.expr()
		if err != nil {
			return err
		}
		a.e = e
		typ := ""
		if p.word("to") {
			p.next()
			if !p.word("typeof") {
				return errorf(p.peek().pos, "expected typeof(type) after to")
			}
			p.next()
			if err := p.expect("("); err != nil {
				return err
			}
			typ = strings.ToLower(p.next().text)
			if err := p.expect(")"); err != nil {
				return err
			}
		}
		op.cols, op.types = append(op.cols, a), append(op.types, typ)
		if !p.is(",") {
			break
		}
		p.next()
	}
	if p.word("limit") {
		p.next()
		n, err := p.expr()
		op.n = n
		return err
	}
	return nil
}

// assignments reads "name = expr, expr, ..."; unnamed columns and
// aggregates are named later.
func (p *parser) assignments() ([]assignment, error) {
	var out []assignment
	for {
		var a assignment
		if p.at(tIdent) && p.peek2().kind == tPunct && p.peek2().text == "=" {
			a.name = p.next().text
			p.next()
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		a.e = e
		out = append(out, a)
		if !p.is(",") {
			return out, nil
		}
		p.next()
	}
}

func (p *parser) names() ([]string, error) {
	var out []string
	for {
		t := p.next()
		if t.kind != tIdent {
			return nil, errorf(t.pos, "expected a column name, found %s", describeTok(t))
		}
		out = append(out, t.text)
		if !p.is(",") {
			return out, nil
		}
		p.next()
	}
}

func (p *parser) orderings() ([]ordering, error) {
	var out []ordering
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		o := ordering{e: e, desc: true} // KQL sorts descending unless told
		switch {
		case p.word("asc"):
			p.next()
			o.desc = false
		case p.word("desc"):
			p.next()
		}
		if p.word("nulls") {
			p.next()
			if !p.word("first") && !p.word("last") {
				return nil, errorf(p.peek().pos, "expected first or last after nulls")
			}
			p.next()
		}
		out = append(out, o)
		if !p.is(",") {
			return out, nil
		}
		p.next()
	}
}

// ---- scalar expressions, by precedence ----

func (p *parser) expr() (expr, error) { return p.or() }

func (p *parser) or() (expr, error) {
	l, err := p.and()
	for err == nil && p.word("or") {
		pos := p.next().pos
		var r expr
		if r, err = p.and(); err == nil {
			l = &binary{op: "or", l: l, r: r, pos: pos}
		}
	}
	return l, err
}

func (p *parser) and() (expr, error) {
	l, err := p.comparison()
	for err == nil && p.word("and") {
		pos := p.next().pos
		var r expr
		if r, err = p.comparison(); err == nil {
			l = &binary{op: "and", l: l, r: r, pos: pos}
		}
	}
	return l, err
}

// stringOps are the word operators on strings, with their negations.
var stringOps = []string{"has", "!has", "contains", "!contains", "startswith", "!startswith", "endswith", "!endswith",
	"has_cs", "contains_cs", "startswith_cs", "endswith_cs", "matches"}

func (p *parser) comparison() (expr, error) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tPunct && slices.Contains([]string{"==", "!=", "=~", "!~", "<", "<=", ">", ">="}, t.text):
		p.next()
		r, err := p.additive()
		return &binary{op: t.text, l: l, r: r, pos: t.pos}, err
	case t.kind == tPunct && t.text == "!" && p.peek2().kind == tIdent && slices.Contains(stringOps, "!"+strings.ToLower(p.peek2().text)):
		p.next()
		op := "!" + strings.ToLower(p.next().text)
		r, err := p.additive()
		return &binary{op: op, l: l, r: r, pos: t.pos}, err
	case t.kind == tPunct && t.text == "!" || t.kind == tIdent && strings.EqualFold(t.text, "in"):
		return p.in(l)
	case t.kind == tIdent && slices.Contains(stringOps, strings.ToLower(t.text)):
		p.next()
		op := strings.ToLower(t.text)
		if op == "matches" {
			if !p.word("regex") {
				return nil, errorf(p.peek().pos, "expected 'regex' after matches")
			}
			p.next()
			op = "matches regex"
		}
		r, err := p.additive()
		return &binary{op: op, l: l, r: r, pos: t.pos}, err
	}
	return l, nil
}

func (p *parser) in(x expr) (expr, error) {
	pos := p.peek().pos
	negated := false
	if p.is("!") {
		p.next()
		negated = true
	}
	if !p.word("in") {
		return nil, errorf(p.peek().pos, "expected in after '!'")
	}
	p.next()
	if err := p.expect("("); err != nil {
		return nil, err
	}
	n := &inList{x: x, negated: negated, pos: pos}
	if t := p.peek(); t.kind == tIdent && p.isTable(t.text) || p.is("(") {
		sub, err := p.tabular()
		if err != nil {
			return nil, err
		}
		n.sub = sub
	} else {
		for !p.is(")") {
			e, err := p.additive()
			if err != nil {
				return nil, err
			}
			n.list = append(n.list, e)
			if !p.is(",") {
				break
			}
			p.next()
		}
	}
	return n, p.expect(")")
}

func (p *parser) additive() (expr, error) {
	l, err := p.multiplicative()
	for err == nil && (p.is("+") || p.is("-")) {
		t := p.next()
		var r expr
		if r, err = p.multiplicative(); err == nil {
			l = &binary{op: t.text, l: l, r: r, pos: t.pos}
		}
	}
	return l, err
}

func (p *parser) multiplicative() (expr, error) {
	l, err := p.unary()
	for err == nil && (p.is("*") || p.is("/") || p.is("%")) {
		t := p.next()
		var r expr
		if r, err = p.unary(); err == nil {
			l = &binary{op: t.text, l: l, r: r, pos: t.pos}
		}
	}
	return l, err
}

func (p *parser) unary() (expr, error) {
	if p.is("-") {
		t := p.next()
		x, err := p.unary()
		return &unary{op: "-", x: x, pos: t.pos}, err
	}
	return p.postfix()
}

func (p *parser) postfix() (expr, error) {
	x, err := p.primary()
	for err == nil {
		switch {
		case p.is("."):
			t := p.next()
			name := p.next()
			if name.kind != tIdent {
				return nil, errorf(name.pos, "expected a property name after '.', found %s", describeTok(name))
			}
			// The one copy of the name: an Object's keys are too, so
			// that finding it compares pointers.
			x = &member{x: x, index: &literal{v: intern(name.text), pos: name.pos}, pos: t.pos}
		case p.is("["):
			t := p.next()
			var idx expr
			if idx, err = p.expr(); err != nil {
				return nil, err
			}
			if err = p.expect("]"); err != nil {
				return nil, err
			}
			x = &member{x: x, index: idx, pos: t.pos}
		default:
			return x, nil
		}
	}
	return x, err
}

func (p *parser) primary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return &literal{v: t.text, pos: t.pos}, nil
	case tNumber:
		if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return &literal{v: i, pos: t.pos}, nil
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, errorf(t.pos, "'%s' is not a number", t.text)
		}
		return &literal{v: f, pos: t.pos}, nil
	case tTimespan:
		d, err := parseTimespan(t.text)
		if err != nil {
			return nil, errorf(t.pos, "%v", err)
		}
		return &literal{v: d, pos: t.pos}, nil
	case tPunct:
		if t.text == "(" {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			return e, p.expect(")")
		}
		return nil, errorf(t.pos, "expected a value, a column or a function, found %s", describeTok(t))
	case tIdent:
		switch strings.ToLower(t.text) {
		case "true":
			return &literal{v: true, pos: t.pos}, nil
		case "false":
			return &literal{v: false, pos: t.pos}, nil
		case "null":
			return &literal{v: nil, pos: t.pos}, nil
		}
		if !p.is("(") {
			return &column{name: t.text, pos: t.pos}, nil
		}
		return p.call(t)
	}
	return nil, errorf(t.pos, "expected a value, a column or a function, found %s", describeTok(t))
}

func (p *parser) call(name token) (expr, error) {
	fn := strings.ToLower(name.text)
	p.next() // (
	c := &call{fn: fn, pos: name.pos}
	switch fn {
	case "dynamic":
		v, err := p.dynamicLiteral()
		if err != nil {
			return nil, err
		}
		return &literal{v: v, pos: name.pos}, p.expect(")")
	case "datetime", "timespan", "time":
		// The argument is a literal as written: datetime(2026-11-26), timespan(1d).
		var b strings.Builder
		start := p.peek().pos
		for !p.is(")") && !p.at(tEOF) {
			b.WriteString(p.next().text)
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		v, err := literalOf(fn, b.String())
		if err != nil {
			return nil, errorf(start, "%v", err)
		}
		return &literal{v: v, pos: name.pos}, nil
	}
	if _, known := functions[fn]; !known && !isAggregate(fn) {
		return nil, errorf(name.pos, "unknown function '%s'%s", name.text, suggest(fn, functionNames()))
	}
	for !p.is(")") {
		var e expr
		var err error
		if p.is("*") && (fn == "arg_max" || fn == "arg_min") {
			e = &column{name: "*", pos: p.next().pos}
		} else if e, err = p.expr(); err != nil {
			return nil, err
		}
		c.args = append(c.args, e)
		if !p.is(",") {
			break
		}
		p.next()
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	if f, ok := functions[fn]; ok && (len(c.args) < f.min || f.max >= 0 && len(c.args) > f.max) {
		return nil, errorf(name.pos, "%s takes %s, not %d", fn, arity(f.min, f.max), len(c.args))
	}
	if a, ok := aggregates[fn]; ok && (len(c.args) < a.min || len(c.args) > a.max) {
		return nil, errorf(name.pos, "%s takes %s, not %d", fn, arity(a.min, a.max), len(c.args))
	}
	return c, nil
}

func arity(lo, hi int) string {
	switch {
	case lo == hi && lo == 1:
		return "1 argument"
	case lo == hi:
		return strconv.Itoa(lo) + " arguments"
	case hi < 0:
		return "at least " + strconv.Itoa(lo) + " arguments"
	}
	return strconv.Itoa(lo) + " to " + strconv.Itoa(hi) + " arguments"
}

// dynamicLiteral reads the JSON-like body of dynamic(...).
func (p *parser) dynamicLiteral() (any, error) {
	t := p.peek()
	switch {
	case p.is("["):
		p.next()
		out := []any{}
		for !p.is("]") {
			v, err := p.dynamicLiteral()
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			if !p.is(",") {
				break
			}
			p.next()
		}
		return out, p.expect("]")
	case p.is("{"):
		p.next()
		out := map[string]any{}
		for !p.is("}") {
			k := p.next()
			if k.kind != tString && k.kind != tIdent {
				return nil, errorf(k.pos, "expected a property name, found %s", describeTok(k))
			}
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			v, err := p.dynamicLiteral()
			if err != nil {
				return nil, err
			}
			out[k.text] = v
			if !p.is(",") {
				break
			}
			p.next()
		}
		return out, p.expect("}")
	}
	e, err := p.unary()
	if err != nil {
		return nil, err
	}
	if l, ok := e.(*literal); ok {
		return l.v, nil
	}
	if u, ok := e.(*unary); ok {
		if l, ok := u.x.(*literal); ok {
			return negate(l.v), nil
		}
	}
	return nil, errorf(t.pos, "dynamic() takes literals only")
}

// suggest is ": did you mean 'x'?" for the closest name, when close.
func suggest(got string, names []string) string {
	best, dist := "", 3
	for _, n := range names {
		if d := levenshtein(strings.ToLower(got), strings.ToLower(n)); d < dist {
			best, dist = n, d
		}
	}
	if best == "" {
		return ""
	}
	return ": did you mean '" + best + "'?"
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
