// Command calm is a terminal black box and a calm checklist for on-call
// responders. See README.md.
package main

import (
	"os"

	"calm/cli"
)

func main() {
	args := cli.HideSecrets(os.Args)
	os.Exit(cli.Main(args[1:], os.Stdin, os.Stdout, os.Stderr))
}
