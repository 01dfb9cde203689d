// What every SMS provider adapter (simulator, SMPP, HTTP) offers the gateway (sms/gateway.ts),
// and what the gateway offers the rest of the server: a message goes in, the provider's answer
// and later its delivery report come back.
import type { SmsStatus } from '../../db/schema.js';
import type { SmsEncoding } from '../segments.js';

/** What an adapter is given: the message as its provider will send it. */
export interface HandOver {
  /** Ledgerline's message id: the adapter's reference for it at the provider. */
  id: number;
  phone: string;
  senderId: string | null;
  text: string;
  encoding: SmsEncoding;
}

export type SubmitResult =
  | { accepted: true; providerMessageId: string }
  /** The provider refused this message (an invalid destination, a barred sender): final. */
  | { accepted: false; errorCode: string };

export interface DeliveryReport {
  providerMessageId: string;
  delivered: boolean;
  /** Why it was not delivered, as a stable code (`UNDELIVERED`, `EXPIRED`, `REJECTED`, …). */
  errorCode?: string;
}

/**
 * Thrown by `submit` when the message certainly did not reach the provider (no connection, a
 * throttling answer): it may be tried again. Any other error leaves its fate unknown.
 */
export class SmsNotSent extends Error {
  constructor(message: string, readonly retryAfterMs = 5000) {
    super(message);
  }
}

/**
 * Where an adapter hands its delivery reports: `done` once applied and durable (or a repeat),
 * `held` when the message is not yet recorded as handed over.
 */
export type ReportSink = (report: DeliveryReport) => Promise<'done' | 'held'>;

export interface SmsAdapter {
  /**
   * Resolves once the provider took the message or refused it. Throws SmsNotSent when it
   * certainly did not reach the provider, any other error when that is not known (a response
   * that never came).
   */
  submit(message: HandOver): Promise<SubmitResult>;
  close(): Promise<void>;
}

/** The gateway as the services and the server see it (Ctx.sms). */
export interface SmsHandOff {
  handOver(provider: string, message: HandOver): Promise<{ status: SmsStatus; errorCode: string | null }>;
  /** A delivery report that came in by a callback of the provider's (sms/callbacks.ts). */
  report(provider: string, report: DeliveryReport): Promise<'done' | 'held'>;
  /** Messages were queued for now (a campaign): the dispatcher runs at once. */
  wake(): void;
  close(): Promise<void>;
}
