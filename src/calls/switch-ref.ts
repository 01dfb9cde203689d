// Which switch a call belongs to. Asterisk's uniqueid (`EPOCH.SEQ`, or `SYSTEMNAME-EPOCH.SEQ`
// when `systemname` is set) is unique only within one Asterisk host: two hosts without a
// systemname hand out the same ids. A reservation and a call are therefore keyed by
// (switch, uniqueid): over HTTP the switch is the switch key's account, over FastAGI the
// address Asterisk connects from.

/** Rows written before migration 0006 carry no switch: they match any switch, for their own caller only. */
export const LEGACY_SWITCH_REF = '';

export function switchRefOfKey(switchAccountId: number): string {
  return `key:${switchAccountId}`;
}

export function switchRefOfAgi(remoteAddress: string | null): string {
  // An IPv4 peer on a dual-stack socket reads as ::ffff:a.b.c.d.
  const address = (remoteAddress ?? 'unknown').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  return `agi:${address}`;
}

/** Whether a stored row of that switch is the same call as one this switch reports. */
export function sameSwitch(rowRef: string, switchRef: string): boolean {
  return rowRef === switchRef || rowRef === LEGACY_SWITCH_REF;
}
