// No imports: the admin console (tenant-service/console) bundles this list for its region picker, as it does api-key-scopes.ts.

/** The Genesys Cloud region domains a tenant may name (see shared/reference). A region becomes a URL, so nothing else is accepted. */
export const GENESYS_REGIONS = [
  'mypurecloud.com',
  'mypurecloud.ie',
  'mypurecloud.de',
  'mypurecloud.com.au',
  'mypurecloud.jp',
  'usw2.pure.cloud',
  'cac1.pure.cloud',
  'apne2.pure.cloud',
  'euw2.pure.cloud',
  'aps1.pure.cloud',
  'use2.us-gov-pure.cloud',
  'sae1.pure.cloud',
  'mec1.pure.cloud',
  'apne3.pure.cloud',
  'euc2.pure.cloud',
  'mxc1.pure.cloud',
  'apse1.pure.cloud',
] as const;
