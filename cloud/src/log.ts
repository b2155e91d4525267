/**
 * The agent's logger factory, reused: pino with the same redaction of every secret-bearing field
 * (`password`, `key`, `privateKey`, `token`, `authorization`, at any depth up to two levels).
 * Imported from the compiled output for the reason given in pki/dev-pki.ts; it pulls in only pino.
 */
export { createLogger, REDACT_PATHS, silentLogger } from '../../edge-agent/dist/logging/logger.js';
