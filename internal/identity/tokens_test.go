package identity

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newIssuer(t *testing.T, dir string) *Issuer {
	t.Helper()
	ks, err := LoadKeys(dir, false, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	return &Issuer{Keys: ks, URL: "https://hub.test/adfs", Audience: "https://management.test/", TenantID: "adfs", Lifetime: time.Hour}
}

func issue(t *testing.T, i *Issuer, at time.Time) string {
	t.Helper()
	tok, err := i.Issue(Principal{ObjectID: "oid-1", AppID: "app-1"}, at)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	iss := newIssuer(t, dir)
	good := issue(t, iss, now)
	parts := strings.Split(good, ".")

	other := newIssuer(t, t.TempDir())
	sameKid := *other
	sameKid.Keys = &KeySet{active: other.Keys.active}
	sameKid.Keys.active.KeyID = iss.Keys.active.KeyID

	wrongAud := *iss
	wrongAud.Audience = "https://graph.test/"
	wrongIss := *iss
	wrongIss.URL = "https://evil.test/adfs"

	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := strings.Replace(string(payload), "oid-1", "oid-2", 2)

	for _, tc := range []struct {
		name  string
		token string
		at    time.Time
		code  string
	}{
		{"valid", good, now, ""},
		{"valid within the clock leeway after expiry", good, now.Add(time.Hour + 30*time.Second), ""},
		{"expired", good, now.Add(time.Hour + 2*time.Minute), "ExpiredAuthenticationToken"},
		{"not valid yet", good, now.Add(-10 * time.Minute), "InvalidAuthenticationToken"},
		{"wrong audience", issue(t, &wrongAud, now), now, "InvalidAuthenticationTokenAudience"},
		{"wrong issuer", issue(t, &wrongIss, now), now, "InvalidAuthenticationTokenTenant"},
		{"alg none", enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", now, "InvalidAuthenticationToken"},
		{"HS256 with the public key", enc([]byte(`{"alg":"HS256","typ":"JWT","kid":"`+iss.Keys.active.KeyID+`"}`)) + "." + parts[1] + "." + parts[2], now, "InvalidAuthenticationToken"},
		{"signed by another issuer's key", issue(t, other, now), now, "InvalidAuthenticationToken"},
		{"re-signed with another key under the same key id", issue(t, &sameKid, now), now, "InvalidAuthenticationToken"},
		{"payload changed", parts[0] + "." + enc([]byte(tampered)) + "." + parts[2], now, "InvalidAuthenticationToken"},
		{"truncated", good[:len(good)-10], now, "InvalidAuthenticationToken"},
		{"signature dropped", parts[0] + "." + parts[1] + ".", now, "InvalidAuthenticationToken"},
		{"empty", "", now, "InvalidAuthenticationToken"},
		{"garbage", "not-a-token", now, "InvalidAuthenticationToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, terr := iss.Verify(tc.token, tc.at)
			switch {
			case tc.code == "" && terr != nil:
				t.Fatalf("refused a good token: %v", terr)
			case tc.code == "" && (p.ObjectID != "oid-1" || p.AppID != "app-1"):
				t.Fatalf("principal = %+v", p)
			case tc.code != "" && terr == nil:
				t.Fatalf("accepted: %+v", p)
			case tc.code != "" && terr.Code != tc.code:
				t.Fatalf("code %s (%s), want %s", terr.Code, terr.Reason, tc.code)
			}
			if terr != nil && tc.token != "" && strings.Contains(terr.Error(), tc.token) {
				t.Fatal("the error repeats the token")
			}
		})
	}
}

func TestRotationKeepsIssuedTokensValid(t *testing.T) {
	dir := t.TempDir()
	iss := newIssuer(t, dir)
	old := issue(t, iss, now)

	ks, err := LoadKeys(dir, true, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	rotated := *iss
	rotated.Keys = ks
	if ks.active.KeyID == iss.Keys.active.KeyID {
		t.Fatal("rotation kept the active key")
	}
	if _, terr := rotated.Verify(old, now.Add(time.Minute)); terr != nil {
		t.Fatalf("a token of the retired key is refused after rotation: %v", terr)
	}
	if _, terr := rotated.Verify(issue(t, &rotated, now), now); terr != nil {
		t.Fatalf("a token of the new key is refused: %v", terr)
	}
	if n := len(ks.JWKS().Keys); n != 2 {
		t.Fatalf("JWKS has %d keys, want the active and the retired one", n)
	}

	// Once every token it signed has expired, the retired key goes.
	later, err := LoadKeys(dir, false, time.Hour, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(later.JWKS().Keys); n != 1 {
		t.Fatalf("JWKS has %d keys two hours after rotation, want 1", n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("files left: %v", files)
	}
	info, err := os.Stat(files[0])
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", info.Mode(), err)
	}
}

func TestLoadKeysRefusesTwoActiveKeys(t *testing.T) {
	dir := t.TempDir()
	newIssuer(t, dir)
	if _, err := newKey(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeys(dir, false, time.Hour, now); err == nil || !strings.Contains(err.Error(), "2 active signing keys") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecrets(t *testing.T) {
	s, h, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(s) < 43 || strings.Contains(h, s) || !strings.HasPrefix(s, SecretPrefix) {
		t.Fatalf("secret %d chars, prefix %q", len(s), s[:5])
	}
	if hint := Hint(s); len(hint) != 3 || !strings.Contains(s[len(SecretPrefix):], hint) {
		t.Fatalf("hint %q", hint)
	}
	if !SecretMatches(s, h) || SecretMatches(s+"x", h) || SecretMatches("", h) {
		t.Fatal("SecretMatches is wrong")
	}
}
