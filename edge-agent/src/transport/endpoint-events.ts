import type { EndpointEvent } from '../core/message-endpoint.js';

/** The listeners of one endpoint's connection events (MessageEndpoint.onEvent), and their fan-out. */
export class EndpointEvents {
  private readonly listeners = new Set<(event: EndpointEvent) => void>();

  /** Adds a listener; returns the function that removes it. */
  listen(listener: (event: EndpointEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells every listener, in the order they were added. */
  emit(event: EndpointEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
