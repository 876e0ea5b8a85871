// Package gitserver is a small Git server for the local environment and the
// end-to-end tests: read-only smart HTTP over TLS (git http-backend, with
// per-repository basic auth) and SSH (git-upload-pack, with deploy keys),
// both on 127.0.0.1, and GitHub-shaped push webhooks. It runs the
// machine's git; it is test infrastructure, never part of the operator.
package gitserver

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/arcgitops/arcgitops/internal/tlsutil"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Server serves bare repositories under Root.
type Server struct {
	Root string
	// HTTPSURL is the base URL of the smart HTTP server, e.g. https://127.0.0.1:1234.
	HTTPSURL string
	// SSHAddr is host:port of the SSH server.
	SSHAddr string
	// CACert is the PEM certificate that signs the HTTPS server's certificate.
	CACert []byte
	// KnownHosts is the known_hosts line of the SSH server.
	KnownHosts string

	git       string
	httpSrv   *http.Server
	sshLn     net.Listener
	sshConfig *ssh.ServerConfig

	mu         sync.Mutex
	deployKeys map[string]bool      // authorized keys, marshalled
	basicAuth  map[string][2]string // repo -> user, token
	webhooks   map[string][]webhook // repo -> where its pushes are announced
	host       string               // the address both servers listen on
	deliveries []Delivery
}

// Start serves root on two free ports of 127.0.0.1.
func Start(root string) (*Server, error) { return StartOn(root, "127.0.0.1") }

// StartOn serves root on two free ports of host, an address of this
// machine that the cluster can reach (for kind, its Docker network's
// gateway); its HTTPS certificate names host.
func StartOn(root, host string) (*Server, error) {
	git, err := exec.LookPath("git")
	if err != nil {
		return nil, errors.New("the git server needs the git command: install git")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	s := &Server{Root: root, git: git, deployKeys: map[string]bool{}, basicAuth: map[string][2]string{},
		webhooks: map[string][]webhook{}, host: host}
	if err := s.startHTTPS(); err != nil {
		return nil, err
	}
	if err := s.startSSH(); err != nil {
		_ = s.httpSrv.Close()
		return nil, err
	}
	return s, nil
}

// Close stops both servers.
func (s *Server) Close() {
	_ = s.httpSrv.Close()
	_ = s.sshLn.Close()
}

func (s *Server) startHTTPS() error {
	// The same local CA the data plane makes, in a directory no repository
	// path can reach (repositories end in .git).
	certFile, keyFile, caFile, err := tlsutil.EnsureLocalCA(filepath.Join(s.Root, ".tls"), s.host)
	if err != nil {
		return err
	}
	if s.CACert, err = os.ReadFile(caFile); err != nil {
		return err
	}
	certs, err := tlsutil.NewReloader(certFile, keyFile)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(s.host, "0"))
	if err != nil {
		return err
	}
	s.HTTPSURL = "https://" + l.Addr().String()
	backend := &cgi.Handler{
		Path: s.git, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + s.Root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	s.httpSrv = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveHTTP(w, r, backend) }),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         tlsutil.ServerConfig(certs),
	}
	go func() { _ = s.httpSrv.ServeTLS(l, "", "") }()
	return nil
}

