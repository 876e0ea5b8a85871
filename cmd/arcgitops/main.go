// Command arcgitops mirrors `az k8s-configuration flux` and
// `az connectedk8s` against the arcgitops data plane.
package main

import (
	"os"

	"github.com/arcgitops/arcgitops/internal/cli"
)

func main() {
	os.Exit((&cli.App{Out: os.Stdout, Err: os.Stderr, In: os.Stdin}).Run(os.Args[1:]))
}
