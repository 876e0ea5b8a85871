package cli

import (
	"github.com/spf13/cobra"
)

// The helpers every command is built from, so that each command states only
// what differs: its flags and what it does.

// leaf is a command that takes flags only (az's commands take no
// positional arguments).
func leaf(use, short string, run func(cmd *cobra.Command) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd) }}
}

// group is a command that only holds others.
func group(use, short string, children ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short}
	cmd.AddCommand(children...)
	return cmd
}

// required registers a required string flag.
func required(cmd *cobra.Command, p *string, name, shorthand, usage string) {
	cmd.Flags().StringVarP(p, name, shorthand, "", usage)
	_ = cmd.MarkFlagRequired(name)
}

// bindYes registers --yes, which skips the confirmation of a deletion.
func bindYes(cmd *cobra.Command, yes *bool) {
	cmd.Flags().BoolVarP(yes, "yes", "y", false, "Do not prompt for confirmation.")
}

// configFlags name one flux configuration: the cluster and --name.
type configFlags struct {
	clusterFlags
	Name string
}

func (c *configFlags) bind(cmd *cobra.Command, usage string) {
	c.clusterFlags.bind(cmd)
	required(cmd, &c.Name, "name", "n", usage)
}

const configNameUsage = "Name of the flux configuration."

// readCommand is a command that reads one configuration and shows
// something of it; bind adds flags beyond the configuration's.
func (a *App) readCommand(use, short string, bind func(cmd *cobra.Command), show func(c *configFlags, cfg map[string]any) error) *cobra.Command {
	var c configFlags
	cmd := leaf(use, short, func(*cobra.Command) error {
		cfg, err := a.getConfig(&c)
		if err != nil {
			return err
		}
		return show(&c, cfg)
	})
	c.bind(cmd, configNameUsage)
	if bind != nil {
		bind(cmd)
	}
	return cmd
}
