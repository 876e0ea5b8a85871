package gitprobe

import (
	"context"
	"strings"
	"testing"

	"github.com/arcgitops/arcgitops/internal/auth"
	"github.com/arcgitops/arcgitops/internal/gitserver"
)

func TestCanRead(t *testing.T) {
	s, err := gitserver.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Commit("repo", map[string]string{"a.yaml": "a: 1\n"}, "first"); err != nil {
		t.Fatal(err)
	}
	known, other := mustKey(t), mustKey(t)
	if err := s.AddDeployKey(string(known.PublicKey)); err != nil {
		t.Fatal(err)
	}
	url := s.SSHRepoURL("repo")
	_, otherHost, _ := strings.Cut(s.KnownHosts, " ")
	cases := []struct {
		name       string
		url        string
		key        []byte
		knownHosts string
		wantErr    string
	}{
		{"a deploy key reads", url, known.PrivateKey, s.KnownHosts, ""},
		{"an unknown key is refused", url, other.PrivateKey, s.KnownHosts, "unable to authenticate"},
		{"a missing repository is refused", strings.Replace(url, "repo.git", "missing.git", 1), known.PrivateKey, s.KnownHosts, "refused the fetch"},
		{"a host key not in known_hosts is refused", url, known.PrivateKey, "[example.com]:22 " + otherHost, "knownhosts"},
		{"no known_hosts", url, known.PrivateKey, "", "no known_hosts"},
		{"an https URL", "https://example.com/repo.git", known.PrivateKey, s.KnownHosts, "not an ssh://"},
		{"a malformed key", url, []byte("not a key"), s.KnownHosts, "cannot be parsed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CanRead(context.Background(), tc.url, tc.key, []byte(tc.knownHosts))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("CanRead: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("CanRead = %v, want an error containing %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("the error shows key material: %v", err)
			}
		})
	}
}

func mustKey(t *testing.T) *auth.KeyPair {
	t.Helper()
	kp, err := auth.GenerateKeyPair("ed25519")
	if err != nil {
		t.Fatal(err)
	}
	return kp
}
