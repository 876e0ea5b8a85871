// Package gitprobe checks that an SSH key can read a Git repository before
// the operator relies on it: it starts a fetch (git-upload-pack over SSH),
// reads the server's first line of references, and hangs up. A deploy key
// the host does not know, or one of another repository, fails here instead
// of in source-controller after the switch.
package gitprobe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	fluxknownhosts "github.com/fluxcd/pkg/ssh/knownhosts"
	"golang.org/x/crypto/ssh"

	"github.com/arcgitops/arcgitops/api/v1alpha1"
)

// Timeout bounds one probe when ctx has no earlier deadline.
const Timeout = 30 * time.Second

// CanRead returns nil when privateKey (PEM) can read the repository at
// rawURL (ssh:// or user@host:path), the host checked against knownHosts
// (known_hosts lines). Its errors name the URL and the reason, never key
// material.
func CanRead(ctx context.Context, rawURL string, privateKey, knownHosts []byte) error {
	target, err := parse(rawURL)
	if err != nil {
		return err
	}
	signer, err := ssh.ParsePrivateKey(privateKey)
	if err != nil {
		return errors.New("the SSH private key cannot be parsed")
	}
	hostKeys, err := hostKeyCallback(knownHosts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", target.addr)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	c, chans, reqs, err := ssh.NewClientConn(conn, target.addr, &ssh.ClientConfig{
		User: target.user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hostKeys,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	defer sess.Close()
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	sess.Stderr = &stderr
	if err := sess.Start("git-upload-pack '" + target.path + "'"); err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	// The first pkt-line: four hex digits of length ("0000" for a
	// repository without references).
	head := make([]byte, 4)
	if _, err := io.ReadFull(bufio.NewReader(stdout), head); err != nil {
		// The session's stderr is copied by the ssh package until the
		// command ends: wait for it (bounded by ctx, which closes conn).
		_ = sess.Wait()
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("%s: the server refused the fetch: %s", target, msg)
		}
		return fmt.Errorf("%s: the server refused the fetch: %w", target, err)
	}
	if _, err := strconv.ParseUint(string(head), 16, 16); err != nil {
		return fmt.Errorf("%s: the server did not answer with Git's protocol", target)
	}
	return nil
}

type target struct {
	user, addr, path string
}

func (t target) String() string {
	return "ssh://" + t.user + "@" + t.addr + "/" + strings.TrimPrefix(t.path, "/")
}

func parse(raw string) (target, error) {
	if user, host, path, ok := v1alpha1.SplitSCPGitURL(raw); ok {
		// git sends an scp-like path as written, relative.
		return target{user: user, addr: net.JoinHostPort(host, "22"), path: path}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "ssh" || u.Host == "" {
		return target{}, errors.New("not an ssh:// or user@host:path URL")
	}
	port := u.Port()
	if port == "" {
		port = "22"
	}
	user := "git"
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	return target{user: user, addr: net.JoinHostPort(u.Hostname(), port), path: u.Path}, nil
}

// hostKeyCallback checks host keys against known_hosts lines the way
// source-controller does (fluxcd/pkg/ssh/knownhosts).
func hostKeyCallback(knownHosts []byte) (ssh.HostKeyCallback, error) {
	if len(knownHosts) == 0 {
		return nil, errors.New("no known_hosts to check the host's key against")
	}
	cb, _, err := fluxknownhosts.New(knownHosts)
	if err != nil {
		return nil, fmt.Errorf("the known_hosts cannot be parsed: %w", err)
	}
	return cb, nil
}
