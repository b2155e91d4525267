import { type Policy, PolicySchema, policyFilterProblem, ThingNameSchema } from '@tether/shared';
import { parse } from 'csv-parse/sync';

export interface DeviceRow {
  readonly line: number;
  readonly thing: string;
  readonly policy: Policy;
}

/**
 * A batch file, read with csv-parse as Excel and other tools write it: a header naming the columns
 * (`thing`, and optionally `publish`, `subscribe`), then one thing per row; cells may be quoted
 * (`"a/b;c/d"`, `"with, comma"`, `""` for a quote), lines may end in CRLF, a UTF-8 BOM is skipped.
 * Filters within a cell are separated by `;`; a row without filters takes `fallback` (the command
 * line's policy). Blank lines and lines starting with `#` are skipped (a `#` inside a cell is a
 * topic wildcard). Returns the rows, or every problem as `line N: …`.
 */
export function parseDevicesCsv(text: string, fallback: Policy | undefined): { rows: DeviceRow[]; problems: string[] } {
  const problems: string[] = [];
  const rows: DeviceRow[] = [];
  let records: { record: string[]; info: { lines: number; comment_lines?: number } }[];
  try {
    records = parse(text, {
      bom: true,
      comment: '#',
      comment_no_infix: true,
      skip_empty_lines: true,
      trim: true,
      relax_column_count: true,
      info: true,
    }) as unknown as { record: string[]; info: { lines: number; comment_lines?: number } }[];
  } catch (error) {
    const e = error as { message?: string; lines?: number };
    return { rows, problems: [`line ${e.lines ?? 1}: ${e.message ?? String(error)}`] };
  }
  // csv-parse's `info.lines`: the line the row ends on (a quoted cell may span lines)
  const lineOf = (r: { info: { lines: number } }) => r.info.lines;
  const header = records.shift();
  const columns = header?.record.map((c) => c.toLowerCase()) ?? [];
  const at = (name: string) => columns.indexOf(name);
  if (!header || at('thing') < 0) return { rows, problems: ['line 1: the header must name a "thing" column'] };
  const unknown = columns.filter((c) => !['thing', 'publish', 'subscribe'].includes(c));
  if (unknown.length > 0)
    problems.push(`line ${lineOf(header)}: unknown column(s) ${unknown.join(', ')} (thing, publish, subscribe)`);
  const seen = new Set<string>();
  for (const r of records) {
    const cells = r.record;
    const n = lineOf(r);
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
