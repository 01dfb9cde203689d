// The built-in eSIM upstream: serves the demo, the quick start and the tests when no upstream
// is configured. Its catalog is made from a table of countries (with real operators and network
// types) and regions, in the sizes and durations wholesale catalogs sell (1-50 GB, 7-365 days),
// priced per gigabyte by area with a small fixed part. Orders are kept by transactionId (a second
// order with one answers as the upstream does: a refusal), and profiles are allocated
// `allocationMs` after the order. Everything is deterministic: the same catalog every start.
import crypto from 'node:crypto';
import type { EsimUpstream, OrderAnswer, UpstreamLocation, UpstreamPackage, UpstreamProfile } from './upstream.js';

const GB = 1024 ** 3;

export const DOCUMENT_EXAMPLE_PACKAGE = 'P2CYMUS93';

interface Country { code: string; name: string; operators: Array<[string, string]>; perGb: number }

// Price per GB in 1/10,000 USD, by how dear data is there wholesale.
const COUNTRIES: Country[] = [
  { code: 'DE', name: 'Germany', operators: [['Telekom', '5G'], ['Vodafone', '5G'], ['O2', '4G']], perGb: 9000 },
  { code: 'FR', name: 'France', operators: [['Orange', '5G'], ['SFR', '4G'], ['Bouygues', '4G']], perGb: 8500 },
  { code: 'ES', name: 'Spain', operators: [['Movistar', '5G'], ['Vodafone', '4G']], perGb: 8000 },
  { code: 'IT', name: 'Italy', operators: [['TIM', '5G'], ['WindTre', '4G']], perGb: 8000 },
  { code: 'GB', name: 'United Kingdom', operators: [['EE', '5G'], ['Vodafone', '5G'], ['Three', '4G']], perGb: 9000 },
  { code: 'NL', name: 'Netherlands', operators: [['KPN', '5G'], ['Vodafone', '4G']], perGb: 8500 },
  { code: 'US', name: 'United States', operators: [['T-Mobile', '5G'], ['AT&T', '5G']], perGb: 12000 },
  { code: 'CA', name: 'Canada', operators: [['Rogers', '5G'], ['Bell', '4G']], perGb: 15000 },
  { code: 'MX', name: 'Mexico', operators: [['Telcel', '4G'], ['AT&T', '4G']], perGb: 11000 },
  { code: 'JP', name: 'Japan', operators: [['NTT Docomo', '5G'], ['SoftBank', '5G']], perGb: 10000 },
  { code: 'KR', name: 'South Korea', operators: [['SK Telecom', '5G'], ['KT', '5G']], perGb: 10000 },
  { code: 'TH', name: 'Thailand', operators: [['AIS', '5G'], ['TrueMove H', '4G']], perGb: 6000 },
  { code: 'TR', name: 'Turkey', operators: [['Turkcell', '4G'], ['Vodafone', '4G']], perGb: 7000 },
  { code: 'AE', name: 'United Arab Emirates', operators: [['Etisalat', '5G'], ['du', '5G']], perGb: 16000 },
  { code: 'BR', name: 'Brazil', operators: [['Claro', '4G'], ['Vivo', '4G']], perGb: 11000 },
  { code: 'AU', name: 'Australia', operators: [['Telstra', '5G'], ['Optus', '4G']], perGb: 12000 },
];

const REGIONS: Array<{ code: string; name: string; countries: string[] }> = [
  { code: 'EU', name: 'Europe', countries: ['DE', 'FR', 'ES', 'IT', 'GB', 'NL'] },
  { code: 'NA', name: 'North America', countries: ['US', 'CA', 'MX'] },
  { code: 'AS', name: 'Asia', countries: ['JP', 'KR', 'TH'] },
  { code: 'GL', name: 'Global', countries: COUNTRIES.map((c) => c.code) },
];

/** Sizes (GB) and their durations (days), as wholesale catalogs pair them. */
const PLANS: Array<[number, number]> = [[1, 7], [3, 15], [5, 30], [10, 30], [20, 90], [50, 365]];

