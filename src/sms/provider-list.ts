// The SMS providers a message may name (CONTRACT §5), as SMS_PROVIDERS configures them
// (config.ts): a code the APIs speak, a name they show, and the adapter that hands messages over
// (sms/gateway.ts). The first is the default. `cryptosms` is configuration, not a vendor: with
// nothing configured the built-in simulator serves it, so the quick start and the tests work
// offline.
import type { Config, SmsProviderConfig } from '../config.js';
import { badRequest } from '../errors.js';

export type SmsProviderInfo = SmsProviderConfig;

export function smsProviders(config: Config): readonly SmsProviderInfo[] {
  return config.smsProviders;
}

export function smsProviderName(config: Config, code: string): string {
  return config.smsProviders.find((p) => p.code === code)?.name ?? code;
}

/** The provider of a request's `provider` field; absent means the default one. */
export function parseSmsProvider(config: Config, input: unknown): SmsProviderInfo {
  const providers = config.smsProviders;
  if (input === undefined || input === null || input === '') return providers[0];
  const code = typeof input === 'string' ? input.trim().toLowerCase() : '';
  const found = providers.find((p) => p.code === code);
  if (!found) throw badRequest('provider', `is not an SMS provider here; one of: ${providers.map((p) => p.code).join(', ')}`);
  return found;
}
