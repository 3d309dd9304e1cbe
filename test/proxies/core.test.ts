/**
 * What every proxy shares, exercised on the bundled programs: health and model listing, the error
 * statuses OpenClaw's failover depends on, body limits, client disconnects, SIGTERM, loopback-only
 * listening, config validation, and that the key stays out of every output.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { bundles, CANARY_KEY, cleanBundles, MODELS, openStream, postChat, printed, proxyConfig, request, runToExit, startProxy, within } from './harness.js';
import type { Kind, RunningProxy } from './harness.js';
import { closedPort, compatChunk, gate, geminiText, json, openaiEvent, startSse, startStandIn } from './upstreams.js';
import type { StandIn } from './upstreams.js';

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

let upstream: StandIn;
const running: RunningProxy[] = [];

async function proxyFor(kind: Kind, opts: Parameters<typeof startProxy>[1]): Promise<RunningProxy> {
  const p = await startProxy(kind, opts);
  running.push(p);
  return p;
}

before(async () => {
  upstream = await startStandIn();
});

after(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await upstream.close();
  await cleanBundles();
});

test('/healthz answers without calling the upstream, and /v1/models lists the configured models', async () => {
  for (const kind of ['gemini', 'mistral', 'kimi'] as const) {
    const before = upstream.requests.length;
    const p = await proxyFor(kind, { upstream: `${upstream.origin}/v1` });
    const health = await request(`${p.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: 'ok', kind, upstreamKey: true, models: MODELS[kind].length });
    const models = await request(`${p.url}/v1/models`);
    assert.equal(models.status, 200);
    assert.equal(models.json.object, 'list');
    assert.deepEqual(
      models.json.data.map((m: { id: string; object: string; name: string }) => [m.id, m.object, m.name]),
      MODELS[kind].map((m) => [m.id, 'model', m.name]),
    );
    assert.equal((await request(`${p.url}/v1/models/${MODELS[kind][0]!.id}`)).json.id, MODELS[kind][0]!.id);
    assert.equal((await request(`${p.url}/v1/models/unknown-model`)).status, 404);
    assert.equal(upstream.requests.length, before, `${kind}: health and models did not touch the upstream`);
  }
});

test('/healthz stays ok when the upstream is down', async () => {
  const p = await proxyFor('mistral', { upstream: `http://127.0.0.1:${await closedPort()}/v1` });
  const health = await request(`${p.url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.json.status, 'ok');
});

test('without an API key the proxy starts, says so on /healthz, and chat gets 500', async () => {
  const before = upstream.requests.length;
  const p = await proxyFor('gemini', { upstream: `${upstream.origin}/v1beta`, key: null });
  const health = await request(`${p.url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.json.upstreamKey, false);
  const reply = await postChat(p.url, chat('gemini-2.5-flash'));
  assert.equal(reply.status, 500);
  assert.equal(reply.json.error.type, 'server_error');
  assert.equal(reply.json.error.code, 'upstream_key_missing');
  assert.match(reply.json.error.message, /GEMINI_API_KEY/);
  assert.equal(upstream.requests.length, before);
});

test('an upstream that does not answer in time gives 504', async () => {
  upstream.handle(() => undefined); // holds the request open
  const p = await proxyFor('gemini', { upstream: `${upstream.origin}/v1beta`, config: { timeoutMs: 300 } });
  const reply = await postChat(p.url, chat('gemini-2.5-flash'));
  assert.equal(reply.status, 504);
  assert.deepEqual(reply.json, { error: { message: 'the upstream did not answer in time', type: 'timeout_error', code: 'upstream_timeout' } });
  const streamed = await postChat(p.url, chat('gemini-2.5-flash', { stream: true }));
  assert.equal(streamed.status, 504);
  await within(upstream.requests.at(-1)!.closedEarly, 5000, 'the timed-out upstream request was not closed');
});

test('a stream that stalls after it started ends with an error event, not [DONE]', async () => {
  upstream.handle((_rec, res) => {
    startSse(res);
    openaiEvent(res, compatChunk('mistral-large-latest', { role: 'assistant', content: 'par' }));
    // ...and nothing more
  });
  const p = await proxyFor('mistral', { upstream: `${upstream.origin}/v1`, config: { timeoutMs: 300 } });
  const stream = await openStream(p.url, chat('mistral-large-latest', { stream: true }));
  assert.equal(stream.status, 200);
  const events = await stream.rest();
  assert.equal(JSON.parse(events[0]!).choices[0].delta.content, 'par');
  assert.equal(JSON.parse(events.at(-1)!).error.code, 'upstream_timeout');
  assert.ok(!events.includes('[DONE]'));
});

test('an unreachable upstream gives 502', async () => {
  const p = await proxyFor('kimi', { upstream: `http://127.0.0.1:${await closedPort()}/v1` });
  const reply = await postChat(p.url, chat('kimi-k2-turbo-preview'));
  assert.equal(reply.status, 502);
  assert.equal(reply.json.error.code, 'upstream_unreachable');
  assert.equal(reply.json.error.type, 'upstream_error');
});

test('a keep-alive socket the upstream dropped is retried once on a fresh one, not reported as 502', async () => {
  const seen = new WeakSet<object>();
  let dropped = 0;
  upstream.handle((_rec, res) => {
    const socket = res.socket!;
    // The second request on a pooled connection finds it closed, as after an upstream idle timeout.
    if (seen.has(socket) && dropped === 0) {
      dropped++;
      socket.destroy();
      return;
    }
    seen.add(socket);
    json(res, 200, geminiText('fine'));
  });
  const p = await proxyFor('gemini', { upstream: `${upstream.origin}/v1beta` });
  assert.equal((await postChat(p.url, chat('gemini-2.5-flash'))).status, 200);
  const second = await postChat(p.url, chat('gemini-2.5-flash'));
  assert.equal(dropped, 1, 'the stand-in dropped the reused connection');
  assert.equal(second.status, 200, second.text);
  assert.equal(second.json.choices[0].message.content, 'fine');
});

test('bodies over maxBodyBytes get 413 (declared or chunked) and never reach the upstream', async () => {
  upstream.handle((_rec, res) => json(res, 200, geminiText('ok')));
  const before = upstream.requests.length;
  const p = await proxyFor('gemini', { upstream: `${upstream.origin}/v1beta`, config: { maxBodyBytes: 2048 } });
  const big = JSON.stringify(chat('gemini-2.5-flash', { messages: [{ role: 'user', content: 'x'.repeat(300_000) }] }));

  const declared = await request(`${p.url}/v1/chat/completions`, { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
  assert.equal(declared.status, 413);
  assert.equal(declared.json.error.code, 'request_too_large');

  const chunked = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${p.url}/v1/chat/completions`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (let i = 0; i < 30; i++) req.write(big.slice(i * 10_000, (i + 1) * 10_000));
    req.end();
  });
  assert.equal(chunked, 413);

  const small = await postChat(p.url, chat('gemini-2.5-flash'));
  assert.equal(small.status, 200, 'a body under the bound still goes through');
  assert.equal(upstream.requests.length, before + 1);
});

test('malformed requests get 400 in OpenAI shape; unknown routes 404, wrong methods 405', async () => {
  const p = await proxyFor('mistral', { upstream: `${upstream.origin}/v1` });
  const badJson = await request(`${p.url}/v1/chat/completions`, { method: 'POST', body: '{"model": "x", ', headers: { 'content-type': 'application/json' } });
  assert.equal(badJson.status, 400);
  assert.deepEqual(badJson.json, { error: { message: 'request body is not valid JSON', type: 'invalid_request_error', code: 'invalid_json' } });
  const noMessages = await postChat(p.url, { model: 'mistral-large-latest', messages: [] });
  assert.equal(noMessages.status, 400);
  assert.equal(noMessages.json.error.type, 'invalid_request_error');
  assert.equal((await request(`${p.url}/v1/nothing`)).status, 404);
  const wrongMethod = await request(`${p.url}/v1/chat/completions`);
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.allow, 'POST');
});

test('a client that disconnects aborts the upstream request (streamed and not)', async () => {
  const p = await proxyFor('gemini', { upstream: `${upstream.origin}/v1beta` });

  upstream.handle((_rec, res) => {
    startSse(res);
    res.write(`data: ${JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text: 'one' }] }, index: 0 }] })}\r\n\r\n`);
    // keeps the stream open: only the client going away ends it
  });
  const stream = await openStream(p.url, chat('gemini-2.5-flash', { stream: true }));
  assert.equal(JSON.parse((await within(stream.next(), 5000, 'first chunk'))!).choices[0].delta.content, 'one');
  const streamedUpstream = upstream.requests.at(-1)!;
  stream.destroy();
  await within(streamedUpstream.closedEarly, 5000, 'the upstream stream was not aborted');

  upstream.handle(() => undefined);
  const seen = upstream.requests.length;
  const req = http.request(`${p.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  req.on('error', () => undefined);
  req.end(JSON.stringify(chat('gemini-2.5-flash')));
  while (upstream.requests.length === seen) await new Promise((r) => setTimeout(r, 10));
  req.destroy();
  await within(upstream.requests.at(-1)!.closedEarly, 5000, 'the upstream request was not aborted');
});

test('SIGTERM: stops accepting, finishes the in-flight stream, exits 0', async () => {
  const release = gate();
  upstream.handle(async (_rec, res) => {
    startSse(res);
    openaiEvent(res, compatChunk('mistral-large-latest', { role: 'assistant', content: 'first' }));
    await release.promise;
    openaiEvent(res, compatChunk('mistral-large-latest', { content: ' last' }, 'stop'));
    res.end();
  });
  const p = await proxyFor('mistral', { upstream: `${upstream.origin}/v1` });
  const stream = await openStream(p.url, chat('mistral-large-latest', { stream: true }));
  await within(stream.next(), 5000, 'first chunk');
  p.child.kill('SIGTERM');
  await within(
    (async () => {
      while (!p.output().includes('"msg":"stopping"')) await new Promise((r) => setTimeout(r, 10));
    })(),
    5000,
    'stopping log line',
  );
  const refused = await request(`${p.url}/healthz`).then(
    () => 'accepted',
    (err: NodeJS.ErrnoException) => err.code,
  );
  assert.equal(refused, 'ECONNREFUSED', 'no new connections once stopping');
  release.open();
  const rest = await stream.rest();
  assert.equal(JSON.parse(rest[0]!).choices[0].delta.content, ' last');
  assert.equal(rest.at(-1), '[DONE]');
  assert.equal(await within(p.exited, 5000, 'exit after SIGTERM'), 0);
});

test('listens on 127.0.0.1 only', async () => {
  const p = await proxyFor('kimi', { upstream: `${upstream.origin}/v1` });
  // Another loopback address on the same port must be refused (it would answer on 0.0.0.0).
  const other = await new Promise<string>((resolve) => {
    const socket = net.connect({ host: '127.0.0.2', port: p.port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
  assert.equal(other, 'ECONNREFUSED');
  // And the kernel's own table: the listening socket's local address is 127.0.0.1 (0100007F).
  const hexPort = p.port.toString(16).toUpperCase().padStart(4, '0');
  const listening = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A');
  assert.deepEqual(listening.map((f) => f[1]), [`0100007F:${hexPort}`]);
  const v6 = readFileSync('/proc/net/tcp6', 'utf8').split('\n').filter((l) => l.includes(`:${hexPort} `) && / 0A /.test(l));
  assert.deepEqual(v6, []);
});

test('an invalid config stops the proxy with exit code 78 and lists every problem', async () => {
  const { dir } = await bundles();
  const file = join(dir, 'bad.json');
  await writeFile(file, JSON.stringify({ kind: 'gemini', port: 70000, upstream: 'ftp://x', apiKeyEnv: 'bad name', models: [{ id: '' }], extra: true }));
  const bad = await runToExit('gemini', ['--config', file]);
  assert.equal(bad.code, 78);
  for (const key of ['port', 'upstream', 'apiKeyEnv', 'models[0].id', 'extra']) assert.match(bad.output, new RegExp(`- ${key.replace(/[[\]]/g, '\\$&')}:`), key);
  assert.match(bad.output, /bad\.json/);

  const syntax = join(dir, 'syntax.json');
  await writeFile(syntax, '{\n  "kind": "gemini",\n  "port": 1,\n}');
  const broken = await runToExit('gemini', ['--config', syntax]);
  assert.equal(broken.code, 78);
  assert.match(broken.output, /line 4, column 1/);

  const other = join(dir, 'other.json');
  await writeFile(other, JSON.stringify(proxyConfig('mistral', 'https://api.mistral.ai/v1')));
  const wrongKind = await runToExit('gemini', ['--config', other]);
  assert.equal(wrongKind.code, 78);
  assert.match(wrongKind.output, /this is the gemini proxy/);

  const sampling = join(dir, 'sampling.json');
  const models = [{ id: 'kimi-k2.5', sampling: { temperature: { thinking: 1 }, top_p: { min: 1, max: 0 }, seed: 1 } }];
  await writeFile(sampling, JSON.stringify(proxyConfig('kimi', 'https://api.moonshot.ai/v1', { models })));
  const badSampling = await runToExit('kimi', ['--config', sampling]);
  assert.equal(badSampling.code, 78);
  for (const key of ['models[0].sampling.temperature', 'models[0].sampling.top_p', 'models[0].sampling.seed']) {
    assert.match(badSampling.output, new RegExp(`- ${key.replace(/[[\].]/g, '\\$&')}:`), key);
  }

  assert.equal((await runToExit('kimi', [])).code, 78);
  assert.equal((await runToExit('kimi', ['--config', join(dir, 'missing.json')])).code, 78);
});

test('the canary key appears in no output of any proxy process', () => {
  const out = printed.join('') + running.map((p) => p.output()).join('');
  assert.match(out, /"msg":"listening"/);
  assert.ok(!out.includes(CANARY_KEY), 'API key leaked to stdout/stderr');
});
