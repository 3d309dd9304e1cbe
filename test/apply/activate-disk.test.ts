// The activation's file transaction run by real bash against real filesystems: a folder the new
// release writes to is full. Run in a private mount namespace (unshare), where small tmpfs mounts
// stand for the host's folders; systemctl and curl are recording stand-ins on the PATH, so what is
// tested is the script's own handling of files, not a service manager.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { activationScript } from '../../src/apply/activate.js';
import { releasePaths } from '../../src/apply/layout.js';
import type { HostFacts } from '../../src/plan/facts.js';
import { diff } from '../../src/plan/diff.js';
import type { DesiredState } from '../../src/render/desired.js';

const { cases } = JSON.parse(await readFile(new URL('../plan/fixtures/diff-cases.json', import.meta.url), 'utf8')) as {
  cases: { desired: DesiredState; facts: HostFacts }[];
};
const base = cases[0]!;
// Every file changes (new bytes), owned by root: the runner has no user ubuntu.
const desired: DesiredState = {
  ...base.desired,
  files: base.desired.files.map((f) => ({ ...f, owner: 'root', content: `${f.content}\n# next\n` })),
};
const plan = diff({ desired, facts: base.facts, summary: { chain: [], providers: {}, agents: {} }, secrets: () => 'v', target: 't', revision: 'r' });
const NEW = '20261124T010000Z-r';
const OLD = base.facts.release!.id;
const p = releasePaths(desired.host, NEW);
const prev = releasePaths(desired.host, OLD);

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Sets up the host's folders on tmpfs, fills /srv/proxies, runs the activation, and reports. */
async function runOnFullDisk(): Promise<{ result: string; progress: string; before: Record<string, string>; after: Record<string, string>; leftovers: string; calls: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-activate-'));
  try {
    await writeFile(join(dir, 'activate.sh'), activationScript({ desired, plan, releaseId: NEW, previous: OLD, removed: [], gateSeconds: 5, audit: { holder: 'h', revision: 'r', planDigest: 'd' } }));
    await writeFile(join(dir, 'systemctl'), `#!/bin/bash\necho "$*" >> ${q(`${dir}/calls`)}\nexit 0\n`, { mode: 0o755 });
    await writeFile(join(dir, 'curl'), `#!/bin/bash\necho '{"ok":true}'\n`, { mode: 0o755 });
    const setup = [
      'set -e',
      'mount -t tmpfs -o size=8m tmpfs /srv',
      'mount -t tmpfs -o size=8m tmpfs /etc/systemd/system',
      'mkdir -p /srv/proxies/gemini && mount -t tmpfs -o size=64k tmpfs /srv/proxies/gemini',
      `mkdir -p ${q(p.files)} ${q(prev.files)} ${q(p.lock)}`,
      // What is live (the previous release), and what is staged (the new one).
      ...desired.files.flatMap((f) => [
        `printf 'old %s\\n' ${q(f.path)} > ${q(f.path)}`,
        `mkdir -p "$(dirname ${q(`${prev.files}/${f.name}`)})" && printf 'old %s\\n' ${q(f.path)} > ${q(`${prev.files}/${f.name}`)}`,
        `mkdir -p "$(dirname ${q(`${p.files}/${f.name}`)})" && printf '%s' ${q(f.content)} > ${q(`${p.files}/${f.name}`)}`,
      ]),
      `ln -sfn ${q(`releases/${OLD}`)} ${q(p.current)}`,
      // The proxies' folder is full.
      'head -c 1000000 /dev/zero > /srv/proxies/gemini/filler 2>/dev/null || true',
      'snap() { for f in ' + desired.files.map((f) => q(f.path)).join(' ') + '; do printf "%s %s\\n" "$f" "$(sha256sum < "$f" | cut -c1-16)"; done; }',
      'snap > ' + q(`${dir}/before`),
      'set +e',
      `PATH=${q(dir)}:$PATH bash ${q(`${dir}/activate.sh`)} > ${q(`${dir}/log`)} 2>&1`,
      'snap > ' + q(`${dir}/after`),
      `cat ${q(p.result)} > ${q(`${dir}/result`)}; cat ${q(p.progress)} > ${q(`${dir}/progress`)}`,
      `find /srv /etc/systemd/system -name '*.clawops-*' > ${q(`${dir}/leftovers`)}`,
      `touch ${q(`${dir}/calls`)}`,
    ].join('\n');
    await promisify(execFile)('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', setup]);
    const read = (f: string) => readFile(join(dir, f), 'utf8');
    const table = async (f: string) => Object.fromEntries((await read(f)).trim().split('\n').map((l) => l.split(' ') as [string, string]));
    return { result: (await read('result')).trim(), progress: await read('progress'), before: await table('before'), after: await table('after'), leftovers: await read('leftovers'), calls: await read('calls') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a full folder during the switch: every file is put back as it was, nothing is left behind, nothing restarts, and the outcome says so', async () => {
  const r = await runOnFullDisk();
  assert.equal(r.result, 'rolled-back');
  assert.match(r.progress, /^write failed: \/srv\/proxies\/gemini\/gemini-proxy\.mjs: No space left on device \(0 free on \/srv\/proxies\/gemini\)$/m);
  assert.match(r.progress, new RegExp(`^release ${OLD} is restored$`, 'm'));
  // The files written before the full one are back, byte for byte (the host's own bytes).
  assert.deepEqual(r.after, r.before);
  assert.equal(r.leftovers, '', 'no *.clawops-new or *.clawops-old file is left');
  // Nothing had restarted when the write failed, so nothing restarts to roll back.
  assert.doesNotMatch(r.calls, /restart/);
});
