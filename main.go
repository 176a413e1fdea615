// Command calm is a terminal black box and a calm checklist for on-call
// responders. See README.md.
package main

import (
	"os"

	"calm/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
