import { type QoS, TetherError } from '@tether/shared';
import type { Logger } from 'pino';
import type { InboundHandler } from '../core/message-hold.js';
import type { EndpointEvents } from './endpoint-events.js';

/** A subscription an endpoint keeps across reconnects, with the handler its messages go to. */
export interface EndpointSubscription {
  readonly filter: string;
  readonly qos: QoS;
  readonly handler: InboundHandler;
}

/**
 * The filters to subscribe, once each at the highest QoS asked, capped at `maxQos`: rules that
 * share a connection may ask for the same filter, and one SUBSCRIBE carries it once.
 */
export function mergeSubscriptions(
  subs: readonly { readonly filter: string; readonly qos: number }[],
  maxQos: number,
): Array<[string, QoS]> {
  const merged = new Map<string, QoS>();
  for (const s of subs) {
    const qos = Math.min(s.qos, maxQos) as QoS;
    merged.set(s.filter, Math.max(merged.get(s.filter) ?? 0, qos) as QoS);
  }
  return [...merged];
}

/** What reporting a subscription problem needs: the endpoint's name, `validatesubs`, its logger and listeners. */
export interface SubscribeContext {
  readonly name: string;
  readonly validatesubs: boolean;
  readonly logger: Logger;
  readonly events: EndpointEvents;
}

/**
 * Subscriptions the broker refused (`error` names the filters). With `validatesubs` they fail the
 * connection: thrown, and subscribeFailed() takes it from there. Without, they are a warning and
 * an `error` event, and the connection goes on without those filters.
 */
export function subscriptionsRefused(context: SubscribeContext, error: TetherError): void {
  if (context.validatesubs) throw error;
  context.logger.warn({ endpoint: context.name, code: error.code }, error.message);
  context.events.emit({ type: 'error', error });
}

/**
 * Subscribing on a new connection failed (refused with `validatesubs`, or the request failed):
 * logs why and returns it as a TetherError (`text` describes anything else). The caller drops
 * the connection, which is tried again after the backoff.
 */
export function subscribeFailed(
  context: SubscribeContext,
  error: unknown,
  text: (error: unknown) => string = String,
): TetherError {
  const failure =
    error instanceof TetherError
      ? error
      : new TetherError('TETHER_ERR_SUBSCRIBE', `${context.name}: subscribe failed: ${text(error)}`, { cause: error });
  context.logger.error({ endpoint: context.name, code: failure.code }, failure.message);
  return failure;
}
