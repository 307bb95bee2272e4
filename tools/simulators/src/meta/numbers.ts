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
}
