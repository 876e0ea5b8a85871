package gitserver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// A webhook announces a repository's pushes the way GitHub does: a POST of
// a push event, signed with the hook's secret in X-Hub-Signature-256.
// Flux's notification-controller takes it with a Receiver of type github.
type webhook struct {
	url    string
	secret string
}

// Delivery records one webhook call, as GitHub's "Recent Deliveries" does.
type Delivery struct {
	Repo string
	URL  string
	// After is the commit the push announced.
	After string
	// Status is the receiver's HTTP status, 0 when the call failed.
	Status int
	// Err says why the call failed, if it did.
	Err string
	At  time.Time
}

// AddWebhook announces every later push to repo to url, signed with secret.
func (s *Server) AddWebhook(repo, url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhooks[repo] = append(s.webhooks[repo], webhook{url: url, secret: secret})
}

// Deliveries returns every webhook call made so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// pushEvent holds the fields of GitHub's push event payload that receivers
// read.
type pushEvent struct {
	Ref        string `json:"ref"`
	Before     string `json:"before"`
	After      string `json:"after"`
	Repository struct {
		Name     string `json:"name"`
		FullName string `json:"full_name"`
		CloneURL string `json:"clone_url"`
		SSHURL   string `json:"ssh_url"`
	} `json:"repository"`
	HeadCommit struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	} `json:"head_commit"`
}

// webhookTimeout bounds one delivery, as GitHub gives a receiver 10 s.
const webhookTimeout = 10 * time.Second

// announce calls repo's webhooks with a push from before to after. A failed
// call is recorded, never retried, and does not fail the push (GitHub's
// behaviour).
func (s *Server) announce(repo, before, after, message string) {
	s.mu.Lock()
	hooks := append([]webhook(nil), s.webhooks[repo]...)
	s.mu.Unlock()
	if len(hooks) == 0 {
		return
	}
	ev := pushEvent{Ref: "refs/heads/main", Before: before, After: after}
	if ev.Before == "" {
		ev.Before = "0000000000000000000000000000000000000000"
	}
	ev.Repository.Name, ev.Repository.FullName = repo, "local/"+repo
	ev.Repository.CloneURL, ev.Repository.SSHURL = s.HTTPSRepoURL(repo), s.SSHRepoURL(repo)
	ev.HeadCommit.ID, ev.HeadCommit.Message = after, message
	body, _ := json.Marshal(ev)
	for _, h := range hooks {
		d := Delivery{Repo: repo, URL: h.url, After: after, At: time.Now()}
		d.Status, d.Err = deliver(h, body)
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		s.mu.Unlock()
	}
}

func deliver(h webhook, body []byte) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	mac := hmac.New(sha256.New, []byte(h.secret))
	mac.Write(body)
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "arcgitops-gitserver")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", hex.EncodeToString(id))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Sprintf("the receiver answered %s", resp.Status)
	}
	return resp.StatusCode, ""
}
