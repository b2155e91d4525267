export { createLogger, silentLogger } from '@tether/node-shared/logging';
export { Agent, type AgentOptions } from './agent.js';
export { loadBridgeConfig, loadHubConfig } from './config/load-config.js';
export { EmbeddedHub } from './hub/embedded-hub.js';
export type { BridgeMessage, MessageEndpoint, PublishOutcome } from './transport/message-endpoint.js';
