export {
  createLogControl,
  createLogger,
  type LogControl,
  type LoggerOptions,
  REDACT_PATHS,
  silentLogger,
} from './logger.js';
export { REDACTED_USERINFO, redactUserinfo } from './redact.js';
