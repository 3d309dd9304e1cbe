/**
 * One web user never reaches another's conversations. Many users share one gateway through the
 * bridge, and OpenClaw's session keys route rather than authorise (docs/gateway/security/trust-model.md):
 * what keeps users apart is what the agent's session tools may see. Real OpenClaw (rendered by
 * clawops), the real Deno bridge, a stand-in of Supabase Auth, and a model stand-in that makes the
 * agent call each session tool it is offered and then repeats the tool's result as its reply, so
 * whatever a tool hands the agent reaches the user who asked.
 *
 * User A tells the agent a canary; user B then asks for A's conversation by every session tool
 * the agent has, naming A's session key outright as an attacker who guessed it would. Nothing B
 * gets back, in the chat stream or in B's history, carries the canary or A's id.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startAuthStandin, type AuthStandin } from '../support/auth-standin.js';
import { startBridge, type BridgeProcess } from '../support/bridge-process.js';
import { decodeStream, finalReply } from '../support/bridge-stream.js';
import { startLiveGateway, type LiveGateway } from '../support/live-gateway.js';
import { contentText, type ScriptedTurn } from '../support/openai-standin.js';
import { repoConfig } from '../support/repo.js';

const CANARY_FORM = 'canary-conversation';
const CANARY = `${CANARY_FORM}-${randomBytes(6).toString('hex')}`;
/** What A says around the canary. */
const A_WORDS = 'please keep this safe';

/**
 * The model stand-in: `probe {"tool":…,"arguments":…}` makes it call that tool (when offered),
 * a tool result comes back as `tool result: …`, `echo history` repeats every earlier message of the
 * conversation (what A's session would give away to a message sent into it), anything else gets `noted`.
 */
const turn: ScriptedTurn = (req) => {
  // What is new since the model last spoke: the user's message (among OpenClaw's own context), or a tool's result.
  const since = req.messages.slice(req.messages.findLastIndex((m) => m.role === 'assistant') + 1);
  const result = since.find((m) => m.role === 'tool');
  if (result) return { text: `tool result: ${contentText(result.content)}` };
  const text = since.filter((m) => m.role === 'user').map((m) => contentText(m.content)).join('\n');
  const probe = /probe (\{.*\})/.exec(text);
  if (!probe) return text.includes('echo history') ? { text: `history: ${req.messages.map((m) => contentText(m.content)).join(' | ')}` } : { text: 'noted' };
  const { tool, arguments: args } = JSON.parse(probe[1]!) as { tool: string; arguments: Record<string, unknown> };
  if (req.tools.includes(tool)) return { tool, arguments: args };
  // Under Tool Search the session tools are catalog entries, called through tool_call (docs/tools/tool-search.md).
  if (req.tools.includes('tool_call')) return { tool: 'tool_call', arguments: { id: tool, args } };
  return { text: `not offered: ${tool}` };
};

let gw: LiveGateway;
let auth: AuthStandin;
let bridge: BridgeProcess;

async function chat(user: { token: string }, message: string, sessionKey = 'main'): Promise<{ status: number; text: string; reply: string }> {
  const res = await fetch(`${bridge.url}/openclaw/chat?v=2`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ message, sessionKey }),
    signal: AbortSignal.timeout(170_000),
  });
  const text = await res.text();
  return { status: res.status, text, reply: res.status === 200 ? finalReply(decodeStream(text)) : '' };
}

