import { TetherError } from '@tether/shared';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { EndpointEvent } from '../../src/core/message-endpoint.js';
import { EndpointEvents } from '../../src/transport/endpoint-events.js';
import {
  mergeSubscriptions,
  type SubscribeContext,
  subscribeFailed,
  subscriptionsRefused,
} from '../../src/transport/endpoint-subscriptions.js';

const context = (validatesubs: boolean): { context: SubscribeContext; seen: EndpointEvent[] } => {
  const events = new EndpointEvents();
  const seen: EndpointEvent[] = [];
  events.listen((event) => seen.push(event));
  return { context: { name: 'cloud', validatesubs, logger: pino({ level: 'silent' }), events }, seen };
};

describe('the subscriptions of an endpoint', () => {
  it('go out once per filter, at the highest QoS asked, capped at maxqos', () => {
    const subs = [
      { filter: 'a/#', qos: 0 },
      { filter: 'b', qos: 2 },
      { filter: 'a/#', qos: 1 },
    ];
    expect(mergeSubscriptions(subs, 2)).toEqual([
      ['a/#', 1],
      ['b', 2],
    ]);
    expect(mergeSubscriptions(subs, 0)).toEqual([
      ['a/#', 0],
      ['b', 0],
    ]);
  });

  it('a refusal fails the connection with validatesubs; without, it is an error event and the connection goes on', () => {
    const refused = new TetherError('TETHER_ERR_SUBSCRIBE', 'cloud refused the subscription to x (SUBACK failure)');
    const strict = context(true);
    expect(() => subscriptionsRefused(strict.context, refused)).toThrow(refused);
    expect(strict.seen).toEqual([]);
    const lenient = context(false);
    subscriptionsRefused(lenient.context, refused);
    expect(lenient.seen).toEqual([{ type: 'error', error: refused }]);
  });

  it('a failed subscribe is a TETHER_ERR_SUBSCRIBE naming the endpoint, unless it already is a TetherError', () => {
    const { context: c } = context(true);
    const failure = subscribeFailed(c, new Error('socket closed'));
    expect(failure).toMatchObject({
      code: 'TETHER_ERR_SUBSCRIBE',
      message: 'cloud: subscribe failed: Error: socket closed',
    });
    const refused = new TetherError('TETHER_ERR_SUBSCRIBE', 'refused');
    expect(subscribeFailed(c, refused)).toBe(refused);
    expect(subscribeFailed(c, 'AWS_ERROR_X', (e) => `crt ${String(e)}`).message).toBe(
      'cloud: subscribe failed: crt AWS_ERROR_X',
    );
  });
});
