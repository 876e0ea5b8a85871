package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/dataplane"
	"github.com/arcgitops/arcgitops/internal/dataplane/dataplanetest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// recorded is one write request the CLI sent.
type recorded struct {
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// testDataPlane is the real data plane in-process, recording the writes.
type testDataPlane struct {
	mu     sync.Mutex
	writes []recorded
	all    int
	url    string
	owner  dataplane.Credentials
}

func newTestDataPlane(t *testing.T) *testDataPlane {
	t.Helper()
	srv := dataplanetest.New(t)
	d := &testDataPlane{owner: dataplanetest.Owner(t, srv.DataDir())}
	var ts *httptest.Server
	ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, agentapi.PathPrefix+"/") {
			srv.Handler().ServeHTTP(w, r) // the clusters' agents, not the CLI
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		d.mu.Lock()
		d.all++
		if r.Method != http.MethodGet && !strings.HasPrefix(r.URL.Path, "/adfs/") {
			rec := recorded{Method: r.Method, Path: r.URL.RequestURI()}
			if len(body) > 0 {
				rec.Body = canonical(t, body)
			}
			d.writes = append(d.writes, rec)
		}
		d.mu.Unlock()
		cw := &captureWriter{ResponseWriter: w}
		srv.Handler().ServeHTTP(cw, r)
		if r.Method == http.MethodPut && cw.status == http.StatusCreated {
			startAgent(t, ts.URL, r.URL.Path, cw.body.Bytes())
		}
	}))
	t.Cleanup(ts.Close)
	d.url = ts.URL
	return d
}

// captureWriter keeps the status and body of an answer.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) { c.status = code; c.ResponseWriter.WriteHeader(code) }

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

// startAgent plays the agent of a cluster the CLI just registered (an
// answer with an agentToken), so that the CLI's waits end as they would.
func startAgent(t *testing.T, base, clusterID string, answer []byte) {
	t.Helper()
	var reg struct {
		Properties struct {
			AgentToken string `json:"agentToken"`
		} `json:"properties"`
	}
	if json.Unmarshal(answer, &reg) == nil && reg.Properties.AgentToken != "" {
		dataplanetest.Agent(t, base, clusterID, reg.Properties.AgentToken, nil)
	}
}

// canonical indents a JSON body with its object keys sorted, so that golden
// files compare what was sent, not the order a struct declares its fields in.
func canonical(t *testing.T, body []byte) json.RawMessage {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Errorf("the CLI sent a body that is not JSON: %v", err)
		return body
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (d *testDataPlane) take() []recorded {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.writes
	d.writes = nil
	return w
}

func (d *testDataPlane) requests() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.all
}

// run runs the CLI signed in as the data plane's owner (through
// ARCGITOPS_CLIENT_ID and ARCGITOPS_CLIENT_SECRET) and returns exit code,
// stdout, stderr.
func run(t *testing.T, d *testDataPlane, args ...string) (int, string, string) {
	t.Helper()
	return runWith(t, d, t.TempDir(), map[string]string{"ARCGITOPS_CLIENT_ID": d.owner.AppID, "ARCGITOPS_CLIENT_SECRET": d.owner.Password}, args...)
}

// runWith runs the CLI with configDir and env (ARCGITOPS_DATAPLANE added).
func runWith(t *testing.T, d *testDataPlane, configDir string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := &App{Out: &out, Err: &errOut, In: strings.NewReader(""), ConfigDir: configDir, PollInterval: 10 * time.Millisecond,
		Now: func() time.Time { return time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC) },
		Getenv: func(k string) string {
			if k == "ARCGITOPS_DATAPLANE" {
				return d.url
			}
			return env[k]
		}}
	code := app.Run(args)
	return code, out.String(), errOut.String()
}

func golden(t *testing.T, name string, got []recorded) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -update to record it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s: the request sent differs from the golden file:\n--- got\n%s\n--- want\n%s", name, b, want)
	}
}

const cluster = "-g rg1 -c cluster1 -t connectedClusters"

func args(s string) []string { return strings.Fields(s) }

// connect registers cluster1 in rg1 and forgets the requests it took.
func connect(t *testing.T, d *testDataPlane) {
	t.Helper()
	if code, _, stderr := run(t, d, args("connectedk8s connect -n cluster1 -g rg1 -l westeurope")...); code != 0 {
		t.Fatalf("connect: %d %s", code, stderr)
	}
	d.take()
}

