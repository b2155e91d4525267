import { PolicySchema } from '@tether/shared';
import { describe, expect, it } from 'vitest';
import { parseDevicesCsv } from '../../src/core/devices-csv.js';

const fallback = PolicySchema.parse({ publish: ['d/{thing}/up'] });

describe('batch file', () => {
  it('reads things with their own filters or the fallback policy', () => {
    const { rows, problems } = parseDevicesCsv(
      '# fleet A\nthing,publish,subscribe\ngw-1,,\ngw-2,a/{thing};b,c/#\n\n',
      fallback,
    );
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      { line: 3, thing: 'gw-1', policy: fallback },
      { line: 4, thing: 'gw-2', policy: { publish: ['a/{thing}', 'b'], subscribe: ['c/#'] } },
    ]);
  });

  it('reports every problem with its line before anything is provisioned', () => {
    const { problems } = parseDevicesCsv('thing,publish,colour\nok\nbad name\nok\nx,a/#/b\ny,p,q,r\n', undefined);
    expect(problems).toEqual([
      'line 1: unknown column(s) colour (thing, publish, subscribe)',
      'line 2: no filters and no --allow-pub/--allow-sub/--policy to fall back on',
      'line 3: thing: expected 1-128 letters, digits, "-" or "_", starting with a letter or digit',
      'line 3: no filters and no --allow-pub/--allow-sub/--policy to fall back on',
      'line 4: thing: "ok" appears twice',
      'line 4: no filters and no --allow-pub/--allow-sub/--policy to fall back on',
      'line 5: publish: \'#\' must be the whole last level in "a/#/b"',
      'line 6: 4 cells, the header has 3',
    ]);
    expect(parseDevicesCsv('name\nx\n', fallback).problems).toEqual(['line 1: the header must name a "thing" column']);
  });

  it('reads an Excel-style file: BOM, CRLF, quoted cells with ; and , — no quotes reach the policy', () => {
    const excel =
      '\uFEFFthing,publish,subscribe\r\n' +
      '"gw-1","a/{thing};c/d","down/{thing}/#"\r\n' +
      '# a comment between rows\r\n' +
      'gw-2,"x/""y"";z",\r\n' +
      '"gw-3","multi/{thing}\n;second",""\r\n';
    const { rows, problems } = parseDevicesCsv(excel, fallback);
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      { line: 2, thing: 'gw-1', policy: { publish: ['a/{thing}', 'c/d'], subscribe: ['down/{thing}/#'] } },
      { line: 4, thing: 'gw-2', policy: { publish: ['x/"y"', 'z'], subscribe: [] } },
      { line: 6, thing: 'gw-3', policy: { publish: ['multi/{thing}', 'second'], subscribe: [] } },
    ]);
  });

  it('names the line of a broken quote', () => {
    const { problems } = parseDevicesCsv('thing,publish\ngw-1,"a/b\n', fallback);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^line \d+: .*quote/i);
  });
});
