import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, TetherError } from '@tether/shared';
import { hashPasswordCommand } from './hash-password.js';
import { DEFAULT_DATA_DIR, runAgent, runHubOnly } from './run.js';
import { USAGE } from './usage.js';
import { validateCommand } from './validate.js';

const EXIT_USAGE = 2;

function version(): string {
  // the one-file bundle has the version baked in; from source, read it from package.json
  if (process.env.TETHER_AGENT_VERSION) return process.env.TETHER_AGENT_VERSION;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      'hub-config': { type: 'string' },
      'data-dir': { type: 'string' },
      password: { type: 'string' },
      once: { type: 'boolean' },
      json: { type: 'boolean' },
      url: { type: 'string' },
      thing: { type: 'string' },
      out: { type: 'string' },
      ca: { type: 'string' },
      hub: { type: 'string' },
      'hub-username': { type: 'string' },
      'hub-password': { type: 'string' },
      'token-file': { type: 'string' },
      rotate: { type: 'boolean' },
      auth: { type: 'string' },
      region: { type: 'string' },
      profile: { type: 'string' },
      id: { type: 'string', multiple: true },
      all: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.version) {
    console.log(version());
    return 0;
  }
  const [command = 'run', ...rest] = positionals;
  const action = command === 'deadletters' ? rest.shift() : undefined;
  if (rest.length > 0) throw usageError(`unexpected argument "${rest[0]}"`);
  switch (command) {
    case 'run':
      if (!values.config) throw usageError('--config FILE is required (the bridge service.yml)');
      return runAgent({ config: values.config, hubConfig: values['hub-config'], dataDir: values['data-dir'] });
    case 'hub': {
      const file = values.config ?? values['hub-config'];
      if (!file) throw usageError('hub needs --config FILE (the hub service.yml)');
      return runHubOnly(file);
    }
    case 'reload': {
      const { reloadCommand } = await import('./reload.js');
      return reloadCommand(values['data-dir']);
    }
    case 'status': {
      const { statusCommand } = await import('./status.js');
      return statusCommand({ dataDir: values['data-dir'], url: values.url, json: values.json === true });
    }
    case 'validate':
      if (!values.config && !values['hub-config'])
        throw usageError('validate needs --config FILE and/or --hub-config FILE');
      return validateCommand(values.config, values['hub-config']);
    case 'hash-password':
      return hashPasswordCommand(values.password);
    case 'enroll': {
      if (!values.url || !values.thing || !values.out)
        throw usageError('enroll needs --url URL --thing NAME --out DIR');
      const { enrollCommand } = await import('./enroll.js');
      return enrollCommand({
        url: values.url,
        thing: values.thing,
        out: values.out,
        ca: values.ca,
        token: process.env.TETHER_ENROLL_TOKEN || undefined,
        tokenFile: values['token-file'],
        rotate: values.rotate,
        hub: values.hub,
        hubUsername: values['hub-username'],
        hubPassword: values['hub-password'],
        hubConfig: values['hub-config'],
        auth: values.auth,
        region: values.region,
        profile: values.profile,
      });
    }
    case 'deadletters': {
      if (action !== 'list' && action !== 'requeue' && action !== 'drop')
        throw usageError('deadletters needs list, requeue or drop');
      const { deadLettersCommand } = await import('./deadletters.js');
      return deadLettersCommand({
        action,
        dataDir: values['data-dir'] ?? DEFAULT_DATA_DIR,
        ids: (values.id ?? []).map(deadLetterId),
        all: values.all === true,
      });
    }
    case 'demo': {
      const { runDemo } = await import('../demo/quickstart.js');
      return runDemo({ once: values.once === true });
    }
    default:
      throw usageError(`unknown command "${command}"`);
  }
}

function deadLetterId(text: string): number {
  if (!/^\d+$/.test(text)) throw usageError(`--id ${text}: expected a dead letter id (a number)`);
  return Number(text);
}

function usageError(message: string): TetherError {
  return new TetherError('TETHER_ERR_USAGE', message);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      console.error(`tether-agent: ${error.message}`);
      process.exit(EXIT_USAGE);
    }
    const code = (error as { code?: string }).code;
    if ((error instanceof TetherError && error.code === 'TETHER_ERR_USAGE') || code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`tether-agent: ${(error as Error).message}\nRun tether-agent --help for usage.`);
      process.exit(EXIT_USAGE);
    }
    if (error instanceof TetherError) {
      console.error(`tether-agent: ${error.code}: ${error.message}`);
      process.exit(error.code === 'TETHER_ERR_CONFIG' || error.code === 'TETHER_ERR_CONFIG_FILE' ? EXIT_USAGE : 1);
    }
    console.error('tether-agent: unexpected failure', error);
    process.exit(1);
  },
);
