// A stand-in for every LLM provider, run INSIDE the test host (the host has no route out): the
// OpenAI chat completions API under any prefix, and Gemini's generateContent, each also streamed
// (SSE) when asked, as OpenClaw and the proxies ask; the model `always-fails` gets a 401. Each request is
// recorded, one JSON line, in the file named by argv[3]: the path, the model, and the SHA-256 of
// the key it carried (never the key), so a test can tell that each caller presented its own key.
// Any other path, /healthz included, is a 404.
//
// Usage: node upstream-stub.mjs PORT RECORD_FILE
import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import http from 'node:http';

const [port, recordFile] = process.argv.slice(2);
const digest = (s) => (s ? createHash('sha256').update(s).digest('hex') : null);

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
      if (chat && model === 'always-fails') {
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
