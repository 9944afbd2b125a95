#!/usr/bin/env bash
# Installs the Debian packages the tests need, only when a command is
# missing: a no-op (no apt-get, no sudo) when everything is present.
#
# To add a dependency, add a "command:package" pair to DEPS.
set -euo pipefail

DEPS=(
	"wat2wasm:wabt"      # compiles runtime/testdata/wat/*.wat (make wat)
	"wasm-objdump:wabt"  # inspects the compiled test modules
	"etcd:etcd-server"   # edge/control/store/storetest starts a real etcd
)

missing=()
for pair in "${DEPS[@]}"; do
	cmd=${pair%%:*}
	pkg=${pair#*:}
	if ! command -v "$cmd" >/dev/null 2>&1; then
		case " ${missing[*]-} " in
		*" $pkg "*) ;; # already queued
		*) missing+=("$pkg") ;;
		esac
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: missing ${missing[*]} and apt-get is not available; install them by hand" >&2
	exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "deps.sh: missing ${missing[*]}; run as root or install sudo" >&2
		exit 1
	fi
	sudo=(sudo)
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
	# A fresh container has no package lists yet.
	"${sudo[@]}" apt-get update
	"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