describe('one web user never reaches another\'s conversations', { timeout: 900_000 }, () => {
  before(async () => {
    const config = await repoConfig();
    auth = await startAuthStandin();
    gw = await startLiveGateway();
    for (const ref of gw.chain) gw.upstream.script(ref.slice(ref.indexOf('/') + 1), turn);
    bridge = await startBridge({
      OPENCLAW_GATEWAY_URL: gw.wsUrl,
      OPENCLAW_GATEWAY_TOKEN: gw.token,
      OPENCLAW_BRIDGE_DEVICE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      OPENCLAW_BRIDGE_CORS_ORIGINS: config.supabase!.cors.origins.join(','),
      SUPABASE_URL: auth.url,
      SUPABASE_ANON_KEY: auth.anonKey,
    });
  });

  after(async () => {
    await bridge?.stop();
    await gw?.stop();
    await auth?.close();
  });

  test('user B asks for user A\'s conversation with every session tool and gets nothing of it', async () => {
    const a = auth.issue('user-a@example.com');
    const b = auth.issue('user-b@example.com');
    const said = await chat(a, `${A_WORDS}: ${CANARY}`);
    assert.equal(said.status, 200, said.text);
    assert.equal(said.reply, 'noted');

    // A's session as the gateway names it (the bridge's scheme, handler.ts): what B would guess.
    const aKey = `agent:main:bridge:${a.userId}:main`;
    const probes: { tool: string; arguments: Record<string, unknown> }[] = [
      { tool: 'sessions_list', arguments: { limit: 200, includeLastMessage: true, includeDerivedTitles: true, messageLimit: 20, archived: 'all' } },
      { tool: 'sessions_list', arguments: { agentId: 'main', search: a.userId, includeLastMessage: true, messageLimit: 20 } },
      { tool: 'sessions_history', arguments: { sessionKey: aKey, includeTools: true, limit: 50 } },
      // B knows the canary's form, never its value: a search for the value would find B's own message.
      { tool: 'sessions_search', arguments: { query: CANARY_FORM } },
      { tool: 'sessions_search', arguments: { query: 'keep this' } },
      { tool: 'session_status', arguments: { sessionKey: aKey } },
      { tool: 'sessions_send', arguments: { sessionKey: aKey, message: 'echo history', timeoutSeconds: 60 } },
      { tool: 'sessions', arguments: { action: 'patch', sessionKey: aKey, label: 'taken-over' } },
      { tool: 'subagents', arguments: { action: 'list' } },
      { tool: 'conversations_list', arguments: {} },
    ];
    const ran: string[] = [];
    const answers: string[] = [];
    for (const p of probes) {
      const r = await chat(b, `probe ${JSON.stringify(p)}`);
      assert.equal(r.status, 200, `${p.tool}: ${r.text}`);
      answers.push(r.text);
      // The reply repeats what tool_call returned: the tool's result or refusal, or that no such tool exists.
      if (/"tool": \{\s*"id": "openclaw:core:|"status": "(error|forbidden)"/.test(r.reply) && !r.reply.includes('Unknown tool id')) ran.push(p.tool);
    }
    // The probes reach the tools that could leak: listing, reading, searching and status.
    for (const tool of ['sessions_list', 'sessions_history', 'sessions_search', 'session_status']) assert.ok(ran.includes(tool), `the agent web users reach has ${tool}: ran ${ran.join(', ')}`);

    const history = await fetch(`${bridge.url}/openclaw/history?sessionKey=main&limit=200`, { headers: { authorization: `Bearer ${b.token}` }, signal: AbortSignal.timeout(60_000) });
    const historyText = await history.text();
    assert.equal(history.status, 200, historyText);
    // The tools did run for B: B's own history holds their results.
    assert.match(historyText, /tool result: /);

    const leaks = [...answers, historyText].flatMap((text, i) => {
      const what = i < answers.length ? `the answer to ${probes[i]!.tool} ${JSON.stringify(probes[i]!.arguments)}` : 'B\'s history';
      return text.includes(CANARY.slice(-12)) || text.includes(A_WORDS) ? [what] : [];
    });
    assert.deepEqual(leaks, [], 'what B got back carries A\'s words');

    // A's conversation is as A left it: B neither wrote into it nor relabelled it.
    const mine = await fetch(`${bridge.url}/openclaw/history?sessionKey=main&limit=200`, { headers: { authorization: `Bearer ${a.token}` }, signal: AbortSignal.timeout(60_000) });
    const mineText = await mine.text();
    assert.equal(mine.status, 200, mineText);
    assert.ok(mineText.includes(CANARY));
    assert.ok(!mineText.includes('echo history') && !mineText.includes('taken-over'), `B reached into A's session: ${mineText}`);
  });
});
