// End to end, the engine on a real Debian host with systemd (scripts/testhost/): the built CLI
// applies the deployment over SSH, and the tests look at what a user would: exit codes, what runs,
// what the gateway serves, what the files hold. One host for the whole file, booted from the image
// with the runtime already installed; the scenarios build on one another and run in order, each
// leaving the host on a release the next starts from. The host failing to come up fails every test
// (never a skip).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../support/wait.js';
import { agentTurn, assertAllHealthy, assertHostIs, assertNoSecretLeft, CHAIN, expectExit, GATEWAY_OK, hotReloadSince, MISTRAL, ORIGINAL_HEAD, SWAPPED_HEAD } from './checks.js';
import {
  CLAWOPS_DIR,
  currentRelease,
  ENV,
  GATEWAY,
  gatewayConfig,
  matchingReleases,
  PROXIES,
  PROXY_PORTS,
  releaseIds,
  sha256,
  STATE,
  startE2E,
  startStubUpstream,
  stubRequests,
  unitStarts,
  unitStates,
  UNITS,
  type E2E,
} from './support.js';

let e: E2E;

describe('the engine on a real host: apply, hot reload, health gates, drift and rollback', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    e = await startE2E('e2e-engine');
    await startStubUpstream(e);
  }, { timeout: 20 * 60_000 });

  after(async () => {
    await e?.stop();
  });

  it('1. a first apply to a host that has the pinned runtime installs nothing and brings everything up healthy', async () => {
    const run = await e.cli(['apply', '--env', ENV, '--no-smoke']);
    await expectExit(run, 0, e);
    assert.match(run.stdout, /Applied release \S+ to testhost\./);
    assert.doesNotMatch(run.stderr, /installing/);
    const states = await unitStates(e);
    for (const u of UNITS) assert.equal(states[u], 'active enabled', `${u}: is-active is-enabled`);
    await assertAllHealthy(e);
    const turn = await agentTurn(e, 'hello');
    assert.deepEqual(turn, { provider: 'deepseek', model: 'deepseek-chat', text: 'stub reply from deepseek-chat', fallbackUsed: false });
  });

  it('2. a second apply changes nothing and restarts nothing', async () => {
    const before = await unitStarts(e);
    const releases = await releaseIds(e);
    const run = await e.cli(['apply', '--env', ENV]);
    await expectExit(run, 0, e);
    assert.match(run.stdout, /No changes/);
    // The apply ends with the smoke checks, from outside the host: the gateway held the smoke's
    // device until clawops approved it there.
    assert.match(run.stdout, /^Paired the smoke's device with the gateway \(request \S+\)\.$/m);
    assert.match(run.stdout, GATEWAY_OK);
    assert.match(run.stdout, /^✔ fallback chain falls back /m);
    assert.deepEqual(await unitStarts(e), before, 'MainPID / ActiveEnterTimestamp of the units');
    assert.deepEqual(await releaseIds(e), releases, 'no new release');
    // apply's smoke ran the host's deep audit, and its findings are the live release's record.
    assert.match(run.stdout, /^✔ security audit --deep \(\d+ ms\): /m);
    const record = JSON.parse(await e.sh(`cat ${CLAWOPS_DIR}/current/release.json`)) as { securityFindings?: { checkId: string; severity: string }[] };
    assert.ok(record.securityFindings?.some((f) => f.checkId === 'models.weak_tier' && f.severity === 'warn'), JSON.stringify(record.securityFindings));
    // OpenClaw's state folder is its user's alone.
    assert.equal((await e.sh(`stat -c %a:%U ${STATE}`)).trim(), '700:ubuntu');
    await expectExit(await e.cli(['plan', '--env', ENV, '--detailed-exitcode']), 0, e);
  });

  it('clawops smoke runs the checklist against the deployment, from outside the host, and a stopped proxy fails it', async () => {
    const run = await e.cli(['smoke', '--env', ENV]);
    await expectExit(run, 0, e);
    assert.doesNotMatch(run.stdout, /Paired/, 'the device stays paired');
    assert.match(run.stdout, GATEWAY_OK);
    for (const kind of Object.keys(PROXY_PORTS)) assert.match(run.stdout, new RegExp(`^✔ proxy ${kind} /healthz \\(\\d+ ms\\)`, 'm'));
    // The canary agent's model is refused by the upstream, and the chain's primary answers instead.
    assert.match(run.stdout, /^✔ fallback chain falls back \(\d+ ms\): the canary canary\/always-fails failed and deepseek\/deepseek-chat answered/m);
    assert.ok((await stubRequests(e)).some((r) => r.path === '/canary/v1/chat/completions' && r.model === 'always-fails'), 'the canary was really called');
    // This environment has no bridge: those checks are reported as skipped, not passed.
    assert.match(run.stdout, /^- bridge health \(\d+ ms\): skipped/m);
    assert.match(run.stdout, /^✔ heartbeat \(\d+ ms\): /m);
    // The host's own deep audit, with the OpenClaw the release installed: the state folder is
    // private, and the one warning left is one the environment accepts.
    assert.match(run.stdout, /^✔ security audit --deep \(\d+ ms\): no critical finding, no unaccepted warning; 1 accepted \(models\.weak_tier\)/m);
    assert.match(run.stdout, /^Smoke: all 7 checks passed\.$/m);

    await e.sh('sudo systemctl stop mistral-proxy.service');
    try {
      const broken = await e.cli(['smoke', '--env', ENV]);
      await expectExit(broken, 1, e);
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
    await expectExit(plan, 2, e);
    assert.match(plan.stdout, /primary model: deepseek\/deepseek-chat → kimi\/kimi-k2\.5/);
    assert.match(plan.stdout, /reloads: openclaw/);
    assert.doesNotMatch(plan.stdout, /restarts:/);

    // A poller on the host asks the gateway if it is ready every 100 ms, across the whole change:
    // time, HTTP status, seconds taken, curl's exit code (7: refused, 28: no answer in 60 s). A slow
    // answer on a loaded machine is still an answer; a refusal or "not ready" is what must not happen.
    await e.sh(`rm -f /home/ubuntu/e2e-poll.log; sudo systemd-run --quiet --unit=e2e-poller --uid=ubuntu bash -c 'while :; do echo "$(date +%s.%N) $(curl -s -o /dev/null -m 60 -w "%{http_code} %{time_total} %{exitcode}" http://127.0.0.1:18789/readyz)" >> /home/ubuntu/e2e-poll.log; sleep 0.1; done'`);
    const samples = async () =>
      (await e.sh('cat /home/ubuntu/e2e-poll.log 2>/dev/null || true'))
        .split('\n')
        .map((l) => l.split(' '))
        .filter((f) => f.length === 4)
        .map(([t, code, seconds, exit]) => ({ t: Number(t), code, seconds: Number(seconds), exit }));
    await waitUntil("the readiness poller's first answer", async () => (await samples()).length > 0);
    const started = Date.now() / 1000;
    const run = await e.cli(['apply', '--env', ENV]);
    await expectExit(run, 0, e);
    // OpenClaw notices the replaced file by itself.
    await hotReloadSince(e, started, /config hot reload applied \([^)]*agents\.defaults\.model\.primary/);
    const reloaded = Date.now() / 1000;
    await waitUntil('a readiness answer after the reload', async () => ((await samples()).at(-1)?.t ?? 0) > reloaded);
    await e.sh('sudo systemctl stop e2e-poller');

    const all = await samples();
    ctx.diagnostic(`readiness poller: ${all.length} samples, slowest answer ${Math.max(...all.map((s) => s.seconds)).toFixed(3)} s`);
    assert.ok(all[0]!.t < started && all.at(-1)!.t > reloaded, 'the poller ran before the apply started and after the reload');
    const bad = all.filter((s) => s.code !== '200');
    assert.deepEqual(bad, [], 'the gateway was unready or unreachable during the change');

    assert.equal((await unitStarts(e, [GATEWAY]))[GATEWAY], pidBefore, 'the gateway was restarted');
    const turn = await agentTurn(e, 'hello again');
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
      await expectExit(run, 3, e);
      assert.match(run.stdout, /Rolled back/);
      assert.match(run.stderr, /gate failed mistral-proxy\.service/);

      assert.equal((await currentRelease(e)).id, previous.id, 'current release');
      await assertHostIs(e, previous.id);
      await assertAllHealthy(e);
      assert.equal((await unitStates(e))['mistral-proxy.service'], 'active enabled');
      assert.equal((await unitStarts(e, [GATEWAY]))[GATEWAY], gatewayBefore, 'the gateway only hot-reloads; a rollback must not restart it');
      const failed = (await releaseIds(e)).at(-1)!;
      assert.equal((await e.sh(`cat ${CLAWOPS_DIR}/releases/${failed}/result`)).trim(), 'rolled-back');
      assert.match(await e.sh(`tail -n 1 ${CLAWOPS_DIR}/audit.log`), /"outcome":"rolled-back"/);
    } finally {
      await undo();
    }
    await expectExit(await e.cli(['plan', '--env', ENV, '--detailed-exitcode']), 0, e);
  });

  it('7. a file edited by hand, a mode changed by hand and a unit disabled by hand are reported as drift, and the next apply repairs them', async () => {
    const file = `${PROXIES}/kimi/proxy.json`;
    const loosened = `${PROXIES}/gemini/proxy.json`;
    const release = await currentRelease(e);
    // As root, as an operator would (the folder is root's); GNU sed -i keeps the owner and mode.
    await e.sh(`sudo sed -i 's/"timeoutMs": 60000/"timeoutMs": 5000/' ${file} && grep -q '"timeoutMs": 5000' ${file}`);
    await e.sh(`sudo chmod 600 ${loosened} && sudo systemctl disable mistral-proxy.service 2>/dev/null && systemctl is-active --quiet mistral-proxy.service`);
    const drift = await e.cli(['drift', '--env', ENV]);
    await expectExit(drift, 2, e);
    assert.match(drift.stdout, new RegExp(`${file.replace(/\//g, '\\/')}: content differs — changed on the host by hand`));
    assert.match(drift.stdout, new RegExp(`${loosened.replace(/\//g, '\\/')}: mode 600 → \\d+ — changed on the host by hand`));
    assert.match(drift.stdout, /mistral-proxy\.service: not enabled at boot: it would not start after a reboot — changed on the host by hand/);
    assert.match(drift.stdout, /3 items drifted/);

    const kimiBefore = (await unitStarts(e, ['kimi-proxy.service']))['kimi-proxy.service'];
    const run = await e.cli(['apply', '--env', ENV]);
    await expectExit(run, 0, e);
    assert.match(run.stdout, /restarts: .*kimi-proxy/);
    assert.equal((await e.sh('systemctl is-enabled mistral-proxy.service')).trim(), 'enabled', 'enabled at boot again');
    assert.equal((await e.sh(`sha256sum ${file} | cut -d' ' -f1`)).trim(), release.files[file]!.digest, 'repaired to the released content');
    assert.notEqual((await unitStarts(e, ['kimi-proxy.service']))['kimi-proxy.service'], kimiBefore, 'the proxy runs the repaired file');
    await expectExit(await e.cli(['drift', '--env', ENV]), 0, e);
    await assertAllHealthy(e);
  });

  it('8. clawops rollback restores the previous live release, files and running config, passing over one that was rolled back; a runner clock 10 minutes slow changes nothing of it', async () => {
    const good = await currentRelease(e);
    // A release that failed its gates lies between...
    const undo = await e.editRepo(MISTRAL, (t) => t.replace('port: 18791', 'port: 39999'));
    try {
      await expectExit(await e.cli(['apply', '--env', ENV]), 3, e);
    } finally {
      await undo();
    }
    // ...and a chain change goes live after it, from a runner whose clock is 10 minutes slow: its
    // release still sorts after the others, so rollback knows which one came before.
    await e.editRepo(CHAIN, (t) => t.replace(SWAPPED_HEAD, ORIGINAL_HEAD));
    const changed = Date.now() / 1000;
    await expectExit(await e.cli(['apply', '--env', ENV], { clock: '-10m' }), 0, e);
    const slow = await currentRelease(e);
    assert.ok(slow.id > good.id, `${slow.id} sorts after ${good.id}`);
    await hotReloadSince(e, changed, /agents\.defaults\.model\.primary/);
    assert.equal((await gatewayConfig(e)).runtimeConfig.agents.defaults.model.primary, 'deepseek/deepseek-chat');

    const started = Date.now() / 1000;
    const run = await e.cli(['rollback', '--env', ENV]);
    await expectExit(run, 0, e);
    assert.match(run.stdout, new RegExp(`Rolled back testhost to release ${good.id}`));
    await assertHostIs(e, (await currentRelease(e)).id);
    const { matches } = await matchingReleases(e, [good]);
    assert.deepEqual(matches, [good.id], 'the files are those of the release rolled back to');

    await hotReloadSince(e, started, /agents\.defaults\.model\.primary/);
    const running = await gatewayConfig(e);
    assert.equal(running.runtimeConfig.agents.defaults.model.primary, 'kimi/kimi-k2.5', 'the gateway runs the restored chain');
    await assertAllHealthy(e);
    // The repository still says otherwise: the next plan shows the way forward again.
    await expectExit(await e.cli(['plan', '--env', ENV, '--detailed-exitcode']), 2, e);
  });

  it('9. a systemd drop-in added by hand is drift; apply stops before changing anything over it, and --prune removes it and restarts the unit without it', async () => {
    const kimi = '/etc/systemd/system/kimi-proxy.service.d/override.conf';
    const gemini = '/run/systemd/system/gemini-proxy.service.d/50-debug.conf';
    await e.sh(
      `sudo mkdir -p ${kimi.replace(/\/[^/]+$/, '')} ${gemini.replace(/\/[^/]+$/, '')} && printf '[Service]\\nEnvironment=HTTPS_PROXY=http://10.9.9.9:3128\\n' | sudo tee ${kimi} >/dev/null && printf '[Service]\\nEnvironment=DEBUG=1\\n' | sudo tee ${gemini} >/dev/null && sudo systemctl daemon-reload && sudo systemctl restart kimi-proxy.service`,
    );
    assert.match(await e.sh('systemctl show -p Environment --value kimi-proxy.service'), /HTTPS_PROXY=http:\/\/10\.9\.9\.9:3128/, 'the proxy runs with the override');

    const drift = await e.cli(['drift', '--env', ENV]);
    await expectExit(drift, 2, e);
    for (const [path, unit] of [[kimi, 'kimi-proxy.service'], [gemini, 'gemini-proxy.service']] as const) {
      assert.match(drift.stdout, new RegExp(`! ${path.replace(/[/.]/g, '\\$&')}: drop-in of ${unit.replace('.', '\\.')} that clawops did not write — changed on the host by hand`));
    }
    const plan = await e.cli(['plan', '--env', ENV, '--detailed-exitcode']);
    await expectExit(plan, 2, e);
    assert.match(plan.stdout, /^Read by systemd, not written by clawops:$/m);
    assert.match(plan.stdout, /restart kimi-proxy\.service {2}— without override\.conf, which clawops did not write/);

    const release = (await currentRelease(e)).id;
    const refused = await e.cli(['apply', '--env', ENV]);
    await expectExit(refused, 1, e);
    const errors = refused.stderr.split('\n').filter((l) => l.startsWith('error:'));
    assert.equal(errors.length, 1, refused.stderr);
    assert.match(errors[0]!, new RegExp(`: overrides: systemd reads files for gemini-proxy\\.service, kimi-proxy\\.service that clawops did not write: .*; nothing was changed\\. An override may be deliberate: put what it does into the configuration, or apply with --prune to remove it$`));
    assert.equal((await currentRelease(e)).id, release);
    await e.sh(`test -e ${kimi} && test -e ${gemini}`);

    const kimiBefore = (await unitStarts(e, ['kimi-proxy.service']))['kimi-proxy.service'];
    const pruned = await e.cli(['apply', '--env', ENV, '--prune']);
    await expectExit(pruned, 0, e);
    assert.equal((await e.sh(`test -e ${kimi} || test -e ${gemini} || echo gone`)).trim(), 'gone');
    assert.doesNotMatch(await e.sh('systemctl show -p Environment --value kimi-proxy.service'), /HTTPS_PROXY/);
    assert.notEqual((await unitStarts(e, ['kimi-proxy.service']))['kimi-proxy.service'], kimiBefore, 'restarted without the override');
    await expectExit(await e.cli(['drift', '--env', ENV]), 0, e);
    await assertAllHealthy(e);
  });

  it('no secret value appears in any CLI output, nor in the logs clawops keeps on the host', async () => {
    await assertNoSecretLeft(e, 15);
  });
});
