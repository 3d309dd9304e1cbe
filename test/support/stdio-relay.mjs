// A stdio relay, as `nc HOST PORT` is: what an SSH ProxyCommand runs. Standard input goes to
// HOST:PORT, what comes back goes to standard output. With a NOTE path, it first adds a line of
// what it was given there (host, port, user, its pid, as JSON) for a test to check.
// Usage: node stdio-relay.mjs HOST PORT [USER NOTE]
import net from 'node:net';
import { appendFileSync } from 'node:fs';

const [host, port, user, note] = process.argv.slice(2);
if (note) appendFileSync(note, `${JSON.stringify({ host, port, user, pid: process.pid })}\n`);
const s = net.connect(Number(port), host);
s.on('error', (e) => {
  process.stderr.write(`relay: ${e.message}\n`);
  process.exit(1);
});
s.on('close', () => process.exit(0));
// As a tunnel's plugin does when its session is ended from outside: say so, then exit.
process.on('SIGTERM', () => {
  process.stderr.write('relay: session terminated\n');
  process.exit(143);
});
process.stdin.pipe(s);
s.pipe(process.stdout);
