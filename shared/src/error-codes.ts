/**
 * Every error code an HTTP client of the bridge can see: code → HTTP status → default message.
 * This is the one place a code is born (`appError(code)` in ./errors reads it); a site may give
 * a more specific message, never another status. Codes are public (clients, Meta and Genesys
 * act on them): add freely, rename or re-status never. Statuses follow CONTRACT.md "Errors".
 *
 * Not here: genesys-connector's DeliveryError codes, which name why a queued delivery failed
 * and are recorded on the message, not answered over HTTP.
 */
export const ERROR_CODES = {
  // The HTTP layer of every service: Node's parser (listen's clientError), body-parser, routing.
  BAD_REQUEST: { status: 400, message: 'Bad request' },
  MALFORMED_JSON: { status: 400, message: 'Request body is not valid JSON' },
  REQUEST_ABORTED: { status: 400, message: 'Request aborted' },
  REQUEST_TIMEOUT: { status: 408, message: 'Request timed out' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'Request body too large' },
  UNSUPPORTED_ENCODING: { status: 415, message: 'Unsupported content encoding or charset' },
  HEADERS_TOO_LARGE: { status: 431, message: 'Request headers too large' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route' },
  INTERNAL_ERROR: { status: 500, message: 'Internal server error' },
  /** tenant-service's /console when its page was not built (`npm run build`). */
  CONSOLE_NOT_BUILT: { status: 503, message: 'The admin console is not built: run npm run build' },

  // Bad input: the message names the field (`field: problem`). See badInput/parseInput.
  VALIDATION_ERROR: { status: 400, message: 'Invalid input' },
  /** The webhooks' name for it (Meta's and Genesys's payloads). */
  INVALID_PAYLOAD: { status: 400, message: 'body: not a valid payload' },

  // Dependencies of every service.
  DATABASE_UNAVAILABLE: { status: 503, message: 'Database unavailable' },
  /** A statement gave up waiting for a lock or ran past its time (DB_LOCK_TIMEOUT_MS, DB_STATEMENT_TIMEOUT_MS). */
  DATABASE_BUSY: { status: 503, message: 'The database is busy; try again shortly' },
  CREDENTIALS_UNAVAILABLE: { status: 503, message: 'Tenant credentials are temporarily unavailable' },
  CREDENTIALS_UNREADABLE: { status: 500, message: 'Stored credentials cannot be read' },

  // Service-to-service and admin authentication.
  INVALID_INTERNAL_TOKEN: { status: 401, message: 'Missing or invalid internal service token' },
  MISSING_TENANT: { status: 401, message: 'No tenant on the forwarded request' },
  INVALID_ADMIN_KEY: { status: 401, message: 'Missing or invalid bearer token' },

  // Gateway: tenant resolution, rate limits, proxying.
  MISSING_CREDENTIALS: { status: 401, message: 'An X-API-Key or a bearer token is required' },
  INVALID_API_KEY: { status: 401, message: 'Unknown API key' },
  API_KEY_REVOKED: { status: 401, message: 'This API key has been revoked' },
  /** The key's expiresAt has passed (issue #13); its tokens stop with it. */
  API_KEY_EXPIRED: { status: 401, message: 'This API key has expired' },
  /** The route needs a scope the key (or the token, or both) does not hold; the message names it. */
  INSUFFICIENT_SCOPE: { status: 403, message: 'This API key does not hold the scope this route needs' },
  /** A browser request (Origin header) with a key that does not list that origin in its allowedOrigins. */
  ORIGIN_NOT_ALLOWED: { status: 403, message: 'This API key may not be used from this origin' },
  TOKEN_EXPIRED: { status: 401, message: 'The token has expired' },
  INVALID_TOKEN: { status: 401, message: 'The token is not valid' },
  TOKEN_REVOKED: { status: 401, message: 'The API key this token was issued with has been revoked or no longer exists' },
  TENANT_MISMATCH: { status: 403, message: 'These credentials belong to another tenant than this subdomain' },
  TENANT_NOT_FOUND: { status: 404, message: 'Tenant not found' },
  TENANT_SUSPENDED: { status: 423, message: 'This tenant is suspended' },
  /** A plan limit (issue #13: messages per day or month, new conversations per month) is used up; Retry-After: seconds to the period's end. */
  QUOTA_EXCEEDED: { status: 429, message: 'A plan limit of this tenant is used up until its period ends' },
  TENANT_PENDING: { status: 423, message: 'This tenant is pending: an admin activates it once its credentials are stored' },
  RATE_LIMITED: { status: 429, message: 'Too many requests: the rate limit for this tenant or key was reached' },
  CLIENT_RATE_LIMITED: { status: 429, message: 'Too many requests from this address; try again later' },
  TOO_MANY_AUTH_FAILURES: { status: 429, message: 'Too many failed authentications from this address; try again later' },
  AUTH_LOOKUPS_BUSY: { status: 503, message: 'Too many credential lookups at once; try again shortly' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'A service is unavailable; try again shortly' },

  // auth-service (and genesys-connector's client of it).
  API_KEY_REQUIRED: { status: 401, message: 'POST /auth/token takes an X-API-Key' },
  GENESYS_NOT_CONFIGURED: { status: 404, message: 'This tenant has no Genesys credentials' },
  GENESYS_AUTH_FAILED: { status: 502, message: "Genesys refused this tenant's OAuth client credentials" },
  GENESYS_UNAVAILABLE: { status: 503, message: 'Genesys login service is unavailable' },
  TOKEN_CACHE_UNAVAILABLE: { status: 503, message: 'Genesys tokens are temporarily unavailable' },
  AUTH_SERVICE_UNAVAILABLE: { status: 503, message: 'auth-service is unreachable' },

  // tenant-service.
  CREDENTIALS_NOT_FOUND: { status: 404, message: 'No credentials of this type for this tenant' },
  API_KEY_NOT_FOUND: { status: 404, message: 'API key not found' },
  TENANT_EXISTS: { status: 409, message: 'A tenant with this tenantId already exists' },
  TENANT_NOT_READY: { status: 409, message: 'This pending tenant has no Genesys credentials yet: store them before activating it' },
  TENANT_BEING_DELETED: { status: 409, message: 'A deleted tenant with this tenantId is still being purged; create it again once GET /tenants/:tenantId/deletion says done' },
  DELETION_NOT_FOUND: { status: 404, message: 'No deletion of this tenant was requested' },
  /** Plans (issue #13): GET/PATCH /plans/:name of a plan that does not exist; POST /plans of a name taken. */
  PLAN_NOT_FOUND: { status: 404, message: 'No plan of this name' },
  PLAN_EXISTS: { status: 409, message: 'A plan of this name already exists' },
  /** Internal route: the tenant has no notification webhook (shared/src/notifications.ts). */
  NOTIFICATION_WEBHOOK_NOT_SET: { status: 404, message: 'This tenant has no notification webhook' },
  SUBDOMAIN_TAKEN: { status: 409, message: 'This subdomain belongs to another tenant' },
  PHONE_NUMBER_TAKEN: { status: 409, message: 'This phoneNumberId belongs to another tenant' },

  // state-manager.
  MAPPING_NOT_FOUND: { status: 404, message: 'No mapping for this waId' },

  // Templates and proactive messages (issue #11): tenant-service's catalogue sync, state-manager's
  // /templates and /messages. The TEMPLATE_* codes are shared/src/templates.ts's TemplateProblem.
  META_NOT_CONFIGURED: { status: 409, message: 'This tenant has no WhatsApp (Meta) credentials yet' },
  WABA_NOT_CONFIGURED: { status: 409, message: "The tenant's Meta credentials name no wabaId, so its templates cannot be listed" },
  TEMPLATE_SYNC_FAILED: { status: 502, message: 'Meta did not list the templates' },
  TEMPLATE_NOT_FOUND: { status: 422, message: 'No template of this name' },
  TEMPLATE_LANGUAGE_NOT_FOUND: { status: 422, message: 'The template has no version in this language' },
  TEMPLATE_NOT_APPROVED: { status: 422, message: 'The template is not approved' },
  TEMPLATE_PARAMETER_MISMATCH: { status: 422, message: "The parameters do not match the template's placeholders" },
  TEMPLATE_NOT_SENDABLE: { status: 422, message: 'The bridge cannot send this template' },
  TEMPLATE_TOO_LONG: { status: 422, message: 'The filled template body is over 1024 characters' },
  WINDOW_CLOSED: { status: 422, message: "The customer's 24-hour window is closed: only a template can be sent" },
  IDEMPOTENCY_KEY_REUSED: { status: 409, message: 'This Idempotency-Key was used with another request body' },
  MESSAGE_NOT_FOUND: { status: 404, message: 'No such message' },
  /** Dead letters (issue #16): only a failed or dead message is sent again; the message names its status. */
  MESSAGE_NOT_RETRYABLE: { status: 409, message: 'Only a failed or dead message can be retried' },

  // webhook-service: webhooks.
  INVALID_SIGNATURE: { status: 401, message: 'X-Hub-Signature-256 does not match' },
  VERIFICATION_FAILED: { status: 403, message: 'Invalid verification request' },
  PHONE_NUMBER_NOT_FOUND: { status: 404, message: 'No tenant owns this phone_number_id' },
  NOT_ROUTABLE: { status: 400, message: 'No change names a phone_number_id to route by' },

  // webhook-service: media links.
  MEDIA_LINK_INVALID: { status: 403, message: 'Media link is invalid' },
  MEDIA_LINK_EXPIRED: { status: 410, message: 'Media link has expired' },
  MEDIA_NOT_FOUND: { status: 404, message: 'Media not found' },
  META_CREDENTIALS_NOT_FOUND: { status: 404, message: 'No WhatsApp credentials for this tenant' },
  MEDIA_TOO_LARGE: { status: 413, message: 'Media is too large' },
  MEDIA_UNAVAILABLE: { status: 502, message: 'WhatsApp media is unavailable' },
} as const satisfies Record<string, { status: number; message: string }>;

/** One of the codes in ERROR_CODES. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Whether `code` (e.g. read from another service's answer) is one of ours. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}
