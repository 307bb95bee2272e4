import { z } from 'zod';
import { GENESYS_REGIONS } from './genesys-regions';

/**
 * What a tenant's Meta and Genesys credentials look like. tenant-service validates and stores
 * them; the services that call Meta or Genesys receive them decrypted over tenant-service's
 * internal route and read them with these types.
 */

export { GENESYS_REGIONS };

const secretField = (min = 8) => z.string().min(min, `must be at least ${min} characters`).max(4096);
const numericId = z.string().regex(/^\d{5,30}$/, 'must be a numeric id');

export const metaCredentialsSchema = z
  .object({
    appSecret: secretField(),
    verifyToken: secretField(),
    accessToken: secretField(),
    phoneNumberId: numericId,
    wabaId: numericId.optional(),
  })
  .strict();

export const genesysCredentialsSchema = z
  .object({
    clientId: z.string().min(1).max(200),
    clientSecret: secretField(),
    region: z.enum(GENESYS_REGIONS, { message: `must be one of: ${GENESYS_REGIONS.join(', ')}` }),
    integrationId: z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'must be an integration id'),
    // Genesys requires the outbound webhook signature secret to be longer than 15 characters.
    webhookSecret: secretField(16),
  })
  .strict();

export const credentialsBodySchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('meta'), credentials: metaCredentialsSchema }).strict(),
  z.object({ type: z.literal('genesys'), credentials: genesysCredentialsSchema }).strict(),
]);

export const credentialTypeSchema = z.enum(['meta', 'genesys']);

export type CredentialType = z.infer<typeof credentialTypeSchema>;
export type MetaCredentials = z.infer<typeof metaCredentialsSchema>;
export type GenesysCredentials = z.infer<typeof genesysCredentialsSchema>;
export type GenesysRegion = (typeof GENESYS_REGIONS)[number];

/** Fills a `{region}` URL template (GENESYS_API_URL, GENESYS_LOGIN_URL) with a validated region. */
export function regionUrl(template: string, region: GenesysRegion): string {
  if (!(GENESYS_REGIONS as readonly string[]).includes(region)) throw new Error(`Unknown Genesys region ${region}`);
  return template.replace('{region}', region).replace(/\/+$/, '');
}
