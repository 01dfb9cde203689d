// The rows of a call's uniqueid that authorizing or settling it decides on (call-decisions.ts):
// its reservations and calls rows, of every switch (few rows; the decision picks out its own).
import type { Trx } from '../db/connect.js';
import { preparedQuery } from '../db/prepared.js';
import type { CallRows } from './call-decisions.js';

// Built once (db/prepared.ts): they run on every call.
export const reservationsOfUniqueId = preparedQuery<{ uniqueid: string }>()((db, p) => db.selectFrom('reservations')
  .select(['id', 'switch_ref', 'caller_account_id', 'account_id', 'amount_micros', 'max_duration', 'rate_prefix', 'rate_destination',
    'rate_micros', 'connect_charge_micros', 'initblock', 'billingblock', 'minimal_time'])
  .where('uniqueid', '=', p.uniqueid));
export const callsOfUniqueId = preparedQuery<{ uniqueid: string }>()((db, p) => db.selectFrom('calls')
  .select(['id', 'switch_ref', 'account_id', 'destination', 'answered_seconds', 'billed_seconds', 'cost_micros', 'disposition'])
  .where('uniqueid', '=', p.uniqueid));

export async function readCallRows(trx: Trx, uniqueid: string): Promise<CallRows> {
  return { reservations: await reservationsOfUniqueId(trx, { uniqueid }), calls: await callsOfUniqueId(trx, { uniqueid }) };
}
