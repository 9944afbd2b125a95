package main

// The admin API commands: `wedge tenant …`, `wedge filter …`, `wedge apply`
// and the others, each a thin layer over edge/control/client. This file
// holds what they share: the command table, argument parsing, connection
// settings, output and error printing.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/client"
)

// defaultAdmin is the admin API's address when neither --admin nor
// WEDGE_ADMIN says otherwise (the node file's default admin address).
const defaultAdmin = "http://127.0.0.1:9901"

// command is one admin API command.
type command struct {
	group string // "tenant"; "" for a command of its own (status, apply)
	name  string // "create"
	// args is the positional synopsis ("NAME FILE.wasm"); the command
	// takes nargs positional arguments, and up to optArgs more.
	args           string
	nargs, optArgs int
	// need is the synopsis of the flags the command cannot do without
	// ("-f FILE"), checked by check.
	need string
	// tenant: the command acts on one tenant, named by --tenant.
	tenant bool
	// summary is one line for `wedge help`; help, if any, more for the
	// command's own usage.
	summary, help string
	// flags declares the command's own flags into a.
	flags func(fs *flag.FlagSet, a *cmdArgs)
	// check validates the parsed invocation beyond the argument count.
	check func(inv *invocation) error
	run   func(x *runner) error
}

// path is the command as typed: "tenant create", or "status".
func (c *command) path() string {
	if c.group == "" {
		return c.name
	}
	return c.group + " " + c.name
}

// synopsis is the command's one-line usage.
func (c *command) synopsis() string {
	s := "wedge " + c.path()
	if c.args != "" {
		s += " " + c.args
	}
	if c.need != "" {
		s += " " + c.need
	}
	if c.tenant {
		s += " --tenant T"
	}
	return s
}

// globals are the connection settings every command takes.
type globals struct {
	admin, token, tenant, output string
}

// cmdArgs are the values of every command's own flags; each command
// declares the flags it takes.
type cmdArgs struct {
	limits       client.Limits
	callDeadline time.Duration
	description  string
	version      int
	endpoints    []string
	maxIdleConns int
	file         string
	url          string
	host         string
	tag          string
	wait         time.Duration
}

// invocation is a parsed command line.
type invocation struct {
	cmd  *command
	g    globals
	a    cmdArgs
	args []string
}

// usageError is a command line that cannot run; it is printed with the
// command's usage, and the exit code is 2 (as for serve and validate).
type usageError struct {
	cmd   *command // nil: the general usage
	group string   // for an incomplete group command
	msg   string
}

// Error returns the problem with the command line.
func (e *usageError) Error() string { return e.msg }

// errHelp asks for a usage on stdout and a zero exit: of cmd, of a
// group's commands, or (both empty) of every command.
type errHelp struct {
	cmd   *command
	group string
}

// Error says that help was asked for.
func (errHelp) Error() string { return "help requested" }

// isCLI reports whether name starts an admin API command.
func isCLI(name string) bool {
	for _, c := range commands {
		if c.group == name || c.group == "" && c.name == name {
			return true
		}
	}
	return false
}

// Exit codes of the admin API commands.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed: the node refused it, or could not be reached
	exitUsage = 2 // the command line is wrong; nothing was sent
)

// cli runs an admin API command line (args[0] is the command or a
// connection flag) and returns the exit code.
func cli(args []string, stdout, stderr io.Writer) int {
	return runCLI(args, stdout, stderr, os.Getenv)
}

// runCLI is cli with the environment read through getenv.
func runCLI(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	inv, err := parseCLI(args, getenv)
	var help errHelp
	var ue *usageError
	switch {
	case errors.As(err, &help):
		fmt.Fprint(stdout, usageOf(help.cmd, help.group))
		return exitOK
	case errors.As(err, &ue):
		name := "wedge"
		switch {
		case ue.cmd != nil:
			name += " " + ue.cmd.path()
		case ue.group != "":
			name += " " + ue.group
		}
		fmt.Fprintf(stderr, "%s: %s\n\n%s", name, ue.msg, usageOf(ue.cmd, ue.group))
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "wedge: %v\n", err)
		return exitUsage
	}
	c, err := client.New(inv.g.admin, inv.g.token, client.WithUserAgent("wedge/"+version))
	if err != nil {
		fmt.Fprintf(stderr, "wedge %s: --admin: %v\n", inv.cmd.path(), strings.TrimPrefix(err.Error(), "client: "))
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	x := &runner{ctx: ctx, c: c, inv: inv, stdout: stdout, stderr: stderr}
	if err := inv.cmd.run(x); err != nil {
		printError(stderr, inv, err)
		return exitFail
	}
	return exitOK
}

