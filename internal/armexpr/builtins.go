package armexpr

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// builtins are the functions of ARM's template language that need no
// context, by lower-case name.
var builtins = map[string]Func{
	"concat":          {1, -1, fnConcat},
	"format":          {1, -1, fnFormat},
	"not":             {1, 1, func(a []any) (any, error) { b, err := boolArg(a, 0); return !b, err }},
	"and":             {2, -1, func(a []any) (any, error) { return fold(a, true) }},
	"or":              {2, -1, func(a []any) (any, error) { return fold(a, false) }},
	"equals":          {2, 2, func(a []any) (any, error) { return reflect.DeepEqual(a[0], a[1]), nil }},
	"empty":           {1, 1, fnEmpty},
	"coalesce":        {1, -1, fnCoalesce},
	"contains":        {2, 2, fnContains},
	"tolower":         {1, 1, func(a []any) (any, error) { s, err := strArg(a, 0); return strings.ToLower(s), err }},
	"toupper":         {1, 1, func(a []any) (any, error) { s, err := strArg(a, 0); return strings.ToUpper(s), err }},
	"trim":            {1, 1, func(a []any) (any, error) { s, err := strArg(a, 0); return strings.TrimSpace(s), err }},
	"json":            {1, 1, fnJSON},
	"string":          {1, 1, func(a []any) (any, error) { return toString(a[0]), nil }},
	"int":             {1, 1, fnInt},
	"bool":            {1, 1, fnBool},
	"length":          {1, 1, fnLength},
	"createarray":     {0, -1, func(a []any) (any, error) { return append([]any{}, a...), nil }},
	"createobject":    {0, -1, fnCreateObject},
	"union":           {1, -1, fnUnion},
	"replace":         {3, 3, fnReplace},
	"split":           {2, 2, fnSplit},
	"substring":       {1, 3, fnSubstring},
	"startswith":      {2, 2, func(a []any) (any, error) { return affix(a, strings.HasPrefix) }},
	"endswith":        {2, 2, func(a []any) (any, error) { return affix(a, strings.HasSuffix) }},
	"indexof":         {2, 2, func(a []any) (any, error) { return position(a, strings.Index) }},
	"lastindexof":     {2, 2, func(a []any) (any, error) { return position(a, strings.LastIndex) }},
	"first":           {1, 1, func(a []any) (any, error) { return end(a, true) }},
	"last":            {1, 1, func(a []any) (any, error) { return end(a, false) }},
	"true":            {0, 0, func([]any) (any, error) { return true, nil }},
	"false":           {0, 0, func([]any) (any, error) { return false, nil }},
	"null":            {0, 0, func([]any) (any, error) { return nil, nil }},
	"greater":         {2, 2, func(a []any) (any, error) { return compare(a, func(c int) bool { return c > 0 }) }},
	"greaterorequals": {2, 2, func(a []any) (any, error) { return compare(a, func(c int) bool { return c >= 0 }) }},
	"less":            {2, 2, func(a []any) (any, error) { return compare(a, func(c int) bool { return c < 0 }) }},
	"lessorequals":    {2, 2, func(a []any) (any, error) { return compare(a, func(c int) bool { return c <= 0 }) }},
	"add":             {2, 2, func(a []any) (any, error) { return arith(a, func(x, y int64) int64 { return x + y }) }},
	"sub":             {2, 2, func(a []any) (any, error) { return arith(a, func(x, y int64) int64 { return x - y }) }},
	"mul":             {2, 2, func(a []any) (any, error) { return arith(a, func(x, y int64) int64 { return x * y }) }},
	"div":             {2, 2, func(a []any) (any, error) { return divide(a, func(x, y int64) int64 { return x / y }) }},
	"mod":             {2, 2, func(a []any) (any, error) { return divide(a, func(x, y int64) int64 { return x % y }) }},
	"base64":          {1, 1, fnBase64},
	"base64tostring":  {1, 1, fnBase64ToString},
}

