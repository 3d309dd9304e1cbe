#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { main } from '../dist/clawops.mjs';

process.exitCode = await main(process.argv.slice(2), process.env, undefined, {
  programsDir: fileURLToPath(new URL('../dist/proxies/', import.meta.url)),
});
