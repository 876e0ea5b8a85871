package cli

import "testing"

func TestKustomizationGolden(t *testing.T) {
	d := newTestDataPlane(t)
	connect(t, d)
	mustRun(t, d, createSSH)
	runGolden(t, d, []goldenStep{
		{"kustomization-create", "k8s-configuration flux kustomization create " + cluster + " -n cluster-config -k monitoring" +
			" --path ./monitoring --depends infra,apps --prune --sync-interval 3m"},
		{"kustomization-update", "k8s-configuration flux kustomization update " + cluster + " -n cluster-config -k monitoring" +
			" --disable-health-check --retry-interval 1m"},
		{"kustomization-delete", "k8s-configuration flux kustomization delete " + cluster + " -n cluster-config -k monitoring --yes"},
	})
}

func TestParseKustomization(t *testing.T) {
	cases := []struct {
		in      string
		want    string // the PATCH body of an update, as JSON
		wantErr string
	}{
		{"name=a path=./a prune=true", `{"path":"./a","prune":true}`, ""},
		{"name=a depends_on=[b,c] interval=1m", `{"dependsOn":["b","c"],"syncIntervalInSeconds":60}`, ""},
		{"name=a\x00dependsOn=b,c\x00disable-health-check=true", `{"dependsOn":["b","c"],"wait":false}`, ""},
		{"name=a depends_on=", `{"dependsOn":[]}`, ""},
		{"path=./a", "", "needs name=NAME"},
		{"name=a pathh=./a", "", `unknown key "pathh"`},
		{"name=a prune", "", "is not key=value"},
		{"name=a prune=maybe", "", `prune="maybe": use true or false`},
		{"name=a timeout=0", "", "out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			k, err := parseKustomization(tc.in)
			if tc.wantErr != "" {
				if err == nil || !contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := jsonOf(t, k.body()); got != tc.want {
				t.Errorf("update body = %s, want %s", got, tc.want)
			}
		})
	}
}
