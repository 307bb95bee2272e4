export { start } from './server';
export * from './app';
export * from './genesys-token-broker';