// mustRun runs a command that must succeed, and forgets its requests.
func mustRun(t *testing.T, d *testDataPlane, command string) {
	t.Helper()
	if code, _, stderr := run(t, d, args(command)...); code != 0 {
		t.Fatalf("%s: exit %d\n%s", command, code, stderr)
	}
	d.take()
}

// goldenStep is a command whose requests must equal a golden file.
type goldenStep struct {
	golden string
	args   string
}

// runGolden runs each step in order, checks that no secret is echoed, and
// compares the requests each sent with its golden file.
func runGolden(t *testing.T, d *testDataPlane, steps []goldenStep) {
	t.Helper()
	for _, s := range steps {
		t.Run(s.golden, func(t *testing.T) {
			code, stdout, stderr := run(t, d, args(s.args)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			for _, secret := range []string{"s3cr3t-pat", "bucket-s3cr3t", "dGhpcyBpcyBhIHRlc3Q"} {
				if strings.Contains(stdout+stderr, secret) {
					t.Errorf("a secret was echoed: %s", secret)
				}
			}
			golden(t, s.golden, d.take())
		})
	}
}

func TestBadFlagsSendNothing(t *testing.T) {
	d := newTestDataPlane(t)
	tests := []struct {
		name string
		args string
		want string
	}{
		{"two refs", "k8s-configuration flux create " + cluster + " -n c1 -u https://github.com/o/r --branch main --tag v1", "--branch and --tag cannot be combined"},
		{"ssh key with https url", "k8s-configuration flux create " + cluster + " -n c1 -u https://github.com/o/r --branch main --ssh-private-key-file testdata/id_test_key", "--ssh-private-key applies to SSH URLs only"},
		{"https user with ssh url", "k8s-configuration flux create " + cluster + " -n c1 -u git@github.com:o/r --branch main --https-user me", "apply to https URLs only"},
		{"unknown kustomization key", "k8s-configuration flux create " + cluster + " -n c1 -u https://github.com/o/r --branch main --kustomization name=a pathh=./a", `unknown key "pathh"`},
		{"bad duration", "k8s-configuration flux create " + cluster + " -n c1 -u https://github.com/o/r --branch main --interval 10minutes", `--interval "10minutes" is not a duration`},
		{"name too long", "k8s-configuration flux create " + cluster + " -n " + strings.Repeat("x", 31) + " -u https://github.com/o/r --branch main", "1-30 characters"},
		{"unknown kind", "k8s-configuration flux create " + cluster + " -n c1 -u https://x --kind svn --branch main", `--kind "svn"`},
		{"missing file", "k8s-configuration flux create " + cluster + " -n c1 -u git@github.com:o/r --branch main --ssh-private-key-file /nonexistent", "cannot read /nonexistent"},
		{"unknown flag", "k8s-configuration flux create " + cluster + " -n c1 --frobnicate", "unknown flag"},
		{"missing required flag", "k8s-configuration flux create -n c1 -u https://x --branch main", "required flag"},
		{"bad cluster type", "k8s-configuration flux show -g rg1 -c c1 -t provisionedClusters -n c1", "--cluster-type"},
		{"bad output", "k8s-configuration flux list " + cluster + " -o xml", `--output "xml"`},
		{"delete without --yes and no terminal", "k8s-configuration flux delete " + cluster + " -n c1", "pass --yes"},
		{"update with nothing to change", "k8s-configuration flux update " + cluster + " -n c1", "nothing to update"},
		{"a grace period that is not a duration", "k8s-configuration flux update " + cluster + " -n c1 --rotate-ssh-key --ssh-key-grace-period 2weeks", `--ssh-key-grace-period "2weeks" is not a duration`},
		{"a key age out of range", "k8s-configuration flux update " + cluster + " -n c1 --ssh-key-max-age-days 0", "--ssh-key-max-age-days 0 is out of range"},
		{"path escaping the source", "k8s-configuration flux create " + cluster + " -n c1 -u https://github.com/o/r --branch main --kustomization name=a path=../x", "'..' segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := d.requests()
			code, _, stderr := run(t, d, args(tt.args)...)
			if code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "ERROR: ") || strings.Count(stderr, "ERROR") != 1 {
				t.Errorf("errors are one line starting with ERROR: %q", stderr)
			}
			if n := d.requests() - before; n != 0 {
				t.Errorf("%d requests were sent", n)
			}
		})
	}
}

