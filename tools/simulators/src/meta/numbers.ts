/** The WhatsApp business numbers a Meta simulator serves, each with the access token allowed to use it. */
import { isNonEmptyString } from '../common';

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