func strArg(a []any, i int) (string, error) {
	s, ok := a[i].(string)
	if !ok {
		return "", argErrf(i, "argument %d must be a string, not %s", i+1, typeName(a[i]))
	}
	return s, nil
}

func intArg(a []any, i int) (int64, error) {
	n, ok := a[i].(int64)
	if !ok {
		return 0, argErrf(i, "argument %d must be an integer, not %s", i+1, typeName(a[i]))
	}
	return n, nil
}

func boolArg(a []any, i int) (bool, error) {
	b, ok := a[i].(bool)
	if !ok {
		return false, argErrf(i, "argument %d must be a bool, not %s", i+1, typeName(a[i]))
	}
	return b, nil
}

func fnConcat(a []any) (any, error) {
	if _, isArray := a[0].([]any); isArray {
		out := []any{}
		for i, v := range a {
			arr, ok := v.([]any)
			if !ok {
				return nil, argErrf(i, "argument %d must be an array like the first, not %s", i+1, typeName(v))
			}
			out = append(out, arr...)
		}
		return out, nil
	}
	var b strings.Builder
	for i, v := range a {
		switch x := v.(type) {
		case string:
			b.WriteString(x)
		case int64, bool:
			b.WriteString(toString(x))
		default:
			return nil, argErrf(i, "argument %d must be a string (or all arrays), not %s", i+1, typeName(v))
		}
	}
	return b.String(), nil
}

// fnFormat is .NET's composite formatting, as ARM's format: {0}, {1:...}
// (the format specifier is ignored but for N0-style integers), {{ and }}.
func fnFormat(a []any) (any, error) {
	f, err := strArg(a, 0)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c == '{' && i+1 < len(f) && f[i+1] == '{':
			b.WriteByte('{')
			i++
		case c == '}' && i+1 < len(f) && f[i+1] == '}':
			b.WriteByte('}')
			i++
		case c == '{':
			j := strings.IndexByte(f[i:], '}')
			if j < 0 {
				return nil, argErrf(0, "the format string has a '{' at %d without its '}'", i)
			}
			spec := f[i+1 : i+j]
			idx, _, _ := strings.Cut(spec, ":")
			n, err := strconv.Atoi(strings.TrimSpace(idx))
			if err != nil || n < 0 || n+1 >= len(a) {
				return nil, argErrf(0, "the format string's {%s} names no argument (there are %d)", spec, len(a)-1)
			}
			b.WriteString(toString(a[n+1]))
			i += j
		case c == '}':
			return nil, argErrf(0, "the format string has a '}' at %d without its '{' (write }} for one)", i)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func fold(a []any, and bool) (any, error) {
	out := and
	for i := range a {
		b, err := boolArg(a, i)
		if err != nil {
			return nil, err
		}
		if and {
			out = out && b
		} else {
			out = out || b
		}
	}
	return out, nil
}

func fnEmpty(a []any) (any, error) {
	switch x := a[0].(type) {
	case nil:
		return true, nil
	case string:
		return x == "", nil
	case []any:
		return len(x) == 0, nil
	case map[string]any:
		return len(x) == 0, nil
	}
	return nil, argErrf(0, "argument 1 must be a string, an array or an object, not %s", typeName(a[0]))
}

func fnCoalesce(a []any) (any, error) {
	for _, v := range a {
		if v != nil {
			return v, nil
		}
	}
	return nil, nil
}

func fnContains(a []any) (any, error) {
	switch c := a[0].(type) {
	case string:
		s, err := strArg(a, 1)
		if err != nil {
			return nil, err
		}
		return strings.Contains(c, s), nil
	case []any:
		for _, v := range c {
			if reflect.DeepEqual(v, a[1]) {
				return true, nil
			}
		}
		return false, nil
	case map[string]any:
		k, err := strArg(a, 1)
		if err != nil {
			return nil, err
		}
		_, ok := lookup(c, k)
		return ok, nil
	}
	return nil, argErrf(0, "argument 1 must be a string, an array or an object, not %s", typeName(a[0]))
}

func fnJSON(a []any) (any, error) {
	s, err := strArg(a, 0)
	if err != nil {
		return nil, err
	}
	v, err := FromJSON([]byte(s))
	if err != nil {
		return nil, argErrf(0, "argument 1 is not JSON: %v", err)
	}
	return v, nil
}

// FromJSON decodes JSON into the language's values (numbers as int64).
func FromJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return Normalize(v), nil
}

