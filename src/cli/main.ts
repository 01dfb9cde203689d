// `ledgerline` CLI: the Admin API's operations (admin/operations.ts) plus serve, migrate and
// import-rates, on the database that DATABASE_URL names.
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Actor } from '../accounts/actor.js';
import { ADMIN_OPERATIONS } from '../admin/operations.js';
import { loadConfig } from '../config.js';
import { AppError, OverloadedError } from '../errors.js';
import { importRatesCsv, InvalidRowsError, StderrProgress } from '../plans/csv-import.js';
import { createLogger, openContext } from '../open-context.js';
import { writeAudit } from '../audit/audit-log.js';

/** Fields a command also takes as plain arguments, in this order: `ledgerline api-keys alice`. */
const POSITIONAL_FIELDS: Record<string, string[]> = {
  'api-keys': ['login'],
  'revoke-api-key': ['id'],
};

/**
 * CPU priority of import-rates on SQLite: it shares the machine with the server it writes
 * beside, and parsing and writing a million rows took a core from the switch path. 10, not 19:
 * the import holds the write lock a few ms at a time, and a process descheduled while holding it
 * holds up every commit of the server; at 10 it still gets a tenth of a busy core, and all of an
 * idle one (the idle import is as fast as without).
 */
const IMPORT_NICE = 10;

/**
 * Lowers every thread of this process to `nice` (never raises one: that needs privileges). On
 * Linux the nice value is a thread's, not the process's: the checkpointer thread and libuv's
 * pool, started before, would keep the old one. Elsewhere, the calling thread's.
 */
function lowerPriority(nice: number): void {
  let threads: number[] = [0];
  try {
    threads = fs.readdirSync('/proc/self/task').map(Number);
  } catch {
    // No /proc: the main thread alone.
  }
  for (const tid of threads) {
    try {
      if (nice > os.getPriority(tid)) os.setPriority(tid, nice);
    } catch {
      // A thread that ended meanwhile.
    }
  }
}

const usageName = (name: string) => [name, ...(POSITIONAL_FIELDS[name] ?? []).map((f) => f.toUpperCase())].join(' ');

const HELP = `ledgerline <command> [--field value ...]

  serve                     run the server (same as npm start)
  portal                    run the agent portal (PORTAL_* settings, see the README)
  migrate                   apply database migrations
  import-rates PLAN FILE [--nice N]
                            import a CSV of rates into plan PLAN (id), upsert by prefix:
                            prefix,destination,rate[,connect_charge,initblock,billingblock,minimal_time]
                            SQLite: runs at CPU priority nice N (default ${IMPORT_NICE}; 0 keeps it)
${ADMIN_OPERATIONS.map((op) => `  ${usageName(op.name).padEnd(26)}${op.summary}`).join('\n')}

Fields are the Admin API's, with dashes or underscores: --plan-id 1 --login alice.
JSON values (arrays, objects) are parsed: --rates '[{"prefix":"44","destination":"UK","rate":"0.02"}]'.
DATABASE_URL chooses the database (default sqlite:./data/ledgerline.db).`;

function fieldsFrom(args: string[], positional: string[] = []): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  let nextPositional = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--')) {
      if (nextPositional >= positional.length) throw new AppError(400, 'USAGE', `unexpected argument "${arg}"; fields are --name value`);
      fields[positional[nextPositional++]] = arg;
      continue;
    }
    const [rawKey, inline] = arg.slice(2).split(/=(.*)/s, 2);
    const key = rawKey.replace(/-/g, '_');
    let value: unknown = inline ?? args[++i];
    if (value === undefined) throw new AppError(400, 'USAGE', `--${rawKey} needs a value`);
    if (typeof value === 'string' && /^[[{]/.test(value)) {
      try { value = JSON.parse(value); } catch { throw new AppError(400, 'USAGE', `--${rawKey}: not valid JSON`); }
    } else if (value === 'true' || value === 'false') {
      value = value === 'true';
    }
    fields[key] = value;
  }
  return fields;
}

