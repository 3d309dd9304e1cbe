import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CANARY_KEY, cleanBundles, openStream, openaiClient, postChat, printed, startProxy } from './harness.js';
import type { RunningProxy } from './harness.js';
import { compatChunk, compatCompletion, json, mistralRules, openaiEvent, reject, startSse, startStandIn } from './upstreams.js';
import type { StandIn } from './upstreams.js';

const MODEL = 'mistral-large-latest';
const MISTRAL_ID = /^[A-Za-z0-9]{9}$/;

let upstream: StandIn;
let proxy: RunningProxy;

before(async () => {
  upstream = await startStandIn();
  proxy = await startProxy('mistral', { upstream: `${upstream.origin}/v1` });
});

after(async () => {
  await proxy.stop();
  await upstream.close();
  await cleanBundles();
});

test('parameters Mistral rejects are dropped or renamed before the request goes up', async () => {
  upstream.handle((_rec, res) => json(res, 200, compatCompletion(MODEL, { content: 'ok' })));
  const reply = await postChat(proxy.url, {
    model: MODEL,
    messages: [
      { role: 'developer', content: 'Be brief.' },
      { role: 'user', content: 'hi', name: 'alice' },
    ],
    temperature: 0.2,
    store: true,
    stream_options: { include_usage: true },
    logprobs: true,
    top_logprobs: 2,
    user: 'user-123',
    service_tier: 'auto',
    metadata: { a: 'b' },
    seed: 42,
    max_completion_tokens: 64,
    parallel_tool_calls: false,
  });
  assert.equal(reply.status, 200, reply.text);
  const rec = upstream.requests.at(-1)!;
  assert.equal(rec.url, '/v1/chat/completions');
  assert.equal(rec.headers.authorization, `Bearer ${CANARY_KEY}`);
  assert.deepEqual(rec.body, {
    model: MODEL,
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ],
    temperature: 0.2,
    random_seed: 42,
    max_tokens: 64,
    parallel_tool_calls: false,
  });
  assert.equal(reply.json.choices[0].message.content, 'ok');
});

test('tool-call ids: client ids become 9-character ids, the same for the call and its result', async () => {
  upstream.handle((_rec, res) => json(res, 200, compatCompletion(MODEL, { content: 'done' })));
  const longId = 'call_Zq8x2YbN3kLmP0rS7tUv';
  await postChat(proxy.url, {
    model: MODEL,
    messages: [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: '', tool_calls: [
        { id: longId, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'abcDEF123', type: 'function', function: { name: 'get_time', arguments: '{}' } },
      ] },
      { role: 'tool', tool_call_id: longId, content: '21C' },
      { role: 'tool', tool_call_id: 'abcDEF123', content: '12:00' },
    ],
  });
  const sent = upstream.requests.at(-1)!.body.messages;
  const [mapped, kept] = sent[1].tool_calls.map((c: { id: string }) => c.id);
  assert.match(mapped, MISTRAL_ID);
  assert.notEqual(mapped, longId);
  assert.equal(kept, 'abcDEF123', 'an id that already fits is kept');
  assert.equal(sent[2].tool_call_id, mapped, 'the tool result still points at its call');
  assert.equal(sent[3].tool_call_id, 'abcDEF123');

  // Deterministic: the same client id maps to the same Mistral id on the next request.
  await postChat(proxy.url, {
    model: MODEL,
    messages: [
      { role: 'user', content: 'again' },
      { role: 'assistant', content: null, tool_calls: [{ id: longId, type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: longId, content: '22C' },
    ],
  });
  assert.equal(upstream.requests.at(-1)!.body.messages[1].tool_calls[0].id, mapped);
});

test('a user message right after a tool result reaches Mistral with an assistant turn between them', async () => {
  upstream.handle((rec, res) => {
    if (reject(res, mistralRules(rec.body))) return;
    const last = rec.body.messages.at(-1);
    // The first answer is a tool call; once its result is in, the model answers in text.
    if (last.role === 'user' && last.content === 'Weather in Rome?') {
      json(res, 200, compatCompletion(MODEL, { content: '', tool_calls: [{ id: 'D681PevKs', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] }, 'tool_calls'));
    } else json(res, 200, compatCompletion(MODEL, { content: 'Sunny, 24C. Take a hat.' }));
  });
  const client = openaiClient(proxy);
  const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const first = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Weather in Rome?' }], tools });
  const call = first.choices[0]!.message.tool_calls![0]!;
  // The client runs the tool and, before asking the model again, the user adds a line.
  const reply = await client.chat.completions.create({
    model: MODEL,
    tools,
    messages: [
      { role: 'user', content: 'Weather in Rome?' },
      first.choices[0]!.message,
      { role: 'tool', tool_call_id: call.id, content: '{"sky":"sunny","c":24}' },
      { role: 'user', content: 'And should I take a hat?' },
    ],
  });
  assert.equal(reply.choices[0]!.message.content, 'Sunny, 24C. Take a hat.');
  const sent = upstream.requests.at(-1)!.body.messages;
  assert.deepEqual(
    sent.map((m: { role: string }) => m.role),
    ['user', 'assistant', 'tool', 'assistant', 'user'],
  );
  assert.equal(sent[3].content, 'Please continue.');
  assert.equal(sent[4].content, 'And should I take a hat?', "the user's words are kept as they were");
});

test("tool-call ids: Mistral's ids round-trip through the client unchanged", async () => {
  upstream.handle((_rec, res) =>
    json(res, 200, compatCompletion(MODEL, { content: '', tool_calls: [{ id: 'D681PevKs', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] }, 'tool_calls')),
  );
  const first = await postChat(proxy.url, { model: MODEL, messages: [{ role: 'user', content: 'Rome?' }] });
  const call = first.json.choices[0].message.tool_calls[0];
  assert.equal(call.id, 'D681PevKs');
  assert.equal(call.type, 'function', 'a missing type is filled in');
  assert.equal(first.json.choices[0].finish_reason, 'tool_calls');

  upstream.handle((_rec, res) => json(res, 200, compatCompletion(MODEL, { content: 'Sunny.' })));
  await postChat(proxy.url, {
    model: MODEL,
    messages: [
      { role: 'user', content: 'Rome?' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: 'sunny' },
    ],
  });
  const sent = upstream.requests.at(-1)!.body.messages;
  assert.equal(sent[1].tool_calls[0].id, 'D681PevKs');
  assert.equal(sent[2].tool_call_id, 'D681PevKs');
});

test('an empty assistant turn is dropped (Mistral rejects it)', async () => {
  upstream.handle((_rec, res) => json(res, 200, compatCompletion(MODEL, { content: 'ok' })));
  await postChat(proxy.url, {
    model: MODEL,
    messages: [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: '' },
      { role: 'user', content: 'b' },
    ],
  });
  assert.deepEqual(upstream.requests.at(-1)!.body.messages, [
    { role: 'user', content: 'a' },
    { role: 'user', content: 'b' },
  ]);
});

test("finish_reason model_length becomes length; reasoning parts are flattened", async () => {
  upstream.handle((_rec, res) =>
    json(res, 200, compatCompletion(MODEL, { content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'hmm' }] }, { type: 'text', text: 'Answer' }] }, 'model_length')),
  );
  const reply = await postChat(proxy.url, { model: MODEL, messages: [{ role: 'user', content: 'q' }] });
  assert.equal(reply.json.choices[0].finish_reason, 'length');
  assert.equal(reply.json.choices[0].message.content, 'Answer');
  assert.equal(reply.json.choices[0].message.reasoning_content, 'hmm');
});

