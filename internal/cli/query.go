package cli

import (
	"encoding/json"
	"sort"

	jmespath "github.com/jmespath-community/go-jmespath"
)

// query applies --query (JMESPath, as az's) to v, and returns the result
// with the table columns that fit it: the keys of the objects it holds
// (sorted: JMESPath's multiselect hashes do not keep their order here), or
// a single Result column for plain values.
func (a *App) query(v any, columns []column) (any, []column, error) {
	if a.queryExpr == nil {
		return v, columns, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	var data any
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, nil, err
	}
	out, err := a.queryExpr.Search(data)
	if err != nil {
		return nil, nil, usagef("--query %q failed: %v", a.queryText, err)
	}
	return out, queryColumns(out), nil
}

func queryColumns(v any) []column {
	keys := map[string]bool{}
	collect := func(x any) bool {
		m, ok := x.(map[string]any)
		for k := range m {
			keys[k] = true
		}
		return ok
	}
	switch t := v.(type) {
	case map[string]any:
		collect(t)
	case []any:
		for _, x := range t {
			if !collect(x) {
				return []column{{"Result", ""}}
			}
		}
	default:
		return []column{{"Result", ""}}
	}
	cols := make([]column, 0, len(keys))
	for k := range keys {
		cols = append(cols, column{k, k})
	}
	sort.Slice(cols, func(i, j int) bool { return cols[i].Header < cols[j].Header })
	return cols
}

// compileQuery checks --query before anything is sent.
func (a *App) compileQuery() error {
	if a.queryText == "" {
		return nil
	}
	expr, err := jmespath.Compile(a.queryText)
	if err != nil {
		return usagef("--query %q is not a JMESPath expression: %v", a.queryText, err)
	}
	a.queryExpr = expr
	return nil
}
