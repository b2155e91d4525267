/**
 * The userinfo of every URL in a text (`tcp://user:secret@host` → `tcp://[redacted]@host`).
 * pino's redact paths match whole fields, not substrings, so an address inside a message or an
 * error text needs this: it runs on every serialized log line (the logger's streamWrite hook)
 * and on the errors that describe a connection.
 *
 * The userinfo runs from `scheme://` to the last `@` before the authority ends (`/`, space, a
 * JSON quote); a password holding `@` is covered whole, as URL parsers read it. Inside a JSON
 * line an escaped character (`\"`) is part of the userinfo, not its end.
 */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)(?:(?:[^\s/@"\\]|\\.)*@)+/gi;

export const REDACTED_USERINFO = '[redacted]@';

export function redactUserinfo(text: string): string {
  // most lines hold no URL with userinfo: skip the regex replace for them
  if (!text.includes('@') || !text.includes('://')) return text;
  return text.replace(USERINFO, `$1${REDACTED_USERINFO}`);
}
