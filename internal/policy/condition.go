// Package policy is Azure Policy's rule language, as Azure documents it:
// conditions (field, value and count, with their operators, combined with
// allOf, anyOf and not), fields and property aliases, template expressions
// in values (through armexpr), parameters with types and allowed values,
// and the effects of a definition. It decides; the data plane stores and
// acts.
package policy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/arcgitops/arcgitops/internal/armexpr"
)

// Error is a definition or evaluation error at a place in the definition
// (Path, such as "policyRule.if.allOf[1].field").
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

func errAt(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Condition is a compiled condition or logical operator.
type Condition struct {
	path     string
	logic    string // "allOf", "anyOf", "not" or "" for a leaf
	children []*Condition

	// A leaf: exactly one of field, value, count; an operator and its operand.
	field    string
	value    any
	hasValue bool
	count    *countExpr
	op       string
	operand  any
}

type countExpr struct {
	field string // a [*] alias (field count)
	value any    // an array or an expression giving one (value count)
	name  string // the value count's index name
	where *Condition
}

// operators are the conditions' operators, by lower-case name.
var operators = map[string]string{}

func init() {
	for _, op := range []string{"equals", "notEquals", "like", "notLike", "match", "matchInsensitively", "notMatch",
		"notMatchInsensitively", "contains", "notContains", "in", "notIn", "containsKey", "notContainsKey",
		"less", "lessOrEquals", "greater", "greaterOrEquals", "exists"} {
		operators[strings.ToLower(op)] = op
	}
}

// Compile checks and compiles a condition (the "if" of a policy rule, an
// existenceCondition, a count's where) found at path.
func Compile(raw json.RawMessage, path string) (*Condition, error) {
	v, err := armexpr.FromJSON(raw)
	if err != nil {
		return nil, errAt(path, "is not JSON: %v", err)
	}
	return compile(v, path)
}

func compile(v any, path string) (*Condition, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errAt(path, "a condition must be an object, not %s", describe(v))
	}
	c := &Condition{path: path}
	for k, x := range m {
		switch lk := strings.ToLower(k); lk {
		case "allof", "anyof":
			list, ok := x.([]any)
			if !ok || len(list) == 0 {
				return nil, errAt(path+"."+k, "must be a non-empty array of conditions")
			}
			c.logic = map[string]string{"allof": "allOf", "anyof": "anyOf"}[lk]
			for i, item := range list {
				child, err := compile(item, fmt.Sprintf("%s.%s[%d]", path, c.logic, i))
				if err != nil {
					return nil, err
				}
				c.children = append(c.children, child)
			}
		case "not":
			child, err := compile(x, path+".not")
			if err != nil {
				return nil, err
			}
			c.logic, c.children = "not", []*Condition{child}
		default:
			if err := c.setLeafKey(k, x, path); err != nil {
				return nil, err
			}
		}
	}
	return c, c.check()
}

// setLeafKey sets a leaf's field, value, count or operator from key k.
func (c *Condition) setLeafKey(k string, x any, path string) error {
	switch lk := strings.ToLower(k); lk {
	case "field":
		s, ok := x.(string)
		if !ok || s == "" {
			return errAt(path+".field", "must be a field name or alias, not %s", describe(x))
		}
		if err := checkField(s, path+".field"); err != nil {
			return err
		}
		c.field = s
	case "value":
		if err := checkExpressions(x, path+".value"); err != nil {
			return err
		}
		c.value, c.hasValue = x, true
	case "count":
		ce, err := compileCount(x, path+".count")
		if err != nil {
			return err
		}
		c.count = ce
	default:
		op, known := operators[lk]
		if !known {
			return errAt(path+"."+k, "unknown key: a condition has allOf, anyOf, not, or field/value/count with one operator (%s)", operatorList())
		}
		if c.op != "" {
			return errAt(path, "has two operators, %s and %s: give one", c.op, op)
		}
		if err := checkExpressions(x, path+"."+k); err != nil {
			return err
		}
		c.op, c.operand = op, x
	}
	return nil
}

// check: a logical operator alone, or a leaf with one subject and one operator.
func (c *Condition) check() error {
	subjects := 0
	for _, has := range []bool{c.field != "", c.hasValue, c.count != nil} {
		if has {
			subjects++
		}
	}
	switch {
	case c.logic != "" && (subjects > 0 || c.op != ""):
		return errAt(c.path, "mixes %s with a condition: put the condition inside it", c.logic)
	case c.logic != "":
		return nil
	case subjects == 0:
		return errAt(c.path, "has no field, value or count to test")
	case subjects > 1:
		return errAt(c.path, "has more than one of field, value and count: give one")
	case c.op == "":
		return errAt(c.path, "has no operator: add one of %s", operatorList())
	}
	if c.count != nil {
		switch c.op {
		case "equals", "notEquals", "less", "lessOrEquals", "greater", "greaterOrEquals", "in", "notIn":
		default:
			return errAt(c.path, "compares a count with %s: use a numeric operator (equals, greater, less, ...)", c.op)
		}
	}
	if c.op == "exists" {
		if _, ok := asBool(c.operand); !ok && !isExpr(c.operand) {
			return errAt(c.path+".exists", "must be true or false, not %s", describe(c.operand))
		}
	}
	if (c.op == "in" || c.op == "notIn") && !isExpr(c.operand) {
		if _, ok := c.operand.([]any); !ok {
			return errAt(c.path+"."+c.op, "must be an array, not %s", describe(c.operand))
		}
	}
	return nil
}

func compileCount(x any, path string) (*countExpr, error) {
	m, ok := x.(map[string]any)
	if !ok {
		return nil, errAt(path, "must be an object with field or value, and where")
	}
	ce := &countExpr{}
	for k, v := range m {
		switch strings.ToLower(k) {
		case "field":
			s, _ := v.(string)
			if !strings.Contains(s, "[*]") {
				return nil, errAt(path+".field", "must be an array alias ending in [*], not %s", describe(v))
			}
			if err := checkField(s, path+".field"); err != nil {
				return nil, err
			}
			ce.field = s
		case "value":
			if err := checkExpressions(v, path+".value"); err != nil {
				return nil, err
			}
			ce.value = v
		case "name":
			s, _ := v.(string)
			if s == "" {
				return nil, errAt(path+".name", "must be a name of letters and digits")
			}
			ce.name = s
		case "where":
			w, err := compile(v, path+".where")
			if err != nil {
				return nil, err
			}
			ce.where = w
		default:
			return nil, errAt(path+"."+k, "unknown key: a count has field or value, name and where")
		}
	}
	if (ce.field == "") == (ce.value == nil) {
		return nil, errAt(path, "must have one of field (an array alias) and value (an array)")
	}
	if ce.field != "" && ce.name != "" {
		return nil, errAt(path+".name", "belongs to a value count, not a field count")
	}
	return ce, nil
}

// checkExpressions parses every expression in a JSON value, so that a
// syntax error is found when the definition is written.
func checkExpressions(v any, path string) error {
	switch x := v.(type) {
	case string:
		if armexpr.IsExpression(x) {
			if _, err := armexpr.Parse(x); err != nil {
				return errAt(path, "%v", err)
			}
		}
	case []any:
		for i, e := range x {
			if err := checkExpressions(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, e := range x {
			if err := checkExpressions(e, path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

func isExpr(v any) bool {
	s, ok := v.(string)
	return ok && armexpr.IsExpression(s)
}

func operatorList() string {
	names := make([]string, 0, len(operators))
	for _, op := range operators {
		names = append(names, op)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// describe names a JSON value for a message.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", x)
	case bool, int64, float64:
		return fmt.Sprint(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
