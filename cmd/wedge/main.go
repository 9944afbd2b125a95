// Command wedge is the Wedge edge node.
//
//	wedge serve --config FILE   run a node
//	wedge validate FILE         check a configuration and list every problem
//	wedge version               print the version
//	wedge tenant|domain|token|filter|upstream|routes|purge|status|apply …
//	                            manage tenants through a node's admin API
//	                            (wedge help lists them)
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
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
		fmt.Fprint(stderr, usage+cliUsage())
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
		if len(args) > 1 && isCLI(args[1]) { // wedge help filter [push]
			return cli(append(args[1:len(args):len(args)], "-h"), stdout, stderr)
		}
		fmt.Fprint(stdout, usage+cliUsage())
		return 0
	default:
		if isCLI(args[0]) || strings.HasPrefix(args[0], "-") {
			return cli(args, stdout, stderr)
		}
		fmt.Fprintf(stderr, "wedge: unknown command %q\n%s", args[0], usage+cliUsage())
		return 2
	}
}
