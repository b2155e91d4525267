import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterEach, describe, expect, it } from 'vitest';
import { ProvisioningStack, type ProvisioningStackProps } from '../src/provisioning-stack.js';

// Synthesis bundles the real handler with esbuild (seconds).
const SYNTH_TIMEOUT = 120_000;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The stack under cdk-nag's AwsSolutions pack; returns what synthesis threw (undefined when clean). */
function nag(props: ProvisioningStackProps, extra?: (stack: ProvisioningStack) => void): Error | undefined {
  const outdir = mkdtempSync(join(tmpdir(), 'tether-nag-'));
  dirs.push(outdir);
  const app = new App({ outdir });
  const stack = new ProvisioningStack(app, 'Nag', props);
  extra?.(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    app.synth();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

describe('cdk-nag AwsSolutions', () => {
  it.each([
    ['default', {}],
    ['with the registry table and the local CA secret', { registry: true, localCa: true }],
    ['with another thing prefix', { thingPrefix: 'plant7-' }],
  ] as const)(
    '%s: every finding is fixed or acknowledged with its reason',
    (_, props) => {
      expect(nag(props)?.message).toBeUndefined();
    },
    SYNTH_TIMEOUT,
  );

  it(
    'a finding nobody acknowledged fails the synthesis, naming the rule',
    () => {
      const failure = nag({}, (stack) => new Secret(stack, 'Unrotated'));
      expect(failure?.message).toMatch(/AwsSolutions-SMG4/);
    },
    SYNTH_TIMEOUT,
  );
});
