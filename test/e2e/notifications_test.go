package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// chatServer stands in for a webhook endpoint, Slack and Teams: it keeps
// every body posted to it, by path.
type chatServer struct {
	*httptest.Server
	mu    sync.Mutex
	posts map[string][]string
}

func startChatServer(t *testing.T) *chatServer {
	t.Helper()
	c := &chatServer{posts: map[string][]string{}}
	c.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.posts[r.URL.Path] = append(c.posts[r.URL.Path], string(b))
		c.mu.Unlock()
	}))
	// Where notification-controller reaches this machine.
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	c.Listener = l
	c.Start()
	t.Cleanup(c.Close)
	return c
}

func (c *chatServer) received(path string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.posts[path]...)
}

// fluxEvent is the part of Flux's event (what a generic Provider posts)
// the test reads.
type fluxEvent struct {
	InvolvedObject struct {
		Kind, Name, Namespace string
	} `json:"involvedObject"`
	Severity string            `json:"severity"`
	Reason   string            `json:"reason"`
	Message  string            `json:"message"`
	Metadata map[string]string `json:"metadata"`
}

// alertsYAML: one Provider of each kind the test covers (a generic webhook,
// Slack, Microsoft Teams) and an Alert for each, on the configuration's
// GitRepository and all its Kustomizations.
func alertsYAML(ns, config, chatURL string) string {
	var b strings.Builder
	for _, p := range []struct{ name, kind string }{{"webhook", "generic"}, {"slack", "slack"}, {"teams", "msteams"}} {
		fmt.Fprintf(&b, `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: %[1]s
  namespace: %[3]s
spec:
  type: %[2]s
  channel: general
  address: %[5]s/%[1]s
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: %[1]s
  namespace: %[3]s
spec:
  providerRef:
    name: %[1]s
  eventSeverity: info
  eventSources:
    - kind: GitRepository
      name: %[4]s
    - kind: Kustomization
      name: "*"
---
`, p.name, p.kind, ns, config, chatURL)
	}
	return b.String()
}

// TestAlerts: Alerts a configuration's repository carries deliver Flux's
// events about that configuration, through the real notification-
// controller, to a generic webhook and in Slack's and Teams' payload shapes.
func TestAlerts(t *testing.T) {
	dumpOnFailure(t)
	g := NewWithT(t)
	chat := startChatServer(t)
	_, err := env.Git.Commit("alerts", map[string]string{
		"notifications/alerts.yaml": alertsYAML("e2e-alerts", "alerts", chat.URL),
		"app/greeting.yaml":         configMapYAML("e2e-alerts", "greeting", "hello"),
	}, "alerts and an app")
	g.Expect(err).NotTo(HaveOccurred())
	cli(g, flux("create", "-n", "alerts", "--namespace", "e2e-alerts", "-u", env.Git.HTTPSRepoURL("alerts"), "--branch", "main",
		"--https-ca-cert-file", caFile, "--interval", "10s",
		"--kustomization", "name=notifications", "path=./notifications", "prune=true", "sync_interval=10s", "retry_interval=5s",
		"--kustomization", "name=app", "path=./app", "prune=true", "depends_on=notifications", "sync_interval=10s", "retry_interval=5s", "-o", "none")...)
	waitCompliance(t, "alerts", "Compliant")

	// The first events may precede the Alerts; a commit made once they
	// exist is announced for certain.
	sha, err := env.Git.Commit("alerts", map[string]string{"app/greeting.yaml": configMapYAML("e2e-alerts", "greeting", "hello again")}, "a new greeting")
	g.Expect(err).NotTo(HaveOccurred())
	var source, applied fluxEvent
	g.Eventually(func(g Gomega) {
		source, applied = fluxEvent{}, fluxEvent{}
		for _, body := range chat.received("/webhook") {
			var ev fluxEvent
			g.Expect(json.Unmarshal([]byte(body), &ev)).To(Succeed(), body)
			if !strings.HasSuffix(ev.Metadata["revision"], sha) {
				continue
			}
			switch ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name {
			case "GitRepository/alerts":
				source = ev
			case "Kustomization/alerts-app":
				if strings.Contains(ev.Message, "configured") {
					applied = ev
				}
			}
		}
		g.Expect(source.Reason).To(Equal("NewArtifact"), "the GitRepository's event for %s", sha)
		g.Expect(applied.Message).To(ContainSubstring("ConfigMap/e2e-alerts/greeting configured"), "the Kustomization's event for %s", sha)
	}, wait, poll).Should(Succeed())
	t.Logf("generic webhook: %s %s/%s %q; %s %s/%s %q", source.Reason, source.InvolvedObject.Kind, source.InvolvedObject.Name, source.Message,
		applied.Reason, applied.InvolvedObject.Kind, applied.InvolvedObject.Name, applied.Message)
	g.Expect(applied.InvolvedObject.Namespace).To(Equal("e2e-alerts"))
	g.Expect(applied.Severity).To(Equal("info"))

	// Slack's and Teams' payloads name the object as they do
	// (kind/name.namespace) and carry the same message.
	g.Eventually(func(g Gomega) {
		var slack struct {
			Channel     string `json:"channel"`
			Attachments []struct {
				AuthorName string `json:"author_name"`
				Text       string `json:"text"`
			} `json:"attachments"`
		}
		found := false
		for _, body := range chat.received("/slack") {
			g.Expect(json.Unmarshal([]byte(body), &slack)).To(Succeed(), body)
			g.Expect(slack.Channel).To(Equal("general"))
			for _, a := range slack.Attachments {
				found = found || a.AuthorName == "kustomization/alerts-app.e2e-alerts" && strings.Contains(a.Text, "greeting configured")
			}
		}
		g.Expect(found).To(BeTrue(), "a Slack attachment for the Kustomization's apply among %d posts", len(chat.received("/slack")))
		found = false
		for _, body := range chat.received("/teams") {
			var card struct {
				Type        string `json:"type"`
				Attachments []struct {
					ContentType string          `json:"contentType"`
					Content     json.RawMessage `json:"content"`
				} `json:"attachments"`
			}
			g.Expect(json.Unmarshal([]byte(body), &card)).To(Succeed(), body)
			g.Expect(card.Type).To(Equal("message"))
			for _, a := range card.Attachments {
				g.Expect(a.ContentType).To(Equal("application/vnd.microsoft.card.adaptive"))
				found = found || strings.Contains(string(a.Content), "kustomization/alerts-app.e2e-alerts") &&
					strings.Contains(string(a.Content), "greeting configured")
			}
		}
		g.Expect(found).To(BeTrue(), "a Teams adaptive card for the Kustomization's apply among %d posts", len(chat.received("/teams")))
	}, wait, poll).Should(Succeed())
}

