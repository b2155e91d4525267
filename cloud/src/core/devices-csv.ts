import { type Policy, PolicySchema, policyFilterProblem, ThingNameSchema } from '@tether/shared';

export interface DeviceRow {
  readonly line: number;
  readonly thing: string;
  readonly policy: Policy;
}

/**
 * A batch file: a header line naming the columns (`thing`, and optionally `publish`, `subscribe`), then
 * one thing per line. Filters within a cell are separated by `;`; a row without filters takes
 * `fallback` (the command line's policy). Blank lines and lines starting with `#` are skipped. No
 * quoting: commas cannot appear in a cell. Returns the rows, or every problem as `line N: …`.
 */
export function parseDevicesCsv(text: string, fallback: Policy | undefined): { rows: DeviceRow[]; problems: string[] } {
  const problems: string[] = [];
  const rows: DeviceRow[] = [];
  const lines = text.split('\n').map((l, i) => ({ n: i + 1, text: l.replace(/\r$/, '').trim() }));
  const content = lines.filter((l) => l.text !== '' && !l.text.startsWith('#'));
  const header = content.shift();
  const columns = header?.text.split(',').map((c) => c.trim().toLowerCase()) ?? [];
  const at = (name: string) => columns.indexOf(name);
  if (!header || at('thing') < 0) return { rows, problems: ['line 1: the header must name a "thing" column'] };
  const unknown = columns.filter((c) => !['thing', 'publish', 'subscribe'].includes(c));
  if (unknown.length > 0)
    problems.push(`line ${header.n}: unknown column(s) ${unknown.join(', ')} (thing, publish, subscribe)`);
  const seen = new Set<string>();
  for (const { n, text: line } of content) {
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length > columns.length) {
      problems.push(`line ${n}: ${cells.length} cells, the header has ${columns.length}`);
      continue;
    }
    const thing = cells[at('thing')] ?? '';
    const name = ThingNameSchema.safeParse(thing);
    if (!name.success) problems.push(`line ${n}: thing: ${name.error.issues[0]?.message ?? 'invalid'}`);
    if (seen.has(thing)) problems.push(`line ${n}: thing: "${thing}" appears twice`);
    seen.add(thing);
    const filters = (column: string) =>
      (cells[at(column)] ?? '')
        .split(';')
        .map((f) => f.trim())
        .filter((f) => f !== '');
    const publish = at('publish') >= 0 ? filters('publish') : [];
    const subscribe = at('subscribe') >= 0 ? filters('subscribe') : [];
    for (const [column, list] of [
      ['publish', publish],
      ['subscribe', subscribe],
    ] as const) {
      for (const f of list) {
        const problem = policyFilterProblem(f);
        if (problem) problems.push(`line ${n}: ${column}: ${problem}`);
      }
    }
    const own = publish.length + subscribe.length > 0 ? PolicySchema.safeParse({ publish, subscribe }) : undefined;
    const policy = own === undefined ? fallback : own.success ? own.data : undefined;
    if (!policy) {
      // filters that did not parse are already reported
      if (own === undefined)
        problems.push(`line ${n}: no filters and no --allow-pub/--allow-sub/--policy to fall back on`);
      continue;
    }
    if (name.success) rows.push({ line: n, thing, policy });
  }
  return { rows, problems };
}
