// Package armexpr is the expression language of ARM templates, as Azure
// Resource Manager and Azure Policy evaluate it: a JSON string that starts
// with '[' and ends with ']' is an expression ("[concat('a', parameters('b'))]"),
// a string that starts with "[[" is the literal without its first '['.
//
// Values are JSON's, as encoding/json decodes them, with numbers as int64:
// string, int64, bool, nil, []any and map[string]any. Function names and
// object keys are case-insensitive, as in ARM.
package armexpr

import (
	"fmt"
	"strconv"
	"strings"
)

// Error says what is wrong with an expression and where: Pos is the byte
// offset in Expr (the whole string, brackets included) of the failing part.
type Error struct {
	Expr string
	Pos  int
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (at character %d of %q)", e.Msg, e.Pos+1, e.Expr)
}

// IsExpression reports whether s is an expression rather than a literal.
func IsExpression(s string) bool {
	return len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' && !strings.HasPrefix(s, "[[")
}

// node kinds.
type kind int

const (
	kString kind = iota
	kInt
	kCall
	kMember // X.Name
	kIndex  // X[Index]
)

// Node is a parsed expression.
type Node struct {
	kind  kind
	pos   int
	str   string // string literal, function or member name
	num   int64
	args  []*Node // call arguments
	x     *Node   // member or index target
	index *Node
}

// Expr is a parsed expression with its source.
type Expr struct {
	src  string
	root *Node
}

// Parse parses an expression string, brackets included.
func Parse(s string) (*Expr, error) {
	if !IsExpression(s) {
		return nil, &Error{Expr: s, Msg: "not an expression: an expression starts with '[' and ends with ']'"}
	}
	p := &parser{src: s, pos: 1, end: len(s) - 1}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < p.end {
		return nil, p.errf(p.pos, "unexpected %q after the expression", p.src[p.pos:p.end])
	}
	return &Expr{src: s, root: n}, nil
}

type parser struct {
	src      string
	pos, end int
	depth    int
}

// maxDepth bounds nesting, so that a hostile template cannot exhaust the stack.
const maxDepth = 100

func (p *parser) errf(pos int, format string, args ...any) *Error {
	return &Error{Expr: p.src, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) space() {
	for p.pos < p.end && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n' || p.src[p.pos] == '\r') {
		p.pos++
	}
}

func (p *parser) peek() byte {
	if p.pos < p.end {
		return p.src[p.pos]
	}
	return 0
}

func (p *parser) expr() (*Node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errf(p.pos, "the expression nests deeper than %d", maxDepth)
	}
	n, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		switch p.peek() {
		case '.':
			pos := p.pos
			p.pos++
			p.space()
			name := p.ident()
			if name == "" {
				return nil, p.errf(p.pos, "a property name must follow '.'")
			}
			n = &Node{kind: kMember, pos: pos, str: name, x: n}
		case '[':
			pos := p.pos
			p.pos++
			idx, err := p.expr()
			if err != nil {
				return nil, err
			}
			p.space()
			if p.peek() != ']' {
				return nil, p.errf(p.pos, "missing ']' to close the '[' at character %d", pos+1)
			}
			p.pos++
			n = &Node{kind: kIndex, pos: pos, x: n, index: idx}
		default:
			return n, nil
		}
	}
}

func (p *parser) primary() (*Node, error) {
	p.space()
	pos := p.pos
	c := p.peek()
	switch {
	case c == 0:
		return nil, p.errf(pos, "an expression is missing here")
	case c == '\'':
		return p.stringLit()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case isIdentStart(c):
		name := p.ident()
		p.space()
		if p.peek() != '(' {
			switch strings.ToLower(name) {
			case "true", "false": // literals, as ARM takes them
				return &Node{kind: kCall, pos: pos, str: name}, nil
			}
			return nil, p.errf(pos, "%q must be called: write %s(...)", name, name)
		}
		p.pos++
		args, err := p.args(pos)
		if err != nil {
			return nil, err
		}
		return &Node{kind: kCall, pos: pos, str: name, args: args}, nil
	}
	return nil, p.errf(pos, "unexpected %q: expected a function call, a 'string' or a number", string(c))
}

func (p *parser) args(open int) ([]*Node, error) {
	var args []*Node
	p.space()
	if p.peek() == ')' {
		p.pos++
		return args, nil
	}
	for {
		a, err := p.expr()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		p.space()
		switch p.peek() {
		case ',':
			p.pos++
		case ')':
			p.pos++
			return args, nil
		default:
			return nil, p.errf(p.pos, "missing ')' to close the call at character %d", open+1)
		}
	}
}

func (p *parser) stringLit() (*Node, error) {
	pos := p.pos
	p.pos++ // opening quote
	var b strings.Builder
	for p.pos < p.end {
		c := p.src[p.pos]
		if c == '\'' {
			if p.pos+1 < p.end && p.src[p.pos+1] == '\'' {
				b.WriteByte('\'')
				p.pos += 2
				continue
			}
			p.pos++
			return &Node{kind: kString, pos: pos, str: b.String()}, nil
		}
		b.WriteByte(c)
		p.pos++
	}
	return nil, p.errf(pos, "the string that starts here has no closing quote (write '' for a quote inside it)")
}

func (p *parser) number() (*Node, error) {
	pos := p.pos
	if p.peek() == '-' {
		p.pos++
	}
	for p.pos < p.end && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	n, err := strconv.ParseInt(p.src[pos:p.pos], 10, 64)
	if err != nil {
		return nil, p.errf(pos, "%q is not an integer", p.src[pos:p.pos])
	}
	return &Node{kind: kInt, pos: pos, num: n}, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func (p *parser) ident() string {
	start := p.pos
	for p.pos < p.end {
		c := p.src[p.pos]
		if !isIdentStart(c) && (c < '0' || c > '9') {
			break
		}
		p.pos++
	}
	return p.src[start:p.pos]
}
