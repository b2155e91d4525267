import type { BridgeConfig, QoS, SubscriptionConfig } from '@tether/shared';
import { filtersOverlap } from './filter-overlap.js';
import { compileTopicMapper, type TopicMapper } from './topic-map.js';

/**
 * The bridge's wiring, computed once from the config and free of sockets and timers.
 *
 * Baetyl opened one hub client and one remote client per rule. Tether opens one connection
 * per distinct client id on each side, so rules that share a remote and a client id share a
 * connection (two Baetyl rules with one client id would have kicked each other off).
 */
export type Side = 'hub' | 'remote';

export interface ConnectionPlan {
  /** Unique key: `hub/<clientid>` or `remote/<name>/<clientid>`. */
  readonly id: string;
  readonly side: Side;
  /** The remote's config name (remote side only). */
  readonly remote?: string;
  readonly clientId: string;
  /** What this connection subscribes, merged across rules (highest QoS wins). */
  readonly subscriptions: ReadonlyArray<{ readonly filter: string; readonly qos: QoS }>;
  /** True when this connection may receive back what it publishes (a loop to guard). */
  readonly echoPossible: boolean;
}

export interface RoutePlan {
  readonly rule: number;
  /** Connection that subscribes `filter`. */
  readonly from: string;
  /** Connection that publishes the forwarded message. */
  readonly to: string;
  readonly filter: string;
  /** Forwarded QoS = min(message QoS, this). */
  readonly qos: QoS;
  readonly mapTopic: TopicMapper;
  readonly keepRetain: boolean;
  /** Topic pattern the route publishes on (the filter when unmapped, else `#`). */
  readonly publishes: string;
}

export interface BridgePlan {
  readonly connections: readonly ConnectionPlan[];
  readonly routes: readonly RoutePlan[];
}

export function planBridge(config: BridgeConfig): BridgePlan {
  const subs = new Map<string, Map<string, QoS>>();
  const meta = new Map<string, { side: Side; remote?: string; clientId: string }>();
  const routes: RoutePlan[] = [];

  const connection = (side: Side, clientId: string, remote?: string): string => {
    const id = side === 'hub' ? `hub/${clientId}` : `remote/${remote}/${clientId}`;
    if (!meta.has(id)) {
      meta.set(id, remote === undefined ? { side, clientId } : { side, remote, clientId });
      subs.set(id, new Map());
    }
    return id;
  };
  const addRoute = (rule: number, from: string, to: string, sub: SubscriptionConfig): void => {
    const filters = subs.get(from) as Map<string, QoS>;
    filters.set(sub.topic, Math.max(filters.get(sub.topic) ?? 0, sub.qos) as QoS);
    const mapped =
      sub.target !== undefined && (sub.target.topic ?? sub.target.prefix ?? sub.target.strip) !== undefined;
    routes.push({
      rule,
      from,
      to,
      filter: sub.topic,
      qos: sub.qos,
      mapTopic: compileTopicMapper(sub.target),
      keepRetain: sub.retain,
      publishes: mapped ? '#' : sub.topic,
    });
  };

  config.rules.forEach((rule, index) => {
    const remote = config.remotes.find((r) => r.name === rule.remote.name);
    // Baetyl: rules[].remote.clientid, else remotes[].clientid, else the remote's name
    const remoteClientId = rule.remote.clientid ?? remote?.clientid ?? rule.remote.name;
    // Baetyl: the hub side defaults to the same id
    const hubClientId = rule.hub.clientid ?? config.hub.clientid ?? remoteClientId;
    const hubId = connection('hub', hubClientId);
    const remoteId = connection('remote', remoteClientId, rule.remote.name);
    for (const sub of rule.hub.subscriptions) addRoute(index, hubId, remoteId, sub);
    for (const sub of rule.remote.subscriptions) addRoute(index, remoteId, hubId, sub);
  });

  const connections: ConnectionPlan[] = [...meta.entries()].map(([id, m]) => {
    const filters = [...(subs.get(id) as Map<string, QoS>).entries()].map(([filter, qos]) => ({ filter, qos }));
    const published = routes.filter((r) => r.to === id).map((r) => r.publishes);
    const echoPossible = published.some((p) => filters.some((f) => filtersOverlap(p, f.filter)));
    return { id, ...m, subscriptions: filters, echoPossible };
  });
  return { connections, routes };
}
