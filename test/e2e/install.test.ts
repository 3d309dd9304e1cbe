// End to end, the installation path: a first apply to a bare Debian host with systemd
// (scripts/testhost/) installs the pinned Node and OpenClaw, then brings the gateway and the three
// proxies up serving exactly the rendered config. The other end-to-end files start from a host
// image that already has the runtime; this one alone pays for installing it.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../support/wait.js';
import { agentTurn, assertAllHealthy, assertNoSecretLeft, expectExit } from './checks.js';
import { CLAWOPS_DIR, ENV, PROXY_PORTS, sha256, startE2E, startStubUpstream, stubRequests, unitStates, UNITS, type E2E } from './support.js';

let e: E2E;

describe('a first apply to a bare host', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    e = await startE2E('e2e-install', { runtime: 'absent' });
  }, { timeout: 20 * 60_000 });

  after(async () => {
    await e?.stop();
  });

  it('a first run killed while it uploads the runtime leaves its part-archive beside the lock, not in /tmp', async () => {
    assert.equal((await e.host.run('test -e /opt/clawops')).code, 1, 'the host starts without a runtime');
    const killed = e.spawnCli(['apply', '--env', ENV, '--no-smoke']);
    let ended = false;
    void killed.done.then(() => (ended = true));
    await killed.untilStderr(/installing OpenClaw/);
    await waitUntil('part of the OpenClaw archive to reach the host', async () => (await e.host.run(`ls ${CLAWOPS_DIR}/incoming | grep -q '^openclaw-'`)).code === 0, { alive: () => !ended, intervalMs: 50 });
    killed.child.kill('SIGKILL');
    await killed.done;
    assert.equal((await e.sh('ls -A /tmp | grep -c "^clawops-" || true')).trim(), '0', 'nothing uploaded to /tmp');
    // The killed runner's lock: alive while an unpack it started still runs as root, then stale.
    // Its heartbeat is made old rather than waited for.
    const pidsAlive = `for p in $(cat ${CLAWOPS_DIR}/lock/pids 2>/dev/null); do [ -e /proc/$p ] && exit 1; done; exit 0`;
    await waitUntil('what the killed run started on the host to end', async () => (await e.host.run(pidsAlive)).code === 0, { intervalMs: 500 });
    // Killed during the upload, the part-archive is left; killed during the unpack, the unpack
    // went on as root to its end: OpenClaw is whole, never half there.
    const left = (await e.sh(`ls -A ${CLAWOPS_DIR}/incoming`)).trim();
    const whole = (await e.host.run('test -f /opt/clawops/openclaw/*/node_modules/openclaw/openclaw.mjs')).code === 0;
    assert.ok(left !== '' || whole, 'a part-archive left, or OpenClaw installed whole');
    await e.sh(`touch -d '-5 minutes' ${CLAWOPS_DIR}/lock/heartbeat`);
  });

  it('installs the runtime and brings the gateway and the three proxies up healthy, serving the rendered config', async () => {
    // Without the smoke checks: the stand-in upstream they chat with runs on the Node this installs.
    const run = await e.cli(['apply', '--env', ENV, '--no-smoke', '--break-lock']);
    await expectExit(run, 0, e);
    assert.match(run.stdout, /Applied release \S+ to testhost\./);
    assert.doesNotMatch(run.stderr, /smoke checks/);
    assert.equal((await e.sh(`ls -A ${CLAWOPS_DIR}/incoming | wc -l`)).trim(), '0', 'the killed run\'s part-archive and this run\'s archives are removed');
    assert.equal((await e.sh("find /opt/clawops -maxdepth 2 -name '*.partial.*' | wc -l")).trim(), '0', 'no part-unpacked runtime is left');
    assert.equal((await e.sh('ls -A /tmp | grep -c "^clawops-" || true')).trim(), '0', 'nothing uploaded to /tmp');

    const states = await unitStates(e);
    for (const u of UNITS) assert.equal(states[u], 'active enabled', `${u}: is-active is-enabled`);
    await assertAllHealthy(e);

    // Every non-secret file on the host is byte for byte what `clawops render` makes of the config.
    const out = await mkdtemp(join(tmpdir(), 'clawops-e2e-render-'));
    try {
      const rendered = await e.cli(['render', '--env', ENV, '--out', out]);
      await expectExit(rendered, 0, e);
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
        await e.sh(`curl -fsS -m 60 -H content-type:application/json -d '{"model":"${model}","messages":[{"role":"user","content":"hi"}]}' http://127.0.0.1:${PROXY_PORTS[kind]}/v1/chat/completions`),
      ) as { choices: { message: { content: string } }[] };
      assert.equal(reply.choices[0]?.message.content, `stub reply from ${model}`);
    }
    // And the gateway answers an agent turn with the chain's primary, through the key it was given.
    const turn = await agentTurn(e, 'hello');
    assert.deepEqual(turn, { provider: 'deepseek', model: 'deepseek-chat', text: 'stub reply from deepseek-chat', fallbackUsed: false });
    const seen = await stubRequests(e);
    const keyOf = (path: string) => seen.find((r) => r.path === path)?.keySha256;
    assert.equal(keyOf('/gemini/v1beta/models/gemini-2.5-flash:generateContent'), sha256(e.secrets.GEMINI_API_KEY!));
    assert.equal(keyOf('/mistral/v1/chat/completions'), sha256(e.secrets.MISTRAL_API_KEY!));
    assert.equal(keyOf('/kimi/v1/chat/completions'), sha256(e.secrets.KIMI_API_KEY!));
    assert.equal(keyOf('/deepseek/v1/chat/completions'), sha256(e.secrets.DEEPSEEK_API_KEY!));
  });

  it('a second apply finds the runtime in place and changes nothing', async () => {
    const run = await e.cli(['apply', '--env', ENV, '--no-smoke']);
    await expectExit(run, 0, e);
    assert.match(run.stdout, /No changes/);
    assert.doesNotMatch(run.stderr, /installing/);
  });

  it('no secret value appears in any CLI output, nor in the logs clawops keeps on the host', async () => {
    await assertNoSecretLeft(e, 3);
  });
});
