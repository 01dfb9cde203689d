import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createClient as createClientOf } from '../../src/onboarding/onboarding.js';
import { applyMarkup, formatMoney, parseMoney } from '../../src/money.js';
import { parseCsvRow } from '../../src/plans/csv-rows.js';
import { splitCsvRecord } from '../../src/plans/csv-tokenizer.js';
import { parseRate } from '../../src/plans/plans.js';
import { PrefixIndex } from '../../src/rating/prefix-index.js';
import { importRatesCsv } from '../../src/plans/csv-import.js';
import { nowIso } from '../../src/util/time.js';
import { createClient, createPlan, isPostgres, runCli, startTestServer, type TestServer } from '../helpers/server.js';


describe('CSV rows: parsing and validation', () => {
  it('splits RFC 4180 records: quoted commas, doubled quotes, spaces, open quotes', () => {
    assert.deepEqual(splitCsvRecord('44, UK ,0.02'), { fields: ['44', 'UK', '0.02'] });
    assert.deepEqual(splitCsvRecord('1,"Special, Shared Cost",0.1,,60'), { fields: ['1', 'Special, Shared Cost', '0.1', '', '60'] });
    assert.deepEqual(splitCsvRecord('1, "The ""Best"" Net" ,0.1'), { fields: ['1', 'The "Best" Net', '0.1'] });
    assert.deepEqual(splitCsvRecord('"44","UK",""'), { fields: ['44', 'UK', ''] });
    assert.equal(splitCsvRecord('1,"open, still'), null);
    assert.ok('error' in splitCsvRecord('1,"closed"x,0.1')!);
    assert.ok('error' in splitCsvRecord('1,bro"ken,0.1')!);
  });

  it('gives what parseRate gives, and refuses what it refuses', () => {
    const money = fc.oneof(
      fc.constantFrom('', '0', '0.0', '00.5', '5.', '.5', '-1', '+1', '1e3', ' 1.5', '0.0000001', '0.1000000', '1.2345678', '12345678901234', 'x'),
      fc.tuple(fc.nat({ max: 99_999_999_999 }), fc.nat({ max: 9_999_999 }), fc.integer({ min: 0, max: 8 }))
        .map(([w, f, d]) => (d === 0 ? String(w) : `${w}.${String(f).padStart(d, '0').slice(0, d)}`)),
    );
    const int = fc.oneof(fc.constantFrom('', '0', '1', '-1', '007', '86400', '86401', '1.5', 'abc', '9999999'), fc.nat({ max: 100_000 }).map(String));
    const prefix = fc.oneof(fc.constantFrom('', '0', '+44', '44 ', '1234567890123456', '123456789012345', 'abc'), fc.nat().map(String));
    const destination = fc.oneof(fc.constantFrom('', '  ', ' UK ', 'x'.repeat(100), 'x'.repeat(101), 'Germany, Mobile'), fc.string({ maxLength: 20 }));
    fc.assert(fc.property(prefix, destination, money, fc.option(money, { nil: undefined }), fc.option(int, { nil: undefined }), int, int,
      (p, d, r, c, ib, bb, mt) => {
        const fields = c === undefined ? [p, d, r] : ib === undefined ? [p, d, r, c] : [p, d, r, c, ib, bb, mt];
        let expected: unknown;
        try {
          const e = parseRate({ prefix: p, destination: d, rate: r, connect_charge: fields[3], initblock: fields[4], billingblock: fields[5], minimal_time: fields[6] }, 'row');
          expected = e.rateMicros > BigInt(Number.MAX_SAFE_INTEGER) || e.connectChargeMicros > BigInt(Number.MAX_SAFE_INTEGER) ? 'error' : {
            prefix: e.prefix, destination: e.destination, rateMicros: Number(e.rateMicros), connectChargeMicros: Number(e.connectChargeMicros),
            initblock: e.initblock, billingblock: e.billingblock, minimalTime: e.minimalTime,
          };
        } catch {
          expected = 'error';
        }
        let actual: unknown;
        try { actual = parseCsvRow(fields); } catch { actual = 'error'; }
        assert.deepEqual(actual, expected, JSON.stringify(fields));
      }), { numRuns: 3000 });
  });

  it('PrefixIndex.setIfAbsent keeps the first value and says which it was', () => {
    const index = new PrefixIndex(4);
    assert.equal(index.setIfAbsent('44', 2), -1);
    assert.equal(index.setIfAbsent('440', 3), -1);
    assert.equal(index.setIfAbsent('44', 9), 2);
    assert.equal(index.setIfAbsent('044', 5), -1); // another length, another prefix
    for (let i = 0; i < 100; i++) assert.equal(index.setIfAbsent(String(1000 + i), i), -1); // grows
    assert.equal(index.get('44'), 2);
    assert.equal(index.longestMatch('4401234'), 3);
    assert.equal(index.size, 103);
  });

  it('names the column of a bad value', () => {
    assert.throws(() => parseCsvRow(['+44', 'UK', '0.1']), /^Error: prefix: must be 1-15 digits$/);
    assert.throws(() => parseCsvRow(['44', 'UK', '0.1234567']), /^Error: rate: at most 6 decimal places$/);
    assert.throws(() => parseCsvRow(['44', 'UK', '0.1', 'abc']), /^Error: connect_charge: must be a decimal number$/);
    assert.throws(() => parseCsvRow(['44', 'UK', '0.1', '0', '1.5']), /^Error: initblock: must be an integer from 1 to 86400$/);
    assert.throws(() => parseCsvRow(['44', ' ', '0.1']), /^Error: destination: is required$/);
    assert.throws(() => parseCsvRow(['44', 'UK', '9999999999999']), /^Error: rate: must be from 0 to 99999.999999$/);
    assert.throws(() => parseCsvRow(['44', 'UK', '100000']), /^Error: rate: must be from 0 to 99999.999999$/);
    assert.throws(() => parseCsvRow(['44', 'UK', '0.1', '100000.5']), /^Error: connect_charge: must be from 0 to 99999.999999$/);
  });
});

