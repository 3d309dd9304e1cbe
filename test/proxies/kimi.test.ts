import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { render } from '../../src/render/render.js';
import { FIXED_CONTEXT, repoConfig } from '../support/repo.js';
import { CANARY_KEY, MODELS, cleanBundles, openStream, openaiClient, postChat, printed, startProxy } from './harness.js';
import type { RunningProxy } from './harness.js';
import { compatChunk, compatCompletion, json, moonshotRules, openaiEvent, reject, startSse, startStandIn } from './upstreams.js';
import type { StandIn } from './upstreams.js';

const MODEL = 'kimi-k2-turbo-preview';
const K25 = 'kimi-k2.5';

let upstream: StandIn;
let proxy: RunningProxy;

/** Moonshot's answer to a request it accepts, after its checks. */
const moonshot = (content = 'ok') => (rec: { body: any }, res: import('node:http').ServerResponse) => {
  if (!reject(res, moonshotRules(rec.body))) json(res, 200, compatCompletion(rec.body.model, { content }));
};

before(async () => {
  upstream = await startStandIn();
  upstream.handle((_rec, res) => json(res, 200, compatCompletion(MODEL, { content: 'ok' })));
  // K2.5 exactly as the repository's config renders it into proxy.json, sampling rules included.
  const rendered = render(await repoConfig(), 'ec2', FIXED_CONTEXT).files.find((f) => f.name === 'proxies/kimi/proxy.json')!;
  const k25 = (JSON.parse(rendered.content) as { models: { id: string }[] }).models.find((m) => m.id === K25)!;
  proxy = await startProxy('kimi', { upstream: `${upstream.origin}/v1`, config: { models: [...MODELS.kimi, k25] } });
});

after(async () => {
  await proxy?.stop();
  await upstream.close();
  await cleanBundles();
});

async function sent(body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const reply = await postChat(proxy.url, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], ...body });
  assert.equal(reply.status, 200, reply.text);
  return upstream.requests.at(-1)!.body;
}

test('temperature is clamped into 0.001–0.999, values inside are kept', async () => {
  const cases: [number, number][] = [
    [0, 0.001],
    [0.0005, 0.001],
    [0.2, 0.2],
    [0.7, 0.7],
    [1, 0.999],
    [1.5, 0.999],
    [2, 0.999],
  ];
  for (const [openai, kimi] of cases) {
    assert.equal((await sent({ temperature: openai })).temperature, kimi, `temperature ${openai}`);
  }
  assert.equal('temperature' in (await sent({})), false, 'no temperature is invented');
});

test('n is capped at 5 and forced to 1 at the temperature floor', async () => {
  assert.equal((await sent({ temperature: 0, n: 3 })).n, 1);
  assert.equal((await sent({ temperature: 0.5, n: 3 })).n, 3);
  assert.equal((await sent({ temperature: 0.5, n: 9 })).n, 5);
});

test('fields Moonshot rejects are dropped; max_tokens is filled from the model config', async () => {
  const body = await sent({
    store: false,
    stream_options: { include_usage: true },
    parallel_tool_calls: true,
    logprobs: false,
    user: 'u1',
    service_tier: 'default',
    seed: 3,
    metadata: { k: 'v' },
    top_p: 0.8,
  });
  assert.deepEqual(body, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], top_p: 0.8, max_tokens: 16384 });
  assert.equal((await sent({ max_tokens: 100 })).max_tokens, 100, 'a client limit is kept');
  const viaNewName = await sent({ max_completion_tokens: 200 });
  assert.equal(viaNewName.max_completion_tokens, 200);
  assert.equal(viaNewName.max_tokens, undefined);
});

test('tool_choice "required" becomes "auto"; tool-call turns get the reasoning_content and name Moonshot wants', async () => {
  const body = await sent({
    messages: [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'get_weather:0', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'get_weather:0', content: 'sunny' },
    ],
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }],
    tool_choice: 'required',
  });
  assert.equal(body.tool_choice, 'auto');
  const messages = body.messages as Record<string, unknown>[];
  assert.equal(messages[1]!.reasoning_content, ' ');
  assert.equal((messages[1]!.tool_calls as { id: string }[])[0]!.id, 'get_weather:0');
  assert.equal(messages[2]!.tool_call_id, 'get_weather:0');
  assert.equal(messages[2]!.name, 'get_weather', 'the tool result names its function');
});

