import type { z } from 'zod';
import { closestMatch } from './schemas/closest-match.js';
import { unknownKeyMessage } from './schemas/sections.js';

/**
 * Messages that say what is valid, for every issue zod raises without one of ours (zod's own
 * say "Invalid input"). Passed per parse (`safeParse(data, { error: issueMessage })`), so no
 * global config. A value is quoted only where it cannot be a secret: never for a wrong type
 * (a password given as a number) and never for a string's length.
 */
export function issueMessage(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `required (${expectedText(issue.expected)})`;
      if (issue.expected === 'int' && typeof issue.input === 'number')
        return `must be a whole number (got ${issue.input})`;
      return `expected ${expectedText(issue.expected)}, got ${kindOf(issue.input)}`;
    case 'invalid_value':
      return mustBe(issue.values, issue.input);
    case 'too_small':
      return boundText('at least', 'more than', issue.origin, issue.minimum, issue.inclusive, issue.input);
    case 'too_big':
      return boundText('at most', 'less than', issue.origin, issue.maximum, issue.inclusive, issue.input);
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor} (got ${String(issue.input)})`;
    case 'invalid_format':
      return issue.format === 'regex' ? `must match ${issue.pattern}` : `must be a valid ${issue.format}`;
    case 'unrecognized_keys': {
      const known = Object.keys(
        (issue.inst as { _zod?: { def?: { shape?: object } } } | undefined)?._zod?.def?.shape ?? {},
      );
      return issue.keys.map((key) => `"${key}": ${unknownKeyMessage(key, known, 'error')}`).join('; ');
    }
    case 'invalid_union':
      if (issue.discriminator !== undefined && Array.isArray(issue.options)) return mustBe(issue.options, issue.input);
      return `expected ${unionText(issue.errors ?? [])}, got ${kindOf(issue.input)}`;
    case 'invalid_key':
      return `has an invalid key (${issue.issues.map((i) => i.message).join('; ')})`;
    case 'invalid_element':
      return `has an invalid entry (${issue.issues.map((i) => i.message).join('; ')})`;
    default:
      return 'is not valid here';
  }
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping of keys to values',
  array: 'a list',
  nonoptional: 'a value',
  never: 'nothing here',
};

function expectedText(expected: string): string {
  return EXPECTED[expected] ?? expected;
}

function kindOf(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'boolean') return `${value}`;
  if (typeof value === 'number') return Number.isInteger(value) ? 'a whole number' : 'a number';
  return `a ${typeof value}`;
}

/** `must be 0, 1 or 2 (got 7)`, with a did-you-mean for a near-miss string. */
function mustBe(values: readonly unknown[], input: unknown): string {
  const shown = values.map((v) => (typeof v === 'string' ? `"${v}"` : String(v)));
  const list = shown.length > 1 ? `${shown.slice(0, -1).join(', ')} or ${shown.at(-1)}` : (shown[0] ?? 'nothing');
  const strings = values.filter((v): v is string => typeof v === 'string');
  const close = typeof input === 'string' ? closestMatch(input, strings) : undefined;
  const got = input === undefined ? 'nothing' : (JSON.stringify(input)?.slice(0, 60) ?? String(input));
  return `must be ${list} (got ${got}${close !== undefined ? `; did you mean "${close}"?` : ''})`;
}

function boundText(
  word: string,
  strictWord: string,
  origin: string,
  bound: number | bigint,
  inclusive: boolean | undefined,
  input: unknown,
): string {
  const limit = `${inclusive === false ? strictWord : word} ${bound}`;
  if (origin === 'array' || origin === 'set') {
    const n = Array.isArray(input) ? ` (got ${input.length})` : '';
    return `needs ${limit} ${bound === 1 ? 'entry' : 'entries'}${n}`;
  }
  if (origin === 'string') {
    if (word === 'at least' && bound === 1) return 'must not be empty';
    return `must be ${limit} characters long`;
  }
  return `must be ${limit} (got ${String(input)})`;
}

/** "a number or a string" from each branch's first issue. */
function unionText(errors: readonly (readonly z.core.$ZodIssue[])[]): string {
  const wanted = new Set<string>();
  for (const branch of errors) {
    const first = branch[0];
    if (first?.code === 'invalid_type') wanted.add(expectedText(first.expected));
    else if (first?.code === 'invalid_value') for (const v of first.values) wanted.add(JSON.stringify(v));
    else if (first) wanted.add(`a value that ${first.message}`);
  }
  const list = [...wanted];
  return list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list.at(-1)}` : (list[0] ?? 'another value');
}
