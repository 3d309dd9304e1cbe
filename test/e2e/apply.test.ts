// End to end, on a real Debian host with systemd (scripts/testhost/): the built CLI applies the
// deployment over SSH, and the tests look at what a user would: exit codes, what runs, what the
// gateway serves, what the files hold. One host for the whole sequence; the scenarios build on one
// another and run in order. The host failing to come up fails every test (never a skip).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CLAWOPS_DIR,
  currentRelease,
  ENV,
  GATEWAY,
  gatewayConfig,
  hostLogs,
  leakedSecrets,
  matchingReleases,
  openclawOnHost,
  PROXIES,
  PROXY_PORTS,
  releaseIds,
  releaseRecord,
  sha256,
  startE2E,
  startStubUpstream,
  STATE,
  stubRequests,
  unitStarts,
  unitStates,
  UNITS,
  VERSIONS,
  type CliRun,
  type E2E,
} from './support.js';

const CHAIN = 'config/fallback-chain.yaml';
const MISTRAL = 'config/providers/mistral.yaml';
const ORIGINAL_HEAD = '  - deepseek/deepseek-chat\n  - kimi/kimi-k2.5\n';
const SWAPPED_HEAD = '  - kimi/kimi-k2.5\n  - deepseek/deepseek-chat\n';

let e: E2E;
const GATEWAY_OK = new RegExp(`^✔ gateway health \\(WebSocket\\) \\(\\d+ ms\\): .*OpenClaw ${VERSIONS.openclaw.replace(/\./g, '\\.')}`, 'm');

/** Asserts an exit code, showing the run's output when it differs. */
function expectExit(run: CliRun, code: number): void {
  assert.equal(run.code, code, `clawops ${run.args.join(' ')} exited ${run.code}, expected ${code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
}

async function healthz(port: number): Promise<{ status: string; kind: string; upstreamKey: boolean }> {
  return JSON.parse(await e.sh(`curl -fsS -m 5 http://127.0.0.1:${port}/healthz`)) as { status: string; kind: string; upstreamKey: boolean };
}

async function readyz(): Promise<{ ready: boolean }> {
  return JSON.parse(await e.sh('curl -fsS -m 5 http://127.0.0.1:18789/readyz')) as { ready: boolean };
}

/** Every proxy answers ok with its key, and the gateway says it is ready. */
async function assertAllHealthy(): Promise<void> {
  for (const [kind, port] of Object.entries(PROXY_PORTS)) {
    const h = await healthz(port);
    assert.deepEqual([h.status, h.kind, h.upstreamKey], ['ok', kind, true], `${kind} proxy /healthz on ${port}`);
  }
  assert.equal((await readyz()).ready, true, 'gateway /readyz');
}

/** One agent turn through the running gateway: who answered, and whether the chain had to fall back. */
async function agentTurn(message: string): Promise<{ provider: string; model: string; text: string; fallbackUsed: boolean }> {
  const out = await openclawOnHost(e, `agent --agent main --session-id e2e-${randomBytes(4).toString('hex')} --message '${message}' --json --timeout 120`);
  const provider = /"winnerProvider":\s*"([^"]+)"/.exec(out)?.[1];
  const model = /"winnerModel":\s*"([^"]+)"/.exec(out)?.[1];
  const text = /"finalAssistantVisibleText":\s*"([^"]*)"/.exec(out)?.[1];
  const fallbackUsed = /"fallbackUsed":\s*(true|false)/.exec(out)?.[1];
  assert.ok(provider && model && text !== undefined && fallbackUsed, `no agent result in:\n${out.slice(-2000)}`);
  return { provider, model, text, fallbackUsed: fallbackUsed === 'true' };
}

