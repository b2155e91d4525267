import { createLogger } from '@tether/node-shared/logging';
import { ConfigError } from '@tether/shared';
import { pino } from 'pino';
import { handleProvisionRequest, type ProvisionApiOptions } from '../api/provision-api.js';
import { bearerToken } from '../api/tokens.js';
import { optionsFromEnvironment } from './environment.js';

/**
 * The provisioning function. Two ways in:
 * - an HTTP event (function URL or API Gateway HTTP API, payload 2.0): the JSON body is the request,
 *   `Authorization: Bearer <enrollment token>` the caller's token; the answer is an HTTP response.
 * - a direct invocation (`lambda:InvokeFunction`, authorized by IAM): the event is the request; the
 *   answer is the JSON object itself (`statusCode` plus the body's fields).
 * Either way the same code as `tether-cloud serve` runs (api/provision-api.ts).
 */

export interface HttpEvent {
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
  readonly headers?: Readonly<Record<string, string | undefined>>;
}

export interface HttpResult {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export type ProvisionHandler = (event: unknown) => Promise<HttpResult | Record<string, unknown>>;

/** The handler for given options (clients injected): what tests and other wirings use. */
export function createHandler(options: ProvisionApiOptions): ProvisionHandler {
  return async (event) => {
    if (isHttpEvent(event)) {
      const raw = event.body ?? '';
      const body = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
      const answer = await handleProvisionRequest(body, bearerToken(header(event, 'authorization')), options);
      return {
        statusCode: answer.status,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
        body: JSON.stringify(answer.body),
      };
    }
    const answer = await handleProvisionRequest(event, undefined, {
      ...options,
      authorize: async () => ({ ok: true }),
    });
    return { statusCode: answer.status, ...answer.body };
  };
}

let configured: ProvisionHandler | undefined;
let log: ReturnType<typeof createLogger> | undefined;

/** The deployed entry point: configured from the environment on the first call (see environment.ts). */
export async function handler(event: unknown): Promise<HttpResult | Record<string, unknown>> {
  // synchronous writes: a frozen Lambda must not hold log lines in a buffer
  log ??= createLogger(
    { level: 'info' },
    { name: 'tether-provision', destination: pino.destination({ dest: 1, sync: true }) },
  );
  const logger = log;
  try {
    configured ??= createHandler(await optionsFromEnvironment(process.env, logger));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logger.error({ problems: error.problems }, 'the provisioning function is misconfigured');
    const body = {
      error: { code: error.code, message: 'the provisioning function is misconfigured', problems: error.problems },
    };
    return isHttpEvent(event)
      ? { statusCode: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
      : { statusCode: 500, ...body };
  }
  return configured(event);
}

function isHttpEvent(event: unknown): event is HttpEvent {
  return (
    typeof event === 'object' && event !== null && ('body' in event || 'headers' in event || 'requestContext' in event)
  );
}

function header(event: HttpEvent, name: string): string | undefined {
  for (const [key, value] of Object.entries(event.headers ?? {})) if (key.toLowerCase() === name) return value;
  return undefined;
}