test('streaming: usage inside the final choice is lifted to the chunk, [DONE] ends the stream', async () => {
  upstream.handle((_rec, res) => {
    startSse(res);
    openaiEvent(res, compatChunk(MODEL, { role: 'assistant', content: 'Hi' }));
    const last = compatChunk(MODEL, {}, 'stop');
    (last.choices[0] as Record<string, unknown>).usage = { prompt_tokens: 8, completion_tokens: 2, total_tokens: 10 };
    openaiEvent(res, last);
    res.write('data: [DONE]\n\n');
    res.end();
  });
  const stream = await openStream(proxy.url, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true, temperature: 0 });
  const events = await stream.rest();
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((s) => JSON.parse(s));
  assert.equal(chunks[0].choices[0].delta.content, 'Hi');
  assert.deepEqual(chunks.at(-1).usage, { prompt_tokens: 8, completion_tokens: 2, total_tokens: 10 });
  assert.equal(chunks.at(-1).choices[0].usage, undefined);
  assert.equal(upstream.requests.at(-1)!.body.temperature, 0.001);
});

test('Moonshot errors keep their status in OpenAI shape', async () => {
  upstream.handle((_rec, res) =>
    json(res, 429, { error: { message: 'Your account is suspended due to insufficient balance', type: 'exceeded_current_quota_error' } }),
  );
  const reply = await postChat(proxy.url, { model: MODEL, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(reply.status, 429);
  assert.deepEqual(reply.json, {
    error: { message: 'Your account is suspended due to insufficient balance', type: 'rate_limit_error', code: 'exceeded_current_quota_error' },
  });
});

test('K2.5: the sampling values a client sends become the fixed ones Moonshot accepts', async () => {
  upstream.handle(moonshot());
  const client = openaiClient(proxy);
  const asked = [{ temperature: 1 }, { temperature: 0.7 }, { top_p: 1 }, { temperature: 0, n: 1, presence_penalty: 0.5, frequency_penalty: 1 }, {}];
  for (const params of asked) {
    const completion = await client.chat.completions.create({ model: K25, messages: [{ role: 'user', content: 'hi' }], ...params });
    assert.equal(completion.choices[0]!.message.content, 'ok', JSON.stringify(params));
    const body = upstream.requests.at(-1)!.body;
    assert.deepEqual(
      { temperature: body.temperature, top_p: body.top_p, n: body.n, presence_penalty: body.presence_penalty, frequency_penalty: body.frequency_penalty },
      { temperature: 1, top_p: 0.95, n: 1, presence_penalty: 0, frequency_penalty: 0 },
      JSON.stringify(params),
    );
  }
});

test('K2.5 with thinking off gets the non-thinking temperature', async () => {
  upstream.handle(moonshot());
  const completion = await openaiClient(proxy).chat.completions.create({
    model: K25,
    messages: [{ role: 'user', content: 'hi' }],
    temperature: 0.2,
    // @ts-expect-error Moonshot's own field, passed as OpenAI clients pass extra body fields
    thinking: { type: 'disabled' },
  });
  assert.equal(completion.choices[0]!.message.content, 'ok');
  assert.equal(upstream.requests.at(-1)!.body.temperature, 0.6);
});

test('K2.5 with a forced tool: thinking is turned off for that request, so Moonshot takes it', async () => {
  upstream.handle((rec, res) => {
    if (reject(res, moonshotRules(rec.body))) return;
    const call = { id: 'get_weather:0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
    json(res, 200, compatCompletion(K25, { content: '', tool_calls: [call] }, 'tool_calls'));
  });
  const completion = await openaiClient(proxy).chat.completions.create({
    model: K25,
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  });
  assert.equal(completion.choices[0]!.finish_reason, 'tool_calls');
  assert.equal(completion.choices[0]!.message.tool_calls?.[0]?.id, 'get_weather:0');
  const body = upstream.requests.at(-1)!.body;
  assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'get_weather' } }, 'the forced tool stays forced');
  assert.deepEqual(body.thinking, { type: 'disabled' });
  assert.equal(body.temperature, 0.6, 'sampling follows the non-thinking mode');

  // "auto" keeps thinking on.
  upstream.handle(moonshot());
  await openaiClient(proxy).chat.completions.create({
    model: K25,
    messages: [{ role: 'user', content: 'hi' }],
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }],
    tool_choice: 'auto',
  });
  assert.equal(upstream.requests.at(-1)!.body.thinking, undefined);
  assert.equal(upstream.requests.at(-1)!.body.temperature, 1);
});

test('the key never appears in the proxy output', () => {
  const out = printed.join('');
  assert.match(out, /"status":200/);
  assert.ok(!out.includes(CANARY_KEY));
});
