package store

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// etcdBinary is the etcd the project builds for its tests (hack/envtest.sh),
// built when KUBEBUILDER_ASSETS does not name it.
func etcdBinary(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		out, err := exec.Command("../../../hack/envtest.sh", "etcd").Output()
		if err != nil {
			t.Fatalf("the etcd store's tests need etcd: hack/envtest.sh etcd: %v", err)
		}
		dir = strings.TrimSpace(string(out))
	}
	return filepath.Join(dir, "etcd")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEtcd runs a one-member etcd until the test ends, with the limits the
// hub's documentation asks for, and returns its client URL.
func startEtcd(t *testing.T) string {
	t.Helper()
	client, peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cmd := exec.Command(etcdBinary(t), "--data-dir", t.TempDir(), "--name", "test",
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "test="+peer,
		"--max-txn-ops", "10000", "--max-request-bytes", "33554432", "--log-level", "error")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := OpenEtcd(EtcdOptions{Endpoints: []string{client}, Prefix: "/probe/", Timeout: time.Second})
		if err == nil {
			_ = st.Close()
			return client
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEtcdConformance runs the suite on one etcd, each case under a prefix
// of its own: hubs sharing an etcd do not see each other.
func TestEtcdConformance(t *testing.T) {
	endpoint := startEtcd(t)
	defer func(n int64) { etcdPage = n }(etcdPage)
	etcdPage = 2 // every scan crosses pages, with the transaction's writes between them
	var n atomic.Int64
	conformance(t, func(t *testing.T) Store {
		t.Helper()
		st, err := OpenEtcd(EtcdOptions{Endpoints: []string{endpoint}, Prefix: fmt.Sprintf("/arcgitops/hub-%d/", n.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}
