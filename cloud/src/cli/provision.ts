import { expandPolicy, type Policy } from '@tether/shared';
import { buildBundle } from '../core/bundle.js';
import type { HubConnection } from '../core/service-config.js';
import type { Plan, PlanStep, Provider, Provisioned } from '../providers/provider.js';
import { writeBundle } from './write-bundle.js';

export interface ProvisionJob {
  readonly provider: Provider;
  readonly thing: string;
  readonly policy: Policy;
  readonly hub: HubConnection;
  readonly out: string;
  readonly csrPem?: string | undefined;
}

export type ProvisionOutcome =
  | { readonly kind: 'provisioned' | 'rotated'; readonly provisioned: Provisioned; readonly files: readonly string[] }
  | { readonly kind: 'exists'; readonly plan: Plan; readonly updated: readonly PlanStep[] };

/**
 * plan → apply → bundle → write, for one thing. A thing that has credentials is left as it is
 * (`exists`) unless `rotate` asks for new ones.
 */
export async function provisionThing(job: ProvisionJob, mode: 'provision' | 'rotate'): Promise<ProvisionOutcome> {
  const request = { thing: job.thing, policy: job.policy, csrPem: job.csrPem };
  let provisioned: Provisioned;
  if (mode === 'rotate') {
    provisioned = await job.provider.rotate(request);
  } else {
    const plan = await job.provider.plan(request);
    // an existing thing keeps its credentials, but a changed fleet policy still reaches it
    if (plan.exists) return { kind: 'exists', plan, updated: (await job.provider.update?.(plan)) ?? [] };
    provisioned = await job.provider.apply(plan);
  }
  const files = buildBundle(provisioned, { hub: job.hub, topics: expandPolicy(job.policy, job.thing) });
  const written = await writeBundle(job.out, files, job.thing);
  return { kind: mode === 'rotate' ? 'rotated' : 'provisioned', provisioned, files: written };
}

/** The plan as a table, for --dry-run. */
export function formatPlan(plan: Plan): string {
  const rows = plan.steps.map((s) => [s.action, s.id, s.call, s.detail]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = rows.map((r) => `  ${r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell)).join('  ')}`);
  const verdict = plan.exists
    ? plan.steps.some((s) => s.action === 'update')
      ? 'the thing has credentials: provision updates what the plan says, nothing else (rotate issues new ones)'
      : 'the thing has credentials: provision changes nothing (rotate issues new ones)'
    : 'nothing was changed (dry run)';
  return [`plan for thing ${plan.request.thing} at ${plan.provider}:`, ...lines, verdict].join('\n');
}

/** What a run did, in a few lines for a person. */
export function formatOutcome(outcome: ProvisionOutcome, job: ProvisionJob): string {
  if (outcome.kind === 'exists') {
    const updated = outcome.updated.map((s) => `${s.id} updated (${s.call}: ${s.detail})`).join('; ');
    return updated
      ? `thing ${job.thing}: exists at ${outcome.plan.provider}; ${updated}; credentials unchanged`
      : `thing ${job.thing}: exists at ${outcome.plan.provider}; nothing changed (tether-cloud rotate issues new credentials)`;
  }
  const { provisioned } = outcome;
  const cert = provisioned.certificate;
  const lines = [
    `thing ${job.thing}: ${outcome.kind} at ${provisioned.provider}` +
      (cert ? ` (certificate ${cert.id})` : provisioned.password ? ' (password principal)' : ''),
    `  wrote ${job.out}: ${outcome.files.join(' ')}`,
  ];
  if (provisioned.keyOnDevice)
    lines.push("  client.key is the device's own key: put it beside these files on the device");
  lines.push(`  run: tether-agent --config ${job.out} [--hub-config hub.yml]`);
  return lines.join('\n');
}
