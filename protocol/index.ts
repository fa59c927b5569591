export * from './codes.js';
export * from './names.js';
export * from './frames.js';
export * from './signing.js';
export * from './webhooks.js';
