// Exact decimal money: amounts are bigint micro-units (6 decimal places). No binary floats.

export type Micros = bigint;
export const MICROS_PER_UNIT = 1_000_000n;

/**
 * The money range, one for the whole system: every amount a caller gives (refills, transfers,
 * payments, vouchers, opening balances, initial credit) and every balance the ledger keeps lies
 * within ±999,999,999.999999. That is below 10^15 micros, so
 * - a JSON number in range has at most 15 significant digits and so arrives exact as a double;
 * - a sum of up to nine such values is still a safe integer, which is what SQLite hands back
 *   for an int8 column (microsFromDb refuses anything larger).
 */
export const MAX_AMOUNT_MICROS = 999_999_999_999_999n;

/**
 * Tariff prices (a rate per minute, a connect charge) are bounded tighter, so that the cost of
 * any call stays a safe integer with room to spare: a retail price is at most 11 times its
 * wholesale one (a markup of at most 1000%), and the longest CDR taken is 2 days (2,880
 * minutes, twice the largest MAX_CALL_DURATION):
 * 11 × (99,999.999999 × 2,880 + 99,999.999999) micros ≈ 3.2 × 10^15 < 2^53 / 2.
 */
export const MAX_RATE_MICROS = 99_999_999_999n;
/** The longest answered time a CDR may report, seconds (see MAX_RATE_MICROS). */
export const MAX_CDR_ANSWERED_SECONDS = 2 * 86_400;

/** Longest text parseMoney looks at: a padded amount with 6 decimals fits many times over. */
const MAX_MONEY_TEXT_CHARS = 64;

export class MoneyFormatError extends Error {}

/** A well-formed amount outside the range its field allows. */
export class MoneyRangeError extends MoneyFormatError {
  constructor(readonly maxMicros: Micros) {
    super(`must be from -${formatMoney(maxMicros, 6)} to ${formatMoney(maxMicros, 6)}`);
  }
}

/**
 * Parses a JSON number or decimal string into micros, within ±maxMicros (the money range by
 * default). More than 6 decimals is refused rather than silently rounded, so a caller never
 * loses a fraction without knowing.
 */
export function parseMoney(input: unknown, maxMicros: Micros = MAX_AMOUNT_MICROS): Micros {
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new MoneyFormatError('not a finite number');
    // Beyond 10^21 a double prints in exponent form; it is out of any range anyway.
    if (Math.abs(input) >= 1e21) throw new MoneyRangeError(maxMicros);
    // Below 10^-6 it prints in exponent form too, and has more than 6 decimals.
    if (input !== 0 && Math.abs(input) < 1e-6) throw new MoneyFormatError('at most 6 decimal places');
    // A JSON number arrives as a double; its shortest round-trip text is what the caller wrote
    // whenever that had at most 15 significant digits, as every amount in range does.
    text = String(input);
  } else if (typeof input === 'string') {
    text = input.trim();
    if (text.length > MAX_MONEY_TEXT_CHARS) throw new MoneyFormatError('must be a decimal number');
  } else {
    throw new MoneyFormatError('must be a decimal number');
  }
  const m = /^([+-])?(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) throw new MoneyFormatError('must be a decimal number');
  const fraction = m[3] ?? '';
  if (fraction.length > 6 && /[1-9]/.test(fraction.slice(6))) {
    throw new MoneyFormatError('at most 6 decimal places');
  }
  const whole = m[2].replace(/^0+(?=\d)/, '');
  // Checked on the digits before BigInt: 10^9 units is past every range.
  if (whole.length > 9) throw new MoneyRangeError(maxMicros);
  const micros = BigInt(whole) * MICROS_PER_UNIT + BigInt((fraction + '000000').slice(0, 6));
  if (micros > maxMicros) throw new MoneyRangeError(maxMicros);
  return m[1] === '-' ? -micros : micros;
}

