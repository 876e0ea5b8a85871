// Package kql parses and evaluates the subset of the Kusto Query Language
// that Azure Resource Graph users write: a tabular source piped through
// operators (where, extend, project, summarize, order by, take, ...), over
// rows of dynamic values. Errors give the line and column and say what was
// expected.
package kql

import (
	"fmt"
	"strings"
	"unicode"
)

type tokenKind int

const (
	tEOF tokenKind = iota
	tIdent
	tString
	tNumber
	tTimespan
	tPunct
)

type token struct {
	kind tokenKind
	text string // identifier, punctuation, number or timespan as written; a string's value
	pos  Pos
}

// Pos is a place in the query, 1-based.
type Pos struct{ Line, Col int }

func (p Pos) String() string { return fmt.Sprintf("line %d, column %d", p.Line, p.Col) }

// Error is a query error at a place.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }

func errorf(p Pos, format string, args ...any) *Error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

// puncts are the multi-character operators, longest first.
var puncts = []string{"==", "!=", "=~", "!~", "<=", ">=", "..", "!", "|", "(", ")", "[", "]", "{", "}", ",", ".", "=", "<", ">",
	"+", "-", "*", "/", "%", ";", ":"}

// timespanUnits are the units of timespan literals (2d, 24h, 30m, 10s, 100ms, 5tick).
var timespanUnits = []string{"days", "day", "d", "hours", "hour", "h", "minutes", "minute", "m", "seconds", "second", "s",
	"milliseconds", "millisecond", "ms", "microseconds", "microsecond", "microsec", "ticks", "tick"}

// lexer turns a query into tokens.
type lexer struct {
	rs        []rune
	line, col int
	out       []token
}

func (l *lexer) advance(n int) {
	for range n {
		if l.rs[0] == '\n' {
			l.line, l.col = l.line+1, 1
		} else {
			l.col++
		}
		l.rs = l.rs[1:]
	}
}

func (l *lexer) emit(kind tokenKind, text string, p Pos, width int) {
	l.out = append(l.out, token{kind, text, p})
	l.advance(width)
}

func lex(src string) ([]token, error) {
	l := &lexer{rs: []rune(src), line: 1, col: 1}
	for len(l.rs) > 0 {
		c, p := l.rs[0], Pos{l.line, l.col}
		var err error
		switch {
		case unicode.IsSpace(c):
			l.advance(1)
		case c == '/' && len(l.rs) > 1 && l.rs[1] == '/':
			for len(l.rs) > 0 && l.rs[0] != '\n' {
				l.advance(1)
			}
		case c == '"' || c == '\'':
			err = l.quoted(p)
		case c == '@' && len(l.rs) > 1 && (l.rs[1] == '"' || l.rs[1] == '\''):
			err = l.verbatim(p)
		case unicode.IsDigit(c):
			l.number(p)
		case isIdentStart(c):
			i := 1
			for i < len(l.rs) && (isIdentRune(l.rs[i]) || l.rs[i] == '-' && i+1 < len(l.rs) && isIdentStart(l.rs[i+1]) && hyphenated(string(l.rs[:i]))) {
				i++
			}
			l.emit(tIdent, string(l.rs[:i]), p, i)
		default:
			err = l.punct(p)
		}
		if err != nil {
			return nil, err
		}
	}
	return append(l.out, token{tEOF, "", Pos{l.line, l.col}}), nil
}

// quoted reads a string in quotes, with backslash escapes.
func (l *lexer) quoted(p Pos) error {
	q := l.rs[0]
	var b strings.Builder
	i := 1
	for ; i < len(l.rs) && l.rs[i] != q; i++ {
		switch {
		case l.rs[i] == '\n':
			return errorf(p, "the string has no closing %c before the end of the line", q)
		case l.rs[i] == '\\' && i+1 < len(l.rs):
			i++
			switch l.rs[i] {
			case 'n':
				b.WriteRune('\n')
			case 't':
				b.WriteRune('\t')
			default:
				b.WriteRune(l.rs[i])
			}
		default:
			b.WriteRune(l.rs[i])
		}
	}
	if i >= len(l.rs) {
		return errorf(p, "the string has no closing %c", q)
	}
	l.emit(tString, b.String(), p, i+1)
	return nil
}

// verbatim reads @"..." (no escapes).
func (l *lexer) verbatim(p Pos) error {
	q := l.rs[1]
	i := 2
	for i < len(l.rs) && l.rs[i] != q {
		i++
	}
	if i >= len(l.rs) {
		return errorf(p, "the string has no closing %c", q)
	}
	l.emit(tString, string(l.rs[2:i]), p, i+1)
	return nil
}

// number reads a number, or a timespan (a number and a unit: 24h).
func (l *lexer) number(p Pos) {
	rs := l.rs
	i := 0
	for i < len(rs) && (unicode.IsDigit(rs[i]) || rs[i] == '.' && i+1 < len(rs) && unicode.IsDigit(rs[i+1])) {
		i++
	}
	if i+1 < len(rs) && (rs[i] == 'e' || rs[i] == 'E') && (unicode.IsDigit(rs[i+1]) || rs[i+1] == '-' || rs[i+1] == '+') {
		i += 2
		for i < len(rs) && unicode.IsDigit(rs[i]) {
			i++
		}
	}
	for _, u := range timespanUnits {
		if end := i + len(u); end <= len(rs) && strings.EqualFold(string(rs[i:end]), u) && (end == len(rs) || !isIdentRune(rs[end])) {
			l.emit(tTimespan, string(rs[:end]), p, end)
			return
		}
	}
	l.emit(tNumber, string(rs[:i]), p, i)
}

func (l *lexer) punct(p Pos) error {
	for _, pu := range puncts {
		if n := len([]rune(pu)); n <= len(l.rs) && string(l.rs[:n]) == pu {
			l.emit(tPunct, pu, p, n)
			return nil
		}
	}
	return errorf(p, "unexpected character %q", l.rs[0])
}

func isIdentStart(c rune) bool { return c == '_' || c == '$' || unicode.IsLetter(c) }
func isIdentRune(c rune) bool  { return c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c) }

// hyphenated: the operators whose names have a hyphen (project-away,
// mv-expand, ...) lex as one identifier; a-b elsewhere is a subtraction.
func hyphenated(prefix string) bool {
	switch strings.ToLower(prefix) {
	case "project", "mv", "top":
		return true
	}
	return false
}
