/**
 * A shared subscription, `$share/{ShareName}/{filter}` [MQTT-4.8.2]. MQTT 5 forbids No Local on one
 * ("It is a Protocol Error to set the No Local bit to 1 on a Shared Subscription" [MQTT-3.8.3-4]):
 * a broker (and aws-crt, before sending) refuses the whole SUBSCRIBE.
 */
export function isSharedFilter(filter: string): boolean {
  return filter.startsWith('$share/');
}

/** The filter topics are matched against: FILTER of `$share/GROUP/FILTER`, else the filter itself. */
export function subscribedFilter(filter: string): string {
  if (!isSharedFilter(filter)) return filter;
  const rest = filter.indexOf('/', '$share/'.length);
  return rest < 0 ? filter : filter.slice(rest + 1);
}
