// A stdio relay, as `nc HOST PORT` is: what an SSH ProxyCommand runs. Standard input goes to
// HOST:PORT, what comes back goes to standard output. With a NOTE path, it first writes what it
// was given there (host, port, user, its pid) for a test to check.
// Usage: node stdio-relay.mjs HOST PORT [USER NOTE]
import net from 'node:net';
import { writeFileSync } from 'node:fs';

const [host, port, user, note] = process.argv.slice(2);
if (note) writeFileSync(note, JSON.stringify({ host, port, user, pid: process.pid }));
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
