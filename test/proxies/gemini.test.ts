import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CANARY_KEY, cleanBundles, openStream, postChat, printed, startProxy, within } from './harness.js';
import type { RunningProxy } from './harness.js';
import { gate, geminiError, geminiEvent, geminiFunctionCall, geminiText, json, startSse, startStandIn } from './upstreams.js';
import type { StandIn } from './upstreams.js';

let upstream: StandIn;
let proxy: RunningProxy;

before(async () => {
  upstream = await startStandIn();
  proxy = await startProxy('gemini', { upstream: `${upstream.origin}/v1beta` });
});

after(async () => {
  await proxy.stop();
  await upstream.close();
  await cleanBundles();
});

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  },
};

test('a chat request becomes a native generateContent call, field by field', async () => {
  upstream.handle((_rec, res) => json(res, 200, geminiText('Bonjour!')));
  const reply = await postChat(
    proxy.url,
    {
      model: 'gemini-2.5-flash',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: 'Answer in French.' },
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Salut.' },
        { role: 'user', content: [{ type: 'text', text: 'Again' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
      ],
      temperature: 0.3,
      top_p: 0.9,
      max_tokens: 100,
      stop: ['END'],
      tools: [weatherTool],
      tool_choice: 'required',
    },
    { authorization: 'Bearer client-token-must-not-travel' },
  );

  assert.equal(reply.status, 200, reply.text);
  const rec = upstream.requests.at(-1)!;
  assert.equal(rec.method, 'POST');
  assert.equal(rec.url, '/v1beta/models/gemini-2.5-flash:generateContent');
  assert.equal(rec.headers['x-goog-api-key'], CANARY_KEY);
  assert.equal(rec.headers.authorization, undefined, 'the client credentials are not forwarded');
  assert.deepEqual(rec.body.systemInstruction, { parts: [{ text: 'Be brief.' }, { text: 'Answer in French.' }] });
  assert.deepEqual(rec.body.contents, [
    { role: 'user', parts: [{ text: 'Hello' }] },
    { role: 'model', parts: [{ text: 'Salut.' }] },
    { role: 'user', parts: [{ text: 'Again' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }] },
  ]);
  assert.deepEqual(rec.body.generationConfig, { temperature: 0.3, topP: 0.9, maxOutputTokens: 100, stopSequences: ['END'] });
  assert.deepEqual(rec.body.tools, [
    { functionDeclarations: [{ name: 'get_weather', description: 'Current weather for a city', parametersJsonSchema: weatherTool.function.parameters }] },
  ]);
  assert.deepEqual(rec.body.toolConfig, { functionCallingConfig: { mode: 'ANY' } });

  assert.equal(reply.json.object, 'chat.completion');
  assert.equal(reply.json.model, 'gemini-2.5-flash');
  assert.deepEqual(reply.json.choices, [{ index: 0, message: { role: 'assistant', content: 'Bonjour!' }, finish_reason: 'stop', logprobs: null }]);
  assert.deepEqual(reply.json.usage, { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
});

test('finish reasons map to OpenAI values', async () => {
  const cases: [string, string][] = [
    ['STOP', 'stop'],
    ['MAX_TOKENS', 'length'],
    ['SAFETY', 'content_filter'],
    ['RECITATION', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'],
  ];
  for (const [gemini, openai] of cases) {
    upstream.handle((_rec, res) => json(res, 200, geminiText('x', gemini)));
    const reply = await postChat(proxy.url, { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(reply.json.choices[0].finish_reason, openai, `${gemini} → ${openai}`);
  }
});

test('tool calls round-trip: functionCall → tool_calls → functionResponse', async () => {
  upstream.handle((_rec, res) => json(res, 200, geminiFunctionCall('get_weather', { city: 'Paris' })));
  const first = await postChat(proxy.url, {
    model: 'gemini-2.5-flash',
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
    tools: [weatherTool],
  });
  assert.equal(first.status, 200, first.text);
  const choice = first.json.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
  assert.match(call.id, /^call_/);

  upstream.handle((_rec, res) => json(res, 200, geminiText('It is sunny in Paris.')));
  const second = await postChat(proxy.url, {
    model: 'gemini-2.5-flash',
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: '{"temp_c":21,"sky":"clear"}' },
      { role: 'tool', tool_call_id: 'unrelated-but-named', name: 'get_time', content: '12:00' },
    ],
    tools: [weatherTool],
  });
  assert.equal(second.status, 200, second.text);
  assert.deepEqual(upstream.requests.at(-1)!.body.contents, [
    { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
    { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
    {
      role: 'user',
      parts: [
        { functionResponse: { name: 'get_weather', response: { temp_c: 21, sky: 'clear' } } },
        { functionResponse: { name: 'get_time', response: { content: '12:00' } } },
      ],
    },
  ]);
  assert.equal(second.json.choices[0].message.content, 'It is sunny in Paris.');
});

test('a tool result that matches no tool call is a 400 before anything goes upstream', async () => {
  const before = upstream.requests.length;
  const reply = await postChat(proxy.url, {
    model: 'gemini-2.5-flash',
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'tool', tool_call_id: 'nope', content: 'x' },
    ],
  });
  assert.equal(reply.status, 400);
  assert.equal(reply.json.error.type, 'invalid_request_error');
  assert.equal(upstream.requests.length, before);
});

test('streaming: the first chunk reaches the client before the upstream has finished', async () => {
  const release = gate();
  upstream.handle(async (_rec, res) => {
    startSse(res);
    geminiEvent(res, { candidates: [{ content: { role: 'model', parts: [{ text: 'Hel' }] }, index: 0 }], responseId: 'r1' });
    await release.promise;
    geminiEvent(res, { candidates: [{ content: { role: 'model', parts: [{ text: 'lo' }] }, index: 0 }], responseId: 'r1' });
    geminiEvent(res, {
      candidates: [{ content: { role: 'model', parts: [{ text: '!' }] }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 },
      responseId: 'r1',
    });
    res.end();
  });
  const stream = await openStream(proxy.url, {
    model: 'gemini-2.5-flash',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  assert.equal(stream.status, 200);
  assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
  assert.equal(upstream.requests.at(-1)!.url, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');

  // The upstream is held until this first event has arrived: a buffering proxy never gets here.
  const first = JSON.parse((await within(stream.next(), 5000, 'first streamed chunk'))!);
  assert.equal(first.object, 'chat.completion.chunk');
  assert.deepEqual(first.choices[0].delta, { role: 'assistant', content: 'Hel' });
  assert.equal(first.choices[0].finish_reason, null);
  release.open();

  const rest = await stream.rest();
  assert.equal(rest.at(-1), '[DONE]');
  const chunks = rest.slice(0, -1).map((s) => JSON.parse(s));
  const text = [first, ...chunks].map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.equal(text, 'Hello!');
  assert.equal(chunks.filter((c) => c.choices[0]?.finish_reason === 'stop').length, 1);
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.deepEqual(usage.usage, { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
  assert.equal(new Set([first, ...chunks].map((c) => c.id)).size, 1, 'one id for the whole stream');
});

test('streaming: a function call arrives as a tool_calls delta and ends with tool_calls', async () => {
  upstream.handle((_rec, res) => {
    startSse(res);
    geminiEvent(res, geminiFunctionCall('get_weather', { city: 'Oslo' }));
    res.end();
  });
  const stream = await openStream(proxy.url, { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Oslo?' }], stream: true, tools: [weatherTool] });
  const events = await stream.rest();
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((s) => JSON.parse(s));
  const calls = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].index, 0);
  assert.equal(calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(calls[0].function.arguments), { city: 'Oslo' });
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'tool_calls');
});

test('upstream errors keep their status and come back in OpenAI shape', async () => {
  upstream.handle((_rec, res) => json(res, 429, geminiError(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded'), { 'retry-after': '7' }));
  const limited = await postChat(proxy.url, { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['retry-after'], '7');
  assert.deepEqual(limited.json, { error: { message: 'Quota exceeded', type: 'rate_limit_error', code: 'RESOURCE_EXHAUSTED' } });

  upstream.handle((_rec, res) => json(res, 503, geminiError(503, 'UNAVAILABLE', 'The model is overloaded.')));
  const down = await postChat(proxy.url, { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }], stream: true });
  assert.equal(down.status, 503);
  assert.equal(down.json.error.type, 'server_error');
  assert.equal(down.json.error.message, 'The model is overloaded.');

  upstream.handle((_rec, res) => json(res, 400, geminiError(400, 'INVALID_ARGUMENT', 'Invalid value at contents[0]')));
  const bad = await postChat(proxy.url, { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.type, 'invalid_request_error');
});

test('an upstream error that echoes the key does not pass the key on', async () => {
  upstream.handle((_rec, res) => json(res, 400, geminiError(400, 'INVALID_ARGUMENT', `API key not valid: ${CANARY_KEY}`)));
  const reply = await postChat(proxy.url, { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(reply.status, 400);
  assert.ok(!reply.text.includes(CANARY_KEY), reply.text);
});

test('the key and the message contents never appear in the proxy output', async () => {
  await postChat(proxy.url, { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'secret-prompt-9d2e' }] });
  const out = printed.join('') + proxy.output();
  assert.match(out, /"path":"\/v1\/chat\/completions"/, 'requests are logged');
  assert.ok(!out.includes(CANARY_KEY), 'API key leaked to output');
  assert.ok(!out.includes('secret-prompt-9d2e'), 'message content leaked to output');
});
