package gitserver

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
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
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "known_hosts")
	_ = os.WriteFile(p, []byte(content), 0o600)
	return p
}
