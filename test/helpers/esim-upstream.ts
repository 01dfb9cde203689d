// A fake eSIM Access style upstream on loopback: it checks every request's signature (and
// answers a bad one as the real API does, success false), keeps orders by transactionId,
// allocates profiles after a delay, and plays failures on demand: HTTP statuses in turn for a
// path, an answer held past the client's timeout, a refusal of a package.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UpstreamPackage, UpstreamProfile } from '../../src/esim/upstream/upstream.js';

export interface FakeRequest { path: string; body: any; signatureValid: boolean; at: number; headers: http.IncomingHttpHeaders }

export interface FakeUpstream {
  url: string;
  accessCode: string;
  secretKey: string;
  requests: FakeRequest[];
  packages: UpstreamPackage[];
  orders: Map<string, { orderNo: string; packageCode: string; placedAt: number }>;
  /** Statuses to answer, in turn, for a path before answering normally (e.g. [429, 503]). */
  failNext(path: string, statuses: number[]): void;
  /** Hold the next answers of a path this long (past a client's timeout); the work is still done. */
  holdNext(path: string, ms: number, count?: number): void;
  /** Packages the upstream refuses to order. */
  refused: Set<string>;
  allocationMs: number;
  close(): Promise<void>;
}

export const FAKE_PACKAGES: UpstreamPackage[] = [
  {
    packageCode: 'EU-5GB-30D', name: 'Europe 5GB 30 Days', price: 65000, currencyCode: 'USD', volume: 5 * 1024 ** 3, duration: 30,
    durationUnit: 'DAY', location: 'DE,FR,ES',
    locationNetworkList: [
      { locationName: 'Germany', locationCode: 'DE', operatorList: [{ operatorName: 'Telekom', networkType: '5G' }, { operatorName: 'Vodafone', networkType: '4G' }] },
      { locationName: 'France', locationCode: 'FR', operatorList: [{ operatorName: 'Orange', networkType: '5G' }] },
      { locationName: 'Spain', locationCode: 'ES', operatorList: [{ operatorName: 'Movistar', networkType: '4G' }] },
    ],
  },
  {
    packageCode: 'P2CYMUS93', name: 'United States 3GB 15 Days', price: 32000, currencyCode: 'USD', volume: 3 * 1024 ** 3, duration: 15,
    durationUnit: 'DAY', location: 'US',
    locationNetworkList: [{ locationName: 'United States', locationCode: 'US', operatorList: [{ operatorName: 'AT&T', networkType: '5G' }] }],
  },
  {
    packageCode: 'US-1GB-7D', name: 'United States 1GB 7 Days', price: 18000, currencyCode: 'USD', volume: 1024 ** 3, duration: 7,
    durationUnit: 'DAY', location: 'US',
    locationNetworkList: [{ locationName: 'United States', locationCode: 'US', operatorList: [{ operatorName: 'T-Mobile', networkType: '5G' }] }],
  },
];

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const failures = new Map<string, number[]>();
  const holds = new Map<string, { ms: number; count: number }>();
  let orderSeq = 0;
  const fake: FakeUpstream = {
    url: '', accessCode: 'access-code-1', secretKey: 'secret-key-1', requests: [], packages: structuredClone(FAKE_PACKAGES),
    orders: new Map(), refused: new Set(), allocationMs: 100,
    failNext(path, statuses) { failures.set(path, [...(failures.get(path) ?? []), ...statuses]); },
    holdNext(path, ms, count = 1) { holds.set(path, { ms, count }); },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  const answer = (res: http.ServerResponse, obj: unknown, errorCode: string | null = null, errorMsg: string | null = null) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ success: errorCode === null, errorCode, errorMsg, obj: errorCode === null ? obj : null }));
  };
  const profilesOf = (orderNo: string): UpstreamProfile[] => {
    const order = [...fake.orders.entries()].find(([, o]) => o.orderNo === orderNo);
    if (!order || Date.now() - order[1].placedAt < fake.allocationMs) return [];
    const [transactionId, o] = order;
    const pkg = fake.packages.find((p) => p.packageCode === o.packageCode)!;
    const iccid = `8944${orderNo.replace(/\D/g, '').padStart(15, '0')}`;
    return [{
      orderNo, transactionId, iccid, ac: `LPA:1$smdp.example.net$${orderNo}-MATCHING`, qrCodeUrl: `https://example.net/qr/${orderNo}.png`,
      smdpStatus: 'RELEASED', esimStatus: 'GOT_RESOURCE', totalVolume: pkg.volume, orderUsage: 0, expiredTime: null,
    }];
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '').replace(/^\/api\/v1\/open\//, '');
      const ts = String(req.headers['rt-timestamp'] ?? '');
      const id = String(req.headers['rt-requestid'] ?? '');
      const expected = crypto.createHmac('sha256', fake.secretKey).update(ts + id + fake.accessCode + text).digest('hex');
      const signatureValid = req.headers['rt-accesscode'] === fake.accessCode && req.headers['rt-signature'] === expected
        && /^\d{13}$/.test(ts) && Math.abs(Date.now() - Number(ts)) < 60_000 && /^[0-9a-f-]{36}$/.test(id);
      let body: any = null;
      try { body = JSON.parse(text); } catch { /* refused below */ }
      fake.requests.push({ path, body, signatureValid, at: Date.now(), headers: req.headers });
      const failing = failures.get(path);
      if (failing && failing.length > 0) {
        const status = failing.shift()!;
        res.writeHead(status, { 'Content-Type': 'application/json' }).end('{"success":false,"errorCode":"HTTP","errorMsg":"playing a failure"}');
        return;
      }
      if (!signatureValid) { answer(res, null, '000101', 'signature invalid'); return; }
      // The work is done at once; only the answer may be held (a client that gave up by then
      // still had its order placed, as with a real upstream).
      type Reply = { obj: unknown; errorCode?: string; errorMsg?: string } | null;
      const work = (): Reply => {
        if (path === 'package/list') return { obj: { packageList: fake.packages } };
        if (path === 'esim/order') {
          const code = body?.packageInfoList?.[0]?.packageCode;
          const pkg = fake.packages.find((p) => p.packageCode === code);
          if (!pkg) return { obj: null, errorCode: '200005', errorMsg: 'package not found' };
          if (fake.refused.has(code)) return { obj: null, errorCode: '200007', errorMsg: 'insufficient account balance' };
          if (body?.packageInfoList?.[0]?.price !== pkg.price) return { obj: null, errorCode: '200010', errorMsg: 'price mismatch' };
          if (fake.orders.has(body.transactionId)) return { obj: null, errorCode: '200011', errorMsg: 'duplicate transactionId' };
          const orderNo = `B${String(++orderSeq).padStart(8, '0')}`;
          fake.orders.set(body.transactionId, { orderNo, packageCode: code, placedAt: Date.now() });
          return { obj: { orderNo } };
        }
        if (path === 'esim/order/query') return { obj: { orderNo: fake.orders.get(body?.transactionId)?.orderNo ?? null } };
        if (path === 'esim/query') return { obj: { esimList: profilesOf(body?.orderNo) } };
        return null;
      };
      const reply = work();
      const send = () => {
        if (res.destroyed) return;
        if (!reply) { res.writeHead(404).end(); return; }
        answer(res, reply.obj, reply.errorCode ?? null, reply.errorMsg ?? null);
      };
      const hold = holds.get(path);
      if (hold && hold.count > 0) {
        hold.count--;
        setTimeout(send, hold.ms);
      } else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/open`;
  return fake;
}