const locationOf = (c: Country): UpstreamLocation => ({
  locationName: c.name, locationCode: c.code,
  operatorList: c.operators.map(([operatorName, networkType]) => ({ operatorName, networkType })),
});

export function simulatorCatalog(): UpstreamPackage[] {
  const packages: UpstreamPackage[] = [];
  const add = (code: string, name: string, countries: Country[], perGb: number) => {
    for (const [gb, days] of PLANS) {
      packages.push({
        packageCode: `${code}-${gb}GB-${days}D`, name: `${name} ${gb}GB ${days} Days`,
        // A fixed part per package plus the data, rounded to a cent (100 units).
        price: Math.round((5000 + perGb * gb) / 100) * 100, currencyCode: 'USD', volume: gb * GB, duration: days, durationUnit: 'DAY',
        location: countries.map((c) => c.code).join(','), locationNetworkList: countries.map(locationOf),
      });
    }
  };
  for (const c of COUNTRIES) add(c.code, c.name, [c], c.perGb);
  for (const r of REGIONS) {
    const countries = r.countries.map((code) => COUNTRIES.find((c) => c.code === code)!);
    const perGb = Math.round(countries.reduce((n, c) => n + c.perGb, 0) / countries.length * 1.15);
    add(r.code, r.name, countries, perGb);
  }
  // The original document's example buys package P2CYMUS93: the simulator sells it as its
  // United States 3 GB, so the example runs as written.
  packages.find((p) => p.packageCode === 'US-3GB-15D')!.packageCode = DOCUMENT_EXAMPLE_PACKAGE;
  return packages;
}

export class EsimSimulator implements EsimUpstream {
  readonly #catalog = simulatorCatalog();
  readonly #orders = new Map<string, { orderNo: string; packageCode: string; placedAt: number }>();
  #seq = 0;

  constructor(private readonly allocationMs = 2000) {}

  async listPackages(): Promise<UpstreamPackage[]> {
    return structuredClone(this.#catalog);
  }

  async order(transactionId: string, packageCode: string, price: number): Promise<OrderAnswer> {
    const pkg = this.#catalog.find((p) => p.packageCode === packageCode);
    if (!pkg) return { placed: false, errorCode: '200005', errorMsg: 'package not found' };
    if (pkg.price !== price) return { placed: false, errorCode: '200010', errorMsg: 'price mismatch' };
    if (this.#orders.has(transactionId)) return { placed: false, errorCode: '200011', errorMsg: 'duplicate transactionId' };
    const orderNo = `SIM${String(++this.#seq).padStart(9, '0')}`;
    this.#orders.set(transactionId, { orderNo, packageCode, placedAt: Date.now() });
    return { placed: true, orderNo };
  }

  async orderOfTransaction(transactionId: string): Promise<string | null> {
    return this.#orders.get(transactionId)?.orderNo ?? null;
  }

  async profiles(orderNo: string): Promise<UpstreamProfile[]> {
    const entry = [...this.#orders.entries()].find(([, o]) => o.orderNo === orderNo);
    if (!entry || Date.now() - entry[1].placedAt < this.allocationMs) return [];
    const [transactionId, o] = entry;
    const pkg = this.#catalog.find((p) => p.packageCode === o.packageCode)!;
    const digits = BigInt(`0x${crypto.createHash('sha256').update(orderNo).digest('hex').slice(0, 15)}`).toString().slice(0, 11).padStart(11, '0');
    return [{
      orderNo, transactionId, iccid: `89852${digits}`.padEnd(19, '0').slice(0, 19),
      ac: `LPA:1$rsp.simulator.invalid$${orderNo}`, qrCodeUrl: '', smdpStatus: 'RELEASED', esimStatus: 'GOT_RESOURCE',
      totalVolume: pkg.volume, orderUsage: 0, expiredTime: null,
    }];
  }
}
