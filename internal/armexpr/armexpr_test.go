package armexpr

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// testContext has the context functions a policy's template sees.
func testContext() *Context {
	params := map[string]any{"clusterName": "c1", "n": int64(3), "flag": true, "empty": "",
		"obj": map[string]any{"Key": "v", "list": []any{"a", "b"}}, "list": []any{int64(1), int64(2)}}
	return &Context{Funcs: map[string]Func{
		"parameters": {1, 1, func(a []any) (any, error) {
			name, err := strArg(a, 0)
			if err != nil {
				return nil, err
			}
			v, ok := lookup(params, name)
			if !ok {
				return nil, argErrf(0, "the template has no parameter %q", name)
			}
			return v, nil
		}},
		"resourcegroup": {0, 0, func([]any) (any, error) { return map[string]any{"name": "rg1", "location": "westeurope"}, nil }},
	}}
}

func TestEval(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"plain", "plain"},
		{"[[literal]", "[literal]"},
		{"[]x", "[]x"},
		{"['it''s']", "it's"},
		{"[concat('a', 'b', parameters('clusterName'))]", "abc1"},
		{"[concat(createArray(1), parameters('list'))]", []any{int64(1), int64(1), int64(2)}},
		{"[concat('Microsoft.Kubernetes/connectedClusters/', parameters('clusterName'))]", "Microsoft.Kubernetes/connectedClusters/c1"},
		{"[format('{0}-{1}', 'a', 2)]", "a-2"},
		{"[format('{{literal}} {0}', true)]", "{literal} True"},
		{"[if(equals(parameters('n'), 3), 'three', 'other')]", "three"},
		{"[if(true(), 'only', parameters('missing'))]", "only"}, // the other branch is never evaluated
		{"[not(empty(parameters('empty')))]", false},
		{"[and(true(), not(false()), or(false(), true()))]", true},
		{"[coalesce(null(), json('null'), 'x')]", "x"},
		{"[json('null')]", nil},
		{"[json('{\"a\": [1, 2]}').a[1]]", int64(2)},
		{"[contains(toLower('Microsoft.Kubernetes/connectedClusters'), toLower('connectedclusters'))]", true},
		{"[contains(parameters('obj'), 'key')]", true},
		{"[contains(parameters('list'), 2)]", true},
		{"[toUpper('abc')]", "ABC"},
		{"[string(parameters('obj').list)]", `["a","b"]`},
		{"[string(false)]", "False"},
		{"[int('42')]", int64(42)},
		{"[bool('TRUE')]", true},
		{"[parameters('obj').key]", "v"},
		{"[parameters('obj')['list'][0]]", "a"},
		{"[resourceGroup().location]", "westeurope"},
		{"[length(parameters('list'))]", int64(2)},
		{"[union(createObject('a', 1), createObject('b', 2))]", map[string]any{"a": int64(1), "b": int64(2)}},
		{"[split('a,b;c', createArray(',', ';'))]", []any{"a", "b", "c"}},
		{"[substring('abcdef', 1, 3)]", "bcd"},
		{"[startsWith('Microsoft.X', 'microsoft')]", true},
		{"[add(mul(2, 3), sub(10, div(9, 3)))]", int64(13)},
		{"[greater(parameters('n'), -1)]", true},
		{"[base64ToString(base64('hi'))]", "hi"},
		{"[ concat ( 'a' , 'b' ) ]", "ab"},
		{"[CONCAT('case', 'insensitive')]", "caseinsensitive"},
		{"[last(split('a/b/c', '/'))]", "c"},
	} {
		got, err := Eval(tc.in, testContext())
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

// TestErrors: each error names what is wrong and points at it.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		in, msg, at string // at: the text the error's position points to
	}{
		{"[concatt('a')]", `unknown function "concatt"`, "concatt"},
		{"[not(true(), false())]", "not takes 1 argument, not 2", "not("},
		{"[if(true())]", "if takes 3 arguments (condition, trueValue, falseValue), not 1", "if("},
		{"[concat('a', createArray())]", "concat: argument 2 must be a string (or all arrays), not an array", "createArray"},
		{"[toLower(1)]", "toLower: argument 1 must be a string, not an integer", "1)"},
		{"[if('yes', 1, 2)]", "if: the condition must be a bool, not a string", "'yes'"},
		{"[parameters('nope')]", `parameters: the template has no parameter "nope"`, "'nope'"},
		{"[parameters('obj').missing]", `the object has no property "missing" (it has Key, list)`, ".missing"},
		{"[parameters('list')[5]]", "index 5 is outside the array of 2 elements", "5]"},
		{"[parameters('clusterName').x]", `cannot read property "x" of a string`, ".x"},
		{"[concat('a']", "missing ')' to close the call at character 2", ""},
		{"[concat('a)]", "has no closing quote", "'a)"},
		{"[concat('a') extra]", `unexpected "extra" after the expression`, "extra"},
		{"[]", "an expression is missing here", ""},
		{"[div(1, 0)]", "div: division by zero", "0)"},
		{"[json('{')]", "json: argument 1 is not JSON", "'{'"},
		{"[format('{1}', 'a')]", "names no argument", "'{1}'"},
		{"[createObject('a')]", "the last key has no value", "'a'"},
		{"[parameters]", `"parameters" must be called`, "parameters"},
	} {
		_, err := Eval(tc.in, testContext())
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: error %v, want an *Error", tc.in, err)
			continue
		}
		if tc.msg != "" && !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("%s: %q, want %q", tc.in, e.Msg, tc.msg)
		}
		if tc.at != "" && !strings.HasPrefix(tc.in[e.Pos:], tc.at) {
			t.Errorf("%s: points at %q, want %q", tc.in, tc.in[e.Pos:], tc.at)
		}
		if !strings.Contains(e.Error(), tc.in) {
			t.Errorf("%s: the message does not quote the expression: %s", tc.in, e.Error())
		}
	}
}

func TestDeepNestingIsRefused(t *testing.T) {
	in := "[" + strings.Repeat("not(", 200) + "true()" + strings.Repeat(")", 200) + "]"
	if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), "nests deeper than") {
		t.Errorf("200 levels: %v", err)
	}
}

// FuzzParse: no input makes the parser panic, and every error points
// inside the expression.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"[concat('a', parameters('b'))]", "[if(not(empty(parameters('x'))), parameters('x'), json('null'))]",
		"[parameters('o').a[0]]", "['it''s']", "[-1]", "[f(", "['", "[a.b]", "[[x]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Pos < 0 || pe.Pos > len(s) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if _, err := e.Eval(testContext()); err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Pos < 0 || pe.Pos > len(s) {
				t.Fatalf("%q: eval %v", s, err)
			}
		}
	})
}
