export * from './common';
export * from './signatures';
export * from './genesys';
export * from './meta';
export * from './meta-payloads';
