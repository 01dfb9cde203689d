// The rows of a rates CSV file, validated:
//   prefix,destination,rate[,connect_charge,initblock,billingblock,minimal_time]
// Every row is checked with parseRate's rules into a RateColumns store; one bad row (or a
// prefix given twice) makes the file bad, and the bad rows are reported by line number.
import fs from 'node:fs';
import { AppError, badRequest } from '../errors.js';
import { MAX_RATE_MICROS } from '../money.js';
import { MAX_PREFIX_DIGITS, PrefixIndex } from '../rating/prefix-index.js';
import { RateColumns, type RateRow } from '../rating/rate-columns.js';
import { readCsvRecords } from './csv-tokenizer.js';
import { silentProgress, type ProgressSink } from './import-progress.js';
import { parseRate } from './plans.js';

export const CSV_COLUMNS = ['prefix', 'destination', 'rate', 'connect_charge', 'initblock', 'billingblock', 'minimal_time'] as const;
/** Bad rows listed in the report; the rest are only counted. */
export const MAX_REPORTED_ERRORS = 20;

export interface RowError { line: number; error: string }

// Rows of the usual shape (plain digits, decimals of at most 6 places, small block numbers)
// take a fast path that gives the same result as parseRate without BigInt; anything else goes
// through parseRate itself, which accepts it or names what is wrong.

/** A validated CSV row: the rate store's own row shape. */
export type CsvRate = RateRow;

/** The tariff range (money.ts) as a number: the fast path leaves prices above it to parseRate's error. */
const MAX_RATE = Number(MAX_RATE_MICROS);
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6];
const NO = -1;

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
      && rate <= MAX_RATE && connect <= MAX_RATE) {
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

  const bad = (line: number, error: string) => {
    badRows++;
    if (errors.length < MAX_REPORTED_ERRORS) errors.push({ line, error });
  };

  progress.phase('reading', size);
  const lines = await readCsvRecords(file, {
    bad,
    progress: (bytesRead) => progress.update(bytesRead, rows.count + badRows),
    record(f, line) {
      if (firstRecord) {
        firstRecord = false;
        if (isHeader(f)) {
          header = true;
          return;
        }
      }
      if (f.length < 3 || f.length > CSV_COLUMNS.length) {
        bad(line, `expected 3 to ${CSV_COLUMNS.length} fields (${CSV_COLUMNS.join(',')}), got ${f.length}`);
        return;
      }
      let rate: CsvRate;
      try {
        rate = parseCsvRow(f);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        bad(line, err.message);
        return;
      }
      const earlier = seen.setIfAbsent(rate.prefix, line);
      if (earlier !== -1) {
        bad(line, `prefix ${rate.prefix} is already on line ${earlier}`);
        return;
      }
      // Once a row is bad nothing is imported: keep validating, stop storing.
      if (badRows === 0) rows.push(rate);
    },
  });
  progress.finish(size, rows.count + badRows);
  return { rows, lines, header, errors, badRows };
}
