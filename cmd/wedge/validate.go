package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/proxy"
	"github.com/wedgeproxy/wedge/runtime"
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
	if err == nil {
		err = checkFilters(cfg)
	}
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

// checkFilters compiles and starts every route's filter as serve would,
// so a module or filter configuration that serve would refuse is reported
// here too.
func checkFilters(cfg *config.Config) error {
	has := false
	for _, t := range cfg.Tenants {
		for _, r := range t.Routes {
			has = has || len(r.Filters) > 0
		}
	}
	if !has {
		return nil
	}
	ctx := context.Background()
	dir := cfg.DataDir
	if dir == "" {
		dir = config.DefaultDataDir
	}
	e, err := runtime.NewEngine(ctx, runtime.Config{CacheDir: filepath.Join(dir, "wasm-cache")})
	if err != nil {
		return err
	}
	defer e.Close(ctx)
	s := proxy.New(nil)
	s.UseFilters(proxy.Filters{Engine: e})
	snap, err := s.Build(cfg.Tenants)
	if err != nil {
		return fmt.Errorf("filters: %w", err)
	}
	s.Swap(snap)
	return nil
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
