// End to end, on a real Debian host with systemd: the chain's health as production has it, with no
// smoke canary. `clawops smoke` checks the heartbeat and the fallback (from a model the first
// provider does not serve), and `clawops smoke --chain` probes every step from the host against
// stand-in upstreams that answer ok, 401, 429, "model not found", or nothing at all.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ENV, leakedSecrets, STUB_PORT, startE2E, startStubUpstream, serveChainModels, stubRequests, type CliRun, type E2E } from './support.js';

let e: E2E;

function expectExit(run: CliRun, code: number): void {
  assert.equal(run.code, code, `clawops ${run.args.join(' ')} exited ${run.code}, expected ${code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
}

const ENV_FILE = `config/environments/${ENV}.yaml`;
const stub = `http://127.0.0.1:${STUB_PORT}`;

describe('the chain on a real host, without a canary', { timeout: 15 * 60_000 }, () => {
  before(async () => {
    e = await startE2E('e2e-chain', { canary: false });
    // The first apply installs the runtime, whose Node the stand-in upstream runs on.
    expectExit(await e.cli(['apply', '--env', ENV, '--no-smoke']), 0);
    await startStubUpstream(e);
    // Each provider serves exactly the models the chain names, so the smoke's unserved model fails and falls back.
    await serveChainModels(e);
  });

  after(async () => {
    await e?.stop();
  });

  it('smoke: the heartbeat, and the fallback from a model no provider serves to one of the chain, with no canary', async () => {
    const run = await e.cli(['smoke', '--env', ENV]);
    expectExit(run, 0);
    assert.match(run.stdout, /^✔ heartbeat \(\d+ ms\): (none yet: the gateway started \d+ (s|min) ago|last heartbeat .* ago: \S+).*every 30m/m);
    assert.match(run.stdout, /^✔ fallback chain falls back \(\d+ ms\): deepseek\/clawops-smoke-unserved-model failed and deepseek\/deepseek-chat answered/m);
    const asked = (await stubRequests(e)).filter((r) => r.model === 'clawops-smoke-unserved-model');
    assert.ok(asked.length >= 1 && asked.every((r) => r.path === '/deepseek/v1/chat/completions'), 'the fallback started at the first provider, with the unserved model');
    assert.deepEqual(leakedSecrets(run.stdout + run.stderr, e.secretValues), []);
  });

  it('smoke --chain: every step from the host through the path OpenClaw uses: ok, auth failed, rate limited, model gone, unreachable', async () => {
    const restoreEnv = await e.editRepo(ENV_FILE, (t) =>
      t
        .replace(`upstream: ${stub}/kimi/v1`, `upstream: ${stub}/answer-401/kimi/v1`)
        .replace(`upstream: ${stub}/mistral/v1`, `upstream: ${stub}/answer-429/mistral/v1`)
        .replace(`baseUrl: ${stub}/openrouter/v1`, 'baseUrl: http://127.0.0.1:9/openrouter/v1'),
    );
    await e.sh(`sed -i 's/"cerebras":\\["llama-3.3-70b"\\]/"cerebras":["llama-3.3-70b-next"]/' /home/ubuntu/e2e-upstream-models.json`);
    try {
      expectExit(await e.cli(['apply', '--env', ENV, '--no-smoke']), 0);
      const table = await e.cli(['smoke', '--env', ENV, '--chain']);
      expectExit(table, 1);
      const row = (step: number, ref: string, via: string, state: string) =>
        new RegExp(`^${step} +${ref.replace(/[./]/g, (c) => `\\${c}`)} +${via} +${state.startsWith('ok') ? '✔' : '✘'} ${state.replace(/\//g, '\\/')}`, 'm');
      assert.match(table.stdout, row(1, 'deepseek/deepseek-chat', 'upstream', 'ok +\\d+ ms'));
      assert.match(table.stdout, row(2, 'kimi/kimi-k2.5', 'proxy', 'auth failed'));
      assert.match(table.stdout, row(3, 'cerebras/llama-3.3-70b', 'upstream', 'model gone'));
      assert.match(table.stdout, row(4, 'mistral/mistral-small-latest', 'proxy', 'rate limited / quota'));
      assert.match(table.stdout, row(6, 'openrouter/meta-llama/llama-3.3-70b-instruct:free', 'upstream', 'unreachable'));
      assert.match(table.stdout, row(9, 'gemini/gemini-2.5-flash', 'proxy', 'ok +\\d+ ms'));
      assert.match(table.stdout, /^6 of 11 steps failing\.$/m, table.stdout);

      const json = await e.cli(['smoke', '--env', ENV, '--chain', '--json']);
      const report = JSON.parse(json.stdout) as { environment: string; steps: { step: number; state: string; ms?: number }[] };
      assert.equal(report.environment, ENV);
      assert.deepEqual(
        report.steps.map((s) => s.state),
        ['ok', 'auth failed', 'model gone', 'rate limited / quota', 'ok', 'unreachable', 'ok', 'unreachable', 'ok', 'unreachable', 'ok'],
      );
      // The keys stayed on the host: the proxied steps carried none from clawops, the others each their own.
      for (const r of [table, json]) assert.deepEqual(leakedSecrets(r.stdout + r.stderr, e.secretValues), []);
      const probes = (await stubRequests(e)).filter((r) => r.path.endsWith('/models'));
      assert.ok(probes.some((r) => r.path === '/gemini/v1beta/models'), 'the model list, at the upstream itself');
    } finally {
      await restoreEnv();
    }
  });
});
