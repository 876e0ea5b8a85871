package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/arcgitops/arcgitops/internal/arm"
	"github.com/arcgitops/arcgitops/internal/armclient"
)

// profile is what `arcgitops login` keeps (0600) for the commands after
// it: a service principal's sign-in, as az keeps its own.
type profile struct {
	AppID    string `json:"appId"`
	Password string `json:"password"`
	Tenant   string `json:"tenant"`
}

// configDir is the user's arcgitops directory.
func (a *App) configDir() (string, error) {
	dir := a.ConfigDir
	if dir == "" {
		d, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("cannot find a config directory: %w", err)
		}
		dir = d
	}
	return filepath.Join(dir, "arcgitops"), nil
}

func (a *App) profilePath() (string, error) {
	dir, err := a.configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "profile.json"), nil
}

var errNotSignedIn = errors.New("not signed in: run 'arcgitops login --service-principal -u <appId> -p <secret>', or set ARCGITOPS_CLIENT_ID and ARCGITOPS_CLIENT_SECRET")

// credentials are the service principal to sign in as: ARCGITOPS_CLIENT_ID
// and ARCGITOPS_CLIENT_SECRET when set, else the profile of the last login.
func (a *App) credentials() (profile, error) {
	if id, secret := a.Getenv("ARCGITOPS_CLIENT_ID"), a.Getenv("ARCGITOPS_CLIENT_SECRET"); id != "" || secret != "" {
		if id == "" || secret == "" {
			return profile{}, usagef("set both ARCGITOPS_CLIENT_ID and ARCGITOPS_CLIENT_SECRET, or neither")
		}
		return profile{AppID: id, Password: secret}, nil
	}
	path, err := a.profilePath()
	if err != nil {
		return profile{}, err
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return profile{}, errNotSignedIn
	}
	if err != nil {
		return profile{}, err
	}
	var p profile
	if err := json.Unmarshal(raw, &p); err != nil || p.AppID == "" {
		return profile{}, fmt.Errorf("%s is not a profile: sign in again with 'arcgitops login'", path)
	}
	return p, nil
}

// tokenSource signs in on the first request that needs a token, with the
// credentials found then, and keeps the token for the invocation.
type tokenSource struct {
	a    *App
	once sync.Once
	ts   oauth2.TokenSource
	err  error
}

func (t *tokenSource) Token() (*oauth2.Token, error) {
	t.once.Do(func() {
		var p profile
		if p, t.err = t.a.credentials(); t.err == nil {
			t.ts = t.a.signInAs(p)
		}
	})
	if t.err != nil {
		return nil, t.err
	}
	return t.ts.Token()
}

// signInAs is a token source for p at the data plane's issuer.
func (a *App) signInAs(p profile) oauth2.TokenSource {
	audience := a.Getenv("ARCGITOPS_AUDIENCE")
	if audience == "" {
		audience = arm.DefaultAudience
	}
	return armclient.ClientCredentials(a.dataplane+"/adfs/oauth2/token", p.AppID, p.Password, audience, a.HTTP)
}

func (a *App) loginCommand() *cobra.Command {
	var p profile
	var sp bool
	cmd := leaf("login", "Sign in to the data plane as a service principal; later commands use this sign-in.", func(*cobra.Command) error {
		if !sp {
			return usagef("the data plane signs in service principals only: add --service-principal")
		}
		if _, err := a.signInAs(p).Token(); err != nil {
			return a.reachable(&armclient.SignInError{Err: err})
		}
		path, err := a.profilePath()
		if err != nil {
			return err
		}
		raw, _ := json.Marshal(p)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			return fmt.Errorf("cannot keep the sign-in in %s: %w", path, err)
		}
		c := a.client()
		c.Token = a.signInAs(p)
		subs, err := armclient.List[map[string]any](context.Background(), c, "/subscriptions?api-version=2022-12-01")
		if err != nil {
			return a.reachable(err)
		}
		out := make([]map[string]any, 0, len(subs))
		for _, s := range subs {
			out = append(out, map[string]any{
				"cloudName": "arcgitops", "id": s["subscriptionId"], "isDefault": s["subscriptionId"] == a.subscription,
				"name": s["displayName"], "state": s["state"], "tenantId": s["tenantId"],
				"user": map[string]string{"name": p.AppID, "type": "servicePrincipal"},
			})
		}
		if len(out) == 0 {
			a.warn("no subscription is visible to %s: it holds no role yet (an owner gives it one with 'arcgitops role assignment create')", p.AppID)
		}
		return a.print(out, []column{{"Name", "name"}, {"SubscriptionId", "id"}, {"TenantId", "tenantId"}, {"IsDefault", "isDefault"}})
	})
	cmd.Flags().BoolVar(&sp, "service-principal", false, "Sign in with a service principal's appId and secret (the only kind of sign-in served).")
	required(cmd, &p.AppID, "username", "u", "The service principal's appId.")
	required(cmd, &p.Password, "password", "p", "The service principal's secret.")
	cmd.Flags().StringVarP(&p.Tenant, "tenant", "t", "adfs", "The tenant (the data plane's --tenant-id).")
	return cmd
}

func (a *App) logoutCommand() *cobra.Command {
	return leaf("logout", "Forget the sign-in kept by 'arcgitops login'.", func(*cobra.Command) error {
		path, err := a.profilePath()
		if err != nil {
			return err
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	})
}

func (a *App) accountCommand() *cobra.Command {
	show := leaf("show", "Show the subscription in use and who is signed in.", func(*cobra.Command) error {
		p, err := a.credentials()
		if err != nil {
			return err
		}
		var sub map[string]any
		if _, err := a.call(http.MethodGet, "/subscriptions/"+a.subscription+"?api-version=2022-12-01", nil, &sub); err != nil {
			return err
		}
		return a.print(map[string]any{
			"environmentName": "arcgitops", "id": sub["subscriptionId"], "name": sub["displayName"], "isDefault": true,
			"state": sub["state"], "tenantId": sub["tenantId"], "user": map[string]string{"name": p.AppID, "type": "servicePrincipal"},
		}, []column{{"Name", "name"}, {"SubscriptionId", "id"}, {"TenantId", "tenantId"}})
	})
	return group("account", "Show the sign-in and subscription in use.", show)
}
