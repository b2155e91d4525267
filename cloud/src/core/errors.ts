import { type ProvisioningProvider, TetherError } from '@tether/shared';

/**
 * A provider call failed. The message names the provider, the step and the thing, then what the
 * provider said (never a request body: it may hold a CSR or, for some calls, a key).
 */
export class ProvisionStepError extends TetherError {
  readonly provider: ProvisioningProvider;
  readonly step: string;
  readonly thing: string;

  constructor(provider: ProvisioningProvider, step: string, thing: string, cause: unknown) {
    super('TETHER_ERR_PROVISION', `${provider}: step ${step} failed for thing ${thing}: ${describeCause(cause)}`, {
      cause,
    });
    this.name = 'ProvisionStepError';
    this.provider = provider;
    this.step = step;
    this.thing = thing;
  }
}

/** Runs one provider step; any failure becomes a ProvisionStepError naming it. */
export async function runStep<T>(
  provider: ProvisioningProvider,
  step: string,
  thing: string,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof TetherError) throw error;
    throw new ProvisionStepError(provider, step, thing, error);
  }
}

/** `Name: message (HTTP 403)` for SDK errors, the code of network errors (ECONNREFUSED…). */
export function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const status = (cause as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const inner = (cause as { cause?: { code?: string; message?: string } }).cause;
  const name = cause.name && cause.name !== 'Error' ? `${cause.name}: ` : '';
  const code = inner?.code ? ` (${inner.code})` : '';
  return `${name}${cause.message}${code}${status ? ` (HTTP ${status})` : ''}`;
}

/** Bad input: every problem at once, each naming its field. */
export class RequestError extends TetherError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('TETHER_ERR_REQUEST', `invalid request\n  ${problems.join('\n  ')}`);
    this.name = 'RequestError';
    this.problems = problems;
  }
}
