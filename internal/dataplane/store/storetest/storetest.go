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
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		stop()
		return "", nil, err
	}
	defer c.Close()
	for deadline := time.Now().Add(30 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Get(ctx, "probe")
		cancel()
		if err == nil {
			return client, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.Join(errors.New("etcd did not start in 30 s"), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
