package portal

import (
	"os"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestChart(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Result
		want []Bar
	}{
		{"a count by two columns", Result{Columns: []string{"state", "scope", "count_"}, Total: 2,
			Rows: [][]string{{"Compliant", "cluster", "30"}, {"Pending", "", "15"}}},
			[]Bar{{"Compliant · cluster", 30, 240}, {"Pending · ", 15, 120}}},
		{"an empty label", Result{Columns: []string{"x", "n"}, Total: 1, Rows: [][]string{{"", "0"}}}, []Bar{{"(empty)", 0, 0}}},
		{"not a count", Result{Columns: []string{"name", "location"}, Total: 1, Rows: [][]string{{"c1", "east"}}}, nil},
		{"one column", Result{Columns: []string{"Count"}, Total: 1, Rows: [][]string{{"3"}}}, nil},
		{"more rows than shown", Result{Columns: []string{"x", "n"}, Total: 30, Rows: [][]string{{"a", "1"}}}, nil},
		{"a negative number", Result{Columns: []string{"x", "n"}, Total: 1, Rows: [][]string{{"a", "-1"}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) { NewWithT(t).Expect(Chart(tc.r)).To(Equal(tc.want)) })
	}
}

// The explorer's stock queries are the corrected ones docs/resource-graph.md
// shows (which the data plane's tests run).
func TestStockQueriesAreTheDocs(t *testing.T) {
	raw, err := os.ReadFile("../../docs/resource-graph.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(raw), "```kusto\n")
	for i, q := range StockQueries {
		doc := blocks[i+1][:strings.Index(blocks[i+1], "```")]
		if doc != q.Query {
			t.Errorf("stock query %d (%s) is not the docs' block %d:\n%s\nthe docs:\n%s", i, q.Title, i+1, q.Query, doc)
		}
	}
}
