#!/usr/bin/env node
import module from 'node:module';
import { fileURLToPath } from 'node:url';

// On Node 22.1 and later, V8's compiled code is kept on disk (NODE_COMPILE_CACHE, or a folder in
// the temp folder) and later runs start faster; Node's own switch, NODE_DISABLE_COMPILE_CACHE=1,
// turns it off.
module.enableCompileCache?.();
const { main } = await import('../dist/clawops.mjs');

process.exitCode = await main(process.argv.slice(2), process.env, undefined, {
  programsDir: fileURLToPath(new URL('../dist/proxies/', import.meta.url)),
});
