package policy

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arcgitops/arcgitops/internal/armexpr"
)

// Env is what a rule's expressions may read besides the resource: the
// assignment's parameter values and the scope's resource group and
// subscription.
type Env struct {
	Parameters    map[string]any
	ResourceGroup map[string]any
	Subscription  map[string]any
}

// evaluation is one evaluation of a condition tree against a resource.
type evaluation struct {
	res    *Resource
	env    *Env
	scopes []scope
}

// Eval reports whether res meets the condition.
func (c *Condition) Eval(res *Resource, env *Env) (bool, error) {
	ev := &evaluation{res: res, env: env}
	return ev.cond(c)
}

func (ev *evaluation) cond(c *Condition) (bool, error) {
	switch c.logic {
	case "allOf":
		for _, ch := range c.children {
			ok, err := ev.cond(ch)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case "anyOf":
		for _, ch := range c.children {
			ok, err := ev.cond(ch)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case "not":
		ok, err := ev.cond(c.children[0])
		return !ok, err
	}
	operand, err := ev.expand(c.operand, c.path+"."+c.op)
	if err != nil {
		return false, err
	}
	switch {
	case c.count != nil:
		n, err := ev.countOf(c.count, c.path+".count")
		if err != nil {
			return false, err
		}
		return apply(c.op, n, operand, c.path)
	case c.hasValue:
		v, err := ev.expand(c.value, c.path+".value")
		if err != nil {
			return false, err
		}
		return apply(c.op, v, operand, c.path)
	}
	f := c.field
	if isExpr(f) {
		v, err := ev.expand(f, c.path+".field")
		if err != nil {
			return false, err
		}
		s, ok := v.(string)
		if !ok {
			return false, errAt(c.path+".field", "the expression gives %s, not a field name", describe(v))
		}
		f = s
	}
	vals, many := fieldValue(ev.res, f, ev.scopes)
	if !many {
		return apply(c.op, vals[0], operand, c.path)
	}
	// An array alias outside count: every element must meet the condition.
	for _, v := range vals {
		ok, err := apply(c.op, v, operand, c.path)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func (ev *evaluation) countOf(ce *countExpr, path string) (int64, error) {
	var items []any
	sc := scope{name: ce.name}
	if ce.field != "" {
		vals, _ := fieldValue(ev.res, ce.field[:strings.LastIndex(ce.field, "[*]")+3], ev.scopes)
		items = vals
		sc.alias = ce.field
	} else {
		v, err := ev.expand(ce.value, path+".value")
		if err != nil {
			return 0, err
		}
		arr, ok := v.([]any)
		if !ok {
			return 0, errAt(path+".value", "must be an array, not %s", describe(v))
		}
		items = arr
		if sc.name == "" {
			sc.name = "default"
		}
	}
	var n int64
	for _, item := range items {
		if ce.where == nil {
			n++
			continue
		}
		sc.elem = item
		ev.scopes = append(ev.scopes, sc)
		ok, err := ev.cond(ce.where)
		ev.scopes = ev.scopes[:len(ev.scopes)-1]
		if err != nil {
			return 0, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// expand evaluates the expressions in a JSON value (strings of the form
// [...] anywhere in it).
func (ev *evaluation) expand(v any, path string) (any, error) {
	switch x := v.(type) {
	case string:
		out, err := armexpr.Eval(x, ev.context())
		if err != nil {
			return nil, errAt(path, "%v", err)
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := ev.expand(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := ev.expand(e, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

// context gives the policy functions: parameters, field, current,
// resourceGroup and subscription.
func (ev *evaluation) context() *armexpr.Context {
	env := ev.env
	if env == nil {
		env = &Env{}
	}
	return &armexpr.Context{Funcs: map[string]armexpr.Func{
		"parameters": {Min: 1, Max: 1, Call: func(a []any) (any, error) {
			name, _ := a[0].(string)
			for k, v := range env.Parameters {
				if strings.EqualFold(k, name) {
					return v, nil
				}
			}
			return nil, fmt.Errorf("the definition has no parameter %q", name)
		}},
		"field": {Min: 1, Max: 1, Call: func(a []any) (any, error) {
			name, ok := a[0].(string)
			if !ok {
				return nil, errors.New("field takes a field name")
			}
			vals, many := fieldValue(ev.res, name, ev.scopes)
			if many {
				return vals, nil
			}
			return vals[0], nil
		}},
		"current": {Min: 0, Max: 1, Call: ev.current},
		"resourcegroup": {Min: 0, Max: 0, Call: func([]any) (any, error) {
			if env.ResourceGroup == nil {
				return nil, errors.New("the resource is not in a resource group")
			}
			return env.ResourceGroup, nil
		}},
		"subscription": {Min: 0, Max: 0, Call: func([]any) (any, error) { return env.Subscription, nil }},
	}}
}

func (ev *evaluation) current(a []any) (any, error) {
	if len(ev.scopes) == 0 {
		return nil, errors.New("current() is only available inside a count's where")
	}
	if len(a) == 0 {
		return ev.scopes[len(ev.scopes)-1].elem, nil
	}
	name, _ := a[0].(string)
	for i := len(ev.scopes) - 1; i >= 0; i-- {
		s := ev.scopes[i]
		if strings.EqualFold(s.name, name) || strings.EqualFold(s.alias, name) {
			return s.elem, nil
		}
	}
	return nil, fmt.Errorf("no enclosing count is named %q", name)
}

// apply is one operator on a value (field, value or count) and the operand.
func apply(op string, v, operand any, path string) (bool, error) {
	switch op {
	case "equals":
		return equal(v, operand), nil
	case "notEquals":
		return !equal(v, operand), nil
	case "like", "notLike":
		ok := wildcard(strings.ToLower(str(v)), strings.ToLower(str(operand)))
		return ok == (op == "like"), nil
	case "match", "notMatch":
		ok := matches(str(v), str(operand), false)
		return ok == (op == "match"), nil
	case "matchInsensitively", "notMatchInsensitively":
		ok := matches(str(v), str(operand), true)
		return ok == (op == "matchInsensitively"), nil
	case "contains", "notContains":
		ok := contains(v, operand)
		return ok == (op == "contains"), nil
	case "in", "notIn":
		list, isList := operand.([]any)
		if !isList {
			return false, errAt(path+"."+op, "must be an array, not %s", describe(operand))
		}
		found := false
		for _, e := range list {
			if equal(v, e) {
				found = true
				break
			}
		}
		return found == (op == "in"), nil
	case "containsKey", "notContainsKey":
		m, _ := v.(map[string]any)
		ok := m != nil && lookupFold(m, str(operand)) != nil
		return ok == (op == "containsKey"), nil
	case "exists":
		want, ok := asBool(operand)
		if !ok {
			return false, errAt(path+".exists", "must be true or false, not %s", describe(operand))
		}
		return (v != nil) == want, nil
	case "less", "lessOrEquals", "greater", "greaterOrEquals":
		c, err := order(v, operand)
		if err != nil {
			return false, errAt(path+"."+op, "%v", err)
		}
		switch op {
		case "less":
			return c < 0, nil
		case "lessOrEquals":
			return c <= 0, nil
		case "greater":
			return c > 0, nil
		}
		return c >= 0, nil
	}
	return false, errAt(path, "unknown operator %s", op)
}

// str is a value as a condition reads a string: numbers and bools in their
// JSON form, null as "".
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return fmt.Sprint(v)
}

// equal is equals: strings (and scalars, in their string form) compare
// case-insensitively; a missing property equals the empty string;
// arrays and objects compare element by element.
func equal(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !equal(v, lookupFold(y, k)) {
				return false
			}
		}
		return true
	}
	switch b.(type) {
	case []any, map[string]any:
		return false
	}
	return strings.EqualFold(str(a), str(b))
}

func contains(v, operand any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(strings.ToLower(x), strings.ToLower(str(operand)))
	case []any:
		for _, e := range x {
			if equal(e, operand) {
				return true
			}
		}
	}
	return false
}

// wildcard matches s against a pattern where * stands for any text.
func wildcard(s, pattern string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// matches is match: # a digit, ? a letter, . any character, others
// themselves, over the whole value.
func matches(s, pattern string, fold bool) bool {
	rs, rp := []rune(s), []rune(pattern)
	if len(rs) != len(rp) {
		return false
	}
	for i, p := range rp {
		c := rs[i]
		switch p {
		case '#':
			if c < '0' || c > '9' {
				return false
			}
		case '?':
			if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
				return false
			}
		case '.':
		default:
			if c != p && (!fold || !strings.EqualFold(string(c), string(p))) {
				return false
			}
		}
	}
	return true
}

// order compares for less and greater: numbers, dates, or strings without
// case; other combinations are an error, as in Azure.
func order(a, b any) (int, error) {
	if x, ok := number(a); ok {
		y, ok := number(b)
		if !ok {
			return 0, fmt.Errorf("compares the number %v with %s", x, describe(b))
		}
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		}
		return 0, nil
	}
	sa, okA := a.(string)
	sb, okB := b.(string)
	if !okA || !okB {
		return 0, fmt.Errorf("compares %s with %s: both must be numbers, dates or strings", describe(a), describe(b))
	}
	ta, errA := time.Parse(time.RFC3339, sa)
	tb, errB := time.Parse(time.RFC3339, sb)
	if errA == nil && errB == nil {
		return ta.Compare(tb), nil
	}
	return strings.Compare(strings.ToLower(sa), strings.ToLower(sb)), nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func asBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}
