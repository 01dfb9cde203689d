// CSV rate import (`ledgerline import-rates PLAN FILE.csv`), built for a million rows:
//   prefix,destination,rate[,connect_charge,initblock,billingblock,minimal_time]
// The file is read as a stream and every row validated with parseRate's rules into compact
// column arrays; one bad row (or a prefix given twice) imports nothing and is reported by line
// number. Then one transaction upserts the rows by (plan_id, prefix), bumps the plan's
// rates_version and rebuilds every retail plan derived from it at its reseller's markup.
// The rows are written in prefix order (so the (plan_id, prefix) index fills in sequence) and
// without the query builder: SQLite runs prepared multi-row statements on the connection under
// the transaction, PostgreSQL inserts chunks of 10,000 rows from unnest() arrays.
import fs from 'node:fs';
import type SqliteDatabase from 'better-sqlite3';
import { CompiledQuery } from 'kysely';
import type { Db, Dialect, Trx } from '../db/connect.js';
import { inTx } from '../db/tx.js';
import { AppError, badRequest, notFound } from '../errors.js';
import { MAX_PREFIX_DIGITS, PrefixIndex } from '../rating/prefix-index.js';
import type { RateRow } from '../rating/rate-table.js';
import { positiveInt } from '../util/input.js';
import { nowIso } from '../util/time.js';
import { bumpRatesVersion, lockDerivedPlans, MAX_PRICE_MICROS, parseRate, rebuildRetailPlan } from './plans.js';

export const CSV_COLUMNS = ['prefix', 'destination', 'rate', 'connect_charge', 'initblock', 'billingblock', 'minimal_time'] as const;
/** Bad rows listed in the report; the rest are only counted. */
export const MAX_REPORTED_ERRORS = 20;
/** A quoted field left open this long is a broken file, not a long destination. */
const MAX_RECORD_CHARS = 10_000;
const MAX_LINE_CHARS = 1 << 20;
const PG_CHUNK_ROWS = 10_000;
const SQLITE_CHUNK_ROWS = 20_000;

export interface RowError { line: number; error: string }

/** The file has bad rows: nothing was imported. */
export class InvalidRowsError extends AppError {
  constructor(readonly errors: RowError[], readonly badRows: number) {
    super(400, 'INVALID_ROWS', `${badRows} bad row${badRows === 1 ? '' : 's'}; nothing imported`);
  }
}

export interface ImportTarget {
  db: Db | Trx;
  dialect: Dialect;
  /** SQLite: the connection under `db` (DbHandle.sqlite), for the bulk write path. */
  sqlite?: SqliteDatabase.Database;
  /** Waits until the committed import is on disk (DbHandle.durable). */
  durable?: () => Promise<void>;
}

export interface ImportSummary {
  plan_id: number;
  rows_imported: number;
  lines_read: number;
  header: boolean;
  retail_plans_rebuilt: number;
  retail_rows_written: number;
  seconds: number;
  rows_per_second: number;
}

/**
 * Validated rows in compact columns: typed arrays for numbers, destination names interned.
 * Money is integer micro-units in doubles (exact: parseCsvRow refuses amounts past 2^53 micros).
 */
export class RateColumns {
  count = 0;
  readonly prefixes: string[] = [];
  readonly destinations: string[] = [];
  readonly #destinationIds = new Map<string, number>();
  destinationId: Int32Array;
  rateMicros: Float64Array;
  connectMicros: Float64Array;
  /** initblock, billingblock, minimal_time per row. */
  blocks: Int32Array;

  constructor(expectedRows = 1024) {
    const n = Math.max(16, expectedRows);
    this.destinationId = new Int32Array(n);
    this.rateMicros = new Float64Array(n);
    this.connectMicros = new Float64Array(n);
    this.blocks = new Int32Array(n * 3);
  }

