// The built-in SMS provider (CONTRACT §5): it takes every message at once and reports its
// delivery after `reportDelayMs`, so the quick start, the demo and the tests run offline. Its
// answers are decided by the phone number, so a test can ask for each outcome:
//   ends in 9999  refused at the hand-over (FAILED, REJECTED)
//   ends in 0000  taken, then reported undelivered (FAILED, UNDELIVERED)
//   otherwise     taken, then reported DELIVERED
import type { DeliveryReport, HandOver, ReportSink, SmsAdapter, SubmitResult } from './adapter.js';

export interface SimulatorOptions {
  reportDelayMs: number;
  onReport: ReportSink;
}

/** Reports waiting for their delay; more are delivered at once rather than held. */
const MAX_PENDING_REPORTS = 100_000;

export class SmsSimulator implements SmsAdapter {
  readonly #pending = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(private readonly options: SimulatorOptions) {}

  async submit(m: HandOver): Promise<SubmitResult> {
    if (this.#closed) throw new Error('the SMS simulator is closed');
    if (m.phone.endsWith('9999')) return { accepted: false, errorCode: 'REJECTED' };
    const providerMessageId = `sim-${m.id}`;
    const report: DeliveryReport = m.phone.endsWith('0000')
      ? { providerMessageId, delivered: false, errorCode: 'UNDELIVERED' }
      : { providerMessageId, delivered: true };
    const deliver = () => { void this.options.onReport(report).catch(() => {}); };
    if (this.#pending.size >= MAX_PENDING_REPORTS) setImmediate(deliver);
    else {
      const timer = setTimeout(() => { this.#pending.delete(timer); deliver(); }, this.options.reportDelayMs);
      timer.unref();
      this.#pending.add(timer);
    }
    return { accepted: true, providerMessageId };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#pending) clearTimeout(timer);
    this.#pending.clear();
  }
}
