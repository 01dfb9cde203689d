// The portal's settings and words: a missing or weak setting stops it with a message naming the
// variable; every English word has its German one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPortalConfig, PortalConfigError } from '../../agent-portal/config.js';
import { MESSAGES, translator } from '../../agent-portal/i18n.js';

const base = {
  PORTAL_API_URL: 'https://billing.example.com/', PORTAL_RESELLER_API_KEY: 'll_key', PORTAL_SESSION_SECRET: 'x'.repeat(32),
};

describe('agent portal settings', () => {
  it('needs Ledgerline\'s URL, the reseller key and a session secret of 32 characters or more', () => {
    for (const missing of Object.keys(base)) {
      const env = { ...base, [missing]: '' };
      assert.throws(() => loadPortalConfig(env), (e: Error) => e instanceof PortalConfigError && e.message.includes(missing));
    }
    assert.throws(() => loadPortalConfig({ ...base, PORTAL_SESSION_SECRET: 'short' }), /at least 32/);
    assert.throws(() => loadPortalConfig({ ...base, PORTAL_API_URL: 'ftp://x' }), /PORTAL_API_URL/);
    assert.throws(() => loadPortalConfig({ ...base, PORTAL_BRAND_COLOR: 'red;}' }), /PORTAL_BRAND_COLOR/);
    assert.throws(() => loadPortalConfig({ ...base, PORTAL_DEFAULT_LANGUAGE: 'fr' }), /PORTAL_DEFAULT_LANGUAGE/);
    assert.throws(() => loadPortalConfig({ ...base, HELEKET_MERCHANT_ID: 'm' }), /HELEKET_PAYMENT_KEY/);
  });

  it('defaults: no payment provider, plain-http cookies only for an http public address', () => {
    const c = loadPortalConfig(base);
    assert.equal(c.apiUrl, 'https://billing.example.com');
    assert.equal(c.plisio, null);
    assert.equal(c.heleket, null);
    assert.equal(c.secureCookies, false);
    assert.equal(loadPortalConfig({ ...base, PORTAL_PUBLIC_URL: 'https://portal.example' }).secureCookies, true);
    assert.equal(loadPortalConfig({ ...base, PLISIO_SECRET_KEY: 'k' }).plisio?.apiUrl, 'https://api.plisio.net');
  });
});

describe('agent portal words', () => {
  it('every English word has a German one', () => {
    const missing = Object.keys(MESSAGES.en).filter((k) => !(k in MESSAGES.de));
    assert.deepEqual(missing, []);
  });

  it('fills placeholders', () => {
    assert.equal(translator('de')('topup.range', { min: 5, max: 500 }), 'Bitte einen Betrag von 5 bis 500 eingeben.');
  });
});

describe('agent portal boundaries', () => {
  it('imports nothing from src/: it speaks to Ledgerline over the public APIs only', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'agent-portal');
    const files = (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => /\.(ts|js)$/.test(f));
    assert.ok(files.length > 10);
    const outside: string[] = [];
    for (const file of files) {
      const text = fs.readFileSync(path.join(root, file), 'utf8');
      for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.[^'"]+)['"]/g)) {
        const target = path.resolve(path.dirname(path.join(root, file)), m[1]);
        if (!target.startsWith(root + path.sep)) outside.push(`${file} -> ${m[1]}`);
      }
    }
    assert.deepEqual(outside, []);
  });
});