  push(r: CsvRate): void {
    const { prefix, destination } = r;
    const i = this.count++;
    if (i >= this.rateMicros.length) this.#grow();
    let d = this.#destinationIds.get(destination);
    if (d === undefined) {
      d = this.destinations.length;
      this.destinations.push(destination);
      this.#destinationIds.set(destination, d);
    }
    this.prefixes.push(prefix);
    this.destinationId[i] = d;
    this.rateMicros[i] = r.rateMicros;
    this.connectMicros[i] = r.connectChargeMicros;
    this.blocks[i * 3] = r.initblock;
    this.blocks[i * 3 + 1] = r.billingblock;
    this.blocks[i * 3 + 2] = r.minimalTime;
  }

  /** Row numbers in the order of the (plan_id, prefix) index, so the writes fill it in sequence. */
  prefixOrder(): Uint32Array {
    const n = this.count;
    // Digit strings compare like their values padded right to 15 digits, the shorter first on a tie.
    const key = new Float64Array(n);
    const len = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const p = this.prefixes[i];
      len[i] = p.length;
      key[i] = Number(p) * POW10[MAX_PREFIX_DIGITS - p.length];
    }
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    return order.sort((a, b) => (key[a] - key[b]) || (len[a] - len[b]));
  }

  #grow(): void {
    const n = this.rateMicros.length * 2;
    const grow = <T extends Int32Array | Float64Array>(old: T, size: number): T => {
      const next = new (old.constructor as new (len: number) => T)(size);
      next.set(old as never);
      return next;
    };
    this.destinationId = grow(this.destinationId, n);
    this.rateMicros = grow(this.rateMicros, n);
    this.connectMicros = grow(this.connectMicros, n);
    this.blocks = grow(this.blocks, n * 3);
  }
}

// ---------------------------------------------------------------------------------------------
// Progress on stderr: a redrawn bar on a terminal (about 5 times a second), plain lines (once a
// second) when stderr is a pipe or a file.

export interface ProgressSink {
  /** Starts a phase; `total` is what `update`'s `done` counts towards. */
  phase(name: string, total: number): void;
  update(done: number, rows: number): void;
  /** Shows the phase's final numbers and closes it. */
  finish(done: number, rows: number): void;
  end(): void;
}

export const silentProgress: ProgressSink = { phase() {}, update() {}, finish() {}, end() {} };

