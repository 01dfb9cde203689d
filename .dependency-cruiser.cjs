// Which way imports may point in src/ (docs/dependency-rules.md). Checked by
// test/architecture/dependencies.test.ts in `npm test`; by hand: `npx depcruise src`.
//
// Layers, top to bottom. A module imports from its own layer or below, never above:
//   edge      protocol and process: http/, agi/, cli/, workers/, and the composition root
//             (main.ts, server.ts, open-context.ts, demo.ts) that wires them to the services
//   services  business rules, one folder per subject (accounts/, plans/, sip/, ...) and
//             context.ts, the Ctx every service function is given
//   storage   ledger/ (the only writer of balances) over db/ (Kysely, migrations, dialects)
//   support   process-wide leaves: config.ts, metrics.ts, net/
//   core      pure calculation, no I/O: money.ts, errors.ts, rating/, util/
// Folders are named by pattern, so a folder that is renamed or added (webphone/ for portal/,
// sms/, esim/, payments/) only needs its name in the right line below.
'use strict';

const folders = (...names) => names.map((n) => `^src/${n}/`);
const files = (...names) => names.map((n) => `^src/${n}\\.ts$`);

const LAYERS = [
  { name: 'edge', paths: [...folders('http', 'agi', 'cli', 'workers'), ...files('main', 'server', 'open-context', 'demo')] },
  {
    name: 'services',
    paths: [
      ...folders(
        'accounts', 'onboarding', 'admin', 'plans', 'sip', 'calls', 'resellers', 'vouchers', 'refills', 'payments',
        'portal', 'webphone', 'audit', 'idempotency', 'sms', 'esim',
      ),
      ...files('context'),
    ],
  },
  { name: 'storage', paths: folders('ledger', 'db') },
  { name: 'support', paths: [...files('config', 'metrics'), ...folders('net')] },
  { name: 'core', paths: [...files('money', 'errors'), ...folders('rating', 'util')] },
];

const EDGE_ADAPTERS = ['http', 'agi', 'cli', 'workers'];

const forbidden = [
  {
    name: 'no-circular',
    severity: 'error',
    comment: 'A file cycle: neither file can be read, tested or moved without the other. Move the shared piece down, or pass it in.',
    from: {},
    to: { circular: true },
  },
  {
    name: 'no-circular-folders',
    severity: 'error',
    scope: 'folder',
    comment: 'A folder cycle: the two folders are one subject in two places. Move the shared piece into the lower folder, or the piece that needs both above them.',
    // Folders are named without a trailing slash here. The files directly in src/ (main.ts,
    // context.ts, ...) are not one subject: the file-level rule above covers them.
    from: { path: '^src/[^/]+' },
    to: { path: '^src/[^/]+', circular: true },
  },
  // One rule per layer: nothing below may import it.
  ...LAYERS.slice(0, -1).map((layer, i) => ({
    name: `not-up-to-${layer.name}`,
    severity: 'error',
    comment: `Imports point down the layers (edge -> services -> storage -> support -> core): ${LAYERS.slice(i + 1).map((l) => l.name).join(', ')} must not import ${layer.name}. Move the shared piece down, or have the caller pass it in.`,
    from: { path: LAYERS.slice(i + 1).flatMap((l) => l.paths) },
    to: { path: layer.paths },
  })),
  {
    name: 'ledger-over-db',
    severity: 'error',
    comment: 'db/ knows tables and dialects, not money: it must not import ledger/.',
    from: { path: '^src/db/' },
    to: { path: '^src/ledger/' },
  },
  // The edge adapters are peers: each speaks one protocol to the same services. What two of
  // them share (the Admin operations of the HTTP API and the CLI) lives with the services.
  ...EDGE_ADAPTERS.map((name) => ({
    name: `edge-peers-${name}`,
    severity: 'error',
    comment: `${name}/ shares nothing with another protocol's folder: what both need lives with the services.`,
    from: { path: `^src/${name}/` },
    to: { path: folders(...EDGE_ADAPTERS.filter((other) => other !== name)) },
  })),
  {
    name: 'composition-root-from-entry-only',
    severity: 'error',
    comment: 'main.ts, server.ts, open-context.ts and demo.ts wire the edge to the services; only the `ledgerline` command (cli/) starts them.',
    from: { path: folders('http', 'agi', 'workers') },
    to: { path: files('main', 'server', 'open-context', 'demo') },
  },
  // A file outside every layer would escape the rules above: each must be placed.
  {
    name: 'in-a-layer',
    severity: 'error',
    comment: 'This file belongs to no layer: add its folder (or, for a file in src/, its name) to the right layer in .dependency-cruiser.cjs.',
    from: { path: '^src/', pathNot: LAYERS.flatMap((l) => l.paths) },
    to: {},
  },
  {
    name: 'into-a-layer',
    severity: 'error',
    comment: 'This import leads to a file of no layer: add its folder (or, for a file in src/, its name) to the right layer in .dependency-cruiser.cjs.',
    from: {},
    to: { path: '^src/', pathNot: LAYERS.flatMap((l) => l.paths) },
  },
];

module.exports = {
  forbidden,
  options: {
    // Only the project's own sources are judged; packages and Node built-ins are leaves.
    includeOnly: '^src/',
    doNotFollow: { path: 'node_modules' },
    // `import type` counts: a type from a higher layer ties the code to it as much as a value.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
