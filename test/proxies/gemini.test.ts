import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ServerResponse } from 'node:http';
import { APIError } from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { CANARY_KEY, cleanBundles, openStream, openaiClient, postChat, printed, startProxy, within } from './harness.js';
import type { RunningProxy } from './harness.js';
import {
  gate,
  gemini3FunctionCall,
  geminiError,
  geminiEvent,
  geminiFunctionCall,
  geminiModelOf,
  geminiRules,
  geminiText,
  json,
  reject,
  startSse,
  startStandIn,
} from './upstreams.js';
import type { Recorded, StandIn } from './upstreams.js';

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

/** Gemini's checks first, then `answer` for a request it accepts. */
function gemini(answer: (rec: Recorded, res: ServerResponse) => void) {
  return (rec: Recorded, res: ServerResponse): void => {
    if (!reject(res, geminiRules(geminiModelOf(rec.url), rec.body))) answer(rec, res);
  };
}

const G3 = 'gemini-3-flash-preview';
const tools: ChatCompletionTool[] = [weatherTool as ChatCompletionTool];

test('Gemini 3: a tool call goes back with its thought signature, so the next turn is accepted', async () => {
  upstream.handle(
    gemini((rec, res) => {
      const last = rec.body.contents.at(-1);
      if (last.parts.some((p: { functionResponse?: unknown }) => p.functionResponse)) json(res, 200, geminiText('Sunny in Paris.'));
      else json(res, 200, gemini3FunctionCall('get_weather', { city: 'Paris' }));
    }),
  );
  const client = openaiClient(proxy);
  const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
  const first = await client.chat.completions.create({ model: G3, messages, tools });
  const call = first.choices[0]!.message.tool_calls![0]!;
  assert.equal(call.type === 'function' && call.function.name, 'get_weather');
  messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '{"sky":"clear"}' });
  const second = await client.chat.completions.create({ model: G3, messages, tools });
  assert.equal(second.choices[0]!.message.content, 'Sunny in Paris.');
  const sentCall = upstream.requests.at(-1)!.body.contents[1].parts[0];
  assert.match(sentCall.thoughtSignature, /^sig-/, 'the signature Gemini gave is the one that went back');

  // The same through a stream: the id in the tool_calls delta carries the signature too.
  upstream.handle(
    gemini((rec, res) => {
      startSse(res);
      geminiEvent(res, gemini3FunctionCall('get_weather', { city: 'Oslo' }));
      res.end();
    }),
  );
  const stream = await client.chat.completions.create({ model: G3, messages: [{ role: 'user', content: 'Oslo?' }], tools, stream: true });
  let streamedId = '';
  for await (const chunk of stream) streamedId += chunk.choices[0]?.delta.tool_calls?.[0]?.id ?? '';
  upstream.handle(gemini((_rec, res) => json(res, 200, geminiText('Cold in Oslo.'))));
  const after = await client.chat.completions.create({
    model: G3,
    tools,
    messages: [
      { role: 'user', content: 'Oslo?' },
      { role: 'assistant', content: null, tool_calls: [{ id: streamedId, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: streamedId, content: '{"c":-3}' },
    ],
  });
  assert.equal(after.choices[0]!.message.content, 'Cold in Oslo.');
});

