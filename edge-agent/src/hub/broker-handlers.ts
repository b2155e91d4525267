import { TLSSocket } from 'node:tls';
import type { Principal } from '@tether/shared';
import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from 'pino';
import type { HubAuthorizer } from './hub-auth.js';
import type { HubRoutes } from './hub-routes.js';
import { verifiedCommonName } from './tls-files.js';

export const SYS = '$SYS/';

export interface HandlerContext {
  readonly authorizer: HubAuthorizer;
  /** Filled at CONNECT; the ACL of every later packet of that client. */
  readonly principals: WeakMap<Client, Principal>;
  readonly routes: HubRoutes;
  readonly logger: Logger;
  readonly publishRefusal: (principal: Principal, topic: string, payloadBytes: number) => string | undefined;
  /** Sees every authorized client publish before aedes acks it (see EmbeddedHub.setIngressTap). */
  readonly ingress: () => IngressTap | undefined;
}

/**
 * Called with an authorized client PUBLISH before aedes sends its PUBACK. Returning true holds the
 * PUBACK (and this client's next packets) until the tap calls `settled`; `settled(error)` closes the
 * client's connection without an ack, so the client sends the message again. False: not held.
 */
export type IngressTap = (
  packet: {
    topic: string;
    payload: Buffer | string;
    qos: 0 | 1 | 2;
    retain: boolean;
  },
  settled: (error?: unknown) => void,
) => boolean;

type ReturnCode = AuthenticateError['returnCode'];

/** aedes' hooks for the hub: CONNECT authentication, PUBLISH/SUBSCRIBE ACLs, routes. */
export function brokerHandlers(
  ctx: HandlerContext,
): Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'published'> {
  const { authorizer, principals, routes, logger } = ctx;
  return {
    authenticate: (client, username, password, done) => {
      const cn = peerCommonName(client);
      const refuse = (code: 4 | 5) => {
        // [MQTT-3.2.2-5]: CONNACK with a non-zero code, then close. 4 when a password was
        // tried, 5 (not authorized) for a missing or unverified certificate login.
        logger.warn({ clientId: client.id, username, certificateCN: cn, returnCode: code }, 'hub refused CONNECT');
        const message = code === 4 ? 'bad username or password' : 'not authorized';
        done(Object.assign(new Error(message), { returnCode: code as ReturnCode }), null);
      };
      authorizer.authenticateAsync(username, password, cn).then(
        (principal) => {
          if (!principal) return refuse(password === undefined ? 5 : 4);
          principals.set(client, principal);
          done(null, true);
        },
        () => refuse(5),
      );
    },

    authorizePublish: (client, packet, done) => {
      // client is null only for wills of a dead cluster peer, never seen with one broker
      if (!client) return done(authorizer.anonymous ? null : new Error('publish without a client'));
      const principal = principals.get(client);
      const bytes = Buffer.byteLength(packet.payload);
      const reason = principal ? ctx.publishRefusal(principal, packet.topic, bytes) : 'not authenticated';
      if (!reason) {
        const tap = ctx.ingress();
        const held = tap?.(packet, (error) => {
          if (error === undefined) return done(null);
          logger.warn(
            { clientId: client.id, topic: packet.topic, reason: String(error) },
            'message not stored; not acknowledged',
          );
          done(error instanceof Error ? error : new Error(String(error)));
        });
        if (!held) done(null);
        return;
      }
      // aedes then closes the connection without acking: MQTT 3.1.1 has no refusal code for
      // PUBLISH, and [MQTT-3.3.5-2] lets the server close the connection instead.
      logger.warn(
        { clientId: client.id, username: principal?.username, topic: packet.topic, reason },
        'hub refused PUBLISH',
      );
      done(new Error(reason));
    },

    authorizeSubscribe: (client, sub, done) => {
      const principal = principals.get(client);
      if (principal && authorizer.canSubscribe(principal, sub.topic)) return done(null, sub);
      // null, not an error: the SUBACK carries 0x80 for this filter and the connection stays [MQTT-3.9.3]
      logger.warn({ clientId: client.id, username: principal?.username, filter: sub.topic }, 'hub refused SUBSCRIBE');
      done(null, null);
    },

    published: (packet, client, done) => {
      // Only client publishes are routed here; route copies go out with no client, so a copy
      // is never routed again (no loops).
      if (client && routes.size > 0 && !packet.topic.startsWith(SYS)) {
        const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        routes.route({ topic: packet.topic, payload, qos: packet.qos, retain: packet.retain });
      }
      done(null);
    },
  };
}

/** The CN of a verified client certificate, from the TLS socket under ssl:// or wss://. */
function peerCommonName(client: Client): string | undefined {
  const socket = client.conn instanceof TLSSocket ? client.conn : client.req?.socket;
  return socket instanceof TLSSocket ? verifiedCommonName(socket) : undefined;
}
