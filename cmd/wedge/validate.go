package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/wedgeproxy/wedge/edge/config"
)

// validate loads a configuration with the same loader as serve and reports
// every problem.
func validate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: wedge validate FILE")
		return 2
	}
	cfg, err := config.LoadFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	routes := 0
	for _, t := range cfg.Tenants {
		routes += len(t.Routes)
	}
	fmt.Fprintf(stdout, "%s: ok (%s, %s, %s)\n", fs.Arg(0), count(len(cfg.Listeners), "listener"), count(len(cfg.Tenants), "tenant"), count(routes, "route"))
	return 0
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