test('streaming edge cases: keep-alives dropped, calls indexed, usage-only chunk kept, one [DONE] added', async () => {
  upstream.handle((_rec, res) => {
    startSse(res);
    res.write(': keep-alive\n\n');
    openaiEvent(res, compatChunk(MODEL, { role: 'assistant', content: 'Let me check.' }));
    res.write(': ping\n\n');
    openaiEvent(res, compatChunk(MODEL, { tool_calls: [{ id: 'AAAAAAAA1', index: 0, function: { name: 'a', arguments: '{"x":1}' } }] }));
    openaiEvent(res, compatChunk(MODEL, { tool_calls: [{ id: 'BBBBBBBB2', index: 0, function: { name: 'b', arguments: '{}' } }] }, 'tool_calls'));
    openaiEvent(res, { id: 'cmpl-s', object: 'chat.completion.chunk', model: MODEL, usage: { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 } });
    res.end(); // no [DONE] from upstream
  });
  const stream = await openStream(proxy.url, { model: MODEL, messages: [{ role: 'user', content: 'go' }], stream: true });
  const events = await stream.rest();
  const raw = stream.raw();
  assert.ok(!/^:/m.test(raw), 'no comment lines reach the client');
  assert.equal(raw.match(/data: \[DONE\]/g)?.length, 1);
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((s) => JSON.parse(s));
  assert.ok(chunks.every((c) => Array.isArray(c.choices)), 'every chunk has a choices array');
  const calls = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
  assert.deepEqual(
    calls.map((c: { index: number; id: string; type: string }) => [c.index, c.id, c.type]),
    [
      [0, 'AAAAAAAA1', 'function'],
      [1, 'BBBBBBBB2', 'function'],
    ],
  );
  assert.deepEqual(chunks.at(-1).usage, { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 });
  assert.equal(upstream.requests.at(-1)!.body.stream, true);
  assert.equal(upstream.requests.at(-1)!.body.stream_options, undefined);
});

test("streaming: the upstream's own [DONE] is passed once, not twice", async () => {
  upstream.handle((_rec, res) => {
    startSse(res);
    openaiEvent(res, compatChunk(MODEL, { role: 'assistant', content: 'hi' }, 'stop'));
    res.write('data: [DONE]\n\n');
    res.end();
  });
  const stream = await openStream(proxy.url, { model: MODEL, messages: [{ role: 'user', content: 'go' }], stream: true });
  const events = await stream.rest();
  assert.equal(events.length, 2);
  assert.equal(JSON.parse(events[0]!).choices[0].delta.content, 'hi');
  assert.equal(events[1], '[DONE]');
});

test('Mistral errors (429, 5xx, 422) keep their status in OpenAI shape', async () => {
  upstream.handle((_rec, res) => json(res, 429, { object: 'error', message: 'Requests rate limit exceeded', type: 'rate_limited', param: null, code: '1300' }));
  const limited = await postChat(proxy.url, { model: MODEL, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(limited.status, 429);
  assert.equal(limited.json.error.message, 'Requests rate limit exceeded');
  assert.equal(limited.json.error.type, 'rate_limit_error');

  upstream.handle((_rec, res) => json(res, 502, { message: 'Bad gateway' }));
  const down = await postChat(proxy.url, { model: MODEL, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(down.status, 502);
  assert.equal(down.json.error.type, 'server_error');

  upstream.handle((_rec, res) =>
    json(res, 422, { detail: [{ type: 'extra_forbidden', loc: ['body', 'foo'], msg: 'Extra inputs are not permitted', input: 1 }] }),
  );
  const invalid = await postChat(proxy.url, { model: MODEL, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(invalid.status, 422);
  assert.equal(invalid.json.error.message, 'body.foo: Extra inputs are not permitted');
});

test('the key never appears in the proxy output', () => {
  const out = printed.join('');
  assert.match(out, /"status":200/);
  assert.ok(!out.includes(CANARY_KEY));
});
