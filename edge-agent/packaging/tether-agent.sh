#!/bin/sh
# tether-agent: runs the agent on the Node.js runtime shipped in this archive (node/bin/node), so the
# machine needs no Node, npm or compiler. Works through symlinks (e.g. /usr/local/bin/tether-agent)
# and with an empty PATH (readlink, when there, only resolves such a symlink).
self=$0
if command -v readlink >/dev/null 2>&1; then self=$(readlink -f -- "$0") || self=$0; fi
case $self in */*) here=${self%/*} ;; *) here=. ;; esac
root=$(CDPATH='' cd -- "$here/.." && pwd -P) || exit 1
# V8's compile cache (Node >= 22.1): the bundle's compiled code kept on disk, so a restart parses
# less. systemd's CacheDirectory= when run as the service, else ~/.cache; NODE_COMPILE_CACHE= (empty)
# turns it off. Node checks each entry against the source, and runs without it if it cannot write.
if [ -z "${NODE_COMPILE_CACHE+set}" ]; then
  if [ -n "${CACHE_DIRECTORY:-}" ]; then
    export NODE_COMPILE_CACHE="${CACHE_DIRECTORY%%:*}/compile-cache"
  elif [ -n "${HOME:-}" ]; then
    export NODE_COMPILE_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/tether-agent"
  fi
fi
# --max-semi-space-size=4: V8's young generation capped at 4 MB per semi-space (Node's default grows
# to 16 MB): 20-25 MB less resident memory under load at no measurable CPU cost (BENCHMARKS.md).
exec "$root/node/bin/node" --max-semi-space-size=4 "$root/lib/tether-agent.mjs" "$@"
