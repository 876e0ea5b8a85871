package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted on purpose
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{ms(5), 50, 5 * time.Millisecond},
		{ms(5), 99, 5 * time.Millisecond},
		{ms(3, 1, 2), 50, 2 * time.Millisecond},
		{ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{ms(hundred...), 50, 50 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 100, 100 * time.Millisecond},
		{ms(hundred[:10]...), 99, 100 * time.Millisecond},
	} {
		if got := percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.in, tc.p, got, tc.want)
		}
	}
}

func TestMetricSumsMatchingSamples(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `# HELP rest_client_requests_total Number of HTTP requests.
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="h",method="GET"} 11
rest_client_requests_total{code="201",host="h",method="PATCH"} 5011
rest_client_requests_total{code="201",host="h",method="POST"} 2000
rest_client_requests_total_other 7
go_memstats_heap_alloc_bytes 3.3554432e+07
`)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name string
		keep func(string) bool
		want float64
	}{
		{"rest_client_requests_total", nil, 7022},
		{"rest_client_requests_total", hasLabel(`method="POST"`, `method="PATCH"`), 7011},
		{"rest_client_requests_total", hasLabel(`method="DELETE"`), 0},
		{"go_memstats_heap_alloc_bytes", nil, 33554432},
	} {
		got, err := metric(srv.URL, tc.name, tc.keep)
		if err != nil || got != tc.want {
			t.Errorf("metric(%s) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestPositiveInts(t *testing.T) {
	if got, err := positiveInts("100, 1000"); err != nil || fmt.Sprint(got) != "[100 1000]" {
		t.Errorf("positiveInts(100, 1000) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "-1", "10,x", "1.5"} {
		if _, err := positiveInts(bad); err == nil {
			t.Errorf("positiveInts(%q) accepted", bad)
		}
	}
}

func TestCPUTimeAndRSSOfThisProcess(t *testing.T) {
	before, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); { //nolint:revive // burns CPU on purpose
		continue
	}
	after, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 100*time.Millisecond {
		t.Errorf("300 ms of busy loop counted as %v of CPU", after-before)
	}
	if r, err := rss(os.Getpid()); err != nil || r < 1<<20 {
		t.Errorf("rss = %v, %v", r, err)
	}
}

func TestOutKeepsTheHandWrittenPart(t *testing.T) {
	out := filepath.Join(t.TempDir(), "benchmarks.md")
	reading := handWritten + " -->\n\n## Reading this run\n\nA note.\n"
	if err := os.WriteFile(out, []byte("# Benchmarks\n\nold table\n\n"+reading), 0o644); err != nil {
		t.Fatal(err)
	}
	o := options{out: out, measures: map[string]bool{}}
	rep := report{}
	rep.add(row{name: "m", value: "v"})
	if err := writeOut(o, render(o, rep, time.Second)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if !strings.HasSuffix(string(b), reading) || strings.Contains(string(b), "old table") || !strings.Contains(string(b), "| m | v |") {
		t.Errorf("--out wrote:\n%s", b)
	}
}

func TestOutKeepsTheRowsOfMeasuresNotRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "benchmarks.md")
	old := "# Benchmarks\n\n| measure | value | floor | ratio | target |\n|---|---|---|---|---|\n" +
		"| 6. capacity | old | - | - | - |\n| 9. policy | old | - | - | - |\n\n" +
		"- 6. With 19000 agents, the first error was: too many open files\n- 9. an old policy note\n\n" +
		handWritten + " -->\n\n- 6. a line of the reading, not a note\n"
	if err := os.WriteFile(out, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	o := options{out: out, measures: map[string]bool{"policy": true}}
	rep := report{}
	rep.add(row{name: "9. policy", value: "new"})
	rep.note("9. a new policy note")
	if err := writeOut(o, render(o, rep, time.Second)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), "| 6. capacity | old |") || strings.Contains(string(b), "| 9. policy | old |") ||
		!strings.Contains(string(b), "| 9. policy | new |") || !strings.Contains(string(b), "kept from the run before") {
		t.Errorf("--out wrote:\n%s", b)
	}
	table, _, _ := strings.Cut(string(b), handWritten)
	if !strings.Contains(table, "- 6. With 19000 agents, the first error was") || strings.Contains(table, "old policy note") ||
		!strings.Contains(table, "- 9. a new policy note") || strings.Contains(table, "a line of the reading") {
		t.Errorf("the notes of the measures not run are kept, the others replaced; --out wrote:\n%s", b)
	}
}
