// `npx ledgerline portal` / `npm run portal`: the agent portal as a process of its own.
import pino from 'pino';
import { buildPortal } from './app.js';
import { loadPortalConfig, PortalConfigError } from './config.js';

export async function runPortal(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config;
  try {
    config = loadPortalConfig(env);
  } catch (err) {
    if (err instanceof PortalConfigError) {
      process.stderr.write(`ledgerline portal: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const log = pino({ level: config.logLevel, redact: ['req.headers.cookie', 'req.headers["x-api-key"]'] });
  const app = await buildPortal(config, log);
  await app.listen({ host: config.host, port: config.port });
  log.info({ url: config.publicUrl, api: config.apiUrl, brand: config.brand.name }, 'agent portal listening');
  const stop = async () => {
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) await runPortal();