test('Gemini 3: a tool call made by another provider (before a failover) is sent with Google\'s placeholder signature', async () => {
  upstream.handle(gemini((_rec, res) => json(res, 200, geminiText('Noted.'))));
  const reply = await openaiClient(proxy).chat.completions.create({
    model: G3,
    tools,
    messages: [
      { role: 'user', content: 'Weather in Rome?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'D681PevKs', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] },
      { role: 'tool', tool_call_id: 'D681PevKs', content: 'sunny' },
    ],
  });
  assert.equal(reply.choices[0]!.message.content, 'Noted.');
  assert.equal(upstream.requests.at(-1)!.body.contents[1].parts[0].thoughtSignature, 'skip_thought_signature_validator');
});

test('Gemini 2.5 needs no signature and gets none it was not given', async () => {
  upstream.handle(gemini((_rec, res) => json(res, 200, geminiText('ok'))));
  await openaiClient(proxy).chat.completions.create({
    model: 'gemini-2.5-flash',
    tools,
    messages: [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
    ],
  });
  assert.deepEqual(upstream.requests.at(-1)!.body.contents[1].parts[0], { functionCall: { name: 'get_weather', args: {} } });
});

test('usage with thinking: thought tokens count as completion, so prompt + completion = total', async () => {
  const usageMetadata = { promptTokenCount: 12, candidatesTokenCount: 8, thoughtsTokenCount: 230, totalTokenCount: 250 };
  upstream.handle(gemini((_rec, res) => json(res, 200, { ...geminiText('42'), usageMetadata })));
  const client = openaiClient(proxy);
  const completion = await client.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Answer?' }] });
  assert.deepEqual(completion.usage, { prompt_tokens: 12, completion_tokens: 238, total_tokens: 250, completion_tokens_details: { reasoning_tokens: 230 } });

  upstream.handle(
    gemini((_rec, res) => {
      startSse(res);
      geminiEvent(res, { ...geminiText('4', 'FINISH_REASON_UNSPECIFIED'), usageMetadata: { promptTokenCount: 12, thoughtsTokenCount: 230, totalTokenCount: 242 } });
      geminiEvent(res, { ...geminiText('2'), usageMetadata });
      res.end();
    }),
  );
  const stream = await client.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Answer?' }], stream: true, stream_options: { include_usage: true } });
  let usage;
  for await (const chunk of stream) usage = chunk.usage ?? usage;
  assert.equal(usage!.prompt_tokens + usage!.completion_tokens, usage!.total_tokens);
  assert.equal(usage!.completion_tokens, 238);
});

test('reasoning_effort becomes the thinking configuration of the model asked for', async () => {
  upstream.handle(gemini((_rec, res) => json(res, 200, geminiText('ok'))));
  const client = openaiClient(proxy);
  const cases: [string, 'minimal' | 'low' | 'medium' | 'high', Record<string, unknown>][] = [
    ['gemini-2.5-flash', 'low', { thinkingBudget: 1024 }],
    ['gemini-2.5-flash', 'high', { thinkingBudget: 4096 }],
    ['gemini-2.5-pro', 'minimal', { thinkingBudget: 128 }],
    ['gemini-2.5-flash-lite', 'minimal', { thinkingBudget: 512 }],
    ['gemini-3-flash-preview', 'minimal', { thinkingLevel: 'minimal' }],
    ['gemini-3-flash-preview', 'medium', { thinkingLevel: 'medium' }],
    ['gemini-3-pro-preview', 'medium', { thinkingLevel: 'high' }],
    ['gemini-3-pro-preview', 'low', { thinkingLevel: 'low' }],
  ];
  for (const [model, effort, thinkingConfig] of cases) {
    const completion = await client.chat.completions.create({ model, reasoning_effort: effort, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(completion.choices[0]!.message.content, 'ok');
    assert.deepEqual(upstream.requests.at(-1)!.body.generationConfig?.thinkingConfig, thinkingConfig, `${model} ${effort}`);
  }
  await client.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(upstream.requests.at(-1)!.body.generationConfig, undefined, 'no effort asked, none invented');
});

test('an https image URL goes to Gemini as a file URI', async () => {
  upstream.handle(gemini((_rec, res) => json(res, 200, geminiText('A cat.'))));
  const completion = await openaiClient(proxy).chat.completions.create({
    model: 'gemini-2.5-flash',
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'https://example.com/pictures/cat.PNG' } },
          { type: 'image_url', image_url: { url: 'https://example.com/render?id=7' } },
        ],
      },
    ],
  });
  assert.equal(completion.choices[0]!.message.content, 'A cat.');
  assert.deepEqual(upstream.requests.at(-1)!.body.contents[0].parts, [
    { text: 'What is this?' },
    { fileData: { mimeType: 'image/png', fileUri: 'https://example.com/pictures/cat.PNG' } },
    { fileData: { fileUri: 'https://example.com/render?id=7' } },
  ]);

  const sentBefore = upstream.requests.length;
  const refused = await openaiClient(proxy)
    .chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://example.com/cat.png' } }] }] })
    .then(() => undefined, (e: unknown) => e);
  assert.ok(refused instanceof APIError && refused.status === 400, String(refused));
  assert.equal(upstream.requests.length, sentBefore, 'nothing went upstream');
});

test("a 429's RetryInfo delay reaches the client as Retry-After", async () => {
  // Gemini's quota error: https://ai.google.dev/gemini-api/docs/troubleshooting (429 RESOURCE_EXHAUSTED),
  // details as in https://cloud.google.com/apis/design/errors#error_details (google.rpc.RetryInfo).
  const quota = {
    error: {
      code: 429,
      message: 'You exceeded your current quota, please check your plan and billing details.',
      status: 'RESOURCE_EXHAUSTED',
      details: [
        { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '22.4s' },
      ],
    },
  };
  upstream.handle((_rec, res) => json(res, 429, quota));
  const client = openaiClient(proxy);
  for (const stream of [false, true]) {
    const err = await client.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }], stream }).then(
      () => assert.fail('expected a 429'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof APIError, String(err));
    assert.equal(err.status, 429);
    assert.equal(err.headers?.get('retry-after'), '23', `stream: ${stream}`);
  }
});

test('the key and the message contents never appear in the proxy output', async () => {
  await postChat(proxy.url, { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'secret-prompt-9d2e' }] });
  const out = printed.join('') + proxy.output();
  assert.match(out, /"path":"\/v1\/chat\/completions"/, 'requests are logged');
  assert.ok(!out.includes(CANARY_KEY), 'API key leaked to output');
  assert.ok(!out.includes('secret-prompt-9d2e'), 'message content leaked to output');
});
