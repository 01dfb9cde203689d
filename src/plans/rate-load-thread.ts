// The body of a rate-load thread (plans/rate-loaders.ts): reads one plan's rates through a
// read-only SQLite connection of its own, builds the table (prefix index and typed columns)
// here, and hands it to the server's thread by transferring its buffers, so a million-row
// load costs the event loop that serves the switch nothing but a message.
import { parentPort, workerData } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import { RateTable } from '../rating/rate-table.js';

export interface RateLoadRequest { file: string; planId: number }
export type RateLoadReply =
  | { ok: true; version: number; snapshot: ReturnType<RateTable['snapshot']> }
  | { ok: false; error: string };

function load({ file, planId }: RateLoadRequest): { version: number; table: RateTable } {
  const db = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    // One read transaction: the version and the rows come from the same snapshot of the file.
    db.exec('begin');
    const plan = db.prepare('select rates_version from plans where id = ?').get(planId) as { rates_version: number } | undefined;
    const count = db.prepare('select count(*) from rates where plan_id = ?').pluck().get(planId) as number;
    const table = new RateTable(count);
    const row = { prefix: '', destination: '', rateMicros: 0, connectChargeMicros: 0, initblock: 1, billingblock: 1, minimalTime: 0 };
    const rows = db.prepare(`select prefix, destination, rate_micros, connect_charge_micros, initblock, billingblock, minimal_time
      from rates where plan_id = ?`).raw(true);
    for (const r of rows.iterate(planId) as IterableIterator<[string, string, number, number, number, number, number]>) {
      row.prefix = r[0];
      row.destination = r[1];
      row.rateMicros = Number(r[2]);
      row.connectChargeMicros = Number(r[3]);
      row.initblock = r[4];
      row.billingblock = r[5];
      row.minimalTime = r[6];
      table.set(row);
    }
    db.exec('commit');
    return { version: Number(plan?.rates_version ?? 0), table };
  } finally {
    db.close();
  }
}

if (parentPort) {
  let reply: RateLoadReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const { version, table } = load(workerData as RateLoadRequest);
    reply = { ok: true, version, snapshot: table.snapshot() };
    transfer = table.buffers();
  } catch (err) {
    reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort.postMessage(reply, transfer);
}
