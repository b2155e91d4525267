#!/usr/bin/env bash
# `npm test`: makes sure the system tools the tests use are there, builds, runs every Vitest project and
# ends with one summary line: `tests: N passed, M failed[, K skipped]`. Extra arguments go to vitest.
# A full run (no arguments) also measures coverage of shared/src, node-shared/src, edge-agent/src and cloud/src and fails
# below the floors in vitest.config.ts (report in coverage/); TETHER_COVERAGE=0 skips it, =1 forces it.
# The suite runs on Node 24 (the shipped runtime), fetched by `npm ci` as the `node24` devDependency, whatever
# Node is on the machine; TETHER_TEST_NODE=22 runs it on the `node22` one instead (.ci/run does both).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

is_root() { [ "$(id -u)" -eq 0 ]; }

# Mosquitto lives in sbin, which a non-root PATH may lack; the test helpers look there too.
have() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ]
}

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get not found: install these packages by hand: $*" >&2
    exit 1
  fi
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

# (a) System tools.
if ! have mosquitto || ! have mosquitto_pub || ! have mosquitto_sub || ! have mosquitto_passwd; then
  if is_root; then
    apt_install mosquitto mosquitto-clients
  else
    echo "Tether's tests need Mosquitto: sudo apt-get install -y mosquitto mosquitto-clients"
    exit 1
  fi
fi
if ! have openssl; then
  if is_root; then
    apt_install openssl
  else
    echo "Tether's tests need OpenSSL: sudo apt-get install -y openssl"
    exit 1
  fi
fi
# systemd-analyze verifies the shipped unit; headless Chromium renders the status page.
if ! have systemd-analyze || ! have chromium; then
  if is_root; then
    apt_install systemd chromium
  else
    echo "Tether's tests need systemd-analyze and Chromium: sudo apt-get install -y systemd chromium"
    exit 1
  fi
fi

# (b) Dependencies.
if [ ! -d node_modules ]; then
  echo "node_modules is missing: run \`npm ci\` first." >&2
  exit 1
fi

# (b2) The runtime. Its bin folder goes first on PATH so that every child process the tests spawn (by
# `process.execPath` or by `node`) runs on it too. The tools are started through `node <script>`, not npx:
# npx puts node_modules/.bin first on PATH, and node_modules/.bin/node belongs to whichever of node22/node24
# npm linked first (both packages declare the same bin, npm keeps one, not always the same).
node_line="${TETHER_TEST_NODE:-24}"
node_bin="$PWD/node_modules/node${node_line}/bin"
if [ ! -x "$node_bin/node" ]; then
  echo "Node ${node_line} for the tests is missing ($node_bin/node): run \`npm ci\` (devDependency node${node_line})." >&2
  exit 1
fi
export PATH="$node_bin:$PATH"
echo "tests on Node $(node --version)"
tool() { node "node_modules/$1" "${@:2}"; }

# (c) Lint and build: one style for the repo; the process tests spawn the compiled dist/. Then type-check
# the tests and the bench too: vitest and tsx only strip types, so a stale type would otherwise pass.
tool @biomejs/biome/bin/biome check .
tool typescript/bin/tsc -b
tool typescript/bin/tsc -p tsconfig.tests.json

# (d) Run, then summarise from the JSON report.
report="$(mktemp "${TMPDIR:-/tmp}/tether-vitest.XXXXXX")"
trap 'rm -f "$report"' EXIT

coverage=()
if [ "${TETHER_COVERAGE:-$([ "$#" -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
  rm -rf coverage
  coverage=(--coverage)
fi

status=0
tool vitest/vitest.mjs run --reporter=default --reporter=json --outputFile.json="$report" ${coverage[@]+"${coverage[@]}"} "$@" || status=$?

# Coverage per package, from coverage/coverage-summary.json (vitest enforces the floors).
if [ "${#coverage[@]}" -gt 0 ] && [ -f coverage/coverage-summary.json ]; then
  node -e '
const summary = JSON.parse(require("node:fs").readFileSync("coverage/coverage-summary.json", "utf8"));
const root = `${process.cwd()}/`;
const packages = new Map();
for (const [file, metrics] of Object.entries(summary)) {
  if (!file.startsWith(root)) continue;
  const name = file.slice(root.length).split("/").slice(0, 2).join("/");
  const sum = packages.get(name) ?? { lines: [0, 0], branches: [0, 0] };
  for (const key of ["lines", "branches"]) {
    sum[key][0] += metrics[key].covered;
    sum[key][1] += metrics[key].total;
  }
  packages.set(name, sum);
}
const pct = ([covered, total]) => (total === 0 ? 100 : (100 * covered) / total).toFixed(1);
const parts = [...packages].sort().map(([name, s]) => `${name} ${pct(s.lines)} % lines, ${pct(s.branches)} % branches`);
console.log(`coverage (in-process code only, see DEVELOPMENT.md): ${parts.join("; ")}`);
'
fi

# Failed = failed tests + test files that failed outside any test (import error, failing hook).
node -e '
const fs = require("node:fs");
const text = fs.existsSync(process.argv[1]) ? fs.readFileSync(process.argv[1], "utf8") : "";
if (!text.trim()) { console.error("vitest wrote no JSON report"); process.exit(0); }
const r = JSON.parse(text);
const brokenFiles = (r.testResults ?? []).filter((f) => f.status === "failed" && !(f.assertionResults ?? []).some((a) => a.status === "failed")).length;
const passed = r.numPassedTests ?? 0;
const failed = (r.numFailedTests ?? 0) + brokenFiles;
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
const other = failed === 0 && process.argv[2] !== "0" ? " (vitest failed all the same: a coverage floor? see its ERROR lines)" : "";
console.log(`tests: ${passed} passed, ${failed} failed` + (skipped > 0 ? `, ${skipped} skipped` : "") + other);
' "$report" "$status"

exit "$status"