// parseCLI parses a command line: connection flags, the command, then
// its arguments and flags in any order. Connection settings come from
// the command's flags, else the flags before the command, else the
// environment (WEDGE_ADMIN, WEDGE_TOKEN, WEDGE_TENANT), else defaults.
func parseCLI(args []string, getenv func(string) string) (*invocation, error) {
	top := flag.NewFlagSet("wedge", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	var pre globals
	globalFlags(top, &pre)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp{}
		}
		return nil, &usageError{msg: err.Error()}
	}
	preSet := setFlags(top)
	rest := top.Args()
	if len(rest) == 0 {
		return nil, &usageError{msg: "no command"}
	}
	cmd, rest, err := findCommand(rest)
	if err != nil {
		return nil, err
	}

	fs := flag.NewFlagSet(cmd.path(), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	inv := &invocation{cmd: cmd}
	globalFlags(fs, &inv.g)
	if cmd.flags != nil {
		cmd.flags(fs, &inv.a)
	}
	inv.args, err = parseInterspersed(fs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp{cmd: cmd}
		}
		return nil, &usageError{cmd: cmd, msg: err.Error()}
	}
	set := setFlags(fs)
	resolve := func(v *string, name, preV, env, def string) {
		switch {
		case set[name]:
		case preSet[name]:
			*v = preV
		case getenv(env) != "":
			*v = getenv(env)
		default:
			*v = def
		}
	}
	resolve(&inv.g.admin, "admin", pre.admin, "WEDGE_ADMIN", defaultAdmin)
	resolve(&inv.g.token, "token", pre.token, "WEDGE_TOKEN", "")
	resolve(&inv.g.tenant, "tenant", pre.tenant, "WEDGE_TENANT", "")
	resolve(&inv.g.output, "o", pre.output, "", "text")
	if set["filter-call-deadline"] {
		inv.a.limits.FilterCallDeadline = client.Duration(inv.a.callDeadline)
	}

	if inv.g.output != "text" && inv.g.output != "json" {
		return nil, &usageError{cmd: cmd, msg: fmt.Sprintf("-o %q: want text or json", inv.g.output)}
	}
	if n := len(inv.args); n < cmd.nargs {
		return nil, &usageError{cmd: cmd, msg: "missing " + strings.Fields(cmd.args)[n]}
	} else if n > cmd.nargs+cmd.optArgs {
		return nil, &usageError{cmd: cmd, msg: fmt.Sprintf("unexpected argument %q", inv.args[cmd.nargs+cmd.optArgs])}
	}
	for _, a := range inv.args {
		if a == "" {
			return nil, &usageError{cmd: cmd, msg: "an argument is empty"}
		}
	}
	if cmd.tenant && inv.g.tenant == "" {
		return nil, &usageError{cmd: cmd, msg: "which tenant? give --tenant T or set WEDGE_TENANT"}
	}
	if cmd.check != nil {
		if err := cmd.check(inv); err != nil {
			return nil, &usageError{cmd: cmd, msg: err.Error()}
		}
	}
	return inv, nil
}

// findCommand finds the command args start with and returns the
// arguments after it.
func findCommand(args []string) (*command, []string, error) {
	name := args[0]
	for _, c := range commands {
		if c.group == "" && c.name == name {
			return c, args[1:], nil
		}
	}
	if !isCLI(name) {
		return nil, nil, &usageError{msg: fmt.Sprintf("unknown command %q", name)}
	}
	if len(args) < 2 {
		return nil, nil, &usageError{group: name, msg: "which " + name + " command?"}
	}
	if sub := args[1]; sub == "-h" || sub == "-help" || sub == "--help" || sub == "help" {
		return nil, nil, errHelp{group: name}
	}
	for _, c := range commands {
		if c.group == name && c.name == args[1] {
			return c, args[2:], nil
		}
	}
	return nil, nil, &usageError{group: name, msg: fmt.Sprintf("unknown command %q", name+" "+args[1])}
}

// globalFlags declares the connection flags into g. Their defaults are
// left empty, so that a token from the environment never shows in a
// usage; parseCLI fills in the environment and defaults.
func globalFlags(fs *flag.FlagSet, g *globals) {
	fs.StringVar(&g.admin, "admin", "", "admin API `URL` (default $WEDGE_ADMIN or "+defaultAdmin+")")
	fs.StringVar(&g.token, "token", "", "bearer `token`: the operator's or a tenant's (default $WEDGE_TOKEN)")
	fs.StringVar(&g.tenant, "tenant", "", "the `tenant` acted on (default $WEDGE_TENANT)")
	fs.StringVar(&g.output, "o", "", "output `format`: text or json (default text)")
}

