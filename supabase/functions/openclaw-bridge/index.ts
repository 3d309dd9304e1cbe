/**
 * openclaw-bridge: the Supabase edge function through which web apps reach the OpenClaw gateway.
 *
 *   GET  /openclaw/health          the gateway's health
 *   POST /openclaw/chat            {message, sessionKey?} → the reply as server-sent events
 *   GET  /openclaw/history         ?sessionKey=&limit= → the session's messages
 *   GET  /openclaw/agents/status   the agent fleet
 *   GET  /openclaw/skills          the skills available to the agent
 *
 * Served by Supabase at /functions/v1/openclaw-bridge/…; settings are in settings.ts.
 */
import { deviceFromPem } from './device.ts';
import { openGateway } from './gateway.ts';
import { createHandler } from './handler.ts';
import { ENV, readSettings } from './settings.ts';

const settings = readSettings((name) => Deno.env.get(name));
if (!settings.ok) console.error(JSON.stringify({ msg: 'openclaw-bridge is not configured', problems: settings.problems }));

const handler = createHandler(settings, {
  fetch: (input, init) => fetch(input, init),
  openGateway,
  device: deviceFromPem,
  log: (entry) => console.log(JSON.stringify({ time: new Date().toISOString(), ...entry })),
});

// Outside Supabase (tests, a local run) the port is chosen here; Supabase's runtime ignores it.
const port = Deno.env.get(ENV.port);
if (port !== undefined) {
  Deno.serve({ hostname: '127.0.0.1', port: Number(port), onListen: ({ hostname, port }) => console.log(JSON.stringify({ msg: 'listening', url: `http://${hostname}:${port}` })) }, handler);
} else {
  Deno.serve(handler);
}
