import {
  CUSTOMER_ID_PATTERN,
  MAX_CUSTOMER_ID_LENGTH,
  genesysIdType,
  isBsuid,
  isCustomerId,
  isWhatsAppPhone,
  whatsappAddress,
} from '../src';

/**
 * The one rule for a customer id (shared/src/ids.ts), which webhook ingest, Genesys's outbound
 * webhook, the tenant API and the connector all apply: a phone number or a business-scoped user
 * id, the longest (`CC.` + 128, and parent `CC.ENT.` + 128) included.
 */
const MAX_BSUID = `US.${'a1B2c3D4'.repeat(16)}`;
const MAX_PARENT_BSUID = `US.ENT.${'7'.repeat(128)}`;

describe('the rule for customer ids', () => {
  it.each([
    ['a phone number', '16505551234'],
    ['the shortest phone number', '1234567'],
    ['the longest phone number', '123456789012345'],
    ['a BSUID', 'US.13491208655302741918'],
    ['a BSUID of the maximum length (CC. + 128)', MAX_BSUID],
    ['a parent BSUID', 'US.ENT.11815799212886844830'],
    ['a parent BSUID of the maximum length (CC.ENT. + 128)', MAX_PARENT_BSUID],
  ])('accepts %s', (_name, id) => {
    expect(isCustomerId(id)).toBe(true);
    expect(CUSTOMER_ID_PATTERN.test(id)).toBe(true);
    expect(id.length).toBeLessThanOrEqual(MAX_CUSTOMER_ID_LENGTH);
  });

  it.each([
    ['a BSUID one character too long', `US.${'a'.repeat(129)}`],
    ['a parent BSUID one character too long', `US.ENT.${'7'.repeat(129)}`],
    ['a lower-case country code', 'us.13491208655302741918'],
    ['a three-letter country code', 'USA.1349'],
    ['no period', 'US13491208655302741918'],
    ['nothing after the period', 'US.'],
    ['nothing after ENT.', 'US.ENT.'],
    ['a hyphen', 'US.1349-1208'],
    ['a phone number with +', '+16505551234'],
    ['a phone number too short', '123456'],
    ['a phone number too long', '1234567890123456'],
    ['spaces', '1650 555 1234'],
    ['the empty string', ''],
    ['a control character', 'US.1349\n'],
  ])('refuses %s', (_name, id) => {
    expect(isCustomerId(id)).toBe(false);
  });

  it('tells a phone number from a BSUID, for Meta (to / recipient) and for Genesys (Phone / Opaque)', () => {
    expect(isWhatsAppPhone('16505551234')).toBe(true);
    expect(isBsuid('16505551234')).toBe(false);
    expect(isBsuid(MAX_PARENT_BSUID)).toBe(true);
    expect(whatsappAddress('16505551234')).toEqual({ to: '16505551234' });
    expect(whatsappAddress(MAX_BSUID)).toEqual({ recipient: MAX_BSUID });
    expect(whatsappAddress(MAX_PARENT_BSUID)).toEqual({ recipient: MAX_PARENT_BSUID });
    expect(() => whatsappAddress('nobody')).toThrow(RangeError);
    expect(genesysIdType('16505551234')).toBe('Phone');
    expect(genesysIdType(MAX_BSUID)).toBe('Opaque');
  });
});