export class StderrProgress implements ProgressSink {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #intervalMs: number;
  #name = '';
  #total = 0;
  #started = 0;
  #last = 0;
  #shownDone = -1;
  #drawn = false;

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
    this.#tty = out.isTTY === true;
    this.#intervalMs = this.#tty ? 200 : 1000;
  }

  phase(name: string, total: number): void {
    this.end();
    this.#name = name;
    this.#total = total;
    this.#started = performance.now();
    this.#last = 0;
    this.#shownDone = -1;
  }

  update(done: number, rows: number, force = false): void {
    const now = performance.now();
    if (!force && now - this.#last < this.#intervalMs) return;
    this.#last = now;
    this.#shownDone = done;
    const seconds = (now - this.#started) / 1000;
    const fraction = this.#total > 0 ? Math.min(1, done / this.#total) : 1;
    const rate = seconds > 0 ? Math.round(rows / seconds) : 0;
    const text = `${this.#name.padEnd(10)} ${(fraction * 100).toFixed(1).padStart(5)}%  ${rows.toLocaleString('en-US')} rows  ${rate.toLocaleString('en-US')} rows/s  ${seconds.toFixed(1)} s`;
    if (this.#tty) {
      const width = 30;
      const filled = Math.round(fraction * width);
      this.#out.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}\x1b[K`);
      this.#drawn = true;
    } else {
      this.#out.write(`${text}\n`);
    }
  }

  finish(done: number, rows: number): void {
    if (this.#shownDone !== done || this.#tty) this.update(done, rows, true);
    this.end();
  }

  end(): void {
    if (this.#drawn) this.#out.write('\n');
    this.#drawn = false;
  }
}

// ---------------------------------------------------------------------------------------------
// CSV records (RFC 4180): fields separated by commas, optionally in double quotes, a quote
// inside quotes doubled; a quoted field may span lines. Unquoted fields are trimmed.

type Split = { fields: string[] } | { error: string } | null;

/** Splits one record; null when a quoted field is still open at the end of the text. */
export function splitCsvRecord(text: string): Split {
  if (text.indexOf('"') === -1) {
    const fields = text.split(',');
    for (let i = 0; i < fields.length; i++) fields[i] = fields[i].trim();
    return { fields };
  }
  const fields: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i < n && text[i] === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q === -1) return null;
        value += text.slice(j, q);
        if (text[q + 1] === '"') {
          value += '"';
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      while (j < n && (text[j] === ' ' || text[j] === '\t')) j++;
      fields.push(value);
      if (j >= n) return { fields };
      if (text[j] !== ',') return { error: `unexpected text after a closing quote in field ${fields.length}` };
      i = j + 1;
    } else {
      const comma = text.indexOf(',', i);
      const raw = comma === -1 ? text.slice(i) : text.slice(i, comma);
      if (raw.includes('"')) return { error: `quote inside an unquoted field ${fields.length + 1}` };
      fields.push(raw.trim());
      if (comma === -1) return { fields };
      i = comma + 1;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Row validation: parseRate's rules. Rows of the usual shape (plain digits, decimals of at most
// 6 places, small block numbers) take a fast path that gives the same result without BigInt;
// anything else goes through parseRate itself, which accepts it or names what is wrong.

/** A validated CSV row: the rate table's own row shape. */
export type CsvRate = RateRow;

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
const NO = -1;
/** Dearer rows go through parseRate, which refuses them naming the column. */
const MAX_PRICE = Number(MAX_PRICE_MICROS);

/** `123.456` as micro-units; NO for anything else (sign, spaces, > 9 whole digits, > 6 decimals). */
function plainMicros(s: string): number {
  const n = s.length;
  let whole = 0;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) break;
    if (c < 48 || c > 57) return NO;
    whole = whole * 10 + (c - 48);
  }
  if (i === 0 || i > 9) return NO;
  if (i === n) return whole * 1e6;
  const decimals = n - i - 1;
  if (decimals < 1 || decimals > 6) return NO;
  let frac = 0;
  for (let j = i + 1; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c < 48 || c > 57) return NO;
    frac = frac * 10 + (c - 48);
  }
  return whole * 1e6 + frac * POW10[6 - decimals];
}

/** A small unsigned integer in [min, max], `fallback` when absent; NO when parseRate must decide. */
function plainInt(s: string | undefined, min: number, max: number, fallback: number): number {
  if (s === undefined || s === '') return fallback;
  const n = s.length;
  if (n > 6) return NO;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return NO;
    v = v * 10 + (c - 48);
  }
  return v >= min && v <= max ? v : NO;
}

function isPrefix(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > MAX_PREFIX_DIGITS) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function exactMicros(micros: bigint, field: string): number {
  if (micros > BigInt(Number.MAX_SAFE_INTEGER)) throw badRequest(field, 'is too large');
  return Number(micros);
}

/**
 * Validates one row (prefix, destination, rate[, connect_charge, initblock, billingblock,
 * minimal_time]) with parseRate's rules; throws a 400 naming the column.
 */
export function parseCsvRow(f: readonly string[]): CsvRate {
  const destination = f[1];
  if (isPrefix(f[0]) && destination !== undefined && destination.length <= 100) {
    const trimmed = destination.trim();
    const rate = plainMicros(f[2] ?? '');
    const connect = f[3] === undefined || f[3] === '' ? 0 : plainMicros(f[3]);
    const initblock = plainInt(f[4], 1, 86400, 1);
    const billingblock = plainInt(f[5], 1, 86400, 1);
    const minimalTime = plainInt(f[6], 0, 86400, 0);
    if (trimmed !== '' && rate !== NO && connect !== NO && initblock !== NO && billingblock !== NO && minimalTime !== NO
      && rate <= MAX_PRICE && connect <= MAX_PRICE) {
      return { prefix: f[0], destination: trimmed, rateMicros: rate, connectChargeMicros: connect, initblock, billingblock, minimalTime };
    }
  }
  let r;
  try {
    r = parseRate({
      prefix: f[0], destination: f[1], rate: f[2], connect_charge: f[3], initblock: f[4], billingblock: f[5], minimal_time: f[6],
    }, 'row');
  } catch (err) {
    if (err instanceof AppError) throw badRequest(err.field?.replace(/^row\./, '') ?? 'row', err.message.replace(/^row\.[a-z_]+: /, ''));
    throw err;
  }
  return {
    prefix: r.prefix, destination: r.destination,
    rateMicros: exactMicros(r.rateMicros, 'rate'), connectChargeMicros: exactMicros(r.connectChargeMicros, 'connect_charge'),
    initblock: r.initblock, billingblock: r.billingblock, minimalTime: r.minimalTime,
  };
}