// Normalize turns values decoded with UseNumber (json.Number) or as
// float64 into the language's: integers as int64, other numbers as
// float64.
func Normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
		return x
	case int:
		return int64(x)
	case []any:
		for i := range x {
			x[i] = Normalize(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = Normalize(x[k])
		}
		return x
	}
	return v
}

// toString is ARM's string(): strings as they are, bools as .NET prints
// them (True, False), arrays and objects as compact JSON, null as "".
func toString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func fnInt(a []any) (any, error) {
	switch x := a[0].(type) {
	case int64:
		return x, nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return nil, argErrf(0, "%q is not an integer", x)
		}
		return n, nil
	}
	return nil, argErrf(0, "argument 1 must be a string or an integer, not %s", typeName(a[0]))
}

func fnBool(a []any) (any, error) {
	switch x := a[0].(type) {
	case bool:
		return x, nil
	case int64:
		return x != 0, nil
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, argErrf(0, "%q is not true or false", x)
	}
	return nil, argErrf(0, "argument 1 must be a string, an integer or a bool, not %s", typeName(a[0]))
}

func fnLength(a []any) (any, error) {
	switch x := a[0].(type) {
	case string:
		return int64(len([]rune(x))), nil
	case []any:
		return int64(len(x)), nil
	case map[string]any:
		return int64(len(x)), nil
	}
	return nil, argErrf(0, "argument 1 must be a string, an array or an object, not %s", typeName(a[0]))
}

func fnCreateObject(a []any) (any, error) {
	if len(a)%2 != 0 {
		return nil, argErrf(len(a)-1, "createObject takes key, value pairs: the last key has no value")
	}
	out := map[string]any{}
	for i := 0; i < len(a); i += 2 {
		k, err := strArg(a, i)
		if err != nil {
			return nil, err
		}
		out[k] = a[i+1]
	}
	return out, nil
}

func fnUnion(a []any) (any, error) {
	switch a[0].(type) {
	case map[string]any:
		out := map[string]any{}
		for i, v := range a {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, argErrf(i, "argument %d must be an object like the first, not %s", i+1, typeName(v))
			}
			for k, x := range m {
				out[k] = x
			}
		}
		return out, nil
	case []any:
		out := []any{}
		for i, v := range a {
			arr, ok := v.([]any)
			if !ok {
				return nil, argErrf(i, "argument %d must be an array like the first, not %s", i+1, typeName(v))
			}
			for _, x := range arr {
				if !containsValue(out, x) {
					out = append(out, x)
				}
			}
		}
		return out, nil
	}
	return nil, argErrf(0, "argument 1 must be an object or an array, not %s", typeName(a[0]))
}

func containsValue(list []any, v any) bool {
	for _, x := range list {
		if reflect.DeepEqual(x, v) {
			return true
		}
	}
	return false
}

func fnReplace(a []any) (any, error) {
	s, err := strArg(a, 0)
	if err != nil {
		return nil, err
	}
	old, err := strArg(a, 1)
	if err != nil {
		return nil, err
	}
	repl, err := strArg(a, 2)
	if err != nil {
		return nil, err
	}
	return strings.ReplaceAll(s, old, repl), nil
}

