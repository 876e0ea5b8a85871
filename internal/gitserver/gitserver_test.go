package gitserver

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestHTTPSAndSSH(t *testing.T) {
	s, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sha, err := s.Commit("demo", map[string]string{"apps/cm.yaml": "kind: ConfigMap\n"}, "first")
	if err != nil {
		t.Fatal(err)
	}
	s.SetBasicAuth("demo", "bot", "t0ken")

	// HTTPS: clone with the CA and the token; without the token it fails.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	_ = os.WriteFile(ca, s.CACert, 0o600)
	clone := func(url string) error {
		cmd := exec.Command("git", "clone", "-q", url, filepath.Join(t.TempDir(), "c"))
		cmd.Env = append(os.Environ(), "GIT_SSL_CAINFO="+ca, "GIT_TERMINAL_PROMPT=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("%s", out)
		}
		return err
	}
	if err := clone(strings.Replace(s.HTTPSRepoURL("demo"), "https://", "https://bot:t0ken@", 1)); err != nil {
		t.Fatalf("clone with token: %v", err)
	}
	if err := clone(strings.Replace(s.HTTPSRepoURL("demo"), "https://", "https://bot:wrong@", 1)); err == nil {
		t.Fatal("clone with a wrong token succeeded")
	}

	// SSH: a deploy key is required; upload-pack advertises the commit.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	cb, err := knownhosts.New(writeFile(t, s.KnownHosts))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ClientConfig{User: "git", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: cb}
	if _, err := ssh.Dial("tcp", s.SSHAddr, cfg); err == nil {
		t.Fatal("an unknown key was accepted")
	}
	if err := s.AddDeployKey(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", s.SSHAddr, cfg)
	if err != nil {
		t.Fatalf("deploy key refused: %v", err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sess.Stdout = &out
	sess.Stdin = strings.NewReader("0000")
	_ = sess.Run("git-upload-pack '/demo.git'")
	if !strings.Contains(out.String(), sha) {
		t.Fatalf("upload-pack did not advertise %s: %q", sha, out.String())
	}
	if err := s.RemoveDeployKey(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); err != nil {
		t.Fatal(err)
	}
	if c, err := ssh.Dial("tcp", s.SSHAddr, cfg); err == nil {
		c.Close()
		t.Fatal("a revoked deploy key was accepted")
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "known_hosts")
	_ = os.WriteFile(p, []byte(content), 0o600)
	return p
}

// TestWebhook: a push is announced to the repository's webhooks as GitHub
// announces it, signed with the hook's secret; a failed call is recorded
// and does not fail the push.
func TestWebhook(t *testing.T) {
	s, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first, err := s.Commit("hooked", map[string]string{"a.yaml": "a: 1\n"}, "first")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *http.Request, 1)
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	defer srv.Close()
	s.AddWebhook("hooked", srv.URL+"/hook", "s3cret")
	s.AddWebhook("hooked", "http://127.0.0.1:1/unreachable", "x")
	second, err := s.Commit("hooked", map[string]string{"a.yaml": "a: 2\n"}, "second")
	if err != nil {
		t.Fatalf("a failed webhook failed the push: %v", err)
	}
	r, body := <-got, <-bodies
	if r.Header.Get("X-GitHub-Event") != "push" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v, want a GitHub push event", r.Header)
	}
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write(body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); r.Header.Get("X-Hub-Signature-256") != want {
		t.Errorf("signature %q, want %q", r.Header.Get("X-Hub-Signature-256"), want)
	}
	var ev pushEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Before != first || ev.After != second || ev.Ref != "refs/heads/main" || ev.Repository.Name != "hooked" {
		t.Errorf("push event %+v, want main from %s to %s", ev, first, second)
	}
	d := s.Deliveries()
	if len(d) != 2 || d[0].Status != http.StatusOK || d[0].Err != "" || d[1].Status != 0 || d[1].Err == "" {
		t.Errorf("deliveries %+v, want one delivered and one failed", d)
	}
}