func TestOutputsAndNotFound(t *testing.T) {
	d := newTestDataPlane(t)
	run(t, d, args("connectedk8s connect -n cluster1 -g rg1")...)
	code, _, stderr := run(t, d, args("k8s-configuration flux create "+cluster+" -n cfg -u https://github.com/o/r --branch main -o none")...)
	if code != 0 {
		t.Fatal(stderr)
	}
	code, out, _ := run(t, d, args("k8s-configuration flux list "+cluster+" -o table")...)
	if code != 0 || !strings.Contains(out, "Name") || !strings.Contains(out, "ComplianceState") || !strings.Contains(out, "cfg") || !strings.Contains(out, "Compliant") {
		t.Errorf("table:\n%s", out)
	}
	code, out, _ = run(t, d, args("k8s-configuration flux show "+cluster+" -n cfg -o tsv")...)
	if code != 0 || out != "default\tcfg\tcluster\tSucceeded\tCompliant\t\t\n" {
		t.Errorf("tsv (az's columns: namespace, name, scope, provisioning, compliance, status and source times): %q", out)
	}
	code, out, _ = run(t, d, args("k8s-configuration flux show "+cluster+" -n cfg")...)
	var flat map[string]any
	if err := json.Unmarshal([]byte(out), &flat); code != 0 || err != nil || flat["complianceState"] != "Compliant" || flat["resourceGroup"] != "rg1" || flat["properties"] != nil {
		t.Errorf("json is az's flattened shape (complianceState at the top, resourceGroup): %s", out)
	}
	code, out, _ = run(t, d, args("k8s-configuration flux show "+cluster+" -n cfg -o yaml")...)
	if code != 0 || !strings.Contains(out, "name: cfg") {
		t.Errorf("yaml:\n%s", out)
	}
	code, out, _ = run(t, d, args("k8s-configuration flux kustomization list "+cluster+" -n cfg -o table")...)
	if code != 0 || !strings.Contains(out, "kustomization-1") || !strings.Contains(out, "10m") {
		t.Errorf("kustomizations (az's durations):\n%s", out)
	}
	code, out, _ = run(t, d, args("k8s-configuration flux kustomization list "+cluster+" -n cfg")...)
	var ks map[string]map[string]any
	if err := json.Unmarshal([]byte(out), &ks); code != 0 || err != nil || ks["kustomization-1"]["path"] == nil {
		t.Errorf("kustomizations are a map keyed by name, as az prints them: %s", out)
	}
	code, out, _ = run(t, d, args("k8s-configuration flux deployed-object list "+cluster+" -n cfg")...)
	var objs []map[string]any
	if err := json.Unmarshal([]byte(out), &objs); code != 0 || err != nil || len(objs) != 2 || objs[0]["kind"] != "GitRepository" {
		t.Errorf("deployed objects (the source and the kustomization the agent reported): %d %q", code, out)
	}
	code, _, stderr = run(t, d, args("k8s-configuration flux show "+cluster+" -n ghost")...)
	if code != 3 || !strings.Contains(stderr, "ERROR: (ResourceNotFound)") {
		t.Errorf("not found: exit %d, %q", code, stderr)
	}
	code, _, stderr = run(t, d, append(args("k8s-configuration flux list "+cluster), "--dataplane", "http://127.0.0.1:1")...)
	if code != 1 || !strings.Contains(stderr, "cannot reach the data plane") {
		t.Errorf("unreachable: exit %d, %q", code, stderr)
	}
}

// TestEveryFlagIsDocumented walks every command's --help.
func TestEveryFlagIsDocumented(t *testing.T) {
	app := &App{Out: io.Discard, Err: io.Discard}
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if c.Short == "" && c.Name() != "help" && c.Name() != "completion" {
			t.Errorf("command %q has no description", c.CommandPath())
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			n++
			if strings.TrimSpace(f.Usage) == "" {
				t.Errorf("%s --%s has no description", c.CommandPath(), f.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(app.rootCommand())
	if n < 60 {
		t.Errorf("only %d flags found", n)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
