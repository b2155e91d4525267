// `npm run release`: one archive per platform, release/tether-agent-<version>-linux-<arch>.tar.gz,
// that runs on a machine with no Node, no npm, no compiler and no network:
//
//   tether-agent-<version>-linux-<arch>/
//     bin/tether-agent          sh launcher: node/bin/node lib/tether-agent.mjs "$@"
//     lib/tether-agent.mjs      the bundled agent and its lazily loaded chunks (bundle.mjs);
//     lib/certs/                Amazon Root CA 1
//     lib/node_modules/         aws-iot-device-sdk-v2 + aws-crt (JS and this arch's .node only),
//                               loaded only for `provider: aws-iot`
//     node/bin/node, LICENSE    the official Node.js runtime for that arch (npm package node-linux-<arch>)
//     config/                   sample service.yml and hub.yml
//     packaging/                systemd unit, sysusers.d and logrotate snippets
//     Dockerfile, README.md
//
// Options: --arch x64|arm64 (repeatable; default both), --out DIR (default release/), and
// TETHER_RELEASE_CACHE (default release/cache/): where the npm-packed runtimes are kept between runs.
// SOURCE_DATE_EPOCH (default: the last commit's time) stamps every file, so a rebuild is identical.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { AGENT_VERSION, AMAZON_ROOT_CA_1, bundleAgent } from './bundle.mjs';

/** The runtime shipped in the archives: the current LTS line. */
export const NODE_VERSION = '24.22.3';
/** Archive arch → ELF e_machine of its binaries (what `file` would call x86-64 / aarch64). */
export const ELF_MACHINE = { x64: 0x3e, arm64: 0xb7 };

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const REPO = here('../../');
const PACKAGING = here('../packaging/');

const { values: opts } = parseArgs({
  options: { arch: { type: 'string', multiple: true }, out: { type: 'string' } },
});
const arches = opts.arch ?? Object.keys(ELF_MACHINE);
for (const arch of arches) {
  if (!(arch in ELF_MACHINE)) fail(`--arch: ${arch} is not one of ${Object.keys(ELF_MACHINE).join(', ')}`);
}
const outDir = resolve(opts.out ?? join(REPO, 'release'));
const cacheDir = resolve(process.env.TETHER_RELEASE_CACHE ?? join(REPO, 'release/cache'));
const epoch = Number(
  process.env.SOURCE_DATE_EPOCH ?? execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: REPO, encoding: 'utf8' }),
);
if (!existsSync(here('../dist/cli/main.js'))) fail('edge-agent/dist is missing: run `npx tsc -b` first');

