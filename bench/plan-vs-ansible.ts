/**
 * clawops against a bare SSH round trip and against an equivalent Ansible playbook, on a real test
 * host (scripts/testhost/) that clawops has deployed to:
 *
 *  - a no-change `clawops plan --env testhost` against `ssh host true` (target: ≤ 2x);
 *  - a no-change plan against `ansible-playbook --check --diff` of a playbook managing the same
 *    files and units, with handlers for the restarts (target: clawops ≥ 5x faster);
 *  - the apply of one changed config file (a proxy's proxy.json: one file, one restart) against
 *    the playbook's run doing the same (target: clawops ≥ 5x faster).
 *
 * clawops runs on Node 24, as the workflows run it; the plan is timed on this machine's own Node
 * too. Medians of several runs, each a fresh process as a user runs it. The playbook's restart handlers
 * reset the unit's start counter first, as clawops does: the units allow 5 starts in 5 minutes, and
 * a benchmark restarts a proxy more often than that. Ansible comes from Debian
 * (ansible-core, installed here with apt-get when missing), tuned as an operator would tune it:
 * no fact gathering, SSH pipelining, a persistent control connection. The host gets python3 (which
 * Ansible's modules need and a cloud image has) from this machine's Debian mirror, once. Prints
 * figures and asserts nothing. Run: npx tsx bench/plan-vs-ansible.ts   (root, or passwordless sudo)
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { envWithValues } from '../src/render/envfile.js';
import { NODE24 } from '../scripts/tools.js';
import { median, timed } from './timing.js';
import { ENV, startE2E, startStubUpstream, STUB_PORT, type E2E } from '../test/e2e/support.js';

const run = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const ANSIBLE_RUNS = Number(process.env.BENCH_ANSIBLE_RUNS ?? 5);



/** Prints a series' median and every run; returns the median. */
function report(label: string, xs: number[]): number {
  const m = median(xs);
  console.log(`${label.padEnd(58)} median ${(m / 1000).toFixed(3).padStart(7)} s   (${xs.map((x) => (x / 1000).toFixed(2)).join(' ')})`);
  return m;
}

async function series(label: string, n: number, once: (i: number) => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await once(i));
  return report(label, xs);
}

/** n rounds, each running every one of `runs` once in turn; the times of each, by name. */
async function interleaved<K extends string>(n: number, runs: Record<K, () => Promise<number>>): Promise<Record<K, number[]>> {
  const names = Object.keys(runs) as K[];
  const out = Object.fromEntries(names.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < n; i++) for (const k of names) out[k].push(await runs[k]());
  return out;
}

