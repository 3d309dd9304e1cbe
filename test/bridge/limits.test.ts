/**
 * The chat body's limits agree: a message is limited in characters (Unicode code points, counted
 * after decoding), and the body's byte cap is derived from that limit, so a message within it is
 * never refused for its script or its JSON spelling. The real bridge under each Deno line, with
 * the gateway's address closed: a message the bridge accepts goes on to the gateway and gets 502
 * gateway_unreachable; one it refuses gets 400 or 413 first.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DENO_LINES } from '../../scripts/tools.js';
import { BODY_ENVELOPE_BYTES, countChars, MAX_BODY_BYTES, MAX_JSON_BYTES_PER_CHAR, MAX_MESSAGE_CHARS } from '../../supabase/functions/openclaw-bridge/limits.js';
import { startAuthStandin, type AuthStandin } from '../support/auth-standin.js';
import { startBridge, type BridgeProcess } from '../support/bridge-process.js';
import { freePort } from '../support/live-gateway.js';
import { REPO_ROOT } from '../support/repo.js';

const CJK = '漢';
const EMOJI = '😀'; // U+1F600: one code point, two UTF-16 code units, four UTF-8 bytes
/** JSON as clients that write ASCII only spell it (Python's json.dumps by default): every non-ASCII code unit as \uXXXX. */
const asciiJson = (value: unknown) => JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

let auth: AuthStandin;
const bridges = new Map<string, BridgeProcess>();

before(async () => {
  auth = await startAuthStandin();
  const env = {
    // Nothing listens there: an accepted message fails at the gateway, after every check of the body.
    OPENCLAW_GATEWAY_URL: `ws://127.0.0.1:${await freePort()}`,
    OPENCLAW_GATEWAY_TOKEN: 'limits-test-token',
    // A closed address is reported at once, not waited out as a gateway restarting.
    OPENCLAW_BRIDGE_RESTART_WAIT_SECONDS: '0',
    OPENCLAW_BRIDGE_DEVICE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    OPENCLAW_BRIDGE_CORS_ORIGINS: '',
    SUPABASE_URL: auth.url,
    SUPABASE_ANON_KEY: auth.anonKey,
  };
  for (const deno of DENO_LINES) bridges.set(deno.name, await startBridge(env, deno.path));
});

after(async () => {
  await Promise.all([...bridges.values()].map((b) => b.stop()));
  await auth?.close();
});

test('the limits: characters are code points, and the byte cap holds any message within the character limit', () => {
  assert.equal(MAX_MESSAGE_CHARS, 32_000);
  assert.equal(MAX_BODY_BYTES, 388_096);
  assert.equal(countChars(CJK.repeat(25_000)), 25_000);
  assert.equal(countChars(EMOJI.repeat(32_000)), 32_000, 'an astral character counts once, not as its two UTF-16 units');
  assert.equal(countChars('👩‍💻'), 3, 'a ZWJ sequence counts each of its code points');
  assert.equal(countChars('\ud800x'), 2, 'a lone surrogate counts as one');
  // The longest spelling of a full message still fits, with its envelope.
  const longest = asciiJson({ message: EMOJI.repeat(MAX_MESSAGE_CHARS), sessionKey: 'a'.repeat(64) });
  assert.equal(MAX_JSON_BYTES_PER_CHAR, Buffer.byteLength(asciiJson(EMOJI)) - 2);
  assert.ok(Buffer.byteLength(longest) <= MAX_BODY_BYTES, `${Buffer.byteLength(longest)} bytes`);
  assert.ok(Buffer.byteLength(longest) > MAX_BODY_BYTES - BODY_ENVELOPE_BYTES);
});

test("the README states the limits the bridge enforces", async () => {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const n = (x: number) => x.toLocaleString('en-US');
  assert.ok(readme.includes(`at most ${n(MAX_MESSAGE_CHARS)} characters`), 'the character limit');
  assert.ok(readme.includes(`${n(MAX_BODY_BYTES)} bytes`), 'the byte cap');
  assert.doesNotMatch(readme, /65,?536 bytes/);
});

for (const deno of DENO_LINES) {
  describe(`on ${deno.name}`, () => {
    let user: { token: string };
    before(() => void (user = auth.issue(`limits-${deno.name.replace(/\W+/g, '-')}@example.com`)));

    async function chat(body: string | Uint8Array | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) {
      const res = await fetch(`${bridges.get(deno.name)!.url}/openclaw/chat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json', ...headers },
        body,
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
        signal: AbortSignal.timeout(60_000),
      } as RequestInit);
      const json = (await res.json()) as { error: { code: string; message: string } };
      return { status: res.status, code: json.error.code, message: json.error.message };
    }
    const accepted = (r: { status: number; code: string }) => assert.deepEqual([r.status, r.code], [502, 'gateway_unreachable'], 'accepted: it went on to the gateway');

    test('25,000 CJK characters (75 KB of UTF-8) are accepted; so are 32,000 emoji, in UTF-8 or as ASCII-only JSON escapes', async () => {
      const cjk = JSON.stringify({ message: CJK.repeat(25_000) });
      assert.equal(Buffer.byteLength(cjk), 75_014, 'over the old 65,536-byte cap');
      accepted(await chat(cjk));
      accepted(await chat(JSON.stringify({ message: EMOJI.repeat(MAX_MESSAGE_CHARS) })));
      const escaped = asciiJson({ message: EMOJI.repeat(MAX_MESSAGE_CHARS), sessionKey: 'web' });
      assert.ok(Buffer.byteLength(escaped) > 380_000);
      accepted(await chat(escaped));
      accepted(await chat(asciiJson({ message: CJK.repeat(MAX_MESSAGE_CHARS) })));
    });

    test('one character over is refused in characters, whatever the script', async () => {
      for (const c of ['a', CJK, EMOJI]) {
        const r = await chat(JSON.stringify({ message: c.repeat(MAX_MESSAGE_CHARS + 1) }));
        assert.deepEqual([r.status, r.code], [400, 'invalid_request'], c);
        assert.equal(r.message, 'message: expected a non-empty string of at most 32000 characters (Unicode code points: an emoji counts as one)');
      }
    });

    test('a body over the byte cap is refused with 413, by its declared length or, streamed without one, as it arrives', async () => {
      const over = JSON.stringify({ message: 'a', pad: ' '.repeat(MAX_BODY_BYTES) });
      const r = await chat(over);
      assert.deepEqual([r.status, r.code], [413, 'payload_too_large']);
      assert.equal(r.message, `The body may be at most ${MAX_BODY_BYTES} bytes, room for a message of ${MAX_MESSAGE_CHARS} characters in any script.`);
      // Chunked, no Content-Length: counted as the bytes come.
      const bytes = new TextEncoder().encode(over);
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= bytes.length) return controller.close();
          controller.enqueue(bytes.subarray(sent, sent + 65_536));
          sent += 65_536;
        },
      });
      const chunked = await chat(stream);
      assert.deepEqual([chunked.status, chunked.code], [413, 'payload_too_large']);
      // Exactly at the cap is not over it.
      const at = JSON.stringify({ message: 'a', pad: '' });
      accepted(await chat(at.replace('""', `"${' '.repeat(MAX_BODY_BYTES - Buffer.byteLength(at))}"`)));
    });

    test('a body that is not UTF-8 is refused, not read with replacement characters', async () => {
      const r = await chat(new Uint8Array([...new TextEncoder().encode('{"message":"'), 0xff, 0xfe, ...new TextEncoder().encode('"}')]));
      assert.deepEqual([r.status, r.code, r.message], [400, 'invalid_request', 'The body must be UTF-8.']);
    });
  });
}