/** The host's managed files match exactly this release's record, file for file. */
async function assertHostIs(release: string, others: string[] = []): Promise<void> {
  const records = await Promise.all([release, ...others].map((id) => releaseRecord(e, id)));
  const { matches, mismatches } = await matchingReleases(e, records);
  assert.ok(matches.includes(release), `the host's files are not those of release ${release}; differing: ${mismatches[release]!.join(', ')}`);
  const leftovers = await e.sh(`sudo find /etc/systemd/system ${STATE} ${PROXIES} -maxdepth 3 \\( -name '*.clawops-new' -o -name '.*.clawops-*.tmp' \\)`);
  assert.equal(leftovers.trim(), '', 'half-written files left on the host');
}

function rotate(name: string): string {
  const value = `canary-${name.toLowerCase().replace(/_/g, '-')}-rotated-${randomBytes(9).toString('hex')}`;
  e.secrets[name] = value;
  e.secretValues.push(value);
  return value;
}

/** Waits for OpenClaw to log that it hot-reloaded a config change since then; returns its log. */
async function hotReloadSince(sinceUnix: number, what: RegExp): Promise<string> {
  let journal = '';
  for (let i = 0; i < 60; i++) {
    journal = await e.sh(`sudo journalctl -u ${GATEWAY} --no-pager -o cat --since @${Math.floor(sinceUnix)}`);
    if (/config hot reload applied \(/.test(journal) && what.test(journal)) return journal;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.fail(`OpenClaw logged no hot reload of ${what} since the apply:\n${journal.slice(-3000)}`);
}

describe('clawops on a real host, end to end', { timeout: 15 * 60_000 }, () => {
  before(async () => {
    e = await startE2E('e2e-apply');
  }, { timeout: 12 * 60_000 });

  after(async () => {
    await e?.stop();
  });

  it('1. a first apply installs the runtime and brings the gateway and the three proxies up healthy, serving the rendered config', async () => {
    // Without the smoke checks: the stand-in upstream they chat with runs on the Node this installs.
    const run = await e.cli(['apply', '--env', ENV, '--no-smoke']);
    expectExit(run, 0);
    assert.match(run.stdout, /Applied release \S+ to testhost\./);
    assert.match(run.stderr, /installing Node 24\.21\.0/);
    assert.match(run.stderr, /installing OpenClaw 2026\.9\.6/);
    assert.doesNotMatch(run.stderr, /smoke checks/);

    const states = await unitStates(e);
    for (const u of UNITS) assert.equal(states[u], 'active enabled', `${u}: is-active is-enabled`);
    await assertAllHealthy();

    // Every non-secret file on the host is byte for byte what `clawops render` makes of the config.
    const out = await mkdtemp(join(tmpdir(), 'clawops-e2e-render-'));
    try {
      const rendered = await e.cli(['render', '--env', ENV, '--out', out]);
      expectExit(rendered, 0);
      const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as { files: { path: string; name: string; sensitive: boolean; mode: number }[] };
      for (const f of manifest.files.filter((x) => !x.sensitive)) {
        const onHost = await e.sh(`sudo sha256sum '${f.path}' | cut -d' ' -f1`);
        assert.equal(onHost.trim(), sha256(await readFile(join(out, f.name))), `${f.path} on the host differs from the render`);
      }
      // The env files hold exactly the names render lists, with this environment's values.
      for (const f of manifest.files.filter((x) => x.sensitive)) {
        const text = await e.sh(`sudo cat '${f.path}'`);
        const names = (await readFile(join(out, f.name), 'utf8')).split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]!);
        const values = Object.fromEntries(text.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
        assert.deepEqual(Object.keys(values).sort(), names.sort(), `${f.path}: variables`);
        for (const n of names) assert.equal(values[n], e.secrets[n], `${f.path}: ${n} holds its secret's value`);
        assert.equal((await e.sh(`stat -c '%a %U' '${f.path}'`)).trim(), '600 ubuntu', `${f.path}: mode and owner`);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }

    // Requests reach the stand-in upstream, each proxy with its own key.
    await startStubUpstream(e);
    for (const [kind, model] of [['gemini', 'gemini-2.5-flash'], ['mistral', 'mistral-small-latest'], ['kimi', 'kimi-k2.5']] as const) {
      const reply = JSON.parse(
        await e.sh(`curl -fsS -m 30 -H content-type:application/json -d '{"model":"${model}","messages":[{"role":"user","content":"hi"}]}' http://127.0.0.1:${PROXY_PORTS[kind]}/v1/chat/completions`),
      ) as { choices: { message: { content: string } }[] };
      assert.equal(reply.choices[0]?.message.content, `stub reply from ${model}`);
    }
    // And the gateway answers an agent turn with the chain's primary, through the key it was given.
    const turn = await agentTurn('hello');
    assert.deepEqual(turn, { provider: 'deepseek', model: 'deepseek-chat', text: 'stub reply from deepseek-chat', fallbackUsed: false });
    const seen = await stubRequests(e);
    const keyOf = (path: string) => seen.find((r) => r.path === path)?.keySha256;
    assert.equal(keyOf('/gemini/v1beta/models/gemini-2.5-flash:generateContent'), sha256(e.secrets.GEMINI_API_KEY!));
    assert.equal(keyOf('/mistral/v1/chat/completions'), sha256(e.secrets.MISTRAL_API_KEY!));
    assert.equal(keyOf('/kimi/v1/chat/completions'), sha256(e.secrets.KIMI_API_KEY!));
    assert.equal(keyOf('/deepseek/v1/chat/completions'), sha256(e.secrets.DEEPSEEK_API_KEY!));
  });

  it('2. a second apply changes nothing and restarts nothing', async () => {
    const before = await unitStarts(e);
    const releases = await releaseIds(e);
    const run = await e.cli(['apply', '--env', ENV]);
    expectExit(run, 0);
    assert.match(run.stdout, /No changes/);
    // The apply ends with the smoke checks, from outside the host: the gateway held the smoke's
    // device until clawops approved it there.
    assert.match(run.stdout, /^Paired the smoke's device with the gateway \(request \S+\)\.$/m);
    assert.match(run.stdout, GATEWAY_OK);
    assert.match(run.stdout, /^✔ fallback chain falls back /m);
    assert.deepEqual(await unitStarts(e), before, 'MainPID / ActiveEnterTimestamp of the units');
    assert.deepEqual(await releaseIds(e), releases, 'no new release');
    expectExit(await e.cli(['plan', '--env', ENV, '--detailed-exitcode']), 0);
  });

  it('clawops smoke runs the checklist against the deployment, from outside the host, and a stopped proxy fails it', async () => {
    const run = await e.cli(['smoke', '--env', ENV]);
    expectExit(run, 0);
    assert.doesNotMatch(run.stdout, /Paired/, 'the device stays paired');
    assert.match(run.stdout, GATEWAY_OK);
    for (const kind of Object.keys(PROXY_PORTS)) assert.match(run.stdout, new RegExp(`^✔ proxy ${kind} /healthz \\(\\d+ ms\\)`, 'm'));
    // The canary agent's model is refused by the upstream, and the chain's primary answers instead.
    assert.match(run.stdout, /^✔ fallback chain falls back \(\d+ ms\): the canary canary\/always-fails failed and deepseek\/deepseek-chat answered/m);
    assert.ok((await stubRequests(e)).some((r) => r.path === '/canary/v1/chat/completions' && r.model === 'always-fails'), 'the canary was really called');
    // This environment has no bridge: those checks are reported as skipped, not passed.
    assert.match(run.stdout, /^- bridge health \(\d+ ms\): skipped/m);
    assert.match(run.stdout, /^Smoke: all 5 checks passed\.$/m);

    await e.sh('sudo systemctl stop mistral-proxy.service');
    try {
      const broken = await e.cli(['smoke', '--env', ENV]);
      expectExit(broken, 1);
      assert.match(broken.stdout, /^✘ proxy mistral \/healthz \(\d+ ms\): /m);
      assert.match(broken.stdout, /^✔ proxy gemini \/healthz/m);
      assert.match(broken.stdout, /^Smoke: 1 of \d+ checks failed\.$/m);
    } finally {
      await e.sh('sudo systemctl start mistral-proxy.service');
    }
  });

  it('3. a chain change reaches the running gateway by hot reload: no restart, never unready', async (ctx) => {
    const pidBefore = (await unitStarts(e, [GATEWAY]))[GATEWAY];
    await e.editRepo(CHAIN, (t) => t.replace(ORIGINAL_HEAD, SWAPPED_HEAD));
    const plan = await e.cli(['plan', '--env', ENV, '--detailed-exitcode']);
    expectExit(plan, 2);
    assert.match(plan.stdout, /primary model: deepseek\/deepseek-chat → kimi\/kimi-k2\.5/);
    assert.match(plan.stdout, /reloads: openclaw/);
    assert.doesNotMatch(plan.stdout, /restarts:/);

    // A poller on the host asks the gateway if it is ready every 100 ms, across the whole change:
    // time, HTTP status, seconds taken, curl's exit code (7: refused, 28: no answer in 5 s).
    await e.sh(`rm -f /home/ubuntu/e2e-poll.log; sudo systemd-run --quiet --unit=e2e-poller --uid=ubuntu bash -c 'while :; do echo "$(date +%s.%N) $(curl -s -o /dev/null -m 5 -w "%{http_code} %{time_total} %{exitcode}" http://127.0.0.1:18789/readyz)" >> /home/ubuntu/e2e-poll.log; sleep 0.1; done'`);
    await new Promise((r) => setTimeout(r, 1000));
    const started = Date.now() / 1000;
    const run = await e.cli(['apply', '--env', ENV]);
    expectExit(run, 0);
    // OpenClaw notices the replaced file by itself, within seconds.
    await hotReloadSince(started, /config hot reload applied \([^)]*agents\.defaults\.model\.primary/);
    await new Promise((r) => setTimeout(r, 1000));
    await e.sh('sudo systemctl stop e2e-poller');
    const ended = Date.now() / 1000;

    const samples = (await e.sh('cat /home/ubuntu/e2e-poll.log'))
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([t, code, seconds, exit]) => ({ t: Number(t), code, seconds: Number(seconds), exit }));
    assert.ok(samples.length >= 10, `only ${samples.length} samples`);
    ctx.diagnostic(`readiness poller: ${samples.length} samples, slowest answer ${Math.max(...samples.map((s) => s.seconds)).toFixed(3)} s`);
    assert.ok(samples[0]!.t < started && samples.at(-1)!.t > ended - 2, 'the poller ran before the apply started and after the reload');
    const bad = samples.filter((s) => s.code !== '200');
    assert.deepEqual(bad, [], 'the gateway was unready or unreachable during the change');

    assert.equal((await unitStarts(e, [GATEWAY]))[GATEWAY], pidBefore, 'the gateway was restarted');
    const turn = await agentTurn('hello again');
    assert.deepEqual(turn, { provider: 'kimi', model: 'kimi-k2.5', text: 'stub reply from kimi-k2.5', fallbackUsed: false });
    const seen = await stubRequests(e);
    assert.equal(seen.at(-1)?.path, '/kimi/v1/chat/completions');
    assert.equal(seen.at(-1)?.keySha256, sha256(e.secrets.KIMI_API_KEY!));
  });

  it('4. a change that breaks a service is rolled back automatically and the previous release keeps serving', async () => {
    const previous = await currentRelease(e);
    const gatewayBefore = (await unitStarts(e, [GATEWAY]))[GATEWAY];
    // A port clash: the mistral proxy moved onto a port already taken (the stand-in upstream's).
    const undo = await e.editRepo(MISTRAL, (t) => t.replace('port: 18791', 'port: 39999'));
    try {
      const run = await e.cli(['apply', '--env', ENV]);
      expectExit(run, 3);
      assert.match(run.stdout, /Rolled back/);
      assert.match(run.stderr, /gate failed mistral-proxy\.service/);

      assert.equal((await currentRelease(e)).id, previous.id, 'current release');
      await assertHostIs(previous.id);
      await assertAllHealthy();
      assert.equal((await unitStates(e))['mistral-proxy.service'], 'active enabled');
      assert.equal((await unitStarts(e, [GATEWAY]))[GATEWAY], gatewayBefore, 'the gateway only hot-reloads; a rollback must not restart it');
      const failed = (await releaseIds(e)).at(-1)!;
      assert.equal((await e.sh(`cat ${CLAWOPS_DIR}/releases/${failed}/result`)).trim(), 'rolled-back');
      assert.match(await e.sh(`tail -n 1 ${CLAWOPS_DIR}/audit.log`), /"outcome":"rolled-back"/);
    } finally {
      await undo();
    }
    expectExit(await e.cli(['plan', '--env', ENV, '--detailed-exitcode']), 0);
  });

  it('5. two applies at once: one applies, the other fails on the lock naming its holder or waits and finds nothing to do', async () => {
    const rotated = rotate('DEEPSEEK_API_KEY'); // gateway.env changes: a gateway restart, a long activation
    const first = e.spawnCli(['apply', '--env', ENV]);
    // "facts" is printed once the lock is held.
    for (let i = 0; i < 300 && !/\] facts/.test(first.stderrSoFar()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(first.stderrSoFar(), /\] facts/, 'the first apply never took the lock');
    const impatient = e.cli(['apply', '--env', ENV, '--lock-wait', '0']);
    const patient = e.cli(['apply', '--env', ENV]);
    const [a, b, c] = await Promise.all([first.done, impatient, patient]);

    expectExit(a, 0);
    assert.match(a.stdout, /Applied release/);
    expectExit(b, 4);
    assert.match(b.stderr, new RegExp(`locked by ${userAt()} since \\S+; try again when it finishes`));
    expectExit(c, 0);
    assert.match(c.stdout, /No changes/);

    await assertHostIs((await currentRelease(e)).id);
    assert.equal((await e.sh(`test -e ${CLAWOPS_DIR}/lock && echo held || echo free`)).trim(), 'free');
    assert.match(await e.sh(`sudo grep DEEPSEEK_API_KEY ${STATE}/gateway.env`), new RegExp(`=${rotated}$`, 'm'));
    await assertAllHealthy();
  });

  it('6. an SSH connection dropped during activation leaves the host on one release, and the next apply completes', async () => {
    const old = await currentRelease(e);
    rotate('GROQ_API_KEY'); // a gateway restart again: the activation runs long enough to cut it
    const run = e.spawnCli(['apply', '--env', ENV]);
    let id: string | undefined;
    for (let i = 0; i < 600 && !id; i++) {
      id = /activate release (\S+)/.exec(run.stderrSoFar())?.[1];
      if (!id) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(id, `the apply never reached activation:\n${run.stderrSoFar()}`);
    // Cut once the switch is under way on the host (its first progress line).
    for (let i = 0; i < 100; i++) {
      if ((await e.host.run(`test -s ${CLAWOPS_DIR}/releases/${id}/progress`)).code === 0) break;
    }
    run.child.kill('SIGKILL');
    const killed = await run.done;
    assert.notEqual(killed.code, 0);

    // An activation may outlive its client's heartbeat (a slow gateway start): however old the
    // heartbeat, the lock is held while the activation runs, and another apply must not take it.
    await e.sh(`touch -d '-5 minutes' ${CLAWOPS_DIR}/lock/heartbeat && ! test -e ${CLAWOPS_DIR}/releases/${id}/result`);
    const busy = await e.cli(['apply', '--env', ENV, '--lock-wait', '0']);
    expectExit(busy, 4);
    assert.match(busy.stderr, new RegExp(`locked by ${userAt()} since \\S+; try again when it finishes`));

    // The activation goes on by itself on the host, to its end.
    await e.sh(`for i in $(seq 1 600); do test -s ${CLAWOPS_DIR}/releases/${id}/result && exit 0; sleep 0.5; done; exit 1`);
    const outcome = (await e.sh(`cat ${CLAWOPS_DIR}/releases/${id}/result`)).trim();
    assert.equal(outcome, 'applied');
    const { matches, mismatches } = await matchingReleases(e, [old, await releaseRecord(e, id)]);
    assert.deepEqual(matches, [id], `a mix of releases on the host: ${JSON.stringify(mismatches)}`);
    assert.equal((await currentRelease(e)).id, id);
    await assertHostIs(id);

    // The dead client's lock, now stale: named, and broken when asked; the host already has everything.
    const refused = await e.cli(['apply', '--env', ENV, '--lock-wait', '0']);
    expectExit(refused, 4);
    assert.match(refused.stderr, new RegExp(`locked by ${userAt()} since \\S+, which is no longer running: break the stale lock with --break-lock`));
    const next = await e.cli(['apply', '--env', ENV, '--break-lock']);
    expectExit(next, 0);
    assert.match(next.stdout, /No changes/);
    await assertAllHealthy();
  });

  it('7. a file edited by hand on the host is reported as drift, and the next apply repairs it', async () => {
    const file = `${PROXIES}/kimi/proxy.json`;
    const release = await currentRelease(e);
    // As root, as an operator would (the folder is root's); GNU sed -i keeps the owner and mode.
    await e.sh(`sudo sed -i 's/"timeoutMs": 60000/"timeoutMs": 5000/' ${file} && grep -q '"timeoutMs": 5000' ${file}`);
    const drift = await e.cli(['drift', '--env', ENV]);
    expectExit(drift, 2);
    assert.match(drift.stdout, new RegExp(`${file.replace(/\//g, '\\/')}: content differs — changed on the host by hand`));
    assert.match(drift.stdout, /1 item drifted/);

    const kimiBefore = (await unitStarts(e, ['kimi-proxy.service']))['kimi-proxy.service'];
    const run = await e.cli(['apply', '--env', ENV]);
    expectExit(run, 0);
    assert.match(run.stdout, /restarts: kimi-proxy/);
    assert.equal((await e.sh(`sha256sum ${file} | cut -d' ' -f1`)).trim(), release.files[file]!.digest, 'repaired to the released content');
    assert.notEqual((await unitStarts(e, ['kimi-proxy.service']))['kimi-proxy.service'], kimiBefore, 'the proxy runs the repaired file');
    expectExit(await e.cli(['drift', '--env', ENV]), 0);
    await assertAllHealthy();
  });

  it('8. clawops rollback restores the previous live release, files and running config, passing over one that was rolled back', async () => {
    const good = await currentRelease(e);
    // A release that failed its gates lies between...
    const undo = await e.editRepo(MISTRAL, (t) => t.replace('port: 18791', 'port: 39999'));
    try {
      expectExit(await e.cli(['apply', '--env', ENV]), 3);
    } finally {
      await undo();
    }
    // ...and a chain change goes live after it.
    await e.editRepo(CHAIN, (t) => t.replace(SWAPPED_HEAD, ORIGINAL_HEAD));
    const changed = Date.now() / 1000;
    expectExit(await e.cli(['apply', '--env', ENV]), 0);
    await hotReloadSince(changed, /agents\.defaults\.model\.primary/);
    assert.equal((await gatewayConfig(e)).runtimeConfig.agents.defaults.model.primary, 'deepseek/deepseek-chat');

    const started = Date.now() / 1000;
    const run = await e.cli(['rollback', '--env', ENV]);
    expectExit(run, 0);
    assert.match(run.stdout, new RegExp(`Rolled back testhost to release ${good.id}`));
    await assertHostIs((await currentRelease(e)).id);
    const { matches } = await matchingReleases(e, [good]);
    assert.deepEqual(matches, [good.id], 'the files are those of the release rolled back to');

    await hotReloadSince(started, /agents\.defaults\.model\.primary/);
    const running = await gatewayConfig(e);
    assert.equal(running.runtimeConfig.agents.defaults.model.primary, 'kimi/kimi-k2.5', 'the gateway runs the restored chain');
    await assertAllHealthy();
    // The repository still says otherwise: the next plan shows the way forward again.
    expectExit(await e.cli(['plan', '--env', ENV, '--detailed-exitcode']), 2);
  });

  it('9. a wrong pinned host key is refused before anything is sent', async () => {
    const env = 'config/environments/testhost.yaml';
    const dir = await mkdtemp(join(tmpdir(), 'clawops-e2e-key-'));
    let undo: (() => Promise<void>) | undefined;
    try {
      await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
      const wrong = (await readFile(join(dir, 'k.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
      const right = e.host.knownHostsLine.split(' ').slice(1, 3).join(' ');
      undo = await e.editRepo(env, (t) => t.replace(`hostKey: ${right}`, `hostKey: ${wrong}`));
      const before = await e.sh(`sudo ls -l --time-style=+%s.%N ${CLAWOPS_DIR} ${CLAWOPS_DIR}/releases; sudo sha256sum ${CLAWOPS_DIR}/audit.log`);
      const from = Date.now() / 1000;
      const plan = await e.cli(['plan', '--env', ENV]);
      const apply = await e.cli(['apply', '--env', ENV]);
      await new Promise((r) => setTimeout(r, 1000)); // sshd logs a disconnect a moment after it
      const to = Date.now() / 1000;
      for (const run of [plan, apply]) {
        expectExit(run, 1);
        assert.match(run.stderr, /host key mismatch/);
        assert.ok(run.stderr.includes(e.host.hostKeyFingerprint), 'names the key the host offered');
        assert.match(run.stderr, /nothing was sent/);
      }
      // sshd's own account of the window in which only the two runs above talked to it: both
      // connections ended before authentication ([preauth]), and no key was offered.
      const sshd = (await e.sh(`sudo journalctl -u ssh --no-pager -o short-unix --since @${Math.floor(from)}`))
        .split('\n')
        .filter((l) => Number(l.split(' ')[0]) >= from && Number(l.split(' ')[0]) <= to)
        .join('\n');
      assert.equal(sshd.match(/Disconnected from \S+ port \d+ \[preauth\]/g)?.length, 2, `sshd's log of the window:\n${sshd}`);
      assert.doesNotMatch(sshd, /Accepted publickey|Failed publickey|authenticating user|session opened/, 'sshd saw an authentication attempt');
      assert.equal(await e.sh(`sudo ls -l --time-style=+%s.%N ${CLAWOPS_DIR} ${CLAWOPS_DIR}/releases; sudo sha256sum ${CLAWOPS_DIR}/audit.log`), before, 'the host changed');
    } finally {
      await undo?.();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('no secret value appears in any CLI output, nor in the logs clawops keeps on the host', async () => {
    assert.ok(e.runs.length >= 20, `only ${e.runs.length} CLI runs were recorded`);
    for (const run of e.runs) {
      assert.deepEqual(leakedSecrets(run.stdout + run.stderr, e.secretValues), [], `secret values in the output of clawops ${run.args.join(' ')}`);
    }
    const logs = await hostLogs(e);
    assert.match(logs, /outcome applied/, 'the host logs were read');
    assert.deepEqual(leakedSecrets(logs, e.secretValues), [], 'secret values in activate.log, progress or audit.log');
  });
});

/** The lock holder the CLI names when run here (user@host). */
function userAt(): string {
  return `${userInfo().username}@${hostname()}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
