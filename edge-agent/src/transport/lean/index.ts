export { LeanMqttClient } from './lean-client.js';
export type {
  LeanClientEvents,
  LeanConnectOptions,
  LeanMessage,
  LeanPublishOptions,
  LeanSubscription,
  MessageHandler,
  MqttError,
  PublishProperties,
  ServerProperties,
} from './types.js';
