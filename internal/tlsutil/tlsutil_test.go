package tlsutil

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLocalCAServesAndIsTrusted(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, caFile, err := EnsureLocalCA(dir, "hub.local")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{certFile, keyFile, caFile, filepath.Join(dir, caKey)} {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, fi.Mode().Perm())
		}
	}
	// A second call keeps what is current: clients keep trusting the CA.
	ca1, _ := os.ReadFile(caFile)
	cert1, _ := os.ReadFile(certFile)
	if _, _, _, err := EnsureLocalCA(dir, "hub.local"); err != nil {
		t.Fatal(err)
	}
	ca2, _ := os.ReadFile(caFile)
	cert2, _ := os.ReadFile(certFile)
	if string(ca1) != string(ca2) || string(cert1) != string(cert2) {
		t.Error("a second call replaced a current CA or certificate")
	}
	// A new host gets a new serving certificate from the same CA.
	if _, _, _, err := EnsureLocalCA(dir, "other.local"); err != nil {
		t.Fatal(err)
	}
	if ca3, _ := os.ReadFile(caFile); string(ca3) != string(ca1) {
		t.Error("the CA changed")
	}

	reloader, err := NewReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	// A plain http.Server on a TLS listener, as the data plane serves
	// (httptest.StartTLS would put its own certificate first).
	l, err := tls.Listen("tcp", "127.0.0.1:0", ServerConfig(reloader))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	url := "https://" + l.Addr().String()

	trusting, err := ClientConfig(caFile)
	if err != nil {
		t.Fatal(err)
	}
	get := func(cfg *tls.Config) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(trusting); err != nil {
		t.Errorf("a client trusting the CA: %v", err)
	}
	if err := get(&tls.Config{MinVersion: tls.VersionTLS12}); err == nil {
		t.Error("a client that does not trust the CA connected")
	}

	// A certificate written over the files is served from the next handshake.
	before, _ := reloader.GetCertificate(nil)
	if err := os.Remove(certFile); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := EnsureLocalCA(dir, "third.local"); err != nil {
		t.Fatal(err)
	}
	after, _ := reloader.GetCertificate(nil)
	if string(before.Certificate[0]) == string(after.Certificate[0]) {
		t.Error("the renewed certificate was not picked up")
	}
	if _, err := ClientConfig(filepath.Join(dir, "missing.crt")); err == nil {
		t.Error("a missing CA file is accepted")
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8090": true, "127.0.1.1:1": true, "[::1]:8090": true, "localhost:8090": true,
		":8090": false, "0.0.0.0:8090": false, "10.0.0.5:8090": false, "hub.example.com:443": false, "garbage": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
