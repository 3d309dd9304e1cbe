// A stand-in for every LLM provider, run INSIDE the test host (the host has no route out): the
// OpenAI chat completions API under any prefix, and Gemini's generateContent, each also streamed
// (SSE) when asked, as OpenClaw and the proxies ask; the model `always-fails` gets a 401. Each request is
// recorded, one JSON line, in the file named by argv[3]: the path, the model, and the SHA-256 of
// the key it carried (never the key), so a test can tell that each caller presented its own key.
// Any other path, /healthz included, is a 404.
//
// What a test can set, as providers really answer:
// - a base URL holding `/answer-401/` or `/answer-429/` refuses every request under it: a wrong
//   key (401 invalid_api_key) or a rate limit (429 with Retry-After), in OpenAI's error shape;
// - e2e-upstream-models.json beside the record file, `{"<provider>": ["model", …]}` (the provider
//   is the path segment before v1 or v1beta): that provider then serves exactly those models.
//   GET …/models lists them (Gemini's shape under v1beta), and a chat with any other model gets
//   the provider's 404 for a model it does not serve. A provider not in the file serves any model.
//
// Usage: node upstream-stub.mjs PORT RECORD_FILE
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';

const [port, recordFile] = process.argv.slice(2);
const digest = (s) => (s ? createHash('sha256').update(s).digest('hex') : null);
const modelsFile = join(dirname(recordFile), 'e2e-upstream-models.json');
const servedBy = (provider) => {
  try {
    const served = JSON.parse(readFileSync(modelsFile, 'utf8'))[provider];
    return Array.isArray(served) ? served : null;
  } catch {
    return null;
  }
};

http
  .createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      let body = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        // recorded as is: no model
      }
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const key = bearer ?? req.headers['x-goog-api-key'];
      const gemini = /\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(path);
      const chat = req.method === 'POST' && path.endsWith('/chat/completions');
      const model = gemini ? decodeURIComponent(gemini[1]) : body.model ?? null;
      appendFileSync(recordFile, `${JSON.stringify({ time: new Date().toISOString(), method: req.method, path, model, keySha256: digest(key) })}\n`);
      const send = (status, value) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const sse = (events) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.end(events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join(''));
      };
      const text = `stub reply from ${model}`;
      const provider = /\/([^/]+)\/v1(?:beta)?\//.exec(path)?.[1] ?? null;
      const served = provider ? servedBy(provider) : null;
      const geminiApi = /\/v1beta\//.test(path);
      if (path.includes('/answer-401/')) {
        // OpenAI's answer to a wrong key (https://platform.openai.com/docs/guides/error-codes).
        send(401, { error: { message: 'Incorrect API key provided (stub)', type: 'invalid_request_error', code: 'invalid_api_key' } });
      } else if (path.includes('/answer-429/')) {
        res.setHeader('retry-after', '60');
        send(429, { error: { message: 'Rate limit reached (stub)', type: 'requests', code: 'rate_limit_exceeded' } });
      } else if (req.method === 'GET' && path.endsWith('/models') && served) {
        // Gemini: {models:[{name:"models/…"}]} (https://ai.google.dev/api/models#method:-models.list);
        // OpenAI: {object:"list", data:[{id}]} (https://platform.openai.com/docs/api-reference/models/list).
        send(200, geminiApi ? { models: served.map((id) => ({ name: `models/${id}` })) } : { object: 'list', data: served.map((id) => ({ id, object: 'model', created: 0, owned_by: provider })) });
      } else if ((chat || gemini) && served && !served.includes(model)) {
        // A model the provider does not serve: Gemini's 404 NOT_FOUND (https://ai.google.dev/gemini-api/docs/troubleshooting),
        // OpenAI's 404 model_not_found (https://platform.openai.com/docs/guides/error-codes).
        if (gemini) send(404, { error: { code: 404, message: `models/${model} is not found for API version v1beta, or is not supported for generateContent.`, status: 'NOT_FOUND' } });
        else send(404, { error: { message: `The model \`${model}\` does not exist or you do not have access to it.`, type: 'invalid_request_error', param: null, code: 'model_not_found' } });
      } else if (chat && model === 'always-fails') {
        // The smoke canary's model: refused as a provider refuses a wrong key.
        send(401, { error: { message: 'invalid API key (stub)', type: 'invalid_request_error', code: 'invalid_api_key' } });
      } else if (chat && body.stream === true) {
        const chunk = (delta, finish) => ({ id: 'chatcmpl-stub', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model, choices: [{ index: 0, delta, finish_reason: finish }] });
        sse([
          chunk({ role: 'assistant', content: '' }, null),
          chunk({ content: text }, null),
          { ...chunk({}, 'stop'), usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } },
          '[DONE]',
        ]);
      } else if (req.method === 'POST' && gemini?.[2] === 'streamGenerateContent') {
        sse([
          { candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0 }] },
          { candidates: [{ content: { role: 'model', parts: [] }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 4, totalTokenCount: 7 } },
        ]);
      } else if (chat) {
        send(200, {
          id: 'chatcmpl-stub',
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
        });
      } else if (req.method === 'POST' && gemini) {
        send(200, {
          candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason: 'STOP', index: 0 }],
          usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 4, totalTokenCount: 7 },
        });
      } else {
        send(404, { error: { message: `the stub has no ${req.method} ${path}` } });
      }
    });
  })
  .listen(Number(port), '127.0.0.1');