var repoPath = regexp.MustCompile(`^/([a-zA-Z0-9._-]+\.git)(/.*)?$`)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request, backend http.Handler) {
	m := repoPath.FindStringSubmatch(r.URL.Path)
	if m == nil || strings.Contains(m[1], "..") {
		http.NotFound(w, r)
		return
	}
	if r.URL.Query().Get("service") == "git-receive-pack" || strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
		http.Error(w, "this server is read-only", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	creds, private := s.basicAuth[m[1]]
	s.mu.Unlock()
	if private {
		u, p, ok := r.BasicAuth()
		if !ok || u != creds[0] || p != creds[1] {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
	}
	backend.ServeHTTP(w, r)
}

// SetBasicAuth makes repo private over HTTPS, readable with user and token.
func (s *Server) SetBasicAuth(repo, user, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.basicAuth[repo+".git"] = [2]string{user, token}
}

func (s *Server) startSSH() error {
	_, hostKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	signer, err := ssh.NewSignerFromKey(hostKey)
	if err != nil {
		return err
	}
	s.sshConfig = &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.deployKeys[string(key.Marshal())] {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("unknown public key")
		},
	}
	s.sshConfig.AddHostKey(signer)
	s.sshLn, err = net.Listen("tcp", net.JoinHostPort(s.host, "0"))
	if err != nil {
		return err
	}
	s.SSHAddr = s.sshLn.Addr().String()
	s.KnownHosts = knownhosts.Line([]string{knownhosts.Normalize(s.SSHAddr)}, signer.PublicKey()) + "\n"
	go s.acceptSSH()
	return nil
}

// AddDeployKey authorizes an authorized_keys line for every repository.
func (s *Server) AddDeployKey(authorizedKey string) error {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		return fmt.Errorf("not an authorized_keys line: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deployKeys[string(key.Marshal())] = true
	return nil
}

// RemoveDeployKey revokes a deploy key added by AddDeployKey: connections
// that offer it are refused from now on.
func (s *Server) RemoveDeployKey(authorizedKey string) error {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		return fmt.Errorf("not an authorized_keys line: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.deployKeys, string(key.Marshal()))
	return nil
}

func (s *Server) acceptSSH() {
	for {
		conn, err := s.sshLn.Accept()
		if err != nil {
			return
		}
		go s.serveSSH(conn)
	}
}

var uploadPack = regexp.MustCompile(`^git-upload-pack '?/?([a-zA-Z0-9._-]+\.git)'?$`)

func (s *Server) serveSSH(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	_, chans, reqs, err := ssh.NewServerConn(conn, s.sshConfig)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			return
		}
		go s.serveSession(ch, requests)
	}
}

func (s *Server) serveSession(ch ssh.Channel, requests <-chan *ssh.Request) {
	defer ch.Close()
	for req := range requests {
		switch req.Type {
		case "env":
			_ = req.Reply(true, nil) // GIT_PROTOCOL and friends
		case "exec":
			var payload struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
				_ = req.Reply(false, nil)
				return
			}
			m := uploadPack.FindStringSubmatch(payload.Command)
			if m == nil || strings.Contains(m[1], "..") {
				_ = req.Reply(false, nil)
				fmt.Fprintf(ch.Stderr(), "only git-upload-pack is served\n")
				return
			}
			_ = req.Reply(true, nil)
			cmd := exec.Command(s.git, "upload-pack", filepath.Join(s.Root, m[1]))
			cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
			code := 0
			if err := cmd.Run(); err != nil {
				code = 1
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				}
			}
			_ = ch.CloseWrite()
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// HTTPSRepoURL is the HTTPS URL of repo.
func (s *Server) HTTPSRepoURL(repo string) string { return s.HTTPSURL + "/" + repo + ".git" }

// SSHRepoURL is the ssh:// URL of repo.
func (s *Server) SSHRepoURL(repo string) string {
	return "ssh://git@" + s.SSHAddr + "/" + repo + ".git"
}

// Commit writes files (path -> content; empty content deletes) into repo's
// main branch, creating the repository if needed, and returns the commit
// SHA once the push is announced to repo's webhooks.
func (s *Server) Commit(repo string, files map[string]string, message string) (string, error) {
	before, sha, err := s.commit(repo, files, message)
	if err != nil {
		return "", err
	}
	s.announce(repo, before, sha, message)
	return sha, nil
}

func (s *Server) commit(repo string, files map[string]string, message string) (before, sha string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bare := filepath.Join(s.Root, repo+".git")
	if _, err := os.Stat(bare); errors.Is(err, os.ErrNotExist) {
		if _, err := s.run("", "init", "--bare", "--initial-branch=main", bare); err != nil {
			return "", "", err
		}
	}
	work, err := os.MkdirTemp("", "gitserver-work-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(work)
	if _, err := s.run(work, "init", "--initial-branch=main", "."); err != nil {
		return "", "", err
	}
	if _, err := s.run(work, "fetch", bare, "main"); err == nil {
		if _, err := s.run(work, "reset", "--hard", "FETCH_HEAD"); err != nil {
			return "", "", err
		}
		if before, err = s.run(work, "rev-parse", "HEAD"); err != nil {
			return "", "", err
		}
	}
	for p, content := range files {
		full := filepath.Join(work, filepath.FromSlash(p))
		if content == "" {
			_ = os.Remove(full)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return "", "", err
		}
	}
	if _, err := s.run(work, "add", "-A"); err != nil {
		return "", "", err
	}
	if _, err := s.run(work, "-c", "user.name=arcgitops", "-c", "user.email=arcgitops@localhost", "commit", "--allow-empty", "-m", message); err != nil {
		return "", "", err
	}
	if _, err := s.run(work, "push", bare, "HEAD:refs/heads/main"); err != nil {
		return "", "", err
	}
	if sha, err = s.run(work, "rev-parse", "HEAD"); err != nil {
		return "", "", err
	}
	return strings.TrimSpace(before), strings.TrimSpace(sha), nil
}

func (s *Server) run(dir string, args ...string) (string, error) {
	cmd := exec.Command(s.git, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME="+os.TempDir())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}
