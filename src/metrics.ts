// Prometheus metrics (GET /metrics). One registry per process.
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

export const httpRequests = new client.Counter({
  name: 'ledgerline_http_requests_total',
  help: 'API requests by API, endpoint and HTTP status',
  labelNames: ['api', 'endpoint', 'status'] as const,
  registers: [registry],
});
export const httpLatency = new client.Histogram({
  name: 'ledgerline_http_request_duration_seconds',
  help: 'API request latency by API and endpoint',
  labelNames: ['api', 'endpoint'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});
export const ledgerPostings = new client.Counter({
  name: 'ledgerline_ledger_postings_total',
  help: 'Ledger postings written, by kind',
  labelNames: ['kind'] as const,
  registers: [registry],
});
export const callsAuthorized = new client.Counter({
  name: 'ledgerline_calls_authorized_total',
  help: 'Call authorizations by outcome',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
export const cdrsCharged = new client.Counter({
  name: 'ledgerline_cdrs_charged_total',
  help: 'CDRs settled',
  registers: [registry],
});
export const cdrsOverLimit = new client.Counter({
  name: 'ledgerline_cdrs_over_limit_total',
  help: 'CDRs answered longer than the max_duration they were authorized for (the switch did not cut the call)',
  registers: [registry],
});
export const sqliteBatchSize = new client.Histogram({
  name: 'ledgerline_sqlite_transactions_per_commit',
  help: 'SQLite: transactions that shared one COMMIT (group commit batch size)',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  registers: [registry],
});
export const transactionRetries = new client.Counter({
  name: 'ledgerline_transaction_retries_total',
  help: 'Money transactions retried after a PostgreSQL deadlock or serialization failure, by operation',
  labelNames: ['operation'] as const,
  registers: [registry],
});
export const heavyReadSeconds = new client.Histogram({
  name: 'ledgerline_heavy_read_duration_seconds',
  help: 'History pages, reports and verify-ledger run away from the switch path (db/heavy-reads.ts): time from arrival to answer, waiting included',
  buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});
export const heavyReadsRefused = new client.Counter({
  name: 'ledgerline_heavy_reads_refused_total',
  help: 'Heavy reads answered 503 OVERLOADED: queue_full (HEAVY_READ_QUEUE) or deadline (HEAVY_READ_TIMEOUT_SECONDS)',
  labelNames: ['reason'] as const,
  registers: [registry],
});
export const switchBatchSize = new client.Histogram({
  name: 'ledgerline_switch_batch_calls',
  help: 'PostgreSQL: authorizations and CDRs that shared one transaction (calls/switch-batch.ts)',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  registers: [registry],
});
export const switchBatchFallbacks = new client.Counter({
  name: 'ledgerline_switch_batch_fallbacks_total',
  help: 'PostgreSQL: switch batches whose shared transaction failed, their calls then run one by one',
  registers: [registry],
});
export const switchBatchDeferrals = new client.Counter({
  name: 'ledgerline_switch_batch_deferrals_total',
  help: 'PostgreSQL: calls a switch batch left for the next one because another transaction held one of their accounts',
  registers: [registry],
});

export const smsMessages = new client.Counter({
  name: 'ledgerline_sms_messages_total',
  help: 'SMS messages by the status they reached (QUEUED when recorded and charged)',
  labelNames: ['status'] as const,
  registers: [registry],
});
