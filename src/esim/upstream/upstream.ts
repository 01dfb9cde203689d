// What Ledgerline needs of a wholesale eSIM provider, in the shape of eSIM Access's API (an
// `obj` per answer, prices in 1/10,000 of the currency unit, volumes in bytes): the package
// list, an order per purchase keyed by Ledgerline's `transactionId`, and the profiles of an
// order, allocated some time after it is placed. Served by the HTTP client (client.ts) or the
// built-in simulator (simulator.ts).

export interface UpstreamOperator {
  operatorName: string;
  /** e.g. `4G`, `5G`. */
  networkType: string;
}

export interface UpstreamLocation {
  locationName: string;
  /** ISO 3166-1 alpha-2. */
  locationCode: string;
  operatorList: UpstreamOperator[];
}

export interface UpstreamPackage {
  packageCode: string;
  name: string;
  /** In 1/10,000 of the currency unit (10000 = 1.00). */
  price: number;
  currencyCode: string;
  /** Bytes. */
  volume: number;
  duration: number;
  durationUnit: 'DAY';
  /** The ISO codes it covers, comma-separated. */
  location: string;
  locationNetworkList: UpstreamLocation[];
}

export interface UpstreamProfile {
  orderNo: string;
  transactionId: string;
  iccid: string;
  /** The activation code, `LPA:1$<SM-DP+ address>$<matching id>`. */
  ac: string;
  qrCodeUrl: string;
  smdpStatus: string;
  esimStatus: string;
  /** Bytes. */
  totalVolume: number;
  /** Bytes used. */
  orderUsage: number;
  /** ISO 8601, or null before the first use. */
  expiredTime: string | null;
}

export type OrderAnswer = { placed: true; orderNo: string } | { placed: false; errorCode: string; errorMsg: string };

export interface EsimUpstream {
  listPackages(): Promise<UpstreamPackage[]>;
  /** `price`: the expected upstream price (1/10,000), so a changed price is refused, not charged. */
  order(transactionId: string, packageCode: string, price: number): Promise<OrderAnswer>;
  /** The order placed with `transactionId`, if any (to finish or refund a purchase after a crash). */
  orderOfTransaction(transactionId: string): Promise<string | null>;
  /** The profiles of an order: empty while they are being allocated. */
  profiles(orderNo: string): Promise<UpstreamProfile[]>;
}

/** The upstream could not be asked or did not answer in time (after its retries): try later. */
export class UpstreamUnavailable extends Error {}

/** An answer of the upstream that is no order and no refusal (malformed, an unexpected error code). */
export class UpstreamProtocolError extends Error {}
