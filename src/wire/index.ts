/** The pure peer wire codec: handshake, framing, messages, checks, BEP 9/10/11. */
export * from './handshake.js';
export * from './messages.js';
export * from './framer.js';
export * from './validate.js';
export * from './compact.js';
export * from './extension.js';
export * from './ut-metadata.js';
export * from './ut-pex.js';
