// Package odata evaluates the OData query options Azure's query APIs take
// ($filter, $orderby, $select, $top, $apply) over flat records, as
// Microsoft.PolicyInsights serves policy states.
//
// The subset is what Azure's documents and the az CLI's examples use:
// comparisons eq, ne, gt, ge, lt, le; and, or, not and parentheses; the
// functions contains, startswith, endswith, tolower and toupper; string,
// number, boolean, null and date-time literals; $apply with groupby and
// aggregate($count as name), chained with '/'. Property names are
// case-insensitive and string equality ignores case, as Azure's resource
// IDs do. Anything else is an error naming the part to fix.
package odata

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Record is one row: property name (as the schema spells it) to value
// (string, float64, int, bool, time.Time, []string or nil).
type Record = map[string]any

// Schema is the properties a query may name.
type Schema []string

// resolve returns the schema's spelling of name.
func (s Schema) resolve(option, name string) (string, error) {
	for _, p := range s {
		if strings.EqualFold(p, name) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: unknown property '%s'; the properties are %s", option, name, strings.Join(s, ", "))
}

// ---- $filter ----

// Filter is a parsed $filter.
type Filter struct{ root node }

type node interface{ eval(Record) any }

// ParseFilter parses a $filter expression over the schema's properties.
func ParseFilter(s string, schema Schema) (*Filter, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, fmt.Errorf("$filter: %w", err)
	}
	p := &parser{toks: toks, schema: schema}
	n, err := p.or()
	if err == nil && !p.done() {
		err = p.errorf("unexpected '%s' after a complete expression", p.peek().text)
	}
	if err != nil {
		return nil, fmt.Errorf("$filter: %w", err)
	}
	return &Filter{root: n}, nil
}

// Match reports whether rec satisfies the filter; a nil filter matches all.
func (f *Filter) Match(rec Record) bool {
	if f == nil {
		return true
	}
	b, _ := f.root.eval(rec).(bool)
	return b
}

type tokenKind int

const (
	tokIdent tokenKind = iota
	tokString
	tokNumber
	tokPunct
)

