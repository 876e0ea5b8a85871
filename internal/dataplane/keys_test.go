package dataplane

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcgitops/arcgitops/internal/agentapi"
	"github.com/arcgitops/arcgitops/internal/dataplane/store"
)

// keyRig runs data planes one after another on one data directory.
type keyRig struct {
	t     *testing.T
	dir   string
	srv   *Server
	ts    *httptest.Server
	token string
}

func (k *keyRig) start(mutate ...func(*Options)) error {
	opts := DefaultOptions()
	opts.DataDir, opts.RatePerSecond = k.dir, 0
	for _, m := range mutate {
		m(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		return err
	}
	k.srv, k.ts = srv, httptest.NewServer(srv.Handler())
	return nil
}

func (k *keyRig) stop() {
	k.ts.Close()
	_ = k.srv.Close()
}

func (k *keyRig) fixture() *fixture { return &fixture{t: k.t, srv: k.srv, ts: k.ts} }

// putWithToken creates configuration name with a protected httpsKey.
func (k *keyRig) putWithToken(name, key string) {
	k.t.Helper()
	body := `{"properties":{"namespace":"ns","gitRepository":{"url":"https://github.com/org/r","repositoryRef":{"branch":"main"},"httpsUser":"bot"},` +
		`"configurationProtectedSettings":{"httpsKey":"` + key + `"}}}`
	if r := k.fixture().do(http.MethodPut, av(clusterA+fluxPath+"/"+name), body); r.status != http.StatusCreated && r.status != http.StatusOK {
		k.t.Fatalf("put %s: %d %s", name, r.status, r.body)
	}
}

// desired is the agent's view: protected settings by configuration.
func (k *keyRig) desired() map[string]*agentapi.ProtectedSettings {
	k.t.Helper()
	r := k.fixture().do(http.MethodGet, agentapi.PathPrefix+clusterA+"/fluxConfigurations", "", "Authorization", "Bearer "+k.token)
	if r.status != http.StatusOK {
		k.t.Fatalf("agent list: %d %s", r.status, r.body)
	}
	var state agentapi.DesiredState
	if err := json.Unmarshal(r.body, &state); err != nil {
		k.t.Fatal(err)
	}
	out := map[string]*agentapi.ProtectedSettings{}
	for _, c := range state.Configurations {
		out[c.Name] = c.ProtectedSettings
	}
	return out
}

func (k *keyRig) props(name string) map[string]any {
	k.t.Helper()
	return k.fixture().do(http.MethodGet, av(clusterA+fluxPath+"/"+name), "").json(k.t)["properties"].(map[string]any)
}

func newKeyRig(t *testing.T) *keyRig {
	t.Helper()
	k := &keyRig{t: t, dir: t.TempDir()}
	if err := k.start(); err != nil {
		t.Fatal(err)
	}
	k.token = k.fixture().register(clusterA)
	k.putWithToken("cfg", "dG9rZW4=")
	f := k.fixture()
	if r := f.do(http.MethodPut, vaultID+vaultAPI, vaultBody(true)); r.status != http.StatusCreated {
		t.Fatalf("vault: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPut, vaultID+"/secrets/s"+vaultAPI, `{"properties":{"value":"dmF1bHQ="}}`); r.status != http.StatusCreated {
		t.Fatalf("vault secret: %d %s", r.status, r.body)
	}
	k.stop()
	return k
}

// vaultSecret is the vault secret the rig made, opened; "" when gone.
func (k *keyRig) vaultSecret() string {
	k.t.Helper()
	var sec *store.VaultSecret
	if err := k.srv.store.View(func(tx store.Tx) (err error) { sec, err = tx.VaultSecret(vaultID + "/secrets/s"); return err }); err != nil {
		return ""
	}
	values, err := k.srv.sealer.open(sec.Sealed, sec.KeyID, store.Key(sec.ID))
	if err != nil {
		k.t.Fatal(err)
	}
	if sec.KeyID != k.srv.sealer.active {
		k.t.Errorf("the vault secret is sealed with %s, not the active %s", sec.KeyID, k.srv.sealer.active)
	}
	return values["value"]
}

// TestMissingKeyStopsTheStart: the key file is lost while protected
// settings wait in the store. The data plane does not start with a new key
// (which made every list of the cluster fail); it says how to recover, and
// with --reset-protected-settings gives those settings up, marking their
// configuration Failed, and seals new ones with a new key.
func TestMissingKeyStopsTheStart(t *testing.T) {
	k := newKeyRig(t)
	key := filepath.Join(k.dir, keyFile)
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	err := k.start()
	if err == nil || !strings.Contains(err.Error(), "Restore protected-settings.key") || !strings.Contains(err.Error(), "--reset-protected-settings") {
		t.Fatalf("start without the key: %v", err)
	}
	if _, err := os.Stat(key); !os.IsNotExist(err) {
		t.Fatalf("a new key was created over the lost one: %v", err)
	}

	if err := k.start(func(o *Options) { o.ResetProtectedSettings = true }); err != nil {
		t.Fatal(err)
	}
	defer k.stop()
	if p := k.props("cfg"); p["provisioningState"] != "Failed" || p["errorMessage"] != msgKeyLost {
		t.Errorf("the configuration whose settings were lost: %v, %v", p["provisioningState"], p["errorMessage"])
	}
	if d := k.desired(); d["cfg"] != nil {
		t.Errorf("lost settings are still sent: %+v", d["cfg"])
	}
	k.putWithToken("cfg", "bmV3")
	if d := k.desired(); d["cfg"] == nil || d["cfg"].Values["httpsKey"] != "bmV3" {
		t.Errorf("settings given again: %+v", d["cfg"])
	}
	if v := k.vaultSecret(); v != "" {
		t.Errorf("a vault secret sealed with the lost key is still there")
	}
}

// TestKeyRotation: a rotation makes a new key active, seals every waiting
// value again with it, and keeps the old key as retired.
func TestKeyRotation(t *testing.T) {
	k := newKeyRig(t)
	if err := k.start(func(o *Options) { o.RotateProtectedSettingsKey = true }); err != nil {
		t.Fatal(err)
	}
	defer k.stop()
	retired, _ := filepath.Glob(filepath.Join(k.dir, retiredPrefix+"*"+retiredSuffix))
	if len(retired) != 1 {
		t.Fatalf("retired keys: %v", retired)
	}
	var cfg *store.Config
	if err := k.srv.store.View(func(tx store.Tx) (err error) { cfg, err = tx.Config(clusterA, "cfg"); return err }); err != nil {
		t.Fatal(err)
	}
	if cfg.Protected.KeyID != k.srv.sealer.active || strings.Contains(retired[0], cfg.Protected.KeyID) {
		t.Errorf("the value is sealed with %s; active %s, retired %s", cfg.Protected.KeyID, k.srv.sealer.active, retired[0])
	}
	if d := k.desired(); d["cfg"] == nil || d["cfg"].Values["httpsKey"] != "dG9rZW4=" {
		t.Errorf("after rotation: %+v", d["cfg"])
	}
	if v := k.vaultSecret(); v != "dmF1bHQ=" {
		t.Errorf("the vault secret after rotation: %q", v)
	}
}

// TestCorruptRecordFailsOnlyItsConfiguration: protected settings that
// cannot be opened fail their configuration, not the whole cluster.
func TestCorruptRecordFailsOnlyItsConfiguration(t *testing.T) {
	k := newKeyRig(t)
	if err := k.start(); err != nil {
		t.Fatal(err)
	}
	defer k.stop()
	k.putWithToken("other", "b3RoZXI=")
	if err := k.srv.store.Update(func(tx store.Tx) error {
		cfg, err := tx.Config(clusterA, "cfg")
		if err != nil {
			return err
		}
		cfg.Protected.Sealed[len(cfg.Protected.Sealed)-1] ^= 0xff
		return tx.PutConfig(cfg)
	}); err != nil {
		t.Fatal(err)
	}
	d := k.desired()
	if d["other"] == nil || d["other"].Values["httpsKey"] != "b3RoZXI=" {
		t.Errorf("the healthy configuration lost its settings: %+v", d["other"])
	}
	if _, ok := d["cfg"]; !ok || d["cfg"] != nil {
		t.Errorf("the corrupt configuration: present %v, settings %+v", ok, d["cfg"])
	}
	if p := k.props("cfg"); p["provisioningState"] != "Failed" || p["errorMessage"] != msgUnreadable {
		t.Errorf("the corrupt configuration in ARM: %v, %v", p["provisioningState"], p["errorMessage"])
	}
	if p := k.props("other"); p["provisioningState"] == "Failed" {
		t.Errorf("the healthy configuration failed: %v", p["errorMessage"])
	}
}