/** Renders micros with a fixed number of decimals (half-up), e.g. 4 for the Client API. */
export function formatMoney(micros: Micros, decimals = 4): string {
  if (decimals < 0 || decimals > 6) throw new RangeError('decimals must be 0..6');
  const rounded = roundMicros(micros, 6 - decimals);
  const negative = rounded < 0n;
  const abs = negative ? -rounded : rounded;
  const whole = abs / MICROS_PER_UNIT;
  const frac = (abs % MICROS_PER_UNIT).toString().padStart(6, '0').slice(0, decimals);
  return `${negative ? '-' : ''}${whole}${decimals > 0 ? '.' + frac : ''}`;
}

/** Rounds micros half-up (away from zero) to a multiple of 10^digits micros. */
function roundMicros(micros: Micros, digits: number): Micros {
  if (digits === 0) return micros;
  const unit = 10n ** BigInt(digits);
  return divRoundHalfUp(micros, unit) * unit;
}

/** Integer division rounding half away from zero. */
export function divRoundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError('division by zero');
  const negative = (numerator < 0n) !== (denominator < 0n);
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const q = (n * 2n + d) / (2n * d);
  return negative ? -q : q;
}

/** Micros as a JSON number for the envelopes that show numbers (Reseller API `me`). Exact to 6 places. */
export function moneyToJsonNumber(micros: Micros): number {
  return Number(formatMoney(micros, 6));
}

// Markup, in two languages side by side: applyMarkup in JavaScript (rating a reseller's client,
// plans/retail-rates.ts) and applyMarkupSql in SQL (listing retail prices without reading the
// deck into the application, plans/retail-rows.ts; migration 0011). One rule, half-up to a
// micro-unit; test/props/markup-sql.test.ts holds the two equal through the server on both
// databases.

/** Applies a markup given in micro-percent (20% = 20_000_000n), rounding half-up to a micro. */
export function applyMarkup(micros: Micros, markupMicroPercent: bigint): Micros {
  return divRoundHalfUp(micros * (100_000_000n + markupMicroPercent), 100_000_000n);
}

/**
 * Largest markup applyMarkupSql takes (10,000%, ten times the API's 1000%): beyond it, a price of
 * up to MAX_RATE_MICROS would leave the exact 64-bit integer range of the SQL form.
 */
export const MAX_MARKUP_SQL_MICRO_PERCENT = 10_000_000_000n;

/** A tagged-template SQL builder (Kysely's `sql`), passed in so that money.ts needs no database layer. */
export type SqlTag<E> = (strings: TemplateStringsArray, ...values: unknown[]) => E;

/**
 * applyMarkup as an SQL expression over `micros` (an expression of a non-negative integer
 * column of micros, at most MAX_RATE_MICROS), exact in 64-bit integers on SQLite and
 * PostgreSQL: with micros = a*10^8 + b, micros*(10^8+m)/10^8 = a*(10^8+m) + b + b*m/10^8, and
 * only the last term needs rounding (half-up; prices are never negative). No intermediate
 * exceeds the result or 2*10^8*m.
 */
export function applyMarkupSql<E>(sqlTag: SqlTag<E>, micros: unknown, markupMicroPercent: bigint): E {
  if (markupMicroPercent < 0n || markupMicroPercent > MAX_MARKUP_SQL_MICRO_PERCENT) {
    throw new RangeError(`markup out of range: ${markupMicroPercent}`);
  }
  const m = sqlTag`cast(${Number(markupMicroPercent)} as bigint)`;
  return sqlTag`(${micros} / 100000000) * (100000000 + ${m}) + (${micros} % 100000000) + ((${micros} % 100000000) * ${m} * 2 + 100000000) / 200000000`;
}

/** Reads a money column: SQLite gives a number, PostgreSQL int8 a string. */
export function microsFromDb(value: number | string | bigint | null | undefined): Micros {
  if (value === null || value === undefined) return 0n;
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new RangeError(`money column out of exact range: ${value}`);
  }
  return BigInt(value);
}
