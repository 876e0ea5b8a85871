package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/arcgitops/arcgitops/internal/armclient"
)

// bindNoWait registers --no-wait, as az's long-running commands have it.
func bindNoWait(cmd *cobra.Command, noWait *bool) {
	cmd.Flags().BoolVar(noWait, "no-wait", false, "Do not wait for the long-running operation to finish (az's --no-wait): return once the data plane has accepted it.")
}

// settle waits, unless noWait, for the long-running operation resp
// started: until the cluster has applied the change (or removed the
// configuration), as az does. A failed operation is an error.
func (a *App) settle(resp *armclient.Response, noWait bool) error {
	if noWait || !armclient.IsLongRunning(resp) {
		return nil
	}
	if !a.onlyErrors {
		fmt.Fprintln(a.Err, " - Running ..")
	}
	c := a.client()
	c.PollInterval = a.PollInterval
	_, err := c.Wait(context.Background(), resp)
	return a.reachable(err)
}

// writeAndSettle sends a PUT or PATCH of configuration c, waits for it
// unless noWait, and returns the configuration as it is then.
func (a *App) writeAndSettle(method string, c *configFlags, body any, noWait bool) (map[string]any, error) {
	path, err := a.fluxPath(c)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	resp, err := a.call(method, path, body, &out)
	if err != nil {
		return nil, err
	}
	if noWait || !armclient.IsLongRunning(resp) {
		return out, nil
	}
	if err := a.settle(resp, false); err != nil {
		return nil, err
	}
	out = nil
	if _, err := a.call(http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
