export * from './errors.js';
export * from './parse-config.js';
export * from './schemas/bridge-config.js';
export * from './schemas/bundle.js';
export * from './schemas/common.js';
export * from './schemas/hub-config.js';
export * from './schemas/policy.js';
export * from './hub-login.js';
