export { createLogger, silentLogger } from '@tether/node-shared/logging';
export { Agent, type AgentOptions } from './agent.js';
export { loadBridgeConfig, loadHubConfig } from './config/load-config.js';
export type { BridgeMessage } from './core/bridge-message.js';
export type { MessageEndpoint, PublishOutcome } from './core/message-endpoint.js';
export { EmbeddedHub } from './hub/embedded-hub.js';
