#!/usr/bin/env bash
# bench/run.sh — Wedge vs nginx vs Caddy as reverse proxies, side by side.
#
# Called by `make bench` as `bash bench/run.sh` from the repository root.
# See bench/README.md for what it measures and how to read the output.
#
# Knobs (environment):
#   DURATION=10s        length of each measured wrk run (wrk syntax: 10s, 1m)
#   ROUNDS=3            interleaved rounds; the table shows the median per cell
#   PROXIES="nginx caddy wedge wedge_filter varnish nginx_cache wedge_cache"
#                       rows to run, in this order; the last three measure
#                       cache hits (Varnish, nginx proxy_cache, Wedge cache)
#   SIZES="1k 64k"      response bodies served by the origin (NNk or NN bytes)
#   CONNS=32 THREADS=1  wrk connections and threads
#   WARMUP=1s           unmeasured wrk run before each measured one
#   PROXY_CPU=0 LOAD_CPU=1        CPU the proxies run on / wrk + origin run on
#   OUT=/tmp/wedge-bench.tsv      machine-readable results
#   STOP_SYSTEM_SERVICES=1        stop system nginx/caddy/varnish services first
#   KEEP_TMP=0          keep the temp dir (configs, logs) after the run
#   wedge_hostile       a row, not run by default: the wedge row's tenant
#                       while a second tenant's looping filter and memory
#                       bomb are hammered (wrk -c8 on LOAD_CPU) during
#                       every run; wedge_hostile/wedge is the share the
#                       well-behaved tenant keeps (goal >= 0.9). Its CPU
#                       us/req counts the attack's requests too: ignore it.
#   WEDGE_BASE_BIN=     another wedge binary (an earlier commit's build) for
#                       the rows wedge_base and wedge_base_filter: the same
#                       configs as wedge and wedge_filter, so a change is
#                       measured against its parent in one run (ratios
#                       wedge/wedge_base, wedge_filter/wedge_base_filter)
#
# Adding a row: write start_<name> (start the proxy pinned to PROXY_CPU with
# `spawn`, register it with `register_proxy <name> <port> <pid> <log>`, then
# `wait_ready <name>`) and stop_<name> (usually `stop_proxy <name>`), then
# add <name> to PROXIES. Names use [a-z0-9_] (e.g. wedge_wasm). Whatever a
# stop_<name> misses is still stopped at exit: every spawned pid is.
# A cache row also calls `register_cache_check <name> <fn>`: <fn> <headers
# file> must succeed only when the response headers show a cache hit; the
# script refuses to measure the row otherwise.

set -euo pipefail

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
PROXIES=${PROXIES:-"nginx caddy wedge wedge_filter varnish nginx_cache wedge_cache"}
SIZES=${SIZES:-"1k 64k"}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-1s}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-/tmp/wedge-bench.tsv}
STOP_SYSTEM_SERVICES=${STOP_SYSTEM_SERVICES:-1}
KEEP_TMP=${KEEP_TMP:-0}

HOST_HEADER=bench.test
ORIGIN_PORT=18080
NGINX_PORT=18081
CADDY_PORT=18082
WEDGE_PORT=18083
VARNISH_PORT=18084
NGINX_CACHE_PORT=18085
WEDGE_CACHE_PORT=18086
WEDGE_ADMIN_PORT=18093
WEDGE_CACHE_ADMIN_PORT=18096
WEDGE_FILTER_PORT=18087
WEDGE_FILTER_ADMIN_PORT=18097
WEDGE_BASE_PORT=18088
WEDGE_BASE_ADMIN_PORT=18098
WEDGE_BASE_FILTER_PORT=18089
WEDGE_BASE_FILTER_ADMIN_PORT=18099
WEDGE_HOSTILE_PORT=18090
WEDGE_HOSTILE_ADMIN_PORT=18100
READY_TIMEOUT=10 # seconds to wait for a port to answer

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Process bookkeeping and cleanup

STARTED_PIDS=()             # every long-running process we started, in order
declare -A PROXY_PORT=()    # proxy name -> port
declare -A PROXY_PID=()     # proxy name -> pid whose process tree is measured
declare -A PROXY_LOG=()     # proxy name -> log file
declare -A CACHE_CHECK=()   # cache row name -> function that checks for a hit
declare -A DURING=()        # row name -> function run as "<fn> start|stop" around its runs
TMP=""
WRK_PID=""

# Every pid in the process tree rooted at $1 (the root first).
tree_pids() {
	local p=$1 c
	[[ -d /proc/$p ]] || return 0
	echo "$p"
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
		tree_pids "$c"
	done
}

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# Stop the process tree rooted at $1: SIGTERM to the root, up to 5 s grace,
# then SIGKILL to whatever of the tree is left (nginx workers included).
stop_pid() {
	local pid=$1 tree i p
	alive "$pid" || return 0
	tree=$(tree_pids "$pid")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	for p in $tree; do
		kill -KILL "$p" 2>/dev/null || true
	done
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$? i p
	trap - EXIT INT TERM
	set +e
	if alive "$WRK_PID"; then
		for p in $(tree_pids "$WRK_PID"); do kill -KILL "$p" 2>/dev/null; done
	fi
	for p in "${!PROXY_PID[@]}"; do
		if declare -F "stop_$p" >/dev/null; then "stop_$p"; else stop_proxy "$p"; fi
	done
	for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${STARTED_PIDS[i]}"
	done
	if [[ -n $TMP && -d $TMP ]]; then
		if [[ $KEEP_TMP == 1 || $rc -eq 1 ]]; then
			log "kept temp dir (configs, logs): $TMP"
		else
			rm -rf "$TMP"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Start "$@" in the background with stdout+stderr to $LOGFILE and record it.
# Sets BG_PID. The command must exec the real server (taskset, env do).
spawn() {
	"$@" </dev/null >>"$LOGFILE" 2>&1 &
	BG_PID=$!
	STARTED_PIDS+=("$BG_PID")
}

# ---------------------------------------------------------------------------
# Helpers

# wrk-style duration (500ms, 10s, 2m, 1h, or bare seconds) -> whole seconds.
duration_secs() {
	local d=$1
	case $d in
	*ms) echo 1 ;;
	*s) echo "${d%s}" ;;
	*m) echo $((${d%m} * 60)) ;;
	*h) echo $((${d%h} * 3600)) ;;
	*) echo "$d" ;;
	esac
}

