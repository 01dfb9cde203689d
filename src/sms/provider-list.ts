// The SMS providers a message may name (CONTRACT §5): a code the APIs speak, a name they show,
// and the adapter that hands messages over (sms/gateway.ts). `cryptosms` is configuration, not a
// vendor: with nothing configured the built-in simulator serves it, so the quick start and the
// tests work offline.
import { badRequest } from '../errors.js';

export type SmsAdapterKind = 'simulator';

export interface SmsProviderInfo {
  code: string;
  name: string;
  adapter: SmsAdapterKind;
}

/** The provider a request that names none is sent with: the original document's only one. */
export const DEFAULT_SMS_PROVIDER = 'cryptosms';

const PROVIDERS: readonly SmsProviderInfo[] = [{ code: DEFAULT_SMS_PROVIDER, name: 'CryptoSMS', adapter: 'simulator' }];

export function smsProviders(): readonly SmsProviderInfo[] {
  return PROVIDERS;
}

/** The provider of a request's `provider` field; absent means the default one. */
export function parseSmsProvider(input: unknown): SmsProviderInfo {
  if (input === undefined || input === null || input === '') return PROVIDERS[0];
  const code = typeof input === 'string' ? input.trim().toLowerCase() : '';
  const found = PROVIDERS.find((p) => p.code === code);
  if (!found) throw badRequest('provider', `is not an SMS provider here; one of: ${PROVIDERS.map((p) => p.code).join(', ')}`);
  return found;
}
