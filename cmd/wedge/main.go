// Command wedge is the Wedge edge node.
//
//	wedge serve --config FILE   run a node
//	wedge validate FILE         check a configuration and list every problem
//	wedge version               print the version
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `usage:
  wedge serve --config FILE   run an edge node
  wedge validate FILE         check a configuration; exit 1 listing every problem
  wedge version               print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "wedge %s\n", version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "wedge: unknown command %q\n%s", args[0], usage)
		return 2
	}
}
