// Prepares, once, what the end-to-end files boot their hosts from, before any of them starts: the
// base Debian rootfs (scripts/testhost/build-rootfs.sh) and the runtime image layered over it
// (ensureRuntimeImage). Both are cached and reused while their inputs are unchanged, so this is
// instant after the first run. Run by scripts/test.sh; `npx tsx test/e2e/prepare.ts` by hand.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/repo.js';
import { ensureRuntimeImage } from './runtime-cache.js';
import { RUNTIME, VERSIONS } from './support.js';

const started = Date.now();
const { stdout } = await promisify(execFile)('bash', [join(REPO_ROOT, 'scripts/testhost/build-rootfs.sh')], { maxBuffer: 64 << 20 });
const image = await ensureRuntimeImage(VERSIONS, RUNTIME);
process.stdout.write(`test hosts: base ${stdout.trim()}, runtime image ${image} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
