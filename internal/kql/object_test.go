package kql

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// An Object reads and writes as the map it was made from, at every size
// (entry by entry, and by halves past linearMax) and for long keys.
func TestObject(t *testing.T) {
	g := NewWithT(t)
	long := strings.Repeat("k", 300)
	for _, n := range []int{0, 1, linearMax - 1, linearMax, linearMax + 1, 100} {
		m := map[string]any{}
		for i := range n {
			m[fmt.Sprintf("key%03d", i)] = int64(i)
		}
		if n > 0 {
			m[long], m[long+"x"], m["<&>"] = "long", "longer", map[string]any{"nested": []any{"a", map[string]any{"b": true}}}
		}
		o, ok := Compact(m).(*Object)
		g.Expect(ok).To(BeTrue())
		g.Expect(o.Len()).To(Equal(len(m)))
		for k, v := range m {
			got, has := o.Get(k)
			g.Expect(has).To(BeTrue(), "%d keys: %s", n, k)
			if _, isMap := v.(map[string]any); !isMap {
				g.Expect(got).To(Equal(v), "%d keys: %s", n, k)
			}
		}
		for _, k := range []string{"", "key", "key9999", long + "y", strings.Repeat("k", 299)} {
			_, has := o.Get(k)
			g.Expect(has).To(BeFalse(), "%d keys: %q", n, k)
		}
		want, _ := json.Marshal(m)
		got, err := json.Marshal(o)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(got)).To(Equal(string(want)))
	}
}

// Queries read an Object as they read a map: properties, bag_keys,
// mv-expand, tostring, equality with a parsed bag, grouping.
func TestObjectInQueries(t *testing.T) {
	bag := map[string]any{"state": "Compliant", "tags": []any{"a", "b"}, "nested": map[string]any{"x": int64(1)}}
	table := func(compact bool) *Table {
		t := &Table{Columns: []string{"name", "properties"}}
		for i := range 3 {
			var p any = bag
			if compact {
				p = Compact(bag)
			}
			t.Rows = append(t.Rows, Row{"name": fmt.Sprint(i), "properties": p})
		}
		return t
	}
	for _, q := range []string{
		`T | project properties.state, properties['nested'].x, properties.tags[1], properties.none`,
		`T | project bag_keys(properties), tostring(properties), strlen(tostring(properties.nested))`,
		`T | mv-expand properties | project name, tostring(properties)`,
		`T | where properties == parse_json('{"nested":{"x":1},"state":"Compliant","tags":["a","b"]}') | count`,
		`T | summarize count() by tostring(properties.nested), properties`,
		`T | summarize make_set(properties.nested), dcount(properties)`,
		`T | extend n = properties.nested | where isnotnull(n) and isnotempty(n) | project n`,
	} {
		var want, got []string
		for _, compact := range []bool{false, true} {
			parsed, err := Parse(q, []string{"T"})
			if err != nil {
				t.Fatal(err)
			}
			tab := table(compact)
			res, err := parsed.Run(Env{Now: now, Tables: func(string) (*Table, error) { return tab, nil }})
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			out := []string{strings.Join(res.Columns, ",")}
			for _, r := range res.Rows {
				var vals []string
				for _, c := range res.Columns {
					v, _ := Get(r, c)
					b, _ := json.Marshal(v)
					vals = append(vals, string(b))
				}
				out = append(out, strings.Join(vals, " "))
			}
			if compact {
				got = out
			} else {
				want = out
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n got  %v\n want %v", q, got, want)
		}
		if len(want) < 2 {
			t.Errorf("%s: no rows to compare", q)
		}
	}
}

// tostring writes dynamic values' <, > and & as they are, as KQL does
// (encoding/json's Marshal escapes them for HTML), maps and Objects alike.
func TestToStringKeepsMarkup(t *testing.T) {
	for _, p := range []any{map[string]any{"x": "<a&b>"}, Compact(map[string]any{"x": "<a&b>"})} {
		parsed, err := Parse(`T | project s = tostring(properties), k = tostring(bag_keys(properties))`, []string{"T"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := parsed.Run(Env{Now: now, Tables: func(string) (*Table, error) {
			return &Table{Columns: []string{"properties"}, Rows: []Row{{"properties": p}}}, nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := Get(res.Rows[0], "s"); s != `{"x":"<a&b>"}` {
			t.Errorf("%T: tostring gave %v", p, s)
		}
	}
}
