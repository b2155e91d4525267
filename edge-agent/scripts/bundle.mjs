// Bundles the agent into one file for edge nodes: `npm run bundle -w edge-agent` writes
// bundle/tether-agent.mjs and its chunks; `npm run release` (release.mjs) puts the same bundle into the archives.
// Native modules stay outside the bundle: only aws-crt, for `provider: aws-iot`, loaded on use (the
// store is node:sqlite, built into Node).
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const manifest = JSON.parse(readFileSync(here('../package.json'), 'utf8'));

/** Packages left out of the bundle: native code, resolved at run time from node_modules beside it. */
export const NATIVE = ['aws-crt', 'aws-iot-device-sdk-v2'];
export const AGENT_VERSION = manifest.version;
export const AMAZON_ROOT_CA_1 = here('../certs/AmazonRootCA1.pem');

/**
/**
 * On Node 24 an ESM `import … from 'node:http'` builds the module's namespace, which reads every
 * export, among them the lazy `WebSocket`/`CloseEvent`/`MessageEvent` getters that load Node's
 * bundled undici (hundreds of KB of source: BENCHMARKS.md) into an agent that never uses them.
 * require('node:http') does not read them: the bundle takes these built-ins through require().
 */
const LAZY_EXPORT_BUILTINS = /^(node:)?https?$/;
const builtinsThroughRequire = {
  name: 'builtins-through-require',
  setup(b) {
    b.onResolve({ filter: LAZY_EXPORT_BUILTINS }, (args) =>
      args.kind === 'import-statement' || args.kind === 'dynamic-import'
        ? { path: args.path.replace(/^node:/, ''), namespace: 'builtin-require' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin-require' }, (args) => ({
      contents: `module.exports = require('node:${args.path}');`,
      loader: 'js',
    }));
  },
};

/**
 * zod's `z` namespace re-exports `z.locales`, every error-message language (hundreds of KB once
 * bundled, parsed at each start: BENCHMARKS.md), which esbuild cannot drop from a namespace
 * object. The agent uses zod's default English messages only (set by zod itself from
 * locales/en.js), so the locales index keeps `en` alone.
 */
const englishOnlyZod = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
      contents: 'export { default as en } from "./en.js";\n',
      loader: 'js',
    }));
  },
};

/**
 * Writes the bundle into `outdir` (from the compiled dist/, so run `tsc -b` first): the entry
 * tether-agent.mjs and one chunk per part the agent imports on use (the embedded hub, metrics,
 * enroll and its AWS SDK, the demo and its PKI), so a start parses only what it runs. Returns the
 * total size in bytes.
 */
export async function bundleAgent(outdir) {
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    entryPoints: { 'tether-agent': here('../dist/cli/main.js') },
    outdir,
    outExtension: { '.js': '.mjs' },
    // dynamic import() stays lazy: without splitting esbuild inlines every imported module, and
    // the whole 3 MB is parsed and run at start
    splitting: true,
    // beside the entry: import.meta.url-relative files (certs/) resolve the same from any chunk
    chunkNames: '[name]-[hash]',
    bundle: true,
    platform: 'node',
    // the supported LTS lines are Node 22 and 24 (the archives ship 24)
    target: 'node22',
    format: 'esm',
    external: NATIVE,
    plugins: [englishOnlyZod, builtinsThroughRequire],
    // No comments and ASCII only: V8 keeps the whole bundle's source text in memory, and one
    // character above U+00FF (an em dash in a comment) makes it a two-byte string. Identifiers stay,
    // so stack traces keep their function names. Idle RSS saved: BENCHMARKS.md.
    minifyWhitespace: true,
    charset: 'ascii',
    // some dependencies are CommonJS that call require(): give each ESM chunk one
    banner: {
      js: "import { createRequire as __tetherCreateRequire } from 'node:module';\nconst require = __tetherCreateRequire(import.meta.url);",
    },
    define: { 'process.env.TETHER_AGENT_VERSION': JSON.stringify(AGENT_VERSION) },
    metafile: true,
    logLevel: 'warning',
  });
  return Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  rmSync(here('../bundle'), { recursive: true, force: true });
  const bytes = await bundleAgent(here('../bundle'));
  // provider: aws-iot trusts Amazon Root CA 1 when no `ca` is given; the adapter looks beside the bundle
  mkdirSync(here('../bundle/certs'), { recursive: true });
  copyFileSync(AMAZON_ROOT_CA_1, here('../bundle/certs/AmazonRootCA1.pem'));
  writeFileSync(
    here('../bundle/package.json'),
    `${JSON.stringify({ name: 'tether-agent-bundle', private: true, type: 'module', optionalDependencies: { 'aws-iot-device-sdk-v2': manifest.dependencies['aws-iot-device-sdk-v2'] } }, null, 2)}\n`,
  );
  console.log(
    `bundle/ (tether-agent.mjs + chunks): ${(bytes / 1024).toFixed(0)} KiB; native modules to install beside it: ${NATIVE.join(', ')}`,
  );
}
