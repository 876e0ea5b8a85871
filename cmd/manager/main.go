// Command manager runs the FluxConfig operator: the FluxConfig reconciler,
// the flux-applier RBAC reconciler and, when a data plane is configured,
// the agent that syncs the cluster with it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/arcgitops/arcgitops/internal/cmdutil"
	"github.com/arcgitops/arcgitops/internal/manager"
)

func main() {
	opts := manager.DefaultOptions()
	fs := flag.NewFlagSet("manager", flag.ExitOnError)
	opts.BindFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(2)
	}
	cmdutil.MustNoArgs(fs, os.Exit)
	if err := manager.Run(opts); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(1)
	}
}
