package cmdutil

import (
	"strings"
	"testing"
)

func TestSoftMemoryLimit(t *testing.T) {
	cases := []struct {
		name       string
		limit      string
		ratio      float64
		gomemlimit string
		want       int64
		err        string
	}{
		{name: "no limit: none set", ratio: 0.9},
		{name: "the downward API's bytes", limit: "536870912", ratio: 0.9, want: 483183820},
		{name: "a quantity", limit: "2Gi", ratio: 0.9, want: 1932735283},
		{name: "all of it", limit: "512Mi", ratio: 1, want: 536870912},
		{name: "GOMEMLIMIT wins", limit: "2Gi", ratio: 0.9, gomemlimit: "1GiB"},
		{name: "not a quantity", limit: "lots", ratio: 0.9, err: `--memory-limit "lots" (or $MEMORY_LIMIT): use a quantity such as 512Mi`},
		{name: "zero", limit: "0", ratio: 0.9, err: "must be above zero"},
		{name: "ratio zero", limit: "2Gi", ratio: 0, err: "--memory-limit-ratio must be above 0 and at most 1, got 0"},
		{name: "ratio above one", limit: "2Gi", ratio: 1.5, err: "got 1.5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := softMemoryLimit(tc.limit, tc.ratio, tc.gomemlimit)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("softMemoryLimit = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}
