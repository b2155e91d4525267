import pino from 'pino';

/** A pino logger whose lines the test reads back, parsed, with the level as its name. */
export function recordingLogger() {
  const lines: Array<{ level: string; msg: string; [k: string]: unknown }> = [];
  const logger = pino(
    { level: 'info', formatters: { level: (label) => ({ level: label }) } },
    { write: (line: string) => lines.push(JSON.parse(line)) },
  );
  return { logger, lines };
}
