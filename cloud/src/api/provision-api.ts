import { expandPolicy, type Policy, TetherError } from '@tether/shared';
import type { Logger } from 'pino';
import { buildBundle, certificateSummary } from '../core/bundle.js';
import { ProvisionStepError, RequestError } from '../core/errors.js';
import { parseProvisionBody } from '../core/request.js';
import { DEFAULT_HUB, type HubConnection } from '../core/service-config.js';
import type { Provider } from '../providers/provider.js';

/**
 * One provisioning request, from body to answer: the code behind the Lambda handler and
 * `tether-cloud serve`. Validates, authorizes, plans, applies (or rotates) and answers with the bundle
 * as JSON. Logs one line per request with the thing, the outcome and the certificate's fingerprint;
 * never the body (a CSR), the bundle (a key, a password) or the token.
 */

export interface Authorization {
  readonly ok: boolean;
  /** Called once the thing was provisioned (a one-time token is used up then). */
  readonly consume?: () => Promise<void>;
}

export interface ProvisionApiOptions {
  readonly provider: Provider;
  readonly policy: Policy;
  /** Default for the bundle's hub when the request names none. */
  readonly hub?: HubConnection | undefined;
  readonly logger: Logger;
  /** Thing names must start with this (the function's IAM permissions are held to it). */
  readonly thingPrefix?: string | undefined;
  /** Checks the caller's token for this thing. */
  readonly authorize: (token: string | undefined, thing: string) => Promise<Authorization>;
}

export interface ApiAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export async function handleProvisionRequest(
  rawBody: unknown,
  token: string | undefined,
  options: ProvisionApiOptions,
): Promise<ApiAnswer> {
  const started = Date.now();
  const { provider, logger } = options;
  let thing: string | undefined;
  try {
    const body = parseProvisionBody(rawBody);
    thing = body.thing;
    if (options.thingPrefix && !body.thing.startsWith(options.thingPrefix)) {
      throw new RequestError([
        `thing: must start with "${options.thingPrefix}" (this function manages only those things)`,
      ]);
    }
    const auth = await options.authorize(token, body.thing);
    if (!auth.ok) {
      throw new TetherError(
        'TETHER_ERR_FORBIDDEN',
        token ? 'the enrollment token is not valid' : 'an enrollment token is required',
      );
    }
    const request = { thing: body.thing, policy: options.policy, csrPem: body.csr };
    const plan = await provider.plan(request);
    if (plan.exists && !body.rotate) {
      // the credentials stay as issued, but a changed fleet policy still reaches the thing
      await provider.update?.(plan);
      throw new TetherError(
        'TETHER_ERR_EXISTS',
        `thing ${body.thing} was already issued credentials; ask to rotate them`,
      );
    }
    const provisioned = plan.exists ? await provider.rotate(request) : await provider.apply(plan);
    await auth.consume?.();
    const hub = body.hub ? { address: body.hub } : (options.hub ?? DEFAULT_HUB);
    const files = buildBundle(provisioned, { hub, topics: expandPolicy(options.policy, body.thing) });
    const cert = provisioned.certificate;
    const summary = cert ? certificateSummary(cert.id, cert.certPem) : undefined;
    logger.info(
      { thing, provider: provider.name, rotated: plan.exists, certificate: summary, ms: Date.now() - started },
      plan.exists ? 'credentials rotated' : 'thing provisioned',
    );
    return {
      status: 200,
      body: { thing: body.thing, provider: provider.name, rotated: plan.exists, certificate: summary, files },
    };
  } catch (error) {
    const answer = errorAnswer(error);
    const fields = {
      thing,
      provider: provider.name,
      status: answer.status,
      code: answer.body.code,
      ms: Date.now() - started,
    };
    if (answer.status >= 500) logger.error({ ...fields, err: error }, answer.body.message);
    else logger.warn(fields, answer.body.message);
    return { status: answer.status, body: { error: answer.body } };
  }
}

const STATUS: Partial<Record<string, number>> = {
  TETHER_ERR_REQUEST: 400,
  TETHER_ERR_FORBIDDEN: 403,
  TETHER_ERR_EXISTS: 409,
  TETHER_ERR_PROVISION: 502,
};

function errorAnswer(error: unknown): {
  status: number;
  body: { code: string; message: string; problems?: readonly string[] };
} {
  if (error instanceof RequestError) {
    return { status: 400, body: { code: error.code, message: 'invalid request', problems: error.problems } };
  }
  if (error instanceof ProvisionStepError || error instanceof TetherError) {
    return { status: STATUS[error.code] ?? 500, body: { code: error.code, message: error.message } };
  }
  // an unexpected failure: the caller learns nothing of its inside; the log line has it
  return { status: 500, body: { code: 'TETHER_ERR_PROVISION', message: 'internal error (see the provisioning log)' } };
}
