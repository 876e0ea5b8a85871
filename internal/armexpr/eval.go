package armexpr

import (
	"errors"
	"fmt"
	"strings"
)

// Func is a function of the language: its arity (Max -1: any number) and
// what it does with its evaluated arguments.
type Func struct {
	Min, Max int
	Call     func(args []any) (any, error)
}

// Context holds the functions that depend on where an expression is
// evaluated (parameters, variables, field, resourceGroup, subscription, ...),
// by lower-case name, besides the built-in ones.
type Context struct {
	Funcs map[string]Func
}

// Eval evaluates a JSON string value: an expression's value, or the literal
// (without the escaping '[' of "[[...").
func Eval(s string, ctx *Context) (any, error) {
	if !IsExpression(s) {
		if strings.HasPrefix(s, "[[") {
			return s[1:], nil
		}
		return s, nil
	}
	e, err := Parse(s)
	if err != nil {
		return nil, err
	}
	return e.Eval(ctx)
}

// Eval evaluates a parsed expression.
func (e *Expr) Eval(ctx *Context) (any, error) {
	ev := &evaluator{src: e.src, ctx: ctx}
	return ev.eval(e.root)
}

type evaluator struct {
	src string
	ctx *Context
}

func (ev *evaluator) errf(n *Node, format string, args ...any) *Error {
	return &Error{Expr: ev.src, Pos: n.pos, Msg: fmt.Sprintf(format, args...)}
}

func (ev *evaluator) eval(n *Node) (any, error) {
	switch n.kind {
	case kString:
		return n.str, nil
	case kInt:
		return n.num, nil
	case kMember:
		x, err := ev.eval(n.x)
		if err != nil {
			return nil, err
		}
		obj, ok := x.(map[string]any)
		if !ok {
			return nil, ev.errf(n, "cannot read property %q of %s: it is not an object", n.str, typeName(x))
		}
		v, ok := lookup(obj, n.str)
		if !ok {
			return nil, ev.errf(n, "the object has no property %q (it has %s)", n.str, keyList(obj))
		}
		return v, nil
	case kIndex:
		return ev.index(n)
	case kCall:
		return ev.call(n)
	}
	return nil, ev.errf(n, "unknown expression")
}

func (ev *evaluator) index(n *Node) (any, error) {
	x, err := ev.eval(n.x)
	if err != nil {
		return nil, err
	}
	i, err := ev.eval(n.index)
	if err != nil {
		return nil, err
	}
	switch c := x.(type) {
	case []any:
		k, ok := i.(int64)
		if !ok {
			return nil, ev.errf(n.index, "an array index must be an integer, not %s", typeName(i))
		}
		if k < 0 || k >= int64(len(c)) {
			return nil, ev.errf(n.index, "index %d is outside the array of %d elements", k, len(c))
		}
		return c[k], nil
	case map[string]any:
		k, ok := i.(string)
		if !ok {
			return nil, ev.errf(n.index, "an object index must be a string, not %s", typeName(i))
		}
		v, ok := lookup(c, k)
		if !ok {
			return nil, ev.errf(n.index, "the object has no property %q (it has %s)", k, keyList(c))
		}
		return v, nil
	}
	return nil, ev.errf(n, "cannot index %s: only arrays and objects can be indexed", typeName(x))
}

func (ev *evaluator) call(n *Node) (any, error) {
	name := strings.ToLower(n.str)
	if name == "if" {
		return ev.lazyIf(n)
	}
	f, ok := ev.ctx.fn(name)
	if !ok {
		return nil, ev.errf(n, "unknown function %q", n.str)
	}
	if len(n.args) < f.Min || (f.Max >= 0 && len(n.args) > f.Max) {
		return nil, ev.errf(n, "%s takes %s, not %d", n.str, arity(f), len(n.args))
	}
	args := make([]any, len(n.args))
	for i, a := range n.args {
		v, err := ev.eval(a)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	v, err := f.Call(args)
	if err != nil {
		var ae *argError
		if errors.As(err, &ae) && ae.arg < len(n.args) {
			return nil, ev.errf(n.args[ae.arg], "%s: %s", n.str, ae.msg)
		}
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		return nil, ev.errf(n, "%s: %v", n.str, err)
	}
	return v, nil
}

// lazyIf evaluates only the branch the condition chooses, as ARM does.
func (ev *evaluator) lazyIf(n *Node) (any, error) {
	if len(n.args) != 3 {
		return nil, ev.errf(n, "%s takes 3 arguments (condition, trueValue, falseValue), not %d", n.str, len(n.args))
	}
	c, err := ev.eval(n.args[0])
	if err != nil {
		return nil, err
	}
	b, ok := c.(bool)
	if !ok {
		return nil, ev.errf(n.args[0], "%s: the condition must be a bool, not %s", n.str, typeName(c))
	}
	if b {
		return ev.eval(n.args[1])
	}
	return ev.eval(n.args[2])
}

func (ctx *Context) fn(name string) (Func, bool) {
	if ctx != nil {
		if f, ok := ctx.Funcs[name]; ok {
			return f, true
		}
	}
	f, ok := builtins[name]
	return f, ok
}

func arity(f Func) string {
	switch {
	case f.Max < 0:
		return fmt.Sprintf("%d or more arguments", f.Min)
	case f.Min == f.Max && f.Min == 1:
		return "1 argument"
	case f.Min == f.Max:
		return fmt.Sprintf("%d arguments", f.Min)
	}
	return fmt.Sprintf("%d to %d arguments", f.Min, f.Max)
}

// argError is a function's complaint about one of its arguments.
type argError struct {
	arg int
	msg string
}

func (e *argError) Error() string { return e.msg }

func argErrf(arg int, format string, args ...any) error {
	return &argError{arg: arg, msg: fmt.Sprintf(format, args...)}
}

// lookup reads an object's property, case-insensitively as ARM does.
func lookup(obj map[string]any, key string) (any, bool) {
	if v, ok := obj[key]; ok {
		return v, true
	}
	for k, v := range obj {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func keyList(obj map[string]any) string {
	if len(obj) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return strings.Join(keys, ", ")
}

// typeName names a value's type as ARM's messages do.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case int64:
		return "an integer"
	case bool:
		return "a bool"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}
