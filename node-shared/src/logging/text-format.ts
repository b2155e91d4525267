/** Fields every line shows in its fixed part, not as key=value. */
const FIXED = new Set(['level', 'time', 'msg', 'module', 'pid', 'hostname', 'name']);

/**
 * `logger.format: text`: one readable line per event from pino's JSON line,
 * `2026-01-02T03:04:05.678Z WARN  bridge: remote down remote=cloud attempts=3`.
 * Field values without spaces stay bare; others are JSON-quoted, so the line stays one line.
 */
export function formatTextLine(jsonLine: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine.endsWith('\n') ? jsonLine : `${jsonLine}\n`;
  }
  const level = String(record.level ?? 'info').toUpperCase();
  const module = record.module === undefined ? '' : `${String(record.module)}: `;
  let line = `${String(record.time ?? new Date().toISOString())} ${level.padEnd(5)} ${module}${String(record.msg ?? '')}`;
  for (const [key, value] of Object.entries(record)) {
    if (FIXED.has(key) || value === undefined) continue;
    line += ` ${key}=${formatValue(key, value)}`;
  }
  return `${line}\n`;
}

function formatValue(key: string, value: unknown): string {
  if (key === 'err' && value && typeof value === 'object') {
    const err = value as { message?: unknown; code?: unknown };
    return JSON.stringify(String(err.message ?? err.code ?? 'error'));
  }
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}
