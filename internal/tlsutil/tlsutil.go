// Package tlsutil gives the data plane HTTPS without setup, and its clients
// a way to trust it: a local CA and a serving certificate created in a
// directory on first use, certificates read again when their files change,
// and client configurations that trust a CA file.
package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Files of a local CA and its serving certificate, in a directory.
const (
	CAFile   = "ca.crt"
	caKey    = "ca.key"
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
)

// renewBefore is how long before expiry a serving certificate is replaced.
const renewBefore = 30 * 24 * time.Hour

// EnsureLocalCA makes sure dir holds a CA (made once, valid 10 years) and a
// serving certificate it signed for localhost, 127.0.0.1, ::1 and hosts
// (made again when missing, about to expire, or lacking a host). Every file
// is 0600. It returns the paths of the serving certificate, its key and
// the CA certificate clients should trust.
func EnsureLocalCA(dir string, hosts ...string) (certFile, keyFile, caFile string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", "", err
	}
	caFile, certFile, keyFile = filepath.Join(dir, CAFile), filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	ca, caPriv, err := loadOrCreateCA(caFile, filepath.Join(dir, caKey))
	if err != nil {
		return "", "", "", err
	}
	names := append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)
	if current(certFile, ca, names) {
		return certFile, keyFile, caFile, nil
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "arcgitops data plane"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(398 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if n != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &priv.PublicKey, caPriv)
	if err != nil {
		return "", "", "", err
	}
	if err := writePEM(keyFile, "EC PRIVATE KEY", marshalKey(priv)); err != nil {
		return "", "", "", err
	}
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return "", "", "", err
	}
	return certFile, keyFile, caFile, nil
}

func loadOrCreateCA(certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err1 := os.ReadFile(certFile)
	keyPEM, err2 := os.ReadFile(keyFile)
	if err1 == nil && err2 == nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("the local CA in %s is unreadable: %w (remove %s and %s to make a new one; clients must then trust the new CA)",
				filepath.Dir(certFile), err, certFile, keyFile)
		}
		priv, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
		if !ok {
			return nil, nil, fmt.Errorf("the local CA key %s is not an ECDSA key", keyFile)
		}
		ca, err := x509.ParseCertificate(pair.Certificate[0])
		return ca, priv, err
	}
	if !errors.Is(err1, os.ErrNotExist) || !errors.Is(err2, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("the local CA in %s is incomplete: restore %s and %s, or remove both", filepath.Dir(certFile), certFile, keyFile)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "arcgitops local CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, nil, err
	}
	if err := writePEM(keyFile, "EC PRIVATE KEY", marshalKey(priv)); err != nil {
		return nil, nil, err
	}
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	return ca, priv, err
}

// current reports whether certFile is a certificate of ca, valid for a
// while yet, for every name.
func current(certFile string, ca *x509.Certificate, names []string) bool {
	raw, err := os.ReadFile(certFile)
	if err != nil {
		return false
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || cert.CheckSignatureFrom(ca) != nil || time.Until(cert.NotAfter) < renewBefore {
		return false
	}
	for _, n := range names {
		if n != "" && cert.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

func marshalKey(k *ecdsa.PrivateKey) []byte {
	b, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	return b
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// writePEM writes one PEM block to path (0600), through a temporary file
// renamed into place so a reader never sees half a file.
func writePEM(path, typ string, der []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Reloader serves a certificate from files and reads them again when they
// change (a renewed certificate needs no restart).
type Reloader struct {
	certFile, keyFile string
	mu                sync.Mutex
	cert              *tls.Certificate
	stamp             [2]time.Time
}

// NewReloader reads the pair once, to fail early.
func NewReloader(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile}
	if _, err := r.GetCertificate(nil); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate is tls.Config's GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c, errC := os.Stat(r.certFile)
	k, errK := os.Stat(r.keyFile)
	r.mu.Lock()
	defer r.mu.Unlock()
	if errC == nil && errK == nil {
		stamp := [2]time.Time{c.ModTime(), k.ModTime()}
		if r.cert == nil || stamp != r.stamp {
			pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
			if err != nil {
				if r.cert != nil {
					return r.cert, nil // mid-rotation: keep serving the last good pair
				}
				return nil, fmt.Errorf("failed to load the TLS certificate %s: %w", r.certFile, err)
			}
			r.cert, r.stamp = &pair, stamp
		}
	}
	if r.cert == nil {
		return nil, fmt.Errorf("the TLS certificate %s or its key %s cannot be read", r.certFile, r.keyFile)
	}
	return r.cert, nil
}

// ServerConfig is a TLS 1.2+ configuration serving r's certificate.
func ServerConfig(r *Reloader) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// ClientConfig trusts the system's roots and, when caFile is not empty, the
// CA in it.
func ClientConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("failed to read the CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("the CA file %s holds no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// IsLoopback reports whether a listen address (host:port) binds only
// loopback interfaces: 127.0.0.0/8, ::1 or localhost. An empty host (every
// interface) is not.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Hosts returns the host of a listen address when it names one (for the
// serving certificate), else nothing.
func Hosts(addr string) []string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" || slices.Contains([]string{"0.0.0.0", "::"}, host) {
		return nil
	}
	return []string{host}
}
