package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/node"
)

// serve runs a node until SIGTERM or SIGINT, then drains it. SIGHUP
// re-reads the configuration file; a bad file is rejected and the running
// configuration keeps serving.
func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "wedge.yaml", "configuration file")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file until the node stops (for profiling)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "wedge: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lv}))

	cfg, err := config.LoadFile(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "wedge: --cpuprofile: %v\n", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	n, err := node.New(cfg, log, os.Getenv("WEDGE_ADMIN_TOKEN"))
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- n.Serve() }()
	log.Info("wedge started", "version", version, "config", *path, "tenants", len(cfg.Tenants))

	drain := cfg.Limits.WithDefaults().DrainTimeout.D()
	for {
		select {
		case err := <-served:
			if err != nil {
				log.Error("listener failed", "err", err)
				return 1
			}
			return 0
		case s := <-sigs:
			if s == syscall.SIGHUP {
				reload(n, *path, log)
				continue
			}
			log.Info("draining", "signal", s.String(), "timeout", drain.String())
			ctx, cancel := context.WithTimeout(context.Background(), drain)
			err := n.Shutdown(ctx)
			cancel()
			if err != nil {
				log.Warn("drain timed out; remaining connections closed", "err", err)
			}
			<-served
			log.Info("stopped")
			return 0
		}
	}
}

func reload(n *node.Node, path string, log *slog.Logger) {
	cfg, err := config.LoadFile(path)
	if err == nil {
		err = n.Apply(cfg)
	}
	if err != nil {
		log.Error("reload rejected; the running configuration keeps serving", "config", path, "err", err.Error())
		return
	}
	log.Info("reloaded", "config", path, "tenants", len(cfg.Tenants))
}
