package manager

import (
	"slices"
	"strings"
	"testing"
)

func TestDataPlaneURLs(t *testing.T) {
	for _, tc := range []struct {
		flag string
		want []string
		bad  string
	}{
		{flag: "https://hub:8090", want: []string{"https://hub:8090"}},
		{flag: "https://hub-0:8090, https://hub-1:8090", want: []string{"https://hub-0:8090", "https://hub-1:8090"}},
		{flag: "hub:8090", bad: `"hub:8090" must be an http(s) URL`},
		{flag: "https://hub-0:8090,", bad: `"" must be an http(s) URL`},
		{flag: "ftp://hub", bad: `"ftp://hub" must be an http(s) URL`},
	} {
		got, err := dataPlaneURLs(tc.flag)
		if tc.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("%q: %v, want an error saying %s", tc.flag, err, tc.bad)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q %v, want %q", tc.flag, got, err, tc.want)
		}
	}
}
