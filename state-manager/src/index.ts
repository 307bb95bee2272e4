export { start } from './server';
export * from './app';
/** The zod schemas the tenant API's handlers parse requests with: the gateway's OpenAPI document is generated from them. */
export { conversationsQuery, mappingBody, messagesQuery, notificationsQuery, waId as customerIdSchema } from './routes';
export { sendBody } from './messages-routes';
