#!/usr/bin/env node
// The CDK app: `npx cdk synth|deploy` (cdk.json) or `npm run synth -w infra` (this file directly, writes infra/cdk.out).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { configFromContext } from '../src/app-config.js';
import { ProvisioningStack } from '../src/provisioning-stack.js';

// The CDK CLI passes CDK_OUTDIR; run directly, the assembly goes to infra/cdk.out whatever the working directory.
const outdir = process.env.CDK_OUTDIR ?? fileURLToPath(new URL('../../cdk.out', import.meta.url));
const app = new App({ outdir });
const { stackName, props } = configFromContext((key) => app.node.tryGetContext(key));
// No `env`: region and account stay unresolved, so synth needs neither credentials nor lookups.
const stack = new ProvisioningStack(app, stackName, props);
const assembly = app.synth();

if (process.env.CDK_OUTDIR === undefined) {
  const template = join(assembly.directory, stack.templateFile);
  console.error(`synthesized ${stack.stackName}: ${template} (${statSync(template).size} bytes)`);
}