# Size name -> bytes: 1k -> 1024, 64k -> 65536, 100 -> 100.
size_bytes() {
	case $1 in
	*k) echo $((${1%k} * 1024)) ;;
	*m) echo $((${1%m} * 1024 * 1024)) ;;
	*) echo "$1" ;;
	esac
}

port_in_use() {
	ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# "utime+stime utime" (clock ticks) of the process tree rooted at $1.
# /proc/PID/stat totals all threads of a process; children (nginx workers)
# are added explicitly.
cpu_ticks() {
	local total=0 user=0 p line
	local -a f
	for p in $(tree_pids "$1"); do
		line=$(cat /proc/"$p"/stat 2>/dev/null) || continue
		read -ra f <<<"${line##*) }"
		total=$((total + f[11] + f[12]))
		user=$((user + f[11]))
	done
	echo "$total $user"
}

# "busy total steal user" jiffies of one CPU from /proc/stat.
cpu_stat() {
	awk -v c="cpu$1" '$1 == c {
		busy = $2 + $3 + $4 + $7 + $8; steal = $9
		print busy, busy + $5 + $6 + steal, steal, $2 + $3 }' /proc/stat
}

# Wait until the proxy (or origin) answers 200 on /1k, up to READY_TIMEOUT s.
wait_port() { # name port pid logfile
	local name=$1 port=$2 pid=$3 logf=$4 deadline=$((SECONDS + READY_TIMEOUT))
	while ((SECONDS < deadline)); do
		if ! alive "$pid"; then
			tail -n 30 "$logf" >&2 || true
			die "$name exited during start-up (log: $logf)"
		fi
		if curl -fsS -o /dev/null --max-time 1 -H "Host: $HOST_HEADER" \
			"http://127.0.0.1:$port/$(set -- $SIZES; echo "$1")" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	tail -n 30 "$logf" >&2 || true
	die "$name did not answer on 127.0.0.1:$port within ${READY_TIMEOUT}s (log: $logf)"
}

register_proxy() { # name port pid logfile
	PROXY_PORT[$1]=$2
	PROXY_PID[$1]=$3
	PROXY_LOG[$1]=$4
}

register_cache_check() { # name fn
	CACHE_CHECK[$1]=$2
}

# For a cache row: GET /$2 and insist the response was a cache hit, judged
# by the row's check function on the response headers. Refuses to go on
# (exits) otherwise: a "cache" row that misses would measure the pass path.
check_hit() { # name size
	local name=$1 size=$2 hdrs=$TMP/hit-$1-$2.hdr
	curl -fsS -o /dev/null -D "$hdrs" --max-time 5 -H "Host: $HOST_HEADER" \
		"http://127.0.0.1:${PROXY_PORT[$name]}/$size" || die "$name: GET /$size failed"
	if ! "${CACHE_CHECK[$name]}" "$hdrs"; then
		tr -d '\r' <"$hdrs" >&2
		die "$name: GET /$size was not a cache hit (headers above); refusing to measure a cache row that does not hit"
	fi
}

# Cache-hit checks on a response header file (curl -D).
hdr() { # file name -> value of the first such header, CR stripped
	awk -v n="$(tr 'A-Z' 'a-z' <<<"$2")" -F': *' '{ sub(/\r$/, "") }
		tolower($1) == n { sub(/^[^:]*: */, ""); print; exit }' "$1"
}
# Varnish: X-Varnish holds two transaction ids on a hit (this request's and
# the one that stored the object), one on a miss or pass.
varnish_hit() { [[ $(hdr "$1" X-Varnish) =~ ^[0-9]+\ [0-9]+$ ]]; }
nginx_cache_hit() { [[ $(hdr "$1" X-Cache-Status) == HIT ]]; }
# Wedge: RFC 9211 Cache-Status "wedge; hit" (not "...; fwd=...").
wedge_cache_hit() { [[ $(hdr "$1" Cache-Status) =~ ^wedge\;\ hit($|\;) ]]; }

stop_proxy() { # name
	stop_pid "${PROXY_PID[$1]}"
}

wait_ready() { # name
	wait_port "$1" "${PROXY_PORT[$1]}" "${PROXY_PID[$1]}" "${PROXY_LOG[$1]}"
}

# Check the proxy returns each size's exact body length.
check_bodies() { # name
	local s want got
	for s in $SIZES; do
		want=$(size_bytes "$s")
		got=$(curl -fsS -o /dev/null --max-time 5 -w '%{size_download}' \
			-H "Host: $HOST_HEADER" "http://127.0.0.1:${PROXY_PORT[$1]}/$s") ||
			die "$1: GET /$s failed"
		[[ $got == "$want" ]] || die "$1: GET /$s returned $got bytes, want $want"
	done
}

