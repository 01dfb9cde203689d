// The statuses `register-agent-payment` accepts. Portals forward what their payment provider
// said, in the provider's own words: Plisio's invoice statuses, Heleket's payment statuses, or
// the generic words of a custom method. Each word means either "paid" (the client is credited,
// once) or "not paid (yet)" (recorded, nothing credited). A word outside this list is refused
// with 400: silently recording `complete` or `payed` as unpaid would leave a paying customer
// without credit and nobody told.

export type PaymentOutcome = 'paid' | 'unpaid';

/** Generic words, for custom payment methods and portals written against the original document. */
const GENERIC: Record<string, PaymentOutcome> = {
  paid: 'paid',
  pending: 'unpaid', failed: 'unpaid', expired: 'unpaid', cancelled: 'unpaid', canceled: 'unpaid',
  refunded: 'unpaid', error: 'unpaid',
};

/**
 * Plisio invoice statuses. `completed` is paid; `mismatch` is an overpaid invoice, which Plisio
 * also counts as paid: the client is credited the amount the portal reports.
 */
const PLISIO: Record<string, PaymentOutcome> = {
  completed: 'paid', mismatch: 'paid',
  new: 'unpaid', pending_internal: 'unpaid', cancelled_duplicate: 'unpaid',
};

/** Heleket payment statuses. `paid_over` is an overpayment: paid, for the amount reported. */
const HELEKET: Record<string, PaymentOutcome> = {
  paid_over: 'paid',
  process: 'unpaid', check: 'unpaid', confirm_check: 'unpaid', wrong_amount: 'unpaid', wrong_amount_waiting: 'unpaid',
  fail: 'unpaid', cancel: 'unpaid', system_fail: 'unpaid', locked: 'unpaid',
  refund_process: 'unpaid', refund_fail: 'unpaid', refund_paid: 'unpaid',
};

const OUTCOMES: ReadonlyMap<string, PaymentOutcome> = new Map(Object.entries({ ...GENERIC, ...PLISIO, ...HELEKET }));

/** Every accepted status word, paid ones first (for the 400 answer and the docs). */
export const ACCEPTED_PAYMENT_STATUSES: readonly string[] = [
  ...[...OUTCOMES].filter(([, o]) => o === 'paid').map(([s]) => s),
  ...[...OUTCOMES].filter(([, o]) => o === 'unpaid').map(([s]) => s),
];

/** `Pending Internal`, `pending-internal` and `pending_internal` are one word. */
export function normalizePaymentStatus(text: string): string {
  return text.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

/** The outcome of a provider's status word, or undefined when the word is not known. */
export function paymentOutcome(normalizedStatus: string): PaymentOutcome | undefined {
  return OUTCOMES.get(normalizedStatus);
}
