import { fileURLToPath } from 'node:url';
import { shellQuote } from '../../src/transport/transport.js';

/** stdio-relay.mjs: `nc %h %p` written in Node, so that no netcat is needed on the runner. */
export const STDIO_RELAY = fileURLToPath(new URL('./stdio-relay.mjs', import.meta.url));

/** A proxyCommand that relays to %h:%p; with `note`, the relay writes what it was given there. */
export function relayProxyCommand(note?: string): string {
  return `${shellQuote([process.execPath, STDIO_RELAY])} %h %p${note ? ` %r ${shellQuote([note])}` : ''}`;
}
