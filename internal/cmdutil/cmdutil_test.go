package cmdutil

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

func TestNoArgs(t *testing.T) {
	cases := []struct {
		args    []string
		wantErr string
	}{
		{nil, ""},
		{[]string{"--listen", "x"}, ""},
		{[]string{"k8s-configuration", "flux", "create", "--help"}, `unexpected argument "k8s-configuration": cmd takes flags only`},
		{[]string{"--listen", "x", "extra"}, `unexpected argument "extra"`},
	}
	for _, tc := range cases {
		fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
		fs.String("listen", "", "where")
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := NoArgs(fs)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.wantErr)
		}
	}

	var out bytes.Buffer
	fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
	fs.SetOutput(&out)
	fs.String("listen", "", "The address to serve on.")
	_ = fs.Parse([]string{"serve"})
	code := -1
	MustNoArgs(fs, func(c int) { code = c })
	if code != 2 || !strings.Contains(out.String(), `unexpected argument "serve"`) || !strings.Contains(out.String(), "The address to serve on.") {
		t.Errorf("exit %d, output %q: want 2, the error and the usage", code, out.String())
	}
}
