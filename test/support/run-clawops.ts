// Runs the CLI from source (no build needed), as bin/clawops.js runs the bundle:
//   node --import tsx test/support/run-clawops.ts ARGS   (CLAWOPS_TEST_PROGRAMS: the proxy programs folder)
import { main } from '../../src/cli/main.js';
import { processOutput } from '../../src/cli/output.js';

process.exitCode = await main(process.argv.slice(2), process.env, processOutput, { programsDir: process.env.CLAWOPS_TEST_PROGRAMS ?? 'dist/proxies' });
