/**
 * One error type for the whole project. `code` is stable and listed in docs/errors.md
 * (a test checks the list and the doc match); `cause` keeps the underlying error.
 */
export const ERROR_CODES = {
  TETHER_ERR_CONFIG: 'A config file is missing, unreadable or invalid.',
  TETHER_ERR_CONFIG_FILE: 'A file that a config field names (certificate, key, CA) cannot be read.',
  TETHER_ERR_CONNECT: 'A connection to a hub or remote failed (network, TLS, refused CONNECT).',
  TETHER_ERR_AUTH: 'A broker refused the credentials (bad username/password or not authorized).',
  TETHER_ERR_TLS: 'A TLS handshake failed: untrusted CA, expired or wrong certificate, bad key.',
  TETHER_ERR_PUBLISH: 'A publish was not acknowledged by its destination.',
  TETHER_ERR_SUBSCRIBE: 'A subscription was refused by the broker (SUBACK failure).',
  TETHER_ERR_QUEUE_FULL: 'A queue reached its bound and its overflow policy refused the message.',
  TETHER_ERR_STORE:
    'The durable store in the data dir cannot be opened or written (locked, corrupt, full, unwritable).',
  TETHER_ERR_LISTEN: 'The embedded hub could not listen on an address.',
  TETHER_ERR_USAGE: 'The command line was wrong (unknown command or option, missing value).',
  TETHER_ERR_REQUEST: 'A provisioning request is invalid (the message names each bad field).',
  TETHER_ERR_FORBIDDEN: 'A provisioning request was refused: missing, wrong or used-up enrollment token.',
  TETHER_ERR_EXISTS: 'The thing already has credentials; rotate them to issue new ones.',
  TETHER_ERR_PROVISION: 'A provisioning step failed at the provider (the message names the step).',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class TetherError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TetherError';
    this.code = code;
  }
}

/** A config problem: every issue at once, each as `path: message`. */
export class ConfigError extends TetherError {
  /** The file the problems are in. */
  readonly file: string;
  readonly problems: readonly string[];

  constructor(file: string, problems: readonly string[], options?: { cause?: unknown }) {
    super('TETHER_ERR_CONFIG', `${file}: invalid config\n  ${problems.join('\n  ')}`, options);
    this.name = 'ConfigError';
    this.file = file;
    this.problems = problems;
  }
}