mkdirSync(outDir, { recursive: true });
mkdirSync(cacheDir, { recursive: true });
const work = mkdtempSync(join(outDir, '.stage-'));
try {
  const bundle = join(work, 'bundle');
  const bundleBytes = await bundleAgent(bundle);
  const optional = await optionalModuleFiles();
  const sums = [];
  for (const arch of arches) {
    const name = `tether-agent-${AGENT_VERSION}-linux-${arch}`;
    const root = join(work, name);
    stage(root, arch, bundle, optional);
    const archive = join(outDir, `${name}.tar.gz`);
    pack(work, name, archive);
    sums.push(`${sha256(archive)}  ${name}.tar.gz`);
    console.log(
      `${relative(REPO, archive)}: ${mib(statSync(archive).size)} (bundle ${mib(bundleBytes)}, Node ${NODE_VERSION})`,
    );
  }
  writeFileSync(join(outDir, 'SHA256SUMS'), `${sums.join('\n')}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** Lays out one archive's folder. */
function stage(root, arch, bundle, optional) {
  copy(bundle, join(root, 'lib')); // tether-agent.mjs and its chunks
  // the aws-iot adapter looks for certs/ beside the bundle when a remote names no `ca`
  copy(AMAZON_ROOT_CA_1, join(root, 'lib/certs/AmazonRootCA1.pem'));
  for (const file of optional.files) copy(join(REPO, 'node_modules', file), join(root, 'lib/node_modules', file));
  // aws-crt picks dist/bin/<platform>-<arch>-<libc>/ at load; the shipped Node is a glibc build
  for (const native of optional.natives(arch)) {
    copy(join(REPO, 'node_modules', native), join(root, 'lib/node_modules', native));
  }
  const runtime = nodeRuntime(arch);
  copy(join(runtime, 'bin/node'), join(root, 'node/bin/node'));
  copy(join(runtime, 'LICENSE'), join(root, 'node/LICENSE'));
  const machine = elfMachine(join(root, 'node/bin/node'));
  if (machine !== ELF_MACHINE[arch]) fail(`node-linux-${arch}: bin/node has ELF machine 0x${machine.toString(16)}`);
  copy(join(PACKAGING, 'tether-agent.sh'), join(root, 'bin/tether-agent'));
  chmodSync(join(root, 'bin/tether-agent'), 0o755);
  copy(join(PACKAGING, 'README.md'), join(root, 'README.md'));
  copy(join(PACKAGING, 'Dockerfile'), join(root, 'Dockerfile'));
  copy(join(PACKAGING, 'config/service.yml'), join(root, 'config/service.yml'));
  copy(join(PACKAGING, 'config/hub.yml'), join(root, 'config/hub.yml'));
  for (const file of ['tether-agent.service', 'tether-agent.sysusers', 'tether-agent.logrotate']) {
    copy(join(PACKAGING, file), join(root, 'packaging', file));
  }
  writeFileSync(join(root, 'VERSION'), `${AGENT_VERSION}\nnode ${NODE_VERSION}\nlinux-${arch}\n`);
}

/**
 * The files of aws-iot-device-sdk-v2 and everything it requires, found by letting esbuild follow
 * its require() graph (the metafile's inputs), plus each package's package.json for Node's
 * resolution. aws-crt's native binary is loaded by a computed path, so it is listed per arch.
 */
async function optionalModuleFiles() {
  const result = await build({
    stdin: { contents: "require('aws-iot-device-sdk-v2')", resolveDir: here('..'), loader: 'js' },
    bundle: true,
    platform: 'node',
    // resolve as Node's require() does: no `module` condition or field (esbuild's defaults add them)
    conditions: [],
    mainFields: ['main'],
    write: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: join(REPO, 'node_modules'),
  });
  const files = new Set();
  for (const input of Object.keys(result.metafile.inputs)) {
    if (input.startsWith('<') || input.startsWith('..')) continue; // <stdin>, or outside node_modules
    files.add(input);
    const pkg = packageRoot(input);
    files.add(`${pkg}/package.json`);
    for (const legal of ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'NOTICE']) {
      if (existsSync(join(REPO, 'node_modules', pkg, legal))) files.add(`${pkg}/${legal}`);
    }
  }
  const crt = packageRoot([...files].find((f) => /(^|\/)aws-crt\//.test(f)) ?? fail('aws-crt not found'));
  return {
    files: [...files].sort(),
    natives: (arch) => {
      const native = `${crt}/dist/bin/linux-${arch}-glibc/aws-crt-nodejs.node`;
      if (!existsSync(join(REPO, 'node_modules', native))) fail(`aws-crt has no ${native}`);
      return [native];
    },
  };
}

/** `a/node_modules/@s/b/dist/x.js` → `a/node_modules/@s/b` (paths relative to node_modules/). */
function packageRoot(file) {
  const parts = file.split('/');
  const last = parts.lastIndexOf('node_modules');
  const start = last + 1;
  const len = parts[start].startsWith('@') ? 2 : 1;
  return parts.slice(0, start + len).join('/');
}

/**
 * The unpacked npm package node-linux-<arch>@NODE_VERSION: the copy in node_modules when the tests'
 * runtime is that package and version (no download), else packed once into the cache.
 */
function nodeRuntime(arch) {
  const pkg = `node-linux-${arch}`;
  const installed = installedPackage(pkg, NODE_VERSION);
  if (installed) return installed;
  const unpacked = join(cacheDir, `${pkg}-${NODE_VERSION}`);
  if (existsSync(join(unpacked, 'bin/node'))) return unpacked;
  const tarball = join(cacheDir, `${pkg}-${NODE_VERSION}.tgz`);
  if (!existsSync(tarball)) {
    // npm checks the tarball against the registry's integrity hash; --ignore-scripts: nothing runs
    execFileSync(
      'npm',
      [
        'pack',
        `${pkg}@${NODE_VERSION}`,
        '--pack-destination',
        cacheDir,
        '--ignore-scripts',
        '--prefer-offline',
        '--loglevel=error',
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  }
  const tmp = mkdtempSync(join(cacheDir, `.${pkg}-`));
  execFileSync('tar', ['-xzf', tarball, '-C', tmp, 'package/bin/node', 'package/LICENSE']);
  renameSync(join(tmp, 'package'), unpacked);
  rmSync(tmp, { recursive: true, force: true });
  return unpacked;
}

/** A top-level node_modules folder holding `name@version` (under any alias), or undefined. */
function installedPackage(name, version) {
  const modules = join(REPO, 'node_modules');
  for (const dir of readdirSync(modules)) {
    const manifest = join(modules, dir, 'package.json');
    if (dir.startsWith('.') || dir.startsWith('@') || !existsSync(manifest)) continue;
    const { name: n, version: v } = JSON.parse(readFileSync(manifest, 'utf8'));
    if (n === name && v === version && existsSync(join(modules, dir, 'bin/node'))) return join(modules, dir);
  }
  return undefined;
}

function elfMachine(file) {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) fail(`${file}: not an ELF file`);
  return header.readUInt16LE(18);
}

/** A reproducible tar.gz: sorted names, root-owned, one timestamp, no gzip name or time. */
function pack(cwd, name, archive) {
  const tmp = `${archive}.tmp`;
  execFileSync(
    'sh',
    [
      '-c',
      'tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$1" -C "$2" -cf - "$3" | gzip -n -6 > "$4"',
      'pack',
      String(epoch),
      cwd,
      name,
      tmp,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  renameSync(tmp, archive);
}

function copy(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  if (statSync(from).isDirectory()) cpSync(from, to, { recursive: true });
  else copyFileSync(from, to);
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function mib(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function fail(message) {
  console.error(`release: ${message}`);
  process.exit(1);
}