const DIGITS = /^\d+$/;
const DECIMAL = /^[+-]?\d+(\.\d+)?$/;

/** The first record is a header when its first field is not digits and its rate column is not a number. */
function isHeader(fields: string[]): boolean {
  return !DIGITS.test(fields[0]) && (fields.length < 3 || !DECIMAL.test(fields[2]));
}

export interface ParsedFile {
  rows: RateColumns;
  lines: number;
  header: boolean;
  errors: RowError[];
  badRows: number;
}

/** Reads and validates the whole file; rows are kept only while no row is bad. */
export async function readRatesCsv(file: string, progress: ProgressSink = silentProgress): Promise<ParsedFile> {
  let size: number;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw badRequest('file', `${file} is not a file`);
    size = stat.size;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw badRequest('file', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  // Rows are 30-50 bytes: size the arrays once for typical files instead of growing them.
  const expectedRows = Math.min(Math.ceil(size / 32), 2_000_000);
  const rows = new RateColumns(expectedRows);
  const seen = new PrefixIndex(expectedRows);
  const errors: RowError[] = [];
  let badRows = 0;
  let header = false;
  let firstRecord = true;
  let pending = '';
  let pendingLine = 0;

  const bad = (line: number, error: string) => {
    badRows++;
    if (errors.length < MAX_REPORTED_ERRORS) errors.push({ line, error });
  };

  const handleLine = (text: string, lineNo: number): void => {
    let line = text;
    let recordLine = lineNo;
    if (pending !== '') {
      line = `${pending}\n${line}`;
      recordLine = pendingLine;
      pending = '';
    } else if (line.length === 0 || line.trim() === '') {
      return;
    }
    const split = splitCsvRecord(line);
    if (split === null) {
      if (line.length > MAX_RECORD_CHARS) {
        bad(recordLine, 'a quoted field is never closed');
        return;
      }
      pending = line;
      pendingLine = recordLine;
      return;
    }
    if ('error' in split) {
      bad(recordLine, split.error);
      return;
    }
    const f = split.fields;
    if (firstRecord) {
      firstRecord = false;
      if (isHeader(f)) {
        header = true;
        return;
      }
    }
    if (f.length < 3 || f.length > CSV_COLUMNS.length) {
      bad(recordLine, `expected 3 to ${CSV_COLUMNS.length} fields (${CSV_COLUMNS.join(',')}), got ${f.length}`);
      return;
    }
    let rate: CsvRate;
    try {
      rate = parseCsvRow(f);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      bad(recordLine, err.message);
      return;
    }
    const earlier = seen.setIfAbsent(rate.prefix, recordLine);
    if (earlier !== -1) {
      bad(recordLine, `prefix ${rate.prefix} is already on line ${earlier}`);
      return;
    }
    // Once a row is bad nothing is imported: keep validating, stop storing.
    if (badRows === 0) {
      rows.push(rate);
    }
  };

  // Lines are cut from 1 MB chunks synchronously: a per-line async iterator (readline)
  // costs more than the validation itself.
  const input = fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  progress.phase('reading', size);
  let lineNo = 0;
  let carry = '';
  try {
    for await (const chunk of input as AsyncIterable<string>) {
      let text = carry === '' ? chunk : carry + chunk;
      if (lineNo === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      let start = 0;
      for (;;) {
        const nl = text.indexOf('\n', start);
        if (nl === -1) break;
        const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        handleLine(text.slice(start, end), ++lineNo);
        start = nl + 1;
      }
      carry = text.slice(start);
      if (carry.length > MAX_LINE_CHARS) throw badRequest('file', `line ${lineNo + 1} is longer than ${MAX_LINE_CHARS} characters; is this a CSV file?`);
      progress.update(input.bytesRead, rows.count + badRows);
    }
    if (carry !== '') handleLine(carry.endsWith('\r') ? carry.slice(0, -1) : carry, ++lineNo);
  } finally {
    input.destroy();
  }
  if (pending !== '') bad(pendingLine, 'a quoted field is never closed');
  progress.finish(size, rows.count + badRows);
  return { rows, lines: lineNo, header, errors, badRows };
}

// ---------------------------------------------------------------------------------------------
// Row writers, one per dialect. Both upsert by (plan_id, prefix) in the caller's transaction.

const UPSERT_COLUMNS = 'plan_id, prefix, destination, rate_micros, connect_charge_micros, initblock, billingblock, minimal_time, updated_at';
const ON_CONFLICT_UPDATE = `on conflict (plan_id, prefix) do update set destination = excluded.destination,
  rate_micros = excluded.rate_micros, connect_charge_micros = excluded.connect_charge_micros, initblock = excluded.initblock,
  billingblock = excluded.billingblock, minimal_time = excluded.minimal_time, updated_at = excluded.updated_at`;

/** Writes rows order[from..to) of `rows`. */
type RowWriter = (trx: Trx, planId: number, rows: RateColumns, order: Uint32Array, from: number, to: number, now: string) => Promise<void>;

/** Rows per SQLite statement: fewer calls into the driver, far below the 32766-parameter limit. */
const SQLITE_ROWS_PER_STATEMENT = 32;

function sqliteWriter(sqlite: SqliteDatabase.Database): RowWriter {
  const values = (n: number) => Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
  const many = sqlite.prepare(`insert into rates (${UPSERT_COLUMNS}) values ${values(SQLITE_ROWS_PER_STATEMENT)} ${ON_CONFLICT_UPDATE}`);
  const one = sqlite.prepare(`insert into rates (${UPSERT_COLUMNS}) values ${values(1)} ${ON_CONFLICT_UPDATE}`);
  const args: unknown[] = new Array(SQLITE_ROWS_PER_STATEMENT * 9);
  return async (_trx, planId, rows, order, from, to, now) => {
    // The statements run on the connection under the open Kysely transaction.
    if (!sqlite.inTransaction) throw new Error('SQLite rate import must run inside the import transaction');
    const { prefixes, destinations, destinationId, rateMicros, connectMicros, blocks } = rows;
    const fill = (k: number, o: number) => {
      const i = order[k];
      args[o] = planId;
      args[o + 1] = prefixes[i];
      args[o + 2] = destinations[destinationId[i]];
      args[o + 3] = rateMicros[i];
      args[o + 4] = connectMicros[i];
      args[o + 5] = blocks[i * 3];
      args[o + 6] = blocks[i * 3 + 1];
      args[o + 7] = blocks[i * 3 + 2];
      args[o + 8] = now;
    };
    let k = from;
    for (; k + SQLITE_ROWS_PER_STATEMENT <= to; k += SQLITE_ROWS_PER_STATEMENT) {
      for (let j = 0; j < SQLITE_ROWS_PER_STATEMENT; j++) fill(k + j, j * 9);
      many.run(args);
    }
    for (; k < to; k++) {
      fill(k, 0);
      one.run(args.slice(0, 9));
    }
  };
}

const PG_UPSERT = `insert into rates (${UPSERT_COLUMNS})
  select $1::bigint, u.prefix, u.destination, u.rate, u.connect, u.initblock, u.billingblock, u.minimal_time, $9
  from unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::int[], $7::int[], $8::int[])
    as u(prefix, destination, rate, connect, initblock, billingblock, minimal_time)
  ${ON_CONFLICT_UPDATE}`;

const pgWriter: RowWriter = async (trx, planId, rows, order, from, to, now) => {
  const n = to - from;
  const prefixes = new Array<string>(n);
  const destinations = new Array<string>(n);
  const rates = new Array<string>(n);
  const connects = new Array<string>(n);
  const initblocks = new Array<number>(n);
  const billingblocks = new Array<number>(n);
  const minimalTimes = new Array<number>(n);
  for (let j = 0; j < n; j++) {
    const i = order[from + j];
    prefixes[j] = rows.prefixes[i];
    destinations[j] = rows.destinations[rows.destinationId[i]];
    rates[j] = String(rows.rateMicros[i]);
    connects[j] = String(rows.connectMicros[i]);
    initblocks[j] = rows.blocks[i * 3];
    billingblocks[j] = rows.blocks[i * 3 + 1];
    minimalTimes[j] = rows.blocks[i * 3 + 2];
  }
  await trx.executeQuery(CompiledQuery.raw(PG_UPSERT, [planId, prefixes, destinations, rates, connects, initblocks, billingblocks, minimalTimes, now]));
};

// ---------------------------------------------------------------------------------------------

async function assertPlan(db: Db | Trx, planId: number): Promise<void> {
  const plan = await db.selectFrom('plans').select('id').where('id', '=', planId).executeTakeFirst();
  if (!plan) throw notFound('Plan');
}

/**
 * Imports a CSV file of rates into a plan. Throws InvalidRowsError (nothing imported) when any
 * row is bad; otherwise everything is committed in one transaction.
 */
export async function importRatesCsv(target: ImportTarget, planIdInput: unknown, file: string, progress: ProgressSink = silentProgress): Promise<ImportSummary> {
  const started = performance.now();
  const planId = positiveInt(planIdInput, 'plan_id');
  await assertPlan(target.db, planId);
  const parsed = await readRatesCsv(file, progress);
  if (parsed.badRows > 0) throw new InvalidRowsError(parsed.errors, parsed.badRows);
  const { rows } = parsed;
  if (rows.count === 0) throw badRequest('file', 'has no rate rows');

  const order = rows.prefixOrder();
  let write: RowWriter;
  let chunk: number;
  if (target.dialect === 'sqlite') {
    if (!target.sqlite) throw new Error('SQLite rate import needs the database connection (DbHandle.sqlite)');
    write = sqliteWriter(target.sqlite);
    chunk = SQLITE_CHUNK_ROWS;
  } else {
    write = pgWriter;
    chunk = PG_CHUNK_ROWS;
  }

  const outcome = await inTx(target.db, async (trx) => {
    await assertPlan(trx, planId);
    const now = nowIso();
    progress.phase('importing', rows.count);
    for (let from = 0; from < rows.count; from += chunk) {
      const to = Math.min(rows.count, from + chunk);
      await write(trx, planId, rows, order, from, to, now);
      progress.update(to, to);
    }
    progress.finish(rows.count, rows.count);
    await bumpRatesVersion(trx, planId);

    const derived = await lockDerivedPlans(trx, planId);
    let retailRows = 0;
    for (let k = 0; k < derived.length; k++) {
      progress.phase(`retail ${k + 1}/${derived.length}`, 1);
      const n = await rebuildRetailPlan(trx, derived[k].id, planId, derived[k].markupMicroPercent);
      retailRows += n;
      progress.finish(1, n);
    }
    return { retailPlans: derived.length, retailRows };
  });
  progress.end();
  await target.durable?.();
  const seconds = (performance.now() - started) / 1000;
  return {
    plan_id: planId,
    rows_imported: rows.count,
    lines_read: parsed.lines,
    header: parsed.header,
    retail_plans_rebuilt: outcome.retailPlans,
    retail_rows_written: outcome.retailRows,
    seconds: Math.round(seconds * 1000) / 1000,
    rows_per_second: Math.round(rows.count / seconds),
  };
}
