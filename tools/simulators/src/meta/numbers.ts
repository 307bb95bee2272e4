/**
 * The WhatsApp business numbers a Meta simulator serves, each with the access token allowed to use
 * it, and the read of a number's node (`GET /{phone-number-id}`). Registering a number again
 * (`addNumber`, `POST /_sim/numbers`) with another token revokes the old one: every call made with
 * it is then answered 190, as Meta answers an expired or revoked token.
 */
import { bearerToken, type SimRequest, type SimResponse } from '../common';
import { isNonEmptyString } from '../common';
import { metaError, type MetaFaults } from './faults';

export interface MetaNumberOptions {
  phoneNumberId: string;
  accessToken: string;
  displayPhoneNumber?: string;
  wabaId?: string;
}

export class MetaNumbers {
  private readonly numbers = new Map<string, Required<MetaNumberOptions>>();

  /** Registers (or replaces) a number; throws without phoneNumberId and accessToken. */
  add(n: MetaNumberOptions): void {
    if (!isNonEmptyString(n.phoneNumberId) || !isNonEmptyString(n.accessToken)) {
      throw new TypeError('addNumber: phoneNumberId and accessToken are required');
    }
    this.numbers.set(n.phoneNumberId, {
      phoneNumberId: n.phoneNumberId,
      accessToken: n.accessToken,
      displayPhoneNumber: n.displayPhoneNumber ?? n.phoneNumberId,
      wabaId: n.wabaId ?? '',
    });
  }

  /** True when `phoneNumberId` is a registered number. */
  has(phoneNumberId: string): boolean {
    return this.numbers.has(phoneNumberId);
  }

  /**
   * `GET /{phone-number-id}`: the number's fields (id, display_phone_number, verified_name,
   * quality_rating; `fields` is accepted and ignored) with its own token; 190 without a token or
   * with one no number has; 100 subcode 33 with another number's token (Graph's answer for an
   * object the token cannot see). Faults: endpoint `number`.
   */
  handleRead(req: SimRequest, phoneNumberId: string, faults: MetaFaults): SimResponse {
    if (req.method !== 'GET') return metaError(100, { message: `Unsupported ${req.method.toLowerCase()} request.`, subcode: 33 });
    const token = bearerToken(req.headers);
    if (!token) return metaError(190, { message: 'An access token is required to request this resource.' });
    if (!this.tokenIsKnown(token)) return metaError(190, { message: 'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.' });
    const fault = faults.take({ endpoint: 'number', phoneNumberId });
    if (fault) return fault;
    const n = this.numbers.get(phoneNumberId);
    if (!n || n.accessToken !== token) {
      return metaError(100, {
        message: `Unsupported get request. Object with ID '${phoneNumberId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
        subcode: 33,
      });
    }
    return {
      status: 200,
      body: { id: n.phoneNumberId, display_phone_number: n.displayPhoneNumber, verified_name: 'Simulated Business', quality_rating: 'GREEN', code_verification_status: 'VERIFIED' },
    };
  }

  /** True when some number's token is `token`. */
  tokenIsKnown(token: string): boolean {
    return [...this.numbers.values()].some((n) => n.accessToken === token);
  }

  /** The access token of a number, or undefined when it is not registered. */
  tokenOf(phoneNumberId: string): string | undefined {
    return this.numbers.get(phoneNumberId)?.accessToken;
  }

  /** The WABA a number belongs to; '' when it was registered without one (it then has no templates). */
  wabaOf(phoneNumberId: string): string {
    return this.numbers.get(phoneNumberId)?.wabaId ?? '';
  }

  /** True when `token` is the token of some number of the WABA `wabaId` (what may read its templates). */
  tokenManages(token: string, wabaId: string): boolean {
    return wabaId !== '' && [...this.numbers.values()].some((n) => n.wabaId === wabaId && n.accessToken === token);
  }
}