// setFlags returns the names of the flags set on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// parseInterspersed parses flags and positional arguments in any order
// (the flag package stops at the first positional one). After "--",
// everything is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// cliUsage lists the admin API commands for `wedge help`.
func cliUsage() string {
	var b bytes.Buffer
	b.WriteString("\nadmin API commands (wedge help COMMAND, or wedge COMMAND -h, for each one's flags):\n")
	listCommands(&b, "")
	b.WriteString(`
connection flags, before or after the command:
  --admin URL     admin API (default $WEDGE_ADMIN or ` + defaultAdmin + `)
  --token TOKEN   bearer token, the operator's or a tenant's (default $WEDGE_TOKEN)
  --tenant T      the tenant acted on (default $WEDGE_TENANT)
  -o text|json    output format (default text)
`)
	return b.String()
}

// listCommands writes the synopsis and summary of every command, or of
// a group's.
func listCommands(b *bytes.Buffer, group string) {
	for _, c := range commands {
		if group == "" || c.group == group {
			fmt.Fprintf(b, "  %s\n      %s\n", c.synopsis(), c.summary)
		}
	}
}

// usageOf is the usage of a command, a group, or (both empty) every
// command.
func usageOf(cmd *command, group string) string {
	if cmd == nil && group == "" {
		return usage + cliUsage()
	}
	var b bytes.Buffer
	if cmd == nil {
		b.WriteString("usage:\n")
		listCommands(&b, group)
		b.WriteString("\nwedge help " + group + " COMMAND for a command's flags.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "usage: %s [flags]\n\n%s\n", cmd.synopsis(), cmd.summary)
	if cmd.help != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(cmd.help))
	}
	fs := flag.NewFlagSet(cmd.path(), flag.ContinueOnError)
	var a cmdArgs
	if cmd.flags != nil {
		cmd.flags(fs, &a)
	}
	if n := countFlags(fs); n > 0 {
		b.WriteString("\nflags:\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
	}
	b.WriteString("\nconnection flags:\n")
	fs = flag.NewFlagSet(cmd.path(), flag.ContinueOnError)
	var g globals
	globalFlags(fs, &g)
	fs.SetOutput(&b)
	fs.PrintDefaults()
	return b.String()
}

// countFlags is the number of flags fs declares.
func countFlags(fs *flag.FlagSet) int {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n
}

// runner is what a command runs with.
type runner struct {
	ctx            context.Context
	c              *client.Client
	inv            *invocation
	stdout, stderr io.Writer
}

// tenant is the tenant the command acts on (--tenant).
func (x *runner) tenant() string { return x.inv.g.tenant }

// json reports whether the output is JSON (-o json).
func (x *runner) json() bool { return x.inv.g.output == "json" }

// printJSON writes v as indented JSON.
func (x *runner) printJSON(v any) error {
	enc := json.NewEncoder(x.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// say writes a line of text output (not in JSON mode).
func (x *runner) say(format string, args ...any) {
	if !x.json() {
		fmt.Fprintf(x.stdout, format+"\n", args...)
	}
}

// table writes rows under a header, aligned.
func (x *runner) table(header []string, rows [][]string) {
	tw := tabwriter.NewWriter(x.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// printError writes a failure to stderr: an API error with what the
// command was doing, its status, message and every problem on a line of
// its own.
func printError(w io.Writer, inv *invocation, err error) {
	name := "wedge " + inv.cmd.path()
	var ae *client.APIError
	var ne *net.OpError
	switch {
	case errors.As(err, &ae):
		// The context the command wrapped around the API error
		// ("tenant acme: domain a.test: "), if any: compared on the
		// first line, since a wrapping error keeps the text of the
		// problems as they were when it was made.
		first := func(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }
		where, ok := strings.CutSuffix(first(err.Error()), first(ae.Error()))
		if !ok {
			where = ""
		}
		fmt.Fprintf(w, "%s: %s%s\n", name, where, apiErrorText(ae))
		if ae.Status == http.StatusUnauthorized {
			fmt.Fprintf(w, "  (the node does not know the token: check --token or WEDGE_TOKEN)\n")
		}
	case errors.As(err, &ne) && ne.Op == "dial":
		fmt.Fprintf(w, "%s: cannot reach the admin API at %s: %v\n  (is a node running there? set --admin or WEDGE_ADMIN)\n",
			name, inv.g.admin, ne.Err)
	default:
		fmt.Fprintf(w, "%s: %s\n", name, strings.TrimPrefix(err.Error(), "client: "))
	}
}

// apiErrorText is an API error without the client's prefix: status,
// message, then each problem on its own indented line.
func apiErrorText(ae *client.APIError) string {
	return strings.TrimPrefix(ae.Error(), "client: ")
}

// short abbreviates a hex digest for text output.
func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12] + "…"
	}
	return sha
}

// orDash is s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// stringList is a repeatable string flag.
type stringList []string

// String returns the values, comma-separated.
func (l *stringList) String() string { return strings.Join(*l, ",") }

// Set adds a value.
func (l *stringList) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*l = append(*l, s)
	return nil
}
