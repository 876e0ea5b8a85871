package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arcgitops/arcgitops/internal/gitprobe"
)

// TestSSHKeyRotation rotates a configuration's generated deploy key through
// the CLI on real source-controller: the new public key is printed and
// published while the old key keeps syncing, the switch follows the
// confirmation, the source stays Ready the whole time, and once the old
// key is revoked at the Git host it reads nothing while the new one
// carries the next commit.
func TestSSHKeyRotation(t *testing.T) {
	dumpOnFailure(t)
	g := NewWithT(t)
	_, err := env.Git.Commit("rotated", map[string]string{"app/greeting.yaml": configMapYAML("e2e-rotation", "greeting", "v1")}, "v1")
	g.Expect(err).NotTo(HaveOccurred())
	khFile := filepath.Join(t.TempDir(), "known_hosts")
	g.Expect(os.WriteFile(khFile, []byte(env.Git.KnownHosts), 0o600)).To(Succeed())
	cli(g, flux("create", "-n", "rotated", "--namespace", "e2e-rotation", "-u", env.Git.SSHRepoURL("rotated"), "--branch", "main",
		"--known-hosts-file", khFile, "--interval", "10s",
		"--kustomization", "name=app", "path=./app", "prune=true", "sync_interval=10s", "-o", "none")...)
	var oldKey string
	g.Eventually(func(g Gomega) {
		oldKey, _ = show(g, "rotated")["repositoryPublicKey"].(string)
		g.Expect(oldKey).NotTo(BeEmpty())
	}, wait, poll).Should(Succeed())
	g.Expect(env.Git.AddDeployKey(oldKey)).To(Succeed())
	waitCompliance(t, "rotated", "Compliant")
	keySecret := &corev1.Secret{}
	g.Expect(k.Get(ctx, client.ObjectKey{Namespace: "e2e-rotation", Name: "rotated-ssh-key"}, keySecret)).To(Succeed())
	oldPrivate := keySecret.Data["identity"]

	// From here to the end the source must stay Ready: sampled on the side.
	watch := watchReady(t, client.ObjectKey{Namespace: "e2e-rotation", Name: "rotated"})

	out := cli(g, flux("update", "-n", "rotated", "--rotate-ssh-key", "--ssh-key-grace-period", "1h", "-o", "none")...)
	props := show(g, "rotated")
	sshKey, _ := props["sshKey"].(map[string]any)
	newKey, _ := sshKey["pendingPublicKey"].(string)
	g.Expect(newKey).To(HavePrefix("ssh-rsa "), "the next key, RSA as the first")
	g.Expect(newKey).NotTo(Equal(oldKey))
	g.Expect(out).To(ContainSubstring(strings.TrimSpace(newKey)), "update prints the public key to add")
	g.Expect(props["repositoryPublicKey"]).To(Equal(oldKey), "the old key stays in use until the switch")

	// The user adds the deploy key and confirms.
	g.Expect(env.Git.AddDeployKey(newKey)).To(Succeed())
	cli(g, flux("update", "-n", "rotated", "--confirm-ssh-key-rotation", "-o", "none")...)
	g.Eventually(func(g Gomega) {
		props := show(g, "rotated")
		g.Expect(props["repositoryPublicKey"]).To(Equal(newKey))
		sshKey, _ := props["sshKey"].(map[string]any)
		g.Expect(sshKey).To(HaveKey("lastRotatedAt"))
		g.Expect(sshKey).NotTo(HaveKey("pendingPublicKey"))
	}, wait, poll).Should(Succeed())
	t.Logf("rotated: %s", show(g, "rotated")["sshKey"])

	// The old key is revoked at the host: it reads nothing, and the next
	// commit arrives through the new one.
	g.Expect(env.Git.RemoveDeployKey(oldKey)).To(Succeed())
	probe, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	g.Expect(gitprobe.CanRead(probe, env.Git.SSHRepoURL("rotated"), oldPrivate, []byte(env.Git.KnownHosts))).To(MatchError(ContainSubstring("unable to authenticate")))
	sha, err := env.Git.Commit("rotated", map[string]string{"app/greeting.yaml": configMapYAML("e2e-rotation", "greeting", "v2")}, "v2")
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func(g Gomega) {
		g.Expect(show(g, "rotated")["sourceSyncedCommitId"]).To(Equal("main/" + sha))
		g.Expect(configMap(g, "e2e-rotation", "greeting").Data["message"]).To(Equal("v2"))
	}, wait, poll).Should(Succeed())
	var secrets corev1.SecretList
	g.Expect(k.List(ctx, &secrets, client.InNamespace("e2e-rotation"))).To(Succeed())
	for _, s := range secrets.Items {
		for name, v := range s.Data {
			g.Expect(string(v)).NotTo(Equal(string(oldPrivate)), "the old private key is gone (Secret %s, %s)", s.Name, name)
		}
	}
	samples, notReady := watch()
	g.Expect(notReady).To(BeEmpty(), "the GitRepository was not Ready at some point of the rotation (%d samples)", samples)
	t.Logf("the GitRepository was never refused (Ready=False or without Ready) in %d samples of the rotation", samples)
}

// watchReady samples obj's Ready condition every 200 ms until the
// returned function is called, which returns how many samples were taken
// and the ones in which it was not Ready: Ready=False or absent (a key the
// host refuses makes it False; Unknown is a fetch in flight, as when the
// test's own next commit is being built).
func watchReady(t *testing.T, key client.ObjectKey) func() (int, []string) {
	t.Helper()
	var (
		mu       sync.Mutex
		samples  int
		notReady []string
	)
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			repo := &sourcev1.GitRepository{}
			err := k.Get(ctx, key, repo)
			mu.Lock()
			samples++
			switch {
			case err != nil:
				notReady = append(notReady, err.Error())
			case conditions.IsUnknown(repo, meta.ReadyCondition) && conditions.Has(repo, meta.ReadyCondition):
				// In flight (a new revision being built): not a refusal.
			case !conditions.IsTrue(repo, meta.ReadyCondition):
				msg := "no Ready condition"
				if c := conditions.Get(repo, meta.ReadyCondition); c != nil {
					msg = c.Reason + ": " + c.Message
				}
				notReady = append(notReady, time.Now().Format(time.RFC3339Nano)+" "+msg)
			}
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	var once sync.Once
	stop := func() (int, []string) {
		once.Do(func() { close(done); <-stopped })
		mu.Lock()
		defer mu.Unlock()
		return samples, notReady
	}
	t.Cleanup(func() { stop() })
	return stop
}
