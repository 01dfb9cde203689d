// `npm start`: runs the server until SIGINT/SIGTERM.
import { loadConfig } from './config.js';
import { seedDemo } from './demo.js';
import { createLogger, startServer } from './server.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config);
  const server = await startServer(config, log);
  if (server.adminKeyCreated) {
    // Printed once: only its hash is stored.
    process.stdout.write(`\nAdmin API key (shown once, store it now): ${server.adminKeyCreated}\n\n`);
  }
  if (config.demo) process.stdout.write(await seedDemo(server.ctx, server.url, server.adminKeyCreated));
  log.info({ url: server.url, database: config.databaseUrl.replace(/:[^:@/]*@/, ':***@') }, 'Ledgerline listening');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`ledgerline: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
