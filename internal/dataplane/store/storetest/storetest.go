// Package storetest runs a real etcd for the tests of the data plane's
// etcd store: the etcd the project builds for its tests (hack/envtest.sh),
// one member on loopback ports, with the limits the hub's documentation
// asks for.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// binary is the etcd of KUBEBUILDER_ASSETS, or the one hack/envtest.sh
// builds (or finds in its cache).
func binary() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "../../../../hack/envtest.sh")
		out, err := exec.CommandContext(context.Background(), script, "etcd").Output()
		if err != nil {
			return "", fmt.Errorf("the etcd store's tests need etcd: hack/envtest.sh etcd: %w", err)
		}
		dir = strings.TrimSpace(string(out))
	}
	return filepath.Join(dir, "etcd"), nil
}

func freePort() (int, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Member is one member of a local etcd cluster, a process the tests kill,
// freeze and start again.
type Member struct {
	Name, ClientURL, PeerURL string
	dir, cluster             string
	cmd                      *exec.Cmd
}

// Start starts the member (again, on its data directory).
func (m *Member) Start() error {
	bin, err := binary()
	if err != nil {
		return err
	}
	m.cmd = exec.CommandContext(context.Background(), bin, "--data-dir", m.dir, "--name", m.Name,
		"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL, "--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", m.cluster, "--initial-cluster-state", "new",
		"--max-txn-ops", "10000", "--max-request-bytes", "33554432", "--log-level", "error")
	m.cmd.Stderr = os.Stderr
	return m.cmd.Start()
}

// Kill stops the member with SIGKILL, as a machine lost.
func (m *Member) Kill() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
		m.cmd = nil
	}
}

// Signal sends the member's process a signal (SIGSTOP freezes it, as a
// partitioned machine; SIGCONT thaws it).
func (m *Member) Signal(sig os.Signal) error { return m.cmd.Process.Signal(sig) }

// Cluster starts an n-member etcd cluster with its data under dir, and
// returns its members once the cluster answers; stop kills them all.
func Cluster(dir string, n int) (members []*Member, stop func(), err error) {
	var peers []string
	for i := range n {
		cp, err := freePort()
		if err != nil {
			return nil, nil, err
		}
		pp, err := freePort()
		if err != nil {
			return nil, nil, err
		}
		m := &Member{Name: fmt.Sprintf("m%d", i), ClientURL: fmt.Sprintf("http://127.0.0.1:%d", cp), PeerURL: fmt.Sprintf("http://127.0.0.1:%d", pp),
			dir: filepath.Join(dir, fmt.Sprintf("m%d", i))}
		members = append(members, m)
		peers = append(peers, m.Name+"="+m.PeerURL)
	}
	stop = func() {
		for _, m := range members {
			m.Kill()
		}
	}
	for _, m := range members {
		m.cluster = strings.Join(peers, ",")
		if err := m.Start(); err != nil {
			stop()
			return nil, nil, err
		}
	}
	if err := ready(Endpoints(members)); err != nil {
		stop()
		return nil, nil, err
	}
	return members, stop, nil
}

// Endpoints are the members' client URLs.
func Endpoints(members []*Member) []string {
	var out []string
	for _, m := range members {
		out = append(out, m.ClientURL)
	}
	return out
}

// ready waits until etcd at endpoints answers a read, for 30 s.
func ready(endpoints []string) error {
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer c.Close()
	for deadline := time.Now().Add(30 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Get(ctx, "probe")
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Join(errors.New("etcd did not answer in 30 s"), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Etcd starts a one-member etcd with its data in dir and returns its
// client URL, once it answers, and a func that stops it.
func Etcd(dir string) (endpoint string, stop func(), err error) {
	bin, err := binary()
	if err != nil {
		return "", nil, err
	}
	cp, err := freePort()
	if err != nil {
		return "", nil, err
	}
	pp, err := freePort()
	if err != nil {
		return "", nil, err
	}
	client, peer := fmt.Sprintf("http://127.0.0.1:%d", cp), fmt.Sprintf("http://127.0.0.1:%d", pp)
	cmd := exec.CommandContext(context.Background(), bin, "--data-dir", dir, "--name", "test",
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "test="+peer,
		"--max-txn-ops", "10000", "--max-request-bytes", "33554432", "--log-level", "error")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	if err := ready([]string{client}); err != nil {
		stop()
		return "", nil, err
	}
	return client, stop, nil
}
