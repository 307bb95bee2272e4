export { start } from './server';
export * from './app';