type token struct {
	kind tokenKind
	text string
	pos  int // 1-based
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == ',':
			out = append(out, token{tokPunct, string(c), i + 1})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; ; j++ {
				if j >= len(s) {
					return nil, fmt.Errorf("at %d: the string starting here has no closing quote", i+1)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' { // '' is a quote
						b.WriteByte('\'')
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			out = append(out, token{tokString, b.String(), i + 1})
			i = j + 1
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(s) && strings.IndexByte("0123456789.:-+TZtz", s[j]) >= 0 {
				j++
			}
			out = append(out, token{tokNumber, s[i:j], i + 1})
			i = j
		case c == '_' || isLetter(c):
			j := i + 1
			for j < len(s) && (isLetter(s[j]) || s[j] == '_' || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			out = append(out, token{tokIdent, s[i:j], i + 1})
			i = j
		default:
			return nil, fmt.Errorf("at %d: unexpected character %q", i+1, c)
		}
	}
	return out, nil
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

type parser struct {
	toks   []token
	i      int
	schema Schema
}

func (p *parser) done() bool { return p.i >= len(p.toks) }

func (p *parser) peek() token {
	if p.done() {
		return token{kind: tokPunct, text: "end of input", pos: -1}
	}
	return p.toks[p.i]
}

func (p *parser) errorf(format string, args ...any) error {
	t := p.peek()
	if t.pos < 0 {
		return fmt.Errorf("at the end: "+format, args...)
	}
	return fmt.Errorf("at %d: "+format, append([]any{t.pos}, args...)...)
}

// keyword consumes the word w (case-insensitive) if it is next.
func (p *parser) keyword(w string) bool {
	if t := p.peek(); t.kind == tokIdent && strings.EqualFold(t.text, w) {
		p.i++
		return true
	}
	return false
}

func (p *parser) punct(c string) bool {
	if t := p.peek(); t.kind == tokPunct && t.text == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) expect(c string) error {
	if !p.punct(c) {
		return p.errorf("expected '%s', found '%s'", c, p.peek().text)
	}
	return nil
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	for err == nil && p.keyword("or") {
		var r node
		if r, err = p.and(); err == nil {
			l = logic{l, r, false}
		}
	}
	return l, err
}

func (p *parser) and() (node, error) {
	l, err := p.not()
	for err == nil && p.keyword("and") {
		var r node
		if r, err = p.not(); err == nil {
			l = logic{l, r, true}
		}
	}
	return l, err
}

func (p *parser) not() (node, error) {
	if p.keyword("not") {
		n, err := p.not()
		return negate{n}, err
	}
	return p.comparison()
}

var comparators = []string{"eq", "ne", "gt", "ge", "lt", "le"}

func (p *parser) comparison() (node, error) {
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	for _, op := range comparators {
		if p.keyword(op) {
			r, err := p.operand()
			return compare{op, l, r}, err
		}
	}
	if t := p.peek(); t.kind == tokIdent && !slices.ContainsFunc([]string{"and", "or"}, func(w string) bool { return strings.EqualFold(w, t.text) }) {
		return nil, p.errorf("expected eq, ne, gt, ge, lt, le, and or or, found '%s'", t.text)
	}
	return l, nil
}

// functions are the filter functions, by name, with their arity.
var functions = map[string]int{"contains": 2, "startswith": 2, "endswith": 2, "tolower": 1, "toupper": 1}

func (p *parser) operand() (node, error) {
	t := p.peek()
	switch {
	case t.kind == tokPunct && t.text == "(":
		p.i++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		return n, p.expect(")")
	case t.kind == tokString:
		p.i++
		return literal{t.text}, nil
	case t.kind == tokNumber:
		p.i++
		if v, err := strconv.ParseFloat(t.text, 64); err == nil {
			return literal{v}, nil
		}
		if v, err := time.Parse(time.RFC3339Nano, strings.ToUpper(t.text)); err == nil {
			return literal{v}, nil
		}
		return nil, fmt.Errorf("at %d: '%s' is neither a number nor a date-time such as 2026-11-26T00:00:00Z", t.pos, t.text)
	case t.kind == tokIdent:
		p.i++
		switch strings.ToLower(t.text) {
		case "true":
			return literal{true}, nil
		case "false":
			return literal{false}, nil
		case "null":
			return literal{nil}, nil
		}
		if p.punct("(") {
			return p.call(t)
		}
		name, err := p.schema.resolve("at "+strconv.Itoa(t.pos), t.text)
		if err != nil {
			return nil, err
		}
		return property(name), nil
	}
	return nil, p.errorf("expected a property, a value or '(', found '%s'", t.text)
}

func (p *parser) call(name token) (node, error) {
	fn := strings.ToLower(name.text)
	arity, ok := functions[fn]
	if !ok {
		return nil, fmt.Errorf("at %d: unknown function '%s'; the functions are contains, startswith, endswith, tolower and toupper", name.pos, name.text)
	}
	var args []node
	for !p.punct(")") {
		if len(args) > 0 {
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		a, err := p.operand()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
	}
	if len(args) != arity {
		return nil, fmt.Errorf("at %d: %s takes %d argument(s), not %d", name.pos, fn, arity, len(args))
	}
	return call{fn, args}, nil
}

type literal struct{ v any }

func (l literal) eval(Record) any { return l.v }

type property string

func (n property) eval(r Record) any { return r[string(n)] }

type negate struct{ n node }

func (n negate) eval(r Record) any { b, _ := n.n.eval(r).(bool); return !b }

type logic struct {
	l, r node
	and  bool
}

func (n logic) eval(r Record) any {
	l, _ := n.l.eval(r).(bool)
	if l != n.and { // false and ..., true or ...
		return l
	}
	b, _ := n.r.eval(r).(bool)
	return b
}

type call struct {
	fn   string
	args []node
}

func (n call) eval(r Record) any {
	a := str(n.args[0].eval(r))
	switch n.fn {
	case "tolower":
		return strings.ToLower(a)
	case "toupper":
		return strings.ToUpper(a)
	}
	b := strings.ToLower(str(n.args[1].eval(r)))
	a = strings.ToLower(a)
	switch n.fn {
	case "contains":
		return strings.Contains(a, b)
	case "startswith":
		return strings.HasPrefix(a, b)
	default:
		return strings.HasSuffix(a, b)
	}
}

func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

type compare struct {
	op   string
	l, r node
}

func (n compare) eval(r Record) any {
	c, ok := order(n.l.eval(r), n.r.eval(r))
	switch n.op {
	case "eq":
		return ok && c == 0
	case "ne":
		return !ok || c != 0
	case "gt":
		return ok && c > 0
	case "ge":
		return ok && c >= 0
	case "lt":
		return ok && c < 0
	default:
		return ok && c <= 0
	}
}

// order compares two values; ok is false when they cannot be compared
// (different types; null against a value).
func order(a, b any) (int, bool) {
	if i, isInt := a.(int); isInt {
		a = float64(i)
	}
	if i, isInt := b.(int); isInt {
		b = float64(i)
	}
	switch a := a.(type) {
	case nil:
		return 0, b == nil
	case string:
		if t, isTime := b.(time.Time); isTime {
			if at, err := time.Parse(time.RFC3339Nano, a); err == nil {
				return at.Compare(t), true
			}
			return 0, false
		}
		bs, isString := b.(string)
		return strings.Compare(strings.ToLower(a), strings.ToLower(bs)), isString
	case float64:
		bf, isFloat := b.(float64)
		return cmp.Compare(a, bf), isFloat
	case bool:
		bb, isBool := b.(bool)
		if !isBool {
			return 0, false
		}
		switch {
		case a == bb:
			return 0, true
		case bb:
			return -1, true
		}
		return 1, true
	case time.Time:
		if s, isString := b.(string); isString {
			c, ok := order(s, a)
			return -c, ok
		}
		bt, isTime := b.(time.Time)
		return a.Compare(bt), isTime
	}
	return 0, false
}

// ---- $orderby, $select, $top ----

// Order is one key of $orderby.
type Order struct {
	Property string
	Desc     bool
}

// ParseOrderBy parses "prop [asc|desc], ...".
func ParseOrderBy(s string, schema Schema) ([]Order, error) {
	var out []Order
	for _, part := range strings.Split(s, ",") {
		f := strings.Fields(part)
		if len(f) == 0 || len(f) > 2 {
			return nil, fmt.Errorf("$orderby: '%s' is not 'property [asc|desc]'", strings.TrimSpace(part))
		}
		name, err := schema.resolve("$orderby", f[0])
		if err != nil {
			return nil, err
		}
		o := Order{Property: name}
		if len(f) == 2 {
			switch strings.ToLower(f[1]) {
			case "asc":
			case "desc":
				o.Desc = true
			default:
				return nil, fmt.Errorf("$orderby: '%s' after %s is not asc or desc", f[1], f[0])
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// Sort orders recs by the keys, stably; values that cannot be compared
// (a null, a different type) sort first.
func Sort(recs []Record, keys []Order) {
	slices.SortStableFunc(recs, func(a, b Record) int {
		for _, k := range keys {
			c, ok := order(a[k.Property], b[k.Property])
			if !ok {
				c = cmp.Compare(rank(a[k.Property]), rank(b[k.Property]))
			}
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
}

func rank(v any) int {
	if v == nil {
		return 0
	}
	return 1
}

// ParseSelect parses "prop, prop, ...".
func ParseSelect(s string, schema Schema) ([]string, error) {
	var out []string
	for _, part := range strings.Split(s, ",") {
		name, err := schema.resolve("$select", strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, nil
}

// Project keeps the selected properties of rec.
func Project(rec Record, sel []string) Record {
	out := make(Record, len(sel))
	for _, p := range sel {
		out[p] = rec[p]
	}
	return out
}

// ParseTop parses $top: a whole number from 1 to max.
func ParseTop(s string, maximum int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > maximum {
		return 0, fmt.Errorf("$top: '%s' is not a whole number from 1 to %d", s, maximum)
	}
	return n, nil
}

// ---- $apply ----

// Transform is one step of $apply: a grouping by properties, a count of
// each group (or of all the records, with no grouping), or both.
type Transform struct {
	GroupBy []string
	// Count names the count property; empty for none.
	Count string
}

// ParseApply parses "groupby((a, b)[, aggregate($count as n)])" and
// "aggregate($count as n)" steps, joined by '/'.
func ParseApply(s string, schema Schema) ([]Transform, error) {
	var out []Transform
	for _, step := range splitTop(s, '/') {
		step = strings.TrimSpace(step)
		inner, isGroupBy := cutCall(step, "groupby")
		if isGroupBy {
			t, err := parseGroupBy(inner, schema)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
			continue
		}
		if _, isAggregate := cutCall(step, "aggregate"); isAggregate {
			name, err := parseCount(step)
			if err != nil {
				return nil, err
			}
			out = append(out, Transform{Count: name})
			continue
		}
		return nil, fmt.Errorf("$apply: '%s' is not groupby((properties)[, aggregate($count as name)]) or aggregate($count as name)", step)
	}
	return out, nil
}

// cutCall returns the arguments of name(...) when s is that call.
func cutCall(s, name string) (string, bool) {
	if len(s) < len(name)+2 || !strings.EqualFold(s[:len(name)], name) {
		return "", false
	}
	rest := strings.TrimSpace(s[len(name):])
	if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
		return "", false
	}
	return rest[1 : len(rest)-1], true
}

func parseGroupBy(inner string, schema Schema) (Transform, error) {
	parts := splitTop(inner, ',')
	props, ok := cutCall("x"+strings.TrimSpace(parts[0]), "x")
	if !ok {
		return Transform{}, fmt.Errorf("$apply: groupby's first argument '%s' is not a parenthesized list of properties", strings.TrimSpace(parts[0]))
	}
	var t Transform
	for _, p := range strings.Split(props, ",") {
		name, err := schema.resolve("$apply", strings.TrimSpace(p))
		if err != nil {
			return Transform{}, err
		}
		t.GroupBy = append(t.GroupBy, name)
	}
	switch len(parts) {
	case 1:
	case 2:
		name, err := parseCount(strings.TrimSpace(parts[1]))
		if err != nil {
			return Transform{}, err
		}
		t.Count = name
	default:
		return Transform{}, fmt.Errorf("$apply: groupby takes (properties) and at most one aggregate, not %d arguments", len(parts))
	}
	return t, nil
}

func parseCount(s string) (string, error) {
	inner, ok := cutCall(s, "aggregate")
	f := strings.Fields(inner)
	if !ok || len(f) != 3 || f[0] != "$count" || !strings.EqualFold(f[1], "as") {
		return "", fmt.Errorf("$apply: '%s' is not aggregate($count as name): only counts are aggregated", s)
	}
	return f[2], nil
}

// splitTop splits s at sep outside parentheses.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// Apply runs the transforms over recs in order.
func Apply(recs []Record, ts []Transform) []Record {
	for _, t := range ts {
		recs = t.apply(recs)
	}
	return recs
}

func (t Transform) apply(recs []Record) []Record {
	var out []Record
	index := map[string]int{}
	for _, r := range recs {
		key := make([]string, len(t.GroupBy))
		for i, p := range t.GroupBy {
			key[i] = strings.ToLower(str(r[p]))
		}
		k := strings.Join(key, "\x00")
		i, seen := index[k]
		if !seen {
			i = len(out)
			index[k] = i
			out = append(out, Project(r, t.GroupBy))
		}
		if t.Count != "" {
			n, _ := out[i][t.Count].(int)
			out[i][t.Count] = n + 1
		}
	}
	if out == nil && t.Count != "" && len(t.GroupBy) == 0 {
		out = []Record{{t.Count: 0}}
	}
	return out
}