// TestReceiver: a push to the Git server reaches the configuration at
// once through a Receiver (GitHub's push webhook, the real notification-
// controller), though the configuration polls only hourly.
func TestReceiver(t *testing.T) {
	if env.ReceiverAddr == "" {
		// make test and kind.sh always give it: in CI its absence is a
		// broken set-up, not a reason to skip.
		if os.Getenv("CI") != "" {
			t.Fatal("no receiver address in CI: make test-e2e-external-local and kind.sh set E2E_RECEIVER_ADDR")
		}
		t.Skip("E2E_RECEIVER_ADDR is not set: the Git server on this machine cannot announce pushes to notification-controller's receiver; " +
			"port-forward it (kubectl -n flux-system port-forward svc/webhook-receiver 9292:80) and set E2E_RECEIVER_ADDR=127.0.0.1:9292")
	}
	dumpOnFailure(t)
	g := NewWithT(t)
	_, err := env.Git.Commit("pushed", map[string]string{"app/greeting.yaml": configMapYAML("e2e-receiver", "greeting", "v1")}, "v1")
	g.Expect(err).NotTo(HaveOccurred())
	cli(g, flux("create", "-n", "pushed", "--namespace", "e2e-receiver", "-u", env.Git.HTTPSRepoURL("pushed"), "--branch", "main",
		"--https-ca-cert-file", caFile, "--interval", "1h",
		"--kustomization", "name=app", "path=./app", "prune=true", "sync_interval=1h", "-o", "none")...)
	waitCompliance(t, "pushed", "Compliant")

	// What a user applies next to the configuration: a token and a
	// Receiver for the configuration's GitRepository.
	tok := make([]byte, 20)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	g.Expect(k.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-receiver", Name: "push-token"},
		StringData: map[string]string{"token": token}})).To(Succeed())
	receiver := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
		"metadata": map[string]any{"namespace": "e2e-receiver", "name": "git-push"},
		"spec": map[string]any{
			"type": "github", "events": []any{"push"}, "secretRef": map[string]any{"name": "push-token"},
			"resources": []any{map[string]any{"apiVersion": sourcev1.GroupVersion.String(), "kind": "GitRepository", "name": "pushed"}},
		},
	}}
	g.Expect(k.Create(ctx, receiver)).To(Succeed())
	var path string
	g.Eventually(func(g Gomega) {
		g.Expect(k.Get(ctx, client.ObjectKeyFromObject(receiver), receiver)).To(Succeed())
		path, _, _ = unstructured.NestedString(receiver.Object, "status", "webhookPath")
		g.Expect(path).To(HavePrefix("/hook/"))
	}, wait, poll).Should(Succeed())
	env.Git.AddWebhook("pushed", "http://"+env.ReceiverAddr+path, token)

	pushed := time.Now()
	sha, err := env.Git.Commit("pushed", map[string]string{"app/greeting.yaml": configMapYAML("e2e-receiver", "greeting", "v2")}, "v2")
	g.Expect(err).NotTo(HaveOccurred())
	deliveries := env.Git.Deliveries()
	g.Expect(deliveries).NotTo(BeEmpty())
	g.Expect(deliveries[len(deliveries)-1].Err).To(BeEmpty(), "the Receiver took the push")
	// An hour's interval: only the Receiver can bring the commit in the
	// minute this waits. The figures are logged, not asserted.
	var fetched time.Duration
	g.Eventually(func(g Gomega) {
		repo := &sourcev1.GitRepository{}
		g.Expect(k.Get(ctx, client.ObjectKey{Namespace: "e2e-receiver", Name: "pushed"}, repo)).To(Succeed())
		g.Expect(repo.Status.Artifact).NotTo(BeNil())
		g.Expect(repo.Status.Artifact.Revision).To(HaveSuffix(sha))
		if fetched == 0 {
			fetched = time.Since(pushed)
		}
		g.Expect(configMap(g, "e2e-receiver", "greeting").Data["message"]).To(Equal("v2"))
	}, time.Minute, 100*time.Millisecond).Should(Succeed())
	t.Logf("push to artifact %s, push to applied %s", fetched.Round(time.Millisecond), time.Since(pushed).Round(time.Millisecond))
	g.Eventually(func(g Gomega) {
		g.Expect(show(g, "pushed")["sourceSyncedCommitId"]).To(Equal("main/" + sha))
	}, wait, poll).Should(Succeed())
}
