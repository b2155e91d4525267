import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ProvisioningStack, type ProvisioningStackProps } from '../src/provisioning-stack.js';

export interface Synthesized {
  readonly stack: ProvisioningStack;
  readonly template: Template;
  /** The template as JSON (what `cdk synth` writes). */
  readonly json: Record<string, any>;
  /** The cloud assembly directory (bundled assets live under it). */
  readonly outdir: string;
  /** Removes the assembly directory. */
  readonly dispose: () => void;
}

/** One synthesis (with the real esbuild bundling); share the result across a file's tests, it takes seconds. */
export function synth(props: ProvisioningStackProps = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'tether-infra-'));
  const app = new App({ outdir });
  const stack = new ProvisioningStack(app, 'Test', props);
  const template = Template.fromStack(stack);
  const dispose = () => rmSync(outdir, { recursive: true, force: true });
  return { stack, template, json: template.toJSON(), outdir, dispose };
}

type Json = Record<string, unknown>;

/**
 * A CloudFormation value as readable text: `{ "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, …]] }` becomes
 * `arn:${Partition}:…`, `{ Ref: X }` becomes `${X}`, `{ "Fn::GetAtt": [X, A] }` becomes `${X.A}`.
 */
export function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Json;
  if ('Ref' in v) return `\${${String(v.Ref).replace(/^AWS::/, '')}}`;
  if ('Fn::GetAtt' in v) return `\${${(v['Fn::GetAtt'] as string[]).join('.')}}`;
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(sep);
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

export interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** Every policy statement in the template: identity policies, managed policies, inline role policies, resource policies. */
export function allStatements(json: Json): { resource: string; type: string; statement: Statement }[] {
  const out: { resource: string; type: string; statement: Statement }[] = [];
  const resources = (json.Resources ?? {}) as Record<string, { Type: string; Properties?: Json }>;
  const visit = (resource: string, type: string, doc: unknown) => {
    for (const statement of ((doc as Json | undefined)?.Statement ?? []) as Statement[]) {
      out.push({ resource, type, statement });
    }
  };
  for (const [id, { Type, Properties = {} }] of Object.entries(resources)) {
    visit(id, Type, Properties.PolicyDocument);
    visit(id, Type, Properties.ResourcePolicy);
    visit(id, Type, Properties.AssumeRolePolicyDocument);
    for (const inline of (Properties.Policies ?? []) as Json[]) visit(id, Type, inline.PolicyDocument);
  }
  return out;
}

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** An AWS IoT ARN as {@link render} shows it in an environment-agnostic stack. */
export const iotArn = (resource: string): string => `arn:\${Partition}:iot:\${Region}:\${AccountId}:${resource}`;