describe('ledgerline import-rates', () => {
  let t: TestServer;
  let dir: string;
  let planId: number;
  let retailPlanId: number;
  let switchKey: string;
  let clientSip: string;
  let resellerClientSip: string;
  let resellerClientLogin: string;
  let resellerKey: string;

  const cli = (...args: string[]) => runCli(t, args, { dataDir: dir, timeoutMs: 120_000 });

  const csv = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  async function ratesOf(id: number) {
    const rows = await t.server.ctx.db.selectFrom('rates')
      .select(['prefix', 'destination', 'rate_micros', 'connect_charge_micros', 'initblock', 'billingblock', 'minimal_time'])
      .where('plan_id', '=', id).orderBy('prefix').execute();
    return rows.map((r) => ({ ...r, rate_micros: Number(r.rate_micros), connect_charge_micros: Number(r.connect_charge_micros) }));
  }
  const versionOf = async (id: number) => Number((await t.server.ctx.db.selectFrom('plans').select('rates_version')
    .where('id', '=', id).executeTakeFirstOrThrow()).rates_version);
  const authorize = (sipLogin: string, destination: string) => t.call('switch', 'authorize', {
    key: switchKey, body: { uniqueid: `csv-${crypto.randomBytes(6).toString('hex')}`, sip_login: sipLogin, destination },
  });

  /**
   * The retail plan is the wholesale plan marked up by 20%, row for row, as its client sees it
   * (client-rates); nothing of it is stored in the retail plan itself.
   */
  async function assertRetailIsMarkedUp() {
    assert.deepEqual(await ratesOf(retailPlanId), [], 'no wholesale row is copied into the retail plan');
    const wholesale = await ratesOf(planId);
    const shown: unknown[] = [];
    for (let offset = 0; ; offset += 500) {
      const page = await t.call('reseller', 'client-rates', { key: resellerKey, query: { login: resellerClientLogin, limit: 500, offset } });
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.equal(page.body.total, wholesale.length);
      shown.push(...page.body.rates);
      if (page.body.rates.length < 500) break;
    }
    const up = (micros: number) => Number(formatMoney(applyMarkup(BigInt(micros), 20_000_000n), 6));
    assert.deepEqual(shown, wholesale.map((w) => ({
      prefix: w.prefix, destination: w.destination, rate: up(w.rate_micros), connect_charge: up(w.connect_charge_micros),
      initblock: w.initblock, billingblock: w.billingblock, minimal_time: w.minimal_time,
    })));
  }

  before(async () => {
    t = await startTestServer();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-csv-'));
    planId = (await createPlan(t)).id; // prefixes 1, 44, 447
    const reseller = await t.admin('create-reseller', { plan_id: planId, balance: '100' });
    retailPlanId = reseller.retail_plan.id;
    resellerKey = reseller.api_key;
    switchKey = (await t.admin('create-switch-key', { name: 'csv-switch' })).api_key;
    clientSip = (await createClient(t, planId, { balance: '10' })).sip.name;
    const rc = await createClientOf(t.server.ctx, reseller.reseller.id, { plan_id: retailPlanId });
    await t.admin('refill', { login: rc.client.login, amount: '10' });
    resellerClientSip = rc.sip.name;
    resellerClientLogin = rc.client.login;
  });
  after(async () => {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('imports a file (header, BOM, CRLF, quoted destinations, optional columns) and the reseller\'s client sees them at +20%', async () => {
    const before = await versionOf(planId);
    const file = csv('good.csv', '\ufeffprefix,destination,rate,connect_charge,initblock,billingblock,minimal_time\r\n'
      + '4930,"Germany, Berlin",0.012,,60,6,0\r\n'
      + '49151,"Germany ""Mobile"" T",0.085000,0.01,30,6,3\r\n'
      + '\r\n'
      + '33,France,0.000003\r\n'
      + '336,"France\nMobile",0.05,0,1,1\r\n'
      + '7,Russia,1\r\n');
    const r = await cli('import-rates', String(planId), file);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.success, true);
    assert.equal(summary.plan_id, planId);
    assert.equal(summary.rows_imported, 5);
    assert.equal(summary.header, true);
    // Retail plans are not rebuilt: their clients are rated from these rows at the markup.
    assert.equal(summary.retail_plans_rebuilt, 0);
    assert.equal(summary.retail_rows_written, 0);
    assert.equal(typeof summary.seconds, 'number');
    assert.match(r.stderr, /importing\s+100\.0%/);

    const rates = await ratesOf(planId);
    assert.deepEqual(rates.map((x) => x.prefix), ['1', '33', '336', '44', '447', '49151', '4930', '7']);
    assert.deepEqual(rates.find((x) => x.prefix === '49151'), {
      prefix: '49151', destination: 'Germany "Mobile" T', rate_micros: 85_000, connect_charge_micros: 10_000, initblock: 30, billingblock: 6, minimal_time: 3,
    });
    assert.deepEqual(rates.find((x) => x.prefix === '4930'), {
      prefix: '4930', destination: 'Germany, Berlin', rate_micros: 12_000, connect_charge_micros: 0, initblock: 60, billingblock: 6, minimal_time: 0,
    });
    assert.equal(rates.find((x) => x.prefix === '336')!.destination, 'France\nMobile');
    assert.deepEqual(rates.find((x) => x.prefix === '7'), {
      prefix: '7', destination: 'Russia', rate_micros: 1_000_000, connect_charge_micros: 0, initblock: 1, billingblock: 1, minimal_time: 0,
    });
    assert.ok(await versionOf(planId) > before);
    await assertRetailIsMarkedUp();
    // 0.000003 * 1.2 = 0.0000036 -> half-up 0.000004
    const france = await t.call('reseller', 'client-rates', { key: resellerKey, query: { login: resellerClientLogin, limit: 2 } });
    assert.deepEqual(france.body.rates.map((x: { prefix: string; rate: number }) => [x.prefix, x.rate]), [['1', 0.0144], ['33', 0.000004]]);

    // The running server rates calls with the new rows at once, retail and wholesale.
    const a = await authorize(clientSip, '+4915112345678');
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.allowed, true);
    assert.deepEqual(a.body.rate, { prefix: '49151', destination: 'Germany "Mobile" T' });
    const b = await authorize(resellerClientSip, '+4930123456');
    assert.equal(b.body.allowed, true, JSON.stringify(b.body));
    assert.deepEqual(b.body.rate, { prefix: '4930', destination: 'Germany, Berlin' });

    const audit = await t.server.ctx.db.selectFrom('audit_log').select('endpoint').where('endpoint', '=', 'import-rates').execute();
    assert.equal(audit.length, 1);
  });

  it('a second import updates rows by prefix (upsert) and adds new ones', async () => {
    const before = await versionOf(retailPlanId);
    const file = csv('update.csv', '49151,Germany Mobile Telekom,0.07,0.02,60,60,0\n44,United Kingdom,0.03\n998,Uzbekistan,0.2\n');
    const r = await cli('import-rates', String(planId), file);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.rows_imported, 3);
    assert.equal(summary.header, false);
    const rates = await ratesOf(planId);
    assert.equal(rates.length, 9);
    assert.deepEqual(rates.find((x) => x.prefix === '49151'), {
      prefix: '49151', destination: 'Germany Mobile Telekom', rate_micros: 70_000, connect_charge_micros: 20_000, initblock: 60, billingblock: 60, minimal_time: 0,
    });
    assert.deepEqual(rates.find((x) => x.prefix === '44'), {
      prefix: '44', destination: 'United Kingdom', rate_micros: 30_000, connect_charge_micros: 0, initblock: 1, billingblock: 1, minimal_time: 0,
    });
    assert.equal(await versionOf(retailPlanId), before, 'the retail plan is not rewritten');
    await assertRetailIsMarkedUp();
    const a = await authorize(resellerClientSip, '+4915112345678');
    assert.deepEqual(a.body.rate, { prefix: '49151', destination: 'Germany Mobile Telekom' });
  });

  it('a file with bad rows imports nothing and reports them by line', async () => {
    const wholesaleBefore = await ratesOf(planId);
    const retailBefore = await ratesOf(retailPlanId);
    const versionBefore = await versionOf(planId);
    const file = csv('bad.csv', [
      'prefix,destination,rate', // 1: header
      '4930,Germany Fixed,0.5', // 2: fine (but must not be imported)
      '+49,Germany,0.01', // 3: prefix
      '49,Germany,0.0000001', // 4: 7 decimals
      '49,Germany', // 5: too few fields
      '49,Germany,0.01,0,60,6,0,extra', // 6: too many fields
      '49,Germany,0.01,0,1.5', // 7: initblock
      '55,,0.01', // 8: destination
      '1234567890123456,Long,0.01', // 9: 16 digits
      '4930,Germany again,0.5', // 10: repeats line 2
      '56,"Brazil,0.1', // 11: never closed
    ].join('\n') + '\n');
    const r = await cli('import-rates', String(planId), file);
    assert.equal(r.code, 2, r.stderr + r.stdout);
    for (const line of [3, 4, 5, 6, 7, 8, 9, 10, 11]) assert.match(r.stderr, new RegExp(`^line ${line}: `, 'm'), r.stderr);
    assert.doesNotMatch(r.stderr, /^line 2: /m);
    assert.match(r.stderr, /^line 3: prefix: must be 1-15 digits$/m);
    assert.match(r.stderr, /^line 4: rate: at most 6 decimal places$/m);
    assert.match(r.stderr, /^line 10: prefix 4930 is already on line 2$/m);
    assert.match(r.stderr, /9 bad rows; nothing imported/);
    const body = JSON.parse(r.stdout);
    assert.equal(body.success, false);
    assert.equal(body.code, 'INVALID_ROWS');
    assert.equal(body.bad_rows, 9);
    assert.deepEqual(body.errors.map((e: { line: number }) => e.line), [3, 4, 5, 6, 7, 8, 9, 10, 11]);

    assert.deepEqual(await ratesOf(planId), wholesaleBefore);
    assert.deepEqual(await ratesOf(retailPlanId), retailBefore);
    assert.equal(await versionOf(planId), versionBefore);
  });

  it('reports the first 20 bad rows and counts the rest', async () => {
    const lines = ['1,Good,0.1'];
    for (let i = 0; i < 25; i++) lines.push(`${100 + i},Bad,abc`);
    const r = await cli('import-rates', String(planId), csv('many-bad.csv', lines.join('\n')));
    assert.equal(r.code, 2);
    const body = JSON.parse(r.stdout);
    assert.equal(body.bad_rows, 25);
    assert.equal(body.errors.length, 20);
    assert.deepEqual(body.errors[0], { line: 2, error: 'rate: must be a decimal number' });
    assert.match(r.stderr, /\.\.\. and 5 more/);
  });

  it('refuses an unknown plan, a missing file and wrong arguments', async () => {
    const unknown = await cli('import-rates', '999999', csv('one.csv', '1,USA,0.01\n'));
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.match(unknown.stderr, /Plan not found/);
    const missing = await cli('import-rates', String(planId), path.join(dir, 'nope.csv'));
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /file: cannot read/);
    const empty = await cli('import-rates', String(planId), csv('empty.csv', 'prefix,destination,rate\n'));
    assert.equal(empty.code, 2, empty.stderr);
    assert.match(empty.stderr, /no rate rows/);
    const usage = await cli('import-rates', String(planId));
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: ledgerline import-rates PLAN FILE\.csv/);
  });

  it('runs at a lower CPU priority on SQLite (nice 10, or --nice N), so the server it writes beside keeps its core', async () => {
    const sqlite = t.server.ctx.dialect === 'sqlite';
    const plain = await cli('import-rates', String(planId), csv('nice.csv', '4930,Germany,0.012\n'));
    assert.equal(plain.code, 0, plain.stderr + plain.stdout);
    assert.equal(JSON.parse(plain.stdout).cpu_nice, sqlite ? 10 : os.getPriority());
    const chosen = await cli('import-rates', String(planId), csv('nice.csv', '4930,Germany,0.012\n'), '--nice', '15');
    assert.equal(chosen.code, 0, chosen.stderr + chosen.stdout);
    assert.equal(JSON.parse(chosen.stdout).cpu_nice, sqlite ? 15 : os.getPriority());
    const wrong = await cli('import-rates', String(planId), csv('nice.csv', '4930,Germany,0.012\n'), '--nice', '25');
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--nice: an integer from 0 to 19/);
  });

  it('PostgreSQL: a row another writer adds during the import is upserted, not a failure; the chunks and the journal add up', { skip: !isPostgres() && 'PostgreSQL only' }, async () => {
    const plan = await createPlan(t); // prefixes 1, 44, 447
    const db = t.server.ctx.db;
    const rows = 3000;
    const odd = 'Zone \\ {1}, "A"';
    const lines: string[] = [];
    for (let i = 0; i < rows; i++) lines.push(`${700_000 + i},${i % 2 ? `"${odd.replaceAll('"', '""')}"` : 'Zone B'},0.0${String(i % 100).padStart(2, '0')}`);
    const file = csv('beside-writer.csv', lines.join('\n'));
    // Another transaction adds the file's first prefix, and one of its own, and commits only once
    // the import is under way (a chunk committed on the second connection): the import's plain
    // insert of the first chunk waits for it, then meets the row (23505) and writes it again.
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    const other = db.transaction().execute(async (trx) => {
      await trx.insertInto('rates').values(['700000', '699999'].map((prefix) => ({
        plan_id: plan.id, prefix, destination: 'Other writer', rate_micros: 1, connect_charge_micros: 0,
        initblock: 1, billingblock: 1, minimal_time: 0, updated_at: nowIso(),
      }))).execute();
      await released;
    });
    let phase = '';
    let updates = 0;
    const progress = {
      phase(name: string) { phase = name; }, finish() {}, end() {},
      update() { if (phase === 'importing' && ++updates === 1) release(); },
    };
    const summary = await importRatesCsv({ db, dialect: t.server.ctx.dialect, pgChunkRows: 100 }, plan.id, file, progress);
    await other;
    assert.equal(summary.rows_imported, rows);
    assert.ok(updates >= 30, `one progress update per chunk of 100 rows, got ${updates}`);
    const stored = await ratesOf(plan.id);
    assert.equal(stored.length, rows + 3 + 1);
    assert.deepEqual(stored.find((r) => r.prefix === '700000'), {
      prefix: '700000', destination: 'Zone B', rate_micros: 0, connect_charge_micros: 0, initblock: 1, billingblock: 1, minimal_time: 0,
    }, 'the import wrote the row after the other writer');
    assert.equal(stored.find((r) => r.prefix === '700001')!.destination, odd);
    assert.equal(stored.find((r) => r.prefix === '699999')!.destination, 'Other writer');
    const journal = await db.selectFrom('rate_imports').selectAll().where('id', '=', summary.import_id).executeTakeFirstOrThrow();
    assert.equal(journal.status, 'done');
    assert.equal(Number(journal.rows_written), rows);
  });

  it('imports a few thousand rows in one go, exact money included', async () => {
    const rows: string[] = [];
    const expected = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const prefix = `8${String(i).padStart(5, '0')}`;
      const rate = `${i % 7}.${String((i * 7919) % 1_000_000).padStart(6, '0')}`;
      expected.set(prefix, Number(parseMoney(rate)));
      rows.push(`${prefix},Zone ${i % 13},${rate},0.000001`);
    }
    const r = await cli('import-rates', String(planId), csv('big.csv', rows.join('\n')));
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(JSON.parse(r.stdout).rows_imported, 5000);
    const stored = (await ratesOf(planId)).filter((x) => x.prefix.length === 6 && x.prefix.startsWith('8'));
    assert.equal(stored.length, 5000);
    for (const s of stored) assert.equal(s.rate_micros, expected.get(s.prefix), s.prefix);
    await assertRetailIsMarkedUp();
  });
});