async function run(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv.slice(0, 1), allowPositionals: true, strict: false });
  const command = positionals[0];
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(HELP + '\n');
    return command ? 0 : 2;
  }
  if (command === 'serve') {
    await import('../main.js');
    return -1;
  }
  if (command === 'portal') {
    const { runPortal } = await import('../../agent-portal/main.js');
    await runPortal();
    return process.exitCode === 2 ? 2 : -1;
  }
  const config = loadConfig();
  const log = createLogger({ ...config, logLevel: process.env.LOG_LEVEL ?? 'warn' });
  const operation = ADMIN_OPERATIONS.find((op) => op.name === command);
  if (!operation && command !== 'migrate' && command !== 'import-rates') {
    process.stderr.write(`ledgerline: unknown command "${command}"\n\n${HELP}\n`);
    return 2;
  }
  // A wrong command line is told before any database is opened: it needs none, and it must
  // not depend on one answering.
  const input = operation ? fieldsFrom(argv.slice(1), POSITIONAL_FIELDS[command]) : {};
  const { ctx, handle } = await openContext(config, log);
  try {
    if (command === 'migrate') {
      process.stdout.write('migrations applied\n');
      return 0;
    }
    const admin = await ctx.db.selectFrom('accounts').selectAll().where('role', '=', 'admin').executeTakeFirst();
    if (!admin) throw new AppError(409, 'NO_ADMIN', 'No admin account yet: start the server once (npm start) to create it');
    const actor: Actor = {
      id: admin.id, login: admin.login, role: 'admin', keyId: null, parentId: null, active: true, ownActive: true,
      readAtAuth: { balanceMicros: admin.balance_micros, planId: null, planName: null },
    };
    // CLI changes are audited like API ones, with `cli` as the API.
    const audit = () => writeAudit(ctx.db, {
      actor: { id: admin.id, login: admin.login, role: 'admin' }, api: 'cli', endpoint: command, method: 'CLI', ip: null, status: 200, errorCode: null,
    });
    if (command === 'import-rates') {
      const args = argv.slice(1);
      let nice = IMPORT_NICE;
      const niceAt = args.indexOf('--nice');
      if (niceAt >= 0) {
        nice = Number(args[niceAt + 1]);
        if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new AppError(400, 'USAGE', '--nice: an integer from 0 to 19');
        args.splice(niceAt, 2);
      }
      if (args.length !== 2) throw new AppError(400, 'USAGE', 'usage: ledgerline import-rates PLAN FILE.csv [--nice N]');
      // A nice value set from outside is kept if higher.
      if (ctx.dialect === 'sqlite') lowerPriority(nice);
      let summary;
      try {
        summary = await importRatesCsv({ db: ctx.db, dialect: ctx.dialect, sqlite: handle.sqlite, durable: () => handle.durable() },
          args[0], args[1], new StderrProgress());
      } catch (err) {
        if (!(err instanceof InvalidRowsError)) throw err;
        for (const e of err.errors) process.stderr.write(`line ${e.line}: ${e.error}\n`);
        if (err.badRows > err.errors.length) process.stderr.write(`... and ${err.badRows - err.errors.length} more\n`);
        process.stderr.write(`ledgerline: ${err.message} (${err.code})\n`);
        process.stdout.write(JSON.stringify({
          success: false, error: err.message, code: err.code, bad_rows: err.badRows, errors: err.errors,
        }, null, 2) + '\n');
        return 2;
      }
      await audit();
      await handle.durable();
      // cpu_nice: the priority the import ran at, as the operating system reports it.
      process.stdout.write(JSON.stringify({ success: true, ...summary, cpu_nice: os.getPriority() }, null, 2) + '\n');
      return 0;
    }
    const result = await operation!.run(ctx, actor, input);
    if (operation!.method !== 'GET') await audit();
    // Acknowledge only what is on disk (SQLite group commit).
    await handle.durable();
    process.stdout.write(JSON.stringify({ success: true, ...result }, null, 2) + '\n');
    if (command === 'verify-ledger' && result.ok_ledger !== true) return 1;
    return 0;
  } finally {
    await handle.close();
  }
}

run(process.argv.slice(2)).then(
  (code) => { if (code >= 0) process.exitCode = code; },
  (caught) => {
    const err = caught instanceof OverloadedError ? caught.toAppError() : caught;
    if (err instanceof AppError) {
      process.stderr.write(`ledgerline: ${err.message} (${err.code})\n`);
      process.exitCode = err.status === 400 ? 2 : 1;
    } else {
      process.stderr.write(`ledgerline: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
