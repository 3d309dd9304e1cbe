/**
 * Pins the tree of OpenClaw VERSION for hosts that fetch their runtime from the npm registry
 * themselves (`runtime.fetch: registry`): writes runtime/openclaw-VERSION/package.json and the
 * package-lock.json npm resolves for it (every package, its version and its sha512 integrity, and
 * the platforms of the platform-specific ones), without installing anything. Run it when an
 * environment pins a new OpenClaw, and commit both files: the pull request then shows every
 * package that changes.
 *
 *   npm run lock-openclaw -- 2026.9.6
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

const version = process.argv[2];
if (!version || !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(version)) {
  console.error('usage: npm run lock-openclaw -- VERSION   (an exact version, such as 2026.9.6)');
  process.exit(2);
}
const dir = join(REPO_ROOT, 'runtime', `openclaw-${version}`);
await mkdir(dir, { recursive: true });
await writeFile(join(dir, 'package.json'), `${JSON.stringify({ private: true, description: `OpenClaw ${version} as hosts with runtime.fetch: registry install it`, dependencies: { openclaw: version } }, null, 2)}\n`);
execFileSync('npm', ['install', '--package-lock-only', '--omit=dev', '--ignore-scripts', '--engine-strict=false', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'inherit' });
console.log(`wrote runtime/openclaw-${version}/package.json and package-lock.json`);
