// Exact decimal money: amounts are bigint micro-units (6 decimal places). No binary floats.

export type Micros = bigint;
export const MICROS_PER_UNIT = 1_000_000n;
/** Largest amount accepted from a caller: 1e12 units keeps every product well inside int64. */
export const MAX_AMOUNT_MICROS = 1_000_000_000_000n * MICROS_PER_UNIT;

export class MoneyFormatError extends Error {}


/**
 * Parses a JSON number or decimal string into micros. More than 6 decimals is refused
 * rather than silently rounded, so a caller never loses a fraction without knowing.
 */
export function parseMoney(input: unknown): Micros {
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new MoneyFormatError('not a finite number');
    // A JSON number arrives as a double; its shortest round-trip text is what the caller wrote.
    text = String(input);
    if (/e/i.test(text)) throw new MoneyFormatError('use plain decimal notation');
  } else if (typeof input === 'string') {
    text = input.trim();
  } else if (typeof input === 'bigint') {
    return input * MICROS_PER_UNIT;
  } else {
    throw new MoneyFormatError('must be a decimal number');
  }
  const m = /^([+-])?(\d{1,13})(?:\.(\d+))?$/.exec(text);
  if (!m) throw new MoneyFormatError('must be a decimal number');
  const fraction = m[3] ?? '';
  if (fraction.length > 6 && /[1-9]/.test(fraction.slice(6))) {
    throw new MoneyFormatError('at most 6 decimal places');
  }
  const micros = BigInt(m[2]) * MICROS_PER_UNIT + BigInt((fraction + '000000').slice(0, 6));
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

/** Applies a markup given in micro-percent (20% = 20_000_000n), rounding half-up to a micro. */
export function applyMarkup(micros: Micros, markupMicroPercent: bigint): Micros {
  return divRoundHalfUp(micros * (100_000_000n + markupMicroPercent), 100_000_000n);
}

/** Reads a money column: SQLite gives a number, PostgreSQL int8 a string. */
export function microsFromDb(value: number | string | bigint | null | undefined): Micros {
  if (value === null || value === undefined) return 0n;
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new RangeError(`money column out of exact range: ${value}`);
  }
  return BigInt(value);
}
