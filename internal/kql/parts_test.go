package kql

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// manyRows is a table large enough to split: values of every kind, with
// nulls, repeats and ties.
func manyRows(n int) *Table {
	t := &Table{Columns: []string{"id", "type", "n", "f", "s", "b", "when", "properties"}}
	for i := range n {
		r := Row{"id": fmt.Sprintf("r%05d", i), "type": []string{"a", "b", "c"}[i%3], "n": int64(i % 17), "f": float64(i%7) / 2,
			"s": fmt.Sprintf("s%d", i%11), "b": i%5 == 0, "when": now.Add(-time20(i)),
			"properties": map[string]any{"state": []string{"Compliant", "Non-Compliant", "Pending"}[i%3], "tags": []any{"x", fmt.Sprint(i % 4)}}}
		if i%13 == 0 {
			r["n"], r["s"] = nil, nil
		}
		t.Rows = append(t.Rows, r)
	}
	return t
}

func time20(i int) time.Duration { return time.Duration(i%20) * time.Hour }

// Queries split into parts give what one pass gives, row for row and in
// the same order, for every aggregate and for row-wise operators alone.
func TestPartsAgreeWithOnePass(t *testing.T) {
	queries := []string{
		`T | where n > 3 | extend m = n * 2 | project id, m, s`,
		`T | extend x = strcat(s, "-", type) | where x startswith "s1"`,
		`T | summarize count(), countif(b), dcount(s), sum(n), sum(f), avg(n), min(n), max(s), min(when) by type`,
		`T | summarize make_list(n), make_set(s), make_list(s, 5), make_set(n, 3) by type`,
		`T | summarize arg_max(n, *) by type`,
		`T | summarize arg_min(f, id, s) by s`,
		`T | summarize count() by bin(n, 5), tostring(properties.state) | order by count_ desc`,
		`T | extend state = properties.state | summarize count() by state, type`,
		`T | distinct type, tostring(properties.state)`,
		`T | where id in ((T | where n == 4 | project id)) | count`,
		`T | summarize count()`,
		`T | where n > 100 | summarize count(), sum(n)`,
		`T | mv-expand tag = properties.tags | summarize count() by tostring(tag)`,
	}
	table := manyRows(20011)
	env := Env{Now: now, Tables: func(string) (*Table, error) { return table, nil }}
	runWith := func(q string, parts, size int) string {
		t.Helper()
		oldMin, oldMax := minPart, maxParts
		defer func() { minPart, maxParts = oldMin, oldMax }()
		minPart, maxParts = size, func(int) int { return parts }
		parsed, err := Parse(q, []string{"T"})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		res, err := parsed.Run(env)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var out []map[string]any
		for _, r := range res.Rows {
			m := map[string]any{}
			for _, c := range res.Columns {
				m[c], _ = Get(r, c)
			}
			out = append(out, m)
		}
		b, err := json.Marshal(map[string]any{"columns": res.Columns, "rows": out})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, q := range queries {
		one := runWith(q, 1, 1<<30)
		if len(one) < 40 {
			t.Fatalf("%s: a result too small to tell anything: %s", q, one)
		}
		for _, parts := range []int{2, 3, 7} {
			if got := runWith(q, parts, 1000); got != one {
				t.Errorf("%s in %d parts:\n%.300s\none pass:\n%.300s", q, parts, got, one)
			}
		}
	}
}