async function ensureAnsible(): Promise<void> {
  try {
    await run('ansible-playbook', ['--version']);
  } catch {
    console.log('installing ansible-core from Debian (once)');
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'ansible-core'], { maxBuffer: 64 << 20, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
}

/** Debian's python3 and what it needs that the host lacks, downloaded here and installed there. */
async function ensureHostPython(e: E2E): Promise<void> {
  if ((await e.host.run('command -v python3')).code === 0) return;
  console.log('installing python3 on the test host (for Ansible\'s modules)');
  const installed = new Set((await e.sh("dpkg-query -W -f='${Package}\\n'")).split('\n').filter(Boolean));
  const { stdout } = await run('apt-cache', ['depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', 'python3'], { maxBuffer: 16 << 20 });
  const wanted = [...new Set(stdout.split('\n').filter((l) => l && !l.startsWith(' ') && !l.startsWith('<')))].filter((p) => !installed.has(p));
  const dir = await mkdtemp(join(tmpdir(), 'clawops-bench-debs-'));
  try {
    await run('apt-get', ['download', '-qq', ...wanted], { cwd: dir, maxBuffer: 16 << 20 });
    const debs = (await readdir(dir)).filter((f) => f.endsWith('.deb'));
    await e.sh('rm -rf /tmp/debs && mkdir -p /tmp/debs');
    await run('scp', [...e.host.sshOptions.map((o) => (o === '-p' ? '-P' : o)), ...debs.map((d) => join(dir, d)), `${e.host.user}@${e.host.host}:/tmp/debs/`]);
    // dpkg -i takes the files in name order: passes until what waited on a pre-dependency is in.
    await e.sh('for i in 1 2 3 4; do sudo dpkg -i /tmp/debs/*.deb >/dev/null 2>&1 && break; sudo dpkg --configure -a >/dev/null 2>&1; done; rm -rf /tmp/debs; python3 --version');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface ManifestFile {
  path: string;
  name: string;
  mode: number;
  owner?: string;
  sensitive: boolean;
}

/**
 * The same deployment as an Ansible playbook: every file clawops manages (env files with their
 * values), daemon-reload when a unit changes, a restart of each service whose inputs changed
 * (proxies before the gateway), openclaw.json left to OpenClaw's hot reload, units enabled and
 * running.
 */
async function writePlaybook(e: E2E, dir: string): Promise<{ playbook: string; inventory: string; cfg: string; files: string }> {
  const files = join(dir, 'files');
  expectOk(await e.cli(['render', '--env', ENV, '--out', files]));
  const manifest = JSON.parse(await readFile(join(files, 'manifest.json'), 'utf8')) as { files: ManifestFile[] };
  // The env files as apply writes them: the template's names, with this environment's values.
  for (const f of manifest.files.filter((x) => x.sensitive)) {
    const names = (await readFile(join(files, f.name), 'utf8')).split('\n').filter((l) => /^[A-Z_]+=$/.test(l)).map((l) => l.slice(0, -1));
    await writeFile(join(files, f.name), envWithValues(Object.fromEntries(names.map((n) => [n, n])), (n) => e.secrets[n] ?? ''), { mode: 0o600 });
  }
  const unitOf = (name: string): string | null => {
    const m = /^proxies\/([^/]+)\//.exec(name) ?? /^systemd\/(.+)-proxy\.service$/.exec(name);
    if (m) return `${m[1]}-proxy`;
    if (name === 'gateway.env' || name === 'systemd/openclaw-gateway.service') return 'openclaw-gateway';
    return null; // openclaw.json: hot reload
  };
  const task = (f: ManifestFile) => {
    const unit = unitOf(f.name);
    const notify = [...(f.name.startsWith('systemd/') ? ['daemon-reload'] : []), ...(unit ? [`restart ${unit}`] : [])];
    const owner = f.owner ?? 'ubuntu';
    return [
      `    - name: ${f.path}`,
      `      ansible.builtin.copy: { src: "${join(files, f.name)}", dest: "${f.path}", mode: "0${f.mode.toString(8)}", owner: ${owner}, group: ${owner} }`,
      ...(f.sensitive ? ['      no_log: true', '      diff: false'] : []),
      ...(notify.length ? [`      notify: [${notify.map((x) => `"${x}"`).join(', ')}]`] : []),
    ].join('\n');
  };
  const dirs = [...new Set(manifest.files.map((f) => dirname(f.path)))].sort();
  const units = ['gemini-proxy', 'kimi-proxy', 'mistral-proxy', 'openclaw-gateway'];
  const playbook = `- hosts: testhost
  gather_facts: false
  become: true
  tasks:
    - name: folders
      ansible.builtin.file: { path: "{{ item }}", state: directory }
      loop: ${JSON.stringify(dirs)}
${manifest.files.map(task).join('\n')}
    - name: services enabled and running
      ansible.builtin.systemd: { name: "{{ item }}", enabled: true, state: started }
      loop: ${JSON.stringify(units)}
  handlers:
    - name: daemon-reload
      ansible.builtin.systemd: { daemon_reload: true }
${units.map((u) => `    - name: restart ${u}\n      ansible.builtin.shell: systemctl reset-failed ${u}; systemctl restart ${u}`).join('\n')}
`;
  const inventory = `testhost ansible_host=${e.host.host} ansible_port=${e.host.port} ansible_user=${e.host.user} ansible_ssh_private_key_file=${e.host.privateKeyPath} ansible_python_interpreter=/usr/bin/python3\n`;
  const cfg = `[defaults]
inventory = ${join(dir, 'inventory')}
host_key_checking = True
interpreter_python = /usr/bin/python3
stdout_callback = default
[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=120s -o IdentitiesOnly=yes -o UserKnownHostsFile=${e.host.knownHostsPath} -o StrictHostKeyChecking=yes
`;
  await writeFile(join(dir, 'playbook.yml'), playbook);
  await writeFile(join(dir, 'inventory'), inventory);
  await writeFile(join(dir, 'ansible.cfg'), cfg);
  return { playbook: join(dir, 'playbook.yml'), inventory: join(dir, 'inventory'), cfg: join(dir, 'ansible.cfg'), files };
}

/**
 * Waits until the gateway has finished starting: after an install it works for a while (plugins,
 * caches), on the same two cores the runs below share, and timing then would measure its start.
 * Settled: under 5% of a core over two seconds.
 */
async function gatewaySettled(e: E2E): Promise<void> {
  // CPU time of the gateway's process in clock ticks (100 per second): the test host's systemd has
  // no CPU accounting of its own.
  const cpu = async () =>
    Number((await e.sh("awk '{ print $14 + $15 }' /proc/$(systemctl show -p MainPID --value openclaw-gateway.service)/stat")).trim());
  let last = await cpu();
  for (let i = 0; i < 90; i++) {
    await new Promise((r) => setTimeout(r, 2000));
    const now = await cpu();
    if (now - last < 0.05 * 2 * 100) return;
    last = now;
  }
  console.log('warning: the gateway never settled; figures include its work');
}

function expectOk(r: { code: number; args: string[]; stdout: string; stderr: string }, codes = [0]): void {
  if (!codes.includes(r.code)) throw new Error(`clawops ${r.args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
}

// Over TCP, as Ansible connects: the two compare their own work, not the route.
const e = await startE2E('bench-ansible', { via: 'tcp' });
const work = await mkdtemp(join(tmpdir(), 'clawops-bench-ansible-'));
try {
  await ensureAnsible();
  console.log('first apply (runtime, files, units)...');
  // Applies here leave out the smoke checks: the playbook they are compared with checks nothing.
  expectOk(await e.cli(['apply', '--env', ENV, '--no-smoke']));
  await startStubUpstream(e);
  await ensureHostPython(e);
  await gatewaySettled(e);

  // The CLI on a given Node: the workflows run it on Node 24 (NODE24, the one the tests install);
  // this machine's own Node is timed beside it.
  const cli = (args: string[], expect = [0], node = NODE24) => {
    const c = e.cliCommand(args, 'bench');
    return timed(node, c.args, { env: c.env, expect });
  };
  const thisNode = `Node ${process.versions.node}`;
  const node24 = `Node ${(await run(NODE24, ['-p', 'process.versions.node'])).stdout.trim()}`;

  // Interleaved, a round of each in turn: this machine's speed drifts, and both sides of a ratio
  // should see the same drift. One plan on each Node first, unmeasured: Node's compile cache is
  // written by a first run, as on an operator's machine after the first command.
  await cli(['plan', '--env', ENV, '--detailed-exitcode']);
  await cli(['plan', '--env', ENV, '--detailed-exitcode'], [0], process.execPath);
  console.log(`\n== no change (${RUNS} rounds)`);
  const rounds = await interleaved(RUNS, {
    ssh: () => timed('ssh', [...e.host.sshOptions, `${e.host.user}@${e.host.host}`, 'true']),
    plan24: () => cli(['plan', '--env', ENV, '--detailed-exitcode']),
    plan: () => cli(['plan', '--env', ENV, '--detailed-exitcode'], [0], process.execPath),
  });
  const ssh = report('ssh host true', rounds.ssh);
  const plan24 = report(`clawops plan --env testhost (no changes, ${node24})`, rounds.plan24);
  const plan = report(`clawops plan --env testhost (no changes, ${thisNode})`, rounds.plan);

  const a = await writePlaybook(e, work);
  const ansibleEnv = { ...process.env, ANSIBLE_CONFIG: a.cfg, ANSIBLE_NOCOLOR: '1' };
  // The playbook must find the host exactly as clawops left it: a check run reports no change.
  const first = await run('ansible-playbook', ['--check', '--diff', a.playbook], { env: ansibleEnv, maxBuffer: 64 << 20 }).catch((err: { stdout?: string }) => {
    throw new Error(`ansible-playbook --check failed:\n${err.stdout ?? ''}`);
  });
  const recap = /changed=(\d+)/.exec(first.stdout)?.[1];
  if (recap !== '0') console.log(`warning: the playbook's check run reports changed=${recap} on a host clawops just applied`);
  const check = await series('ansible-playbook --check --diff (no changes)', ANSIBLE_RUNS, () => timed('ansible-playbook', ['--check', '--diff', a.playbook], { env: ansibleEnv }));

  console.log(`\n== one changed file: a proxy's proxy.json, and that proxy's restart (${RUNS} / ${ANSIBLE_RUNS} runs)`);
  const envFile = join(e.repo, 'config/environments/testhost.yaml');
  const original = await readFile(envFile, 'utf8');
  const applyOne = await series('clawops apply --env testhost', RUNS, async (i) => {
    const upstream = `http://127.0.0.1:${STUB_PORT}/kimi/${i % 2 ? 'v1' : 'v2'}`;
    await writeFile(envFile, original.replace(/(kimi:\n\s+upstream: )\S+/, `$1${upstream}`));
    return cli(['apply', '--env', ENV, '--no-smoke']);
  });
  await writeFile(envFile, original);
  await cli(['apply', '--env', ENV, '--no-smoke']);
  const proxyJson = join(a.files, 'proxies/kimi/proxy.json');
  const json = await readFile(proxyJson, 'utf8');
  const playOne = await series('ansible-playbook (same change)', ANSIBLE_RUNS, async (i) => {
    await writeFile(proxyJson, i % 2 ? json : json.replace('"timeoutMs": 60000', '"timeoutMs": 60001'));
    return timed('ansible-playbook', [a.playbook], { env: ansibleEnv });
  });
  await writeFile(proxyJson, json);
  await run('ansible-playbook', [a.playbook], { env: ansibleEnv, maxBuffer: 64 << 20 });

  console.log('\n== ratios');
  console.log(`plan / ssh true, ${node24.padEnd(16)} ${(plan24 / ssh).toFixed(2)}x   (target ≤ 2x)`);
  console.log(`plan / ssh true, ${thisNode.padEnd(16)} ${(plan / ssh).toFixed(2)}x`);
  console.log(`ansible --check / plan           ${(check / plan24).toFixed(2)}x   (target ≥ 5x)`);
  console.log(`ansible run / clawops apply      ${(playOne / applyOne).toFixed(2)}x   (target ≥ 5x)`);
} finally {
  await e.stop().catch(() => {});
  await rm(work, { recursive: true, force: true });
}