func fnSplit(a []any) (any, error) {
	s, err := strArg(a, 0)
	if err != nil {
		return nil, err
	}
	var delims []string
	switch d := a[1].(type) {
	case string:
		delims = []string{d}
	case []any:
		for _, x := range d {
			ds, ok := x.(string)
			if !ok {
				return nil, argErrf(1, "the delimiters must be strings, not %s", typeName(x))
			}
			delims = append(delims, ds)
		}
	default:
		return nil, argErrf(1, "argument 2 must be a string or an array of strings, not %s", typeName(a[1]))
	}
	parts := []string{s}
	for _, d := range delims {
		if d == "" {
			continue
		}
		var next []string
		for _, p := range parts {
			next = append(next, strings.Split(p, d)...)
		}
		parts = next
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func fnSubstring(a []any) (any, error) {
	s, err := strArg(a, 0)
	if err != nil {
		return nil, err
	}
	start, length := int64(0), int64(-1)
	if len(a) > 1 {
		if start, err = intArg(a, 1); err != nil {
			return nil, err
		}
	}
	if len(a) > 2 {
		if length, err = intArg(a, 2); err != nil {
			return nil, err
		}
	}
	if start < 0 || start > int64(len(s)) {
		return nil, argErrf(1, "the start index %d is outside the string of %d characters", start, len(s))
	}
	if length < 0 {
		length = int64(len(s)) - start
	}
	if start+length > int64(len(s)) {
		return nil, argErrf(2, "the length %d runs past the end of the string of %d characters", length, len(s))
	}
	return s[start : start+length], nil
}

// affix is startsWith and endsWith, case-insensitive as in ARM.
func affix(a []any, has func(s, affix string) bool) (any, error) {
	s, err := strArg(a, 0)
	if err != nil {
		return nil, err
	}
	x, err := strArg(a, 1)
	if err != nil {
		return nil, err
	}
	return has(strings.ToLower(s), strings.ToLower(x)), nil
}

// position is indexOf and lastIndexOf, case-insensitive as in ARM.
func position(a []any, find func(s, sub string) int) (any, error) {
	s, err := strArg(a, 0)
	if err != nil {
		return nil, err
	}
	x, err := strArg(a, 1)
	if err != nil {
		return nil, err
	}
	return int64(find(strings.ToLower(s), strings.ToLower(x))), nil
}

func end(a []any, first bool) (any, error) {
	switch x := a[0].(type) {
	case string:
		if x == "" {
			return "", nil
		}
		if first {
			return x[:1], nil
		}
		return x[len(x)-1:], nil
	case []any:
		if len(x) == 0 {
			return nil, nil
		}
		if first {
			return x[0], nil
		}
		return x[len(x)-1], nil
	}
	return nil, argErrf(0, "argument 1 must be a string or an array, not %s", typeName(a[0]))
}

func compare(a []any, ok func(int) bool) (any, error) {
	switch x := a[0].(type) {
	case int64:
		y, err := intArg(a, 1)
		if err != nil {
			return nil, err
		}
		switch {
		case x < y:
			return ok(-1), nil
		case x > y:
			return ok(1), nil
		}
		return ok(0), nil
	case string:
		y, err := strArg(a, 1)
		if err != nil {
			return nil, err
		}
		return ok(strings.Compare(x, y)), nil
	}
	return nil, argErrf(0, "argument 1 must be an integer or a string, not %s", typeName(a[0]))
}

func arith(a []any, op func(x, y int64) int64) (any, error) {
	x, err := intArg(a, 0)
	if err != nil {
		return nil, err
	}
	y, err := intArg(a, 1)
	if err != nil {
		return nil, err
	}
	return op(x, y), nil
}

func divide(a []any, op func(x, y int64) int64) (any, error) {
	if y, ok := a[1].(int64); ok && y == 0 {
		return nil, argErrf(1, "division by zero")
	}
	return arith(a, op)
}

func fnBase64(a []any) (any, error) {
	s, err := strArg(a, 0)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func fnBase64ToString(a []any) (any, error) {
	s, err := strArg(a, 0)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, argErrf(0, "argument 1 is not base64: %v", err)
	}
	return string(b), nil
}

func sortStrings(s []string) { sort.Strings(s) }
