#!/usr/bin/env node
// Runs the CLI from the TypeScript source, so `npx ledgerline` works in a checkout without a build.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