# Warn unless every thread of the tree rooted at $2 is pinned to CPU list $3.
check_affinity() { # name pid cpulist
	local p t bad=""
	for p in $(tree_pids "$2"); do
		for t in /proc/"$p"/task/*; do
			local a
			a=$(awk '/^Cpus_allowed_list/ {print $2}' "$t/status" 2>/dev/null) || continue
			[[ -z $a || $a == "$3" ]] || bad+=" ${t##*/}:$a"
		done
	done
	if [[ -n $bad ]]; then
		log "WARNING: $1 threads not pinned to CPU $3:$bad"
	else
		log "$1: all threads pinned to CPU $3"
	fi
}

# ---------------------------------------------------------------------------
# Setup: packages, system services, temp dir

ensure_packages() {
	local missing=() cmd
	declare -A pkg=([nginx]=nginx [caddy]=caddy [wrk]=wrk [curl]=curl [taskset]=util-linux [ss]=iproute2)
	for cmd in nginx caddy wrk curl taskset ss; do
		command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg[$cmd]}")
	done
	# Varnish only when its row runs. varnishd compiles the VCL with cc.
	if [[ " $PROXIES " == *" varnish "* ]]; then
		[[ -x /usr/sbin/varnishd ]] || command -v varnishd >/dev/null 2>&1 || missing+=(varnish)
		command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
	fi
	((${#missing[@]} == 0)) && return 0
	log "installing: ${missing[*]}"
	local sudo=""
	if ((EUID != 0)); then
		command -v sudo >/dev/null || die "need root (or sudo) to install ${missing[*]}"
		sudo="sudo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	timeout 300 $sudo apt-get update -qq
	timeout 600 $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Debian packages start nginx/caddy services on :80 (varnish on :6081)
# at install. Stop them (before we start anything, so none of these
# processes are ours).
stop_system_services() {
	[[ $STOP_SYSTEM_SERVICES == 1 ]] || return 0
	local sudo="" svc pid
	((EUID == 0)) || sudo=$(command -v sudo || true)
	if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
		for svc in nginx caddy caddy-api varnish varnishncsa; do
			if systemctl is-active --quiet "$svc" 2>/dev/null; then
				log "stopping system service $svc"
				$sudo systemctl stop "$svc" || log "WARNING: could not stop $svc"
			fi
		done
		return 0
	fi
	# No systemd: the packaged nginx writes /run/nginx.pid; a packaged caddy
	# runs "caddy run --config /etc/caddy/Caddyfile".
	if [[ -r /run/nginx.pid ]] && pid=$(cat /run/nginx.pid) && [[ $pid =~ ^[0-9]+$ ]] &&
		[[ $(cat /proc/"$pid"/comm 2>/dev/null) == nginx ]]; then
		log "stopping system nginx (pid $pid)"
		$sudo kill -QUIT "$pid" 2>/dev/null || true
	fi
	for pid in $(pgrep -x caddy 2>/dev/null || true); do
		if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '/etc/caddy/'; then
			log "stopping system caddy (pid $pid)"
			$sudo kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	# The packaged varnish (init script) writes /run/varnishd.pid and uses
	# /etc/varnish or /etc/default/varnish; its cache child is "cache-main",
	# so only the manager process is named varnishd.
	local vpids=""
	if [[ -r /run/varnishd.pid ]] && pid=$(cat /run/varnishd.pid) && [[ $pid =~ ^[0-9]+$ ]]; then
		vpids=$pid
	fi
	for pid in $(pgrep -x varnishd 2>/dev/null || true); do
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '/etc/varnish/' && vpids+=" $pid"
	done
	for pid in $(printf '%s\n' $vpids | sort -u); do
		[[ $(cat /proc/"$pid"/comm 2>/dev/null) == varnishd ]] || continue
		log "stopping system varnishd (pid $pid)"
		$sudo kill -TERM "$pid" 2>/dev/null || true
	done
}

# nginx_conf_head DIR and nginx_temp_paths DIR print the lines every nginx
# instance of this script shares: one worker in the foreground, and all
# state under DIR.
nginx_conf_head() {
	cat <<EOF
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 4096; }
EOF
}

nginx_temp_paths() {
	cat <<EOF
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
EOF
}

# ---------------------------------------------------------------------------
# Origin: nginx serving static files, pinned to LOAD_CPU

start_origin() {
	local d=$TMP/origin s
	mkdir -p "$d/www" "$d/logs" "$d/tmp"
	for s in $SIZES; do
		head -c "$(size_bytes "$s")" /dev/zero | tr '\0' 'x' >"$d/www/$s"
	done
	cat >"$d/nginx.conf" <<EOF
$(nginx_conf_head "$d")
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nodelay on;
    open_file_cache max=64 inactive=1h;
    open_file_cache_valid 1h;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
$(nginx_temp_paths "$d")
    server {
        listen 127.0.0.1:$ORIGIN_PORT default_server backlog=4096;
        server_name _;
        root $d/www;
    }
}
EOF
	LOGFILE=$d/logs/stderr.log
	spawn taskset -c "$LOAD_CPU" nginx -p "$d" -e "$d/logs/error.log" -c "$d/nginx.conf"
	ORIGIN_PID=$BG_PID
	wait_port origin "$ORIGIN_PORT" "$ORIGIN_PID" "$d/logs/error.log"
}

# ---------------------------------------------------------------------------
# Proxies. Each start_<name> starts one proxy pinned to PROXY_CPU, limited to
# one worker / one Go P, registers it and waits until it answers.

start_nginx() {
	local d=$TMP/nginx
	mkdir -p "$d/logs" "$d/tmp"
	cat >"$d/nginx.conf" <<EOF
$(nginx_conf_head "$d")
http {
    access_log off;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
$(nginx_temp_paths "$d")
    upstream origin {
        server 127.0.0.1:$ORIGIN_PORT;
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT default_server backlog=4096;
        server_name _;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
	LOGFILE=$d/logs/stderr.log
	spawn taskset -c "$PROXY_CPU" nginx -p "$d" -e "$d/logs/error.log" -c "$d/nginx.conf"
	register_proxy nginx "$NGINX_PORT" "$BG_PID" "$d/logs/error.log"
	wait_ready nginx
}

start_caddy() {
	local d=$TMP/caddy
	mkdir -p "$d/data" "$d/config"
	cat >"$d/Caddyfile" <<EOF
{
	admin off
	auto_https off
	storage file_system $d/data
	log {
		output stderr
		level WARN
	}
}

http://:$CADDY_PORT {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$ORIGIN_PORT
}
EOF
	LOGFILE=$d/caddy.log
	# HOME/XDG_* keep Caddy's autosave and data out of the real home dir.
	spawn env GOMAXPROCS=1 HOME="$d" XDG_DATA_HOME="$d/data" XDG_CONFIG_HOME="$d/config" \
		taskset -c "$PROXY_CPU" caddy run --config "$d/Caddyfile" --adapter caddyfile
	register_proxy caddy "$CADDY_PORT" "$BG_PID" "$LOGFILE"
	wait_ready caddy
}

stop_nginx() { stop_proxy nginx; }
stop_caddy() { stop_proxy caddy; }

WEDGE_BIN=$REPO_ROOT/bin/wedge

build_wedge() {
	log "building wedge: go build -o bin/wedge ./cmd/wedge; make filters"
	(cd "$REPO_ROOT" && timeout 300 go build -o bin/wedge ./cmd/wedge) || die "go build ./cmd/wedge failed"
	(cd "$REPO_ROOT" && timeout 600 make -s filters >/dev/null) || die "make filters failed"
}

# wedge_egress <binary>: the node file's egress section, allowing the
# origin, which runs on loopback: wedge refuses tenants loopback unless
# the node file allows it. Empty for a binary older than the egress
# policy (it allows every destination and does not know the field).
wedge_egress() {
	local probe=$TMP/egress-probe.yaml
	printf 'listeners: [{address: "127.0.0.1:0"}]\negress: {allow: ["127.0.0.1:1"]}\n' >"$probe"
	if "$1" validate "$probe" >/dev/null 2>&1; then
		echo "egress: {allow: [\"127.0.0.1:$ORIGIN_PORT\"]}"
	fi
}

# spawn_wedge <row> <port> <admin port> <route lines>: writes the row's
# config (one tenant, one route to the origin, plus <route lines> under the
# route) and starts wedge pinned to PROXY_CPU with GOMAXPROCS=1.
spawn_wedge() {
	local row=$1 port=$2 admin=$3 extra=$4 d=$TMP/$1
	mkdir -p "$d/data"
	cat >"$d/wedge.yaml" <<EOF
$(wedge_egress "${ROW_BIN:-$WEDGE_BIN}")
admin: 127.0.0.1:$admin
data_dir: $d/data
listeners:
  - name: bench
    address: 127.0.0.1:$port
tenants:
  - name: bench
    domains: [$HOST_HEADER]
    upstreams:
      - name: origin
        endpoints: [127.0.0.1:$ORIGIN_PORT]
    routes:
      - upstream: origin
$extra
EOF
	LOGFILE=$d/wedge.log
	# WEDGE_FLAGS: extra serve flags, e.g. "--cpuprofile /tmp/wedge.prof".
	# shellcheck disable=SC2086
	spawn env GOMAXPROCS=1 taskset -c "$PROXY_CPU" "${ROW_BIN:-$WEDGE_BIN}" serve --config "$d/wedge.yaml" ${WEDGE_FLAGS:-}
	register_proxy "$row" "$port" "$BG_PID" "$LOGFILE"
	wait_ready "$row"
}

start_wedge() { spawn_wedge wedge "$WEDGE_PORT" "$WEDGE_ADMIN_PORT" ""; }

stop_wedge() { stop_proxy wedge; }

# wedge_filter: the wedge row's route with the headers filter (Proxy-Wasm,
# standard Go, built by make filters) setting a request and a response
# header. Compared with the wedge row: the cost of one filter.
start_wedge_filter() {
	spawn_wedge wedge_filter "$WEDGE_FILTER_PORT" "$WEDGE_FILTER_ADMIN_PORT" "        filters:
          - name: headers
            module: $REPO_ROOT/bin/filters/headers.wasm
            config:
              request: {set: {x-bench: \"1\"}}
              response: {set: {x-filtered: \"1\"}}"
}

stop_wedge_filter() { stop_proxy wedge_filter; }

# wedge_base, wedge_base_filter: the wedge and wedge_filter rows run by
# WEDGE_BASE_BIN, an earlier build, for before/after ratios in one run.
base_bin() {
	[ -n "${WEDGE_BASE_BIN:-}" ] && [ -x "$WEDGE_BASE_BIN" ] || die "rows wedge_base*: set WEDGE_BASE_BIN to a wedge binary"
}
start_wedge_base() { base_bin; ROW_BIN=$WEDGE_BASE_BIN spawn_wedge wedge_base "$WEDGE_BASE_PORT" "$WEDGE_BASE_ADMIN_PORT" ""; }
stop_wedge_base() { stop_proxy wedge_base; }
start_wedge_base_filter() {
	base_bin
	ROW_BIN=$WEDGE_BASE_BIN spawn_wedge wedge_base_filter "$WEDGE_BASE_FILTER_PORT" "$WEDGE_BASE_FILTER_ADMIN_PORT" "        filters:
          - name: headers
            module: $REPO_ROOT/bin/filters/headers.wasm
            config:
              request: {set: {x-bench: \"1\"}}
              response: {set: {x-filtered: \"1\"}}"
}
stop_wedge_base_filter() { stop_proxy wedge_base_filter; }

# wedge_hostile: the wedge row's tenant next to tenant "ant", whose
# routes run hostile.wat looping in every request (/loop, cut at 100 ms)
# and growing memory until refused (/bomb). hostile_load hammers both
# during the row's runs.
start_wedge_hostile() {
	[[ -f $REPO_ROOT/bin/wat/hostile.wasm ]] || (cd "$REPO_ROOT" && timeout 300 make -s wat >/dev/null) || die "make wat failed"
	spawn_wedge wedge_hostile "$WEDGE_HOSTILE_PORT" "$WEDGE_HOSTILE_ADMIN_PORT" "  - name: ant
    domains: [ant.test]
    upstreams:
      - name: origin
        endpoints: [127.0.0.1:$ORIGIN_PORT]
    routes:
      - match: {path_prefix: /loop}
        upstream: origin
        filters:
          - name: loop
            module: $REPO_ROOT/bin/wat/hostile.wasm
            config: \"loop:request_headers\"
            limits: {call_deadline: 100ms, instances: 1}
      - upstream: origin
        filters:
          - name: bomb
            module: $REPO_ROOT/bin/wat/hostile.wasm
            config: \"grow:request_headers\"
            limits: {max_memory_bytes: 16777216, instances: 1}"
	DURING[wedge_hostile]=hostile_load
}
stop_wedge_hostile() { stop_proxy wedge_hostile; }

HOSTILE_PIDS=()
hostile_load() { # start|stop
	local secs path
	if [[ $1 == start ]]; then
		secs=$(($(duration_secs "$DURATION") + $(duration_secs "$WARMUP") + 10))
		for path in loop bomb; do
			taskset -c "$LOAD_CPU" wrk -t1 -c4 -d"${secs}s" --timeout 5s -H "Host: ant.test" \
				"http://127.0.0.1:$WEDGE_HOSTILE_PORT/$path" >"$TMP/hostile-$path.txt" 2>&1 &
			HOSTILE_PIDS+=($!)
		done
	else
		for path in "${HOSTILE_PIDS[@]}"; do kill -INT "$path" 2>/dev/null || true; wait "$path" 2>/dev/null || true; done
		HOSTILE_PIDS=()
		for path in loop bomb; do
			log "wedge_hostile: the attack on /$path: $(awk '/^Requests\/sec:/ {r=$2} /Non-2xx/ {n=$NF} END {printf "%s req/s, %s non-2xx", r, n}' "$TMP/hostile-$path.txt")"
		done
	fi
}

# ---------------------------------------------------------------------------
# Cache-hit rows: the same object requested again and again, so after the
# warm-up every measured request is served from the proxy's cache and the
# origin is not contacted. Each row checks that it really hits before every
# measured run (check_hit).

start_varnish() {
	local d=$TMP/varnish # varnishd's working dir (-n); it creates it
	cat >"$TMP/varnish.vcl" <<EOF
vcl 4.1;

backend origin {
    .host = "127.0.0.1";
    .port = "$ORIGIN_PORT";
}

sub vcl_backend_response {
    set beresp.ttl = 1h;
    return (deliver);
}
EOF
	LOGFILE=$TMP/varnish.log
	# -F: foreground manager; it forks the cache child ("cache-main"), which
	# the CPU accounting includes (process tree). One thread pool; the
	# affinity from taskset is inherited by the child and all its threads.
	# -T none: no management CLI port.
	spawn taskset -c "$PROXY_CPU" varnishd -F -a "127.0.0.1:$VARNISH_PORT" -f "$TMP/varnish.vcl" \
		-n "$d" -s malloc,256m -T none -p thread_pools=1
	register_proxy varnish "$VARNISH_PORT" "$BG_PID" "$LOGFILE"
	register_cache_check varnish varnish_hit
	wait_ready varnish
}

start_nginx_cache() {
	local d=$TMP/nginx_cache
	mkdir -p "$d/logs" "$d/tmp"
	cat >"$d/nginx.conf" <<EOF
$(nginx_conf_head "$d")
http {
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
$(nginx_temp_paths "$d")
    proxy_cache_path $d/cache levels=1:2 keys_zone=bench:10m max_size=256m inactive=1h use_temp_path=off;
    upstream origin {
        server 127.0.0.1:$ORIGIN_PORT;
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:$NGINX_CACHE_PORT default_server backlog=4096;
        server_name _;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache bench;
            proxy_cache_valid 200 1h;
            proxy_ignore_headers Cache-Control Expires Set-Cookie;
            add_header X-Cache-Status \$upstream_cache_status;
        }
    }
}
EOF
	LOGFILE=$d/logs/stderr.log
	spawn taskset -c "$PROXY_CPU" nginx -p "$d" -e "$d/logs/error.log" -c "$d/nginx.conf"
	register_proxy nginx_cache "$NGINX_CACHE_PORT" "$BG_PID" "$d/logs/error.log"
	register_cache_check nginx_cache nginx_cache_hit
	wait_ready nginx_cache
}

start_wedge_cache() {
	local d=$TMP/wedge_cache
	mkdir -p "$d/data"
	# The origin (nginx static files) sends Last-Modified and ETag but no
	# Cache-Control: default_ttl makes its 200s fresh for an hour.
	cat >"$d/wedge.yaml" <<EOF
$(wedge_egress "$WEDGE_BIN")
admin: 127.0.0.1:$WEDGE_CACHE_ADMIN_PORT
data_dir: $d/data
listeners:
  - name: bench
    address: 127.0.0.1:$WEDGE_CACHE_PORT
cache:
  max_bytes: 268435456
tenants:
  - name: bench
    domains: [$HOST_HEADER]
    upstreams:
      - name: origin
        endpoints: [127.0.0.1:$ORIGIN_PORT]
    routes:
      - upstream: origin
        cache:
          enabled: true
          default_ttl: 1h
EOF
	LOGFILE=$d/wedge.log
	# shellcheck disable=SC2086
	spawn env GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$WEDGE_BIN" serve --config "$d/wedge.yaml" ${WEDGE_FLAGS:-}
	register_proxy wedge_cache "$WEDGE_CACHE_PORT" "$BG_PID" "$LOGFILE"
	register_cache_check wedge_cache wedge_cache_hit
	wait_ready wedge_cache
}

stop_varnish() { stop_proxy varnish; }
stop_nginx_cache() { stop_proxy nginx_cache; }
stop_wedge_cache() { stop_proxy wedge_cache; }

# ---------------------------------------------------------------------------
# Measurement

# Run wrk (pinned to LOAD_CPU) for duration $3 against proxy $1, path /$2;
# output to file $4. Bounded by timeout(1).
run_wrk() { # proxy size duration outfile
	local secs
	secs=$(duration_secs "$3")
	# --foreground keeps wrk in our process group, so Ctrl-C reaches it.
	timeout --foreground -k 5 $((secs + 30)) taskset -c "$LOAD_CPU" \
		wrk -t"$THREADS" -c"$CONNS" -d"$3" --timeout 5s --latency \
		-H "Host: $HOST_HEADER" "http://127.0.0.1:${PROXY_PORT[$1]}/$2" >"$4" 2>&1 &
	WRK_PID=$!
	local rc=0
	wait "$WRK_PID" || rc=$?
	WRK_PID=""
	if ((rc != 0)); then
		cat "$4" >&2
		die "wrk against $1 /$2 failed (exit $rc)"
	fi
}

# wrk latency "512.00us" / "1.23ms" / "2.00s" -> milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "%s", v }'
}

RAW=""  # per-run rows (temp file)

proxy_died() { # proxy when
	tail -n 20 "${PROXY_LOG[$1]}" >&2 || true
	die "$1 (pid ${PROXY_PID[$1]}) exited $2 (log above: ${PROXY_LOG[$1]})"
}

# One warm-up and one measured run of proxy $1 on size $2 in round $3;
# appends a row to $RAW.
measure() { # proxy size round
	local proxy=$1 size=$2 round=$3 pid=${PROXY_PID[$1]} out=$TMP/wrk-$1-$2-$3.txt
	alive "$pid" || proxy_died "$proxy" "before the /$size run of round $round"
	[[ -z ${DURING[$proxy]:-} ]] || ${DURING[$proxy]} start
	run_wrk "$proxy" "$size" "$WARMUP" "$TMP/warmup.txt"
	# A cache row must be serving hits now (the warm-up filled the cache).
	[[ -z ${CACHE_CHECK[$proxy]:-} ]] || check_hit "$proxy" "$size"

	local t0 t1 c0a c0b c1a c1b ns0 ns1
	c0a=$(cpu_stat "$PROXY_CPU")
	c1a=$(cpu_stat "$LOAD_CPU")
	t0=$(cpu_ticks "$pid")
	ns0=$(date +%s%N)
	run_wrk "$proxy" "$size" "$DURATION" "$out"
	ns1=$(date +%s%N)
	[[ -z ${DURING[$proxy]:-} ]] || ${DURING[$proxy]} stop
	alive "$pid" || proxy_died "$proxy" "during the /$size run of round $round"
	t1=$(cpu_ticks "$pid")
	c0b=$(cpu_stat "$PROXY_CPU")
	c1b=$(cpu_stat "$LOAD_CPU")

	local reqs rps p50 p99 errs non2xx
	reqs=$(awk '/requests in/ {print $1; exit}' "$out")
	rps=$(awk '/^Requests\/sec:/ {print $2; exit}' "$out")
	p50=$(to_ms "$(awk '$1 == "50%" {print $2; exit}' "$out")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2; exit}' "$out")")
	errs=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10; exit}' "$out")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF; exit}' "$out")
	errs=$((${errs:-0} + ${non2xx:-0}))
	[[ -n $reqs && -n $rps ]] || { cat "$out" >&2; die "could not parse wrk output"; }
	((errs == 0)) || log "WARNING: $proxy /$size round $round: $errs errors/non-2xx (see $out)"

	# shellcheck disable=SC2086
	awk -v round="$round" -v size="$size" -v proxy="$proxy" -v reqs="$reqs" -v rps="$rps" \
		-v p50="$p50" -v p99="$p99" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
		-v ns=$((ns1 - ns0)) -v errs="$errs" -v a0="$c0a" -v b0="$c0b" -v a1="$c1a" -v b1="$c1b" '
	function pct(a, b, i,   x, y) { split(a, x, " "); split(b, y, " ")
		return (y[2] - x[2]) > 0 ? 100 * (y[i] - x[i]) / (y[2] - x[2]) : 0 }
	BEGIN {
		split(t0, x, " "); split(t1, y, " ")
		cpu = (y[1] - x[1]) / hz
		# User time on the proxy CPU not spent by the proxy: other processes.
		split(a0, p, " "); split(b0, q, " ")
		foreign = (q[2] - p[2]) > 0 ? 100 * ((q[4] - p[4]) - (y[2] - x[2])) / (q[2] - p[2]) : 0
		if (foreign < 0) foreign = 0
		us = reqs > 0 ? cpu * 1e6 / reqs : 0
		printf "run\t%s\t%s\t%s\t%d\t%.3f\t%.1f\t%.3f\t%.3f\t%.2f\t%.2f\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t%.0f\n",
			round, size, proxy, reqs, ns / 1e9, rps, p50, p99, cpu, us,
			pct(a0, b0, 1), pct(a1, b1, 1), pct(a0, b0, 3), pct(a1, b1, 3), errs, foreign
	}' >>"$RAW"
	tail -n 1 "$RAW" | awk -F'\t' -v r="$ROUNDS" '{
		printf "[bench] round %s/%s %-4s %-11s %9.0f req/s  p50 %7.3fms  p99 %7.3fms  %7.2f CPU us/req  (cpu%s %s%%, cpu%s %s%%)\n",
			$2, r, $3, $4, $7, $8, $9, $11, '"$PROXY_CPU"', $12, '"$LOAD_CPU"', $13
		if ($17 > 5) printf "[bench] WARNING: other processes used %s%% of CPU '"$PROXY_CPU"' during this run\n", $17
		if ($14 > 5 || $15 > 5) printf "[bench] WARNING: hypervisor steal %s%%/%s%% during this run\n", $14, $15 }' >&2
}

# ---------------------------------------------------------------------------
# Report

TSV_HEADER=$'kind\tround\tsize\tproxy\trequests\tseconds\trps\tp50_ms\tp99_ms\tcpu_s\tcpu_us_per_req\tproxy_cpu_busy_pct\tload_cpu_busy_pct\tproxy_cpu_steal_pct\tload_cpu_steal_pct\terrors\tproxy_cpu_foreign_user_pct'

# Median per (size, proxy) of every numeric column of the run rows.
medians() {
	awk -F'\t' -v OFS='\t' -v sizes="$SIZES" -v proxies="$PROXIES" '
	function median(key, col,   n, i, j, t, a) {
		n = cnt[key]
		for (i = 1; i <= n; i++) a[i] = val[key, i, col]
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	$1 == "run" {
		key = $3 SUBSEP $4; n = ++cnt[key]
		for (c = 5; c <= 17; c++) val[key, n, c] = $c
	}
	END {
		ns = split(sizes, S, " "); np = split(proxies, P, " ")
		for (i = 1; i <= ns; i++) for (k = 1; k <= np; k++) {
			key = S[i] SUBSEP P[k]
			if (!cnt[key]) continue
			line = "median" OFS cnt[key] OFS S[i] OFS P[k]
			for (c = 5; c <= 17; c++) line = line OFS median(key, c)
			print line
		}
	}' "$RAW"
}

print_table() { # medians file
	echo
	echo "Reverse-proxy benchmark: median of $ROUNDS round(s), wrk -t$THREADS -c$CONNS -d$DURATION, proxies on CPU $PROXY_CPU, wrk + origin on CPU $LOAD_CPU"
	echo
	awk -F'\t' -v pc="$PROXY_CPU" -v lc="$LOAD_CPU" '
	BEGIN {
		printf "%-5s %-12s %11s %9s %9s %12s %7s %7s %7s %6s\n", "size", "proxy", "req/s", "p50 ms", "p99 ms",
			"CPU us/req", "cpu" pc "%", "cpu" lc "%", "other%", "errs"
	}
	{
		if (prev != "" && $3 != prev) print ""
		prev = $3
		printf "%-5s %-12s %11.0f %9.3f %9.3f %12.2f %7.0f %7.0f %7.0f %6d\n", $3, $4, $7, $8, $9, $11, $12, $13, $17, $16
	}' "$1"
	echo
	# Ratios: every pass-through proxy against each earlier one of the bases
	# nginx, caddy; and wedge_cache against the other cache rows (cache hits
	# are only compared with cache hits).
	awk -F'\t' -v proxies="$PROXIES" -v sizes="$SIZES" -v cached="${!CACHE_CHECK[*]}" \
		-v pairs="wedge_cache/varnish wedge_cache/nginx_cache wedge_filter/wedge wedge/wedge_base wedge_filter/wedge_base_filter wedge_base_filter/wedge_base wedge_hostile/wedge" '
	function ratio(s, a, b) {
		if (!have[s, a] || !have[s, b]) return
		if (!hdr++) printf "%-5s %-24s %12s %14s\n", "size", "ratio", "req/s", "CPU us/req"
		printf "%-5s %-24s %11.2fx %13.2fx\n", s, a "/" b,
			(rps[s, b] > 0 ? rps[s, a] / rps[s, b] : 0),
			(us[s, b] > 0 ? us[s, a] / us[s, b] : 0)
	}
	{ rps[$3, $4] = $7; us[$3, $4] = $11; have[$3, $4] = 1 }
	END {
		np = split(proxies, P, " "); ns = split(sizes, S, " ")
		nc = split(cached, C, " "); for (c = 1; c <= nc; c++) iscache[C[c]] = 1
		nr = split(pairs, R, " ")
		hdr = 0
		for (i = 1; i <= ns; i++) {
			for (a = 1; a <= np; a++) for (b = 1; b < a; b++) {
				if (P[b] != "nginx" && P[b] != "caddy") continue
				if (iscache[P[a]]) continue
				ratio(S[i], P[a], P[b])
			}
			for (r = 1; r <= nr; r++) { split(R[r], ab, "/"); ratio(S[i], ab[1], ab[2]) }
		}
	}' "$1"
	echo
	echo "CPU us/req = proxy process CPU time (user+sys, all threads and worker processes) / requests served."
	echo "Lower is better. cpu${PROXY_CPU}% / cpu${LOAD_CPU}% = how busy each core was; cpu${LOAD_CPU}% near 100 means wrk + origin, not the proxy, limited req/s."
	echo "other% = user CPU on CPU ${PROXY_CPU} used by processes other than the proxy (should be ~0)."
	local p cached=""
	for p in $PROXIES; do [[ -z ${CACHE_CHECK[$p]:-} ]] || cached+=" $p"; done
	if [[ -n $cached ]]; then
		echo "Cache-hit rows (${cached# }): served from the proxy's cache, origin not contacted; a hit was checked before every run."
	fi
	awk -F'\t' '$1 == "run" { n++; if ($17 > 5) bad++; if ($14 > 5 || $15 > 5) steal++ }
	END {
		if (bad) printf "WARNING: in %d of %d runs other processes used >5%% of CPU '"$PROXY_CPU"'; results are disturbed, rerun on a quiet machine.\n", bad, n
		if (steal) printf "WARNING: in %d of %d runs the hypervisor stole >5%% of a core.\n", steal, n
	}' "$RAW"
}

# ---------------------------------------------------------------------------
# Main

main() {
	[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
	local p s r
	for p in $PROXIES; do
		[[ $p =~ ^[a-z0-9_]+$ ]] || die "bad proxy name '$p' (use [a-z0-9_])"
		declare -F "start_$p" >/dev/null || die "unknown proxy '$p' (no start_$p function)"
	done
	(($(nproc) >= 2)) || log "WARNING: fewer than 2 CPUs; pinning proxies and load to different cores is not possible"

	ensure_packages
	stop_system_services

	case " $PROXIES " in *" wedge"*) build_wedge ;; esac

	for port in "$ORIGIN_PORT" "$NGINX_PORT" "$CADDY_PORT" "$WEDGE_PORT" "$WEDGE_ADMIN_PORT" \
		"$VARNISH_PORT" "$NGINX_CACHE_PORT" "$WEDGE_CACHE_PORT" "$WEDGE_CACHE_ADMIN_PORT"; do
		port_in_use "$port" && die "port $port is already in use on this machine"
	done

	TMP=$(mktemp -d /tmp/wedge-bench-run.XXXXXX)
	chmod 755 "$TMP" # nginx workers may run as another user
	RAW=$TMP/runs.tsv
	: >"$RAW"

	log "host: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
	log "versions: $(nginx -v 2>&1 | sed 's/.*: //'), caddy $(caddy version | awk '{print $1}'), $(wrk -v 2>&1 | awk 'NR==1 {print $1, $2}'), $(go version | awk '{print $3}')"
	if [[ " $PROXIES " == *" varnish "* ]]; then
		log "versions: $(varnishd -V 2>&1 | awk 'NR==1 {gsub(/[()]/, ""); print $2}')"
	fi

	start_origin
	check_affinity origin "$ORIGIN_PID" "$LOAD_CPU"
	for p in $PROXIES; do
		log "starting $p"
		"start_$p"
		check_bodies "$p"
		# check_bodies fetched every size once: the next GET must hit.
		if [[ -n ${CACHE_CHECK[$p]:-} ]]; then
			for s in $SIZES; do check_hit "$p" "$s"; done
			log "$p: cache hit on the second GET of every size"
		fi
		check_affinity "$p" "${PROXY_PID[$p]}" "$PROXY_CPU"
	done

	for ((r = 1; r <= ROUNDS; r++)); do
		for s in $SIZES; do
			for p in $PROXIES; do
				measure "$p" "$s" "$r"
			done
		done
	done

	# Nothing must have died under load.
	for p in $PROXIES; do
		alive "${PROXY_PID[$p]}" || proxy_died "$p" "during the benchmark"
	done
	if grep -q 'buffered to a temporary file' "$TMP/nginx/logs/error.log" 2>/dev/null; then
		log "note: nginx buffered some upstream responses to temp files (proxy_buffering default)"
	fi

	medians >"$TMP/medians.tsv"
	mkdir -p "$(dirname "$OUT")"
	{
		echo "$TSV_HEADER"
		cat "$RAW" "$TMP/medians.tsv"
	} >"$OUT"
	print_table "$TMP/medians.tsv"
	echo
	echo "TSV: $OUT"
}

main "$@"
