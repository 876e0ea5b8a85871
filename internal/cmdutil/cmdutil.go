// Package cmdutil holds what every command of this project does the same
// way with its command line.
package cmdutil

import (
	"flag"
	"fmt"
	"path/filepath"
)

// NoArgs returns an error when fs, already parsed, was given positional
// arguments: every command here takes flags only, and one that ignored a
// stray word (`dataplane k8s-configuration flux create --help`) would start
// serving instead of saying the command line is wrong. The error names the
// first argument; the caller prints it with the usage and exits 2.
func NoArgs(fs *flag.FlagSet) error {
	if fs.NArg() == 0 {
		return nil
	}
	return fmt.Errorf("unexpected argument %q: %s takes flags only (-h lists them)", fs.Arg(0), filepath.Base(fs.Name()))
}

// MustNoArgs is NoArgs for a main: it prints the error and the usage to
// fs's output and exits 2.
func MustNoArgs(fs *flag.FlagSet, exit func(int)) {
	if err := NoArgs(fs); err != nil {
		fmt.Fprintf(fs.Output(), "%s: %v\n", filepath.Base(fs.Name()), err)
		fs.Usage()
		exit(2)
	}
}
