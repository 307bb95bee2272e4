// `…/index` spelled out: a dist/genesys.js or dist/meta.js left by a build from before these
// became folders would otherwise be loaded instead.
export * from './common';
export * from './signatures';
export * from './genesys/index';
export * from './meta/index';
