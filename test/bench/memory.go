package main

import (
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arcgitops/arcgitops/internal/auth"
	"github.com/arcgitops/arcgitops/internal/builder"
)

// memoryKeyPool is how many distinct key pairs measure 3's key Secrets
// share: the size of a Secret, not its key's uniqueness, is what the
// manager's memory could depend on, and 10,000 RSA-4096 keys would take an
// hour of CPU to generate.
const memoryKeyPool = 8

// measureMemory runs measure 3: the manager's RSS and live heap at each of
// o.memorySizes FluxConfigs, with Ed25519 and with RSA-4096 key Secrets
// (the production default), each on a fresh cluster, and the slope per
// FluxConfig between the smallest and the largest count.
func measureMemory(o options, rep *report) error {
	for _, alg := range []auth.KeyAlgorithm{"ed25519", "rsa-4096"} {
		if err := memoryWith(o, alg, rep); err != nil {
			return fmt.Errorf("memory with %s keys: %w", alg, err)
		}
	}
	return nil
}

func memoryWith(o options, alg auth.KeyAlgorithm, rep *report) error {
	c, err := startCluster()
	if err != nil {
		return err
	}
	defer c.stop()
	progress("3. Manager memory with %s key Secrets (generating %d key pairs)", alg, memoryKeyPool)
	var keys []*auth.KeyPair
	for i := 0; i < memoryKeyPool; i++ {
		kp, err := auth.GenerateKeyPair(alg)
		if err != nil {
			return err
		}
		keys = append(keys, kp)
	}
	r, err := c.withManager(o, "manager-"+string(alg), "--ssh-key-algorithm="+string(alg), "--memory-limit="+o.memoryLimit)
	if err != nil {
		return err
	}
	defer r.stop()

	k := c.env.Client
	total := 0
	type sample struct{ rss, heap float64 }
	at := map[int]sample{}
	for _, n := range o.memorySizes {
		add := n - total
		prefix := fmt.Sprintf("mem-%d", n)
		progress("3. %d FluxConfigs with %s key Secrets: adding %d", n, alg, add)
		if err := createNamespaces(r.ctx, k, prefix); err != nil {
			return err
		}
		// The key Secrets first, as a restarted manager finds them: it
		// adopts them instead of generating keys.
		if err := parallel(add, 8, func(i int) error { return k.Create(r.ctx, keySecret(prefix, i, keys[i%len(keys)])) }); err != nil {
			return err
		}
		if err := parallel(add, 8, func(i int) error { return k.Create(r.ctx, agentFluxConfig(prefix, i)) }); err != nil {
			return err
		}
		if err := waitConverged(r.ctx, r.w, prefix, add, 30*time.Minute); err != nil {
			return err
		}
		total = n
		time.Sleep(5 * time.Second) // let the last statuses settle
		profile := ""
		if o.profile != "" {
			profile = filepath.Join(o.profile, fmt.Sprintf("manager-heap-%s-%d.pprof", alg, n))
		}
		rss, heap, err := r.m.memory(profile)
		if err != nil {
			return err
		}
		at[n] = sample{rss, heap}
		rep.add(row{name: fmt.Sprintf("3. manager memory, %s key Secrets, %d FluxConfigs", alg, n),
			value: fmt.Sprintf("RSS %.0f MiB, live heap %.0f MiB", rss/(1<<20), heap/(1<<20)), target: "< 300 MiB at 5000"})
	}
	if lo, hi := o.memorySizes[0], o.memorySizes[len(o.memorySizes)-1]; hi > lo {
		d := float64(hi - lo)
		rep.add(row{name: fmt.Sprintf("3. memory per FluxConfig, %s key Secrets (%d -> %d)", alg, lo, hi),
			value: fmt.Sprintf("live heap %.1f KiB, RSS %.1f KiB", (at[hi].heap-at[lo].heap)/d/1024, (at[hi].rss-at[lo].rss)/d/1024)})
	}
	return nil
}

// keySecret is the generated key Secret of FluxConfig i of a run with
// prefix, holding kp, as the controller writes it (without the owner
// reference, which needs the FluxConfig's UID).
func keySecret(prefix string, i int, kp *auth.KeyPair) *corev1.Secret {
	fc := agentFluxConfig(prefix, i)
	state := auth.KeyState{Current: kp, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: fc.Namespace, Name: builder.KeySecretName(fc.Name),
			Labels: builder.Labels(fc), Annotations: state.Annotations()},
		Type: corev1.SecretTypeOpaque,
		Data: state.SecretData(),
	}
}
