import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '@tether/node-shared/logging';
import { ConfigError, TetherError } from '@tether/shared';
import { RequestError } from '../core/errors.js';
import { createProvider } from '../providers/create-provider.js';
import {
  type CliValues,
  hubFrom,
  policyFrom,
  positiveInt,
  providerSettings,
  readTextFile,
  requireValue,
  thingName,
  usageError,
} from './options.js';
import { print, printError } from './output.js';
import { formatOutcome, formatPlan, provisionThing } from './provision.js';
import { USAGE } from './usage.js';

const EXIT_USAGE = 2;

const OPTIONS = {
  provider: { type: 'string' },
  thing: { type: 'string' },
  out: { type: 'string' },
  endpoint: { type: 'string' },
  'ca-dir': { type: 'string' },
  hub: { type: 'string' },
  'hub-username': { type: 'string' },
  'hub-password': { type: 'string' },
  'hub-config': { type: 'string' },
  'aws-port': { type: 'string' },
  'allow-pub': { type: 'string', multiple: true },
  'allow-sub': { type: 'string', multiple: true },
  policy: { type: 'string' },
  csr: { type: 'string' },
  'dry-run': { type: 'boolean' },
  batch: { type: 'string' },
  concurrency: { type: 'string' },
  region: { type: 'string' },
  'api-url': { type: 'string' },
  'baidu-endpoint': { type: 'string' },
  'iotcore-id': { type: 'string' },
  auth: { type: 'string' },
  'broker-user': { type: 'string' },
  days: { type: 'string' },
  listen: { type: 'string' },
  'token-file': { type: 'string' },
  ttl: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  if (values.help) {
    print(USAGE);
    return 0;
  }
  if (values.version) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    print(pkg.version);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (rest.length > 0) throw usageError(`unexpected argument "${rest[0]}"`);
  const cli = values as CliValues;
  switch (command) {
    case 'provision':
    case 'rotate':
      return provisionCommand(cli, command);
    case 'revoke':
      return revokeCommand(cli);
    case 'describe': {
      const provider = await createProvider(providerSettings(cli));
      print(JSON.stringify(await provider.describe(thingName(cli)), null, 2));
      return 0;
    }
    case 'serve':
      return serve(cli);
    case 'token': {
      const thing = thingName(cli);
      const hours = cli.ttl === undefined ? 24 : positiveInt(cli.ttl, 'ttl', 24 * 365);
      const { OneTimeTokens } = await import('../serve/one-time-tokens.js');
      const token = await new OneTimeTokens(requireValue(cli, 'ca-dir', 'DIR')).issue(thing, hours * 3_600_000);
      print(token);
      return 0;
    }
    case undefined:
      throw usageError('a command is needed: provision, rotate, revoke, describe, serve or token');
    default:
      throw usageError(`unknown command "${command}"`);
  }
}

async function provisionCommand(cli: CliValues, mode: 'provision' | 'rotate'): Promise<number> {
  const settings = providerSettings(cli);
  const out = resolve(requireValue(cli, 'out', 'DIR'));
  const hub = hubFrom(cli);
  if (cli.batch !== undefined) {
    if (mode === 'rotate' || cli.thing || cli.csr || cli['dry-run']) {
      throw usageError('--batch provisions from the file alone (no --thing, --csr, --dry-run or rotate)');
    }
    const { formatSummary, runBatch } = await import('./batch.js');
    const hasPolicy = cli.policy !== undefined || (cli['allow-pub'] ?? []).length + (cli['allow-sub'] ?? []).length > 0;
    const summary = await runBatch({
      provider: await createProvider(settings),
      file: cli.batch,
      text: readTextFile(cli.batch, 'batch'),
      fallback: hasPolicy ? policyFrom(cli) : undefined,
      hub,
      out,
      concurrency: cli.concurrency === undefined ? 4 : positiveInt(cli.concurrency, 'concurrency', 16),
    });
    print(formatSummary(summary));
    return summary.failed.length > 0 ? 1 : 0;
  }
  const job = {
    provider: await createProvider(settings),
    thing: thingName(cli),
    policy: policyFrom(cli),
    hub,
    out,
    csrPem: cli.csr === undefined ? undefined : readTextFile(cli.csr, 'csr'),
  };
  if (cli['dry-run']) {
    print(formatPlan(await job.provider.plan({ thing: job.thing, policy: job.policy, csrPem: job.csrPem })));
    return 0;
  }
  print(formatOutcome(await provisionThing(job, mode), job));
  return 0;
}

async function revokeCommand(cli: CliValues): Promise<number> {
  const provider = await createProvider(providerSettings(cli));
  const thing = thingName(cli);
  const result = await provider.revoke(thing);
  if (result.revoked.length === 0)
    print(`thing ${thing}: no active credentials at ${provider.name}; nothing to revoke`);
  else print(`thing ${thing}: revoked ${result.revoked.join(', ')} at ${provider.name}`);
  for (const step of result.steps.filter((s) => s.action === 'revoke' && s.detail)) print(`  ${step.detail}`);
  return 0;
}

async function serve(cli: CliValues): Promise<number> {
  const settings = providerSettings(cli);
  if (settings.provider !== 'local') {
    throw usageError('serve runs the local provider; for aws-iot deploy the provisioning function (infra/)');
  }
  const tokenFile = cli['token-file'];
  const fleetToken = tokenFile
    ? readTextFile(tokenFile, 'token-file').split('\n')[0]?.trim()
    : process.env.TETHER_ENROLL_TOKEN;
  const { serveCommand } = await import('./serve.js');
  return serveCommand({
    provider: await createProvider(settings),
    caDir: settings.caDir,
    listen: requireValue(cli, 'listen', 'HOST:PORT'),
    policy: policyFrom(cli),
    hub: hubFrom(cli),
    fleetToken: fleetToken || undefined,
    logger: createLogger({ level: 'info' }, { name: 'tether-cloud' }),
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const code = (error as { code?: string }).code;
    if (error instanceof TetherError && error.code === 'TETHER_ERR_USAGE') {
      printError(`tether-cloud: ${error.message}\nRun tether-cloud --help for usage.`);
      process.exitCode = EXIT_USAGE;
    } else if (code?.startsWith('ERR_PARSE_ARGS')) {
      printError(`tether-cloud: ${(error as Error).message}\nRun tether-cloud --help for usage.`);
      process.exitCode = EXIT_USAGE;
    } else if (error instanceof ConfigError || error instanceof RequestError) {
      printError(`tether-cloud: ${error.message}`);
      process.exitCode = EXIT_USAGE;
    } else if (error instanceof TetherError) {
      printError(`tether-cloud: ${error.code}: ${error.message}`);
      process.exitCode = 1;
    } else {
      printError(`tether-cloud: unexpected failure: ${(error as Error)?.stack ?? String(error)}`);
      process.exitCode = 1;
    }
  },
);
