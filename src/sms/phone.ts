// Phone numbers of SMS recipients: international form only (a country code, then the number),
// written with `+`, `00` or neither, spaces, dashes, dots and brackets ignored. A number is
// checked for its form: a country code libphonenumber-js knows and 7-15 digits in all (E.164).
// It is not checked against each country's numbering plan: plans change faster than servers
// are upgraded, and a new range must not be refused (the original document's own examples,
// +1234567890, are not valid North American numbers). The provider refuses what cannot be sent.
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { badRequest } from '../errors.js';

export interface Phone {
  /** `+` and the digits. */
  e164: string;
  /** The digits alone, for matching rate prefixes. */
  digits: string;
}

/** The phone, or null when it is not an international number. */
export function phoneOf(input: unknown): Phone | null {
  if (typeof input !== 'string' && typeof input !== 'number') return null;
  let text = String(input).trim().replace(/[\s\-().]/g, '');
  if (text.length > 20) return null;
  if (text.startsWith('00')) text = `+${text.slice(2)}`;
  else if (!text.startsWith('+')) text = `+${text}`;
  if (!/^\+\d{7,15}$/.test(text)) return null;
  const parsed = parsePhoneNumberFromString(text);
  if (!parsed || parsed.number !== text) return null;
  return { e164: text, digits: text.slice(1) };
}

export function parsePhone(input: unknown, field = 'phone'): Phone {
  if (input === undefined || input === null || input === '') throw badRequest(field, 'is required');
  const phone = phoneOf(input);
  if (!phone) throw badRequest(field, 'must be an international number: + (or 00), the country code, then the number');
  return phone;
}
