/**
 * Process edge of a proxy: argv, environment, listening, signals and exit codes. Each bundled
 * entry (`<kind>-proxy.ts`) calls `runProxy` with its one provider.
 *
 * Exit codes: 78 (EX_CONFIG) for a missing, unreadable or invalid config, or one meant for another
 * kind, so systemd's RestartPreventExitStatus=78 stops a restart loop; 1 when the port cannot be
 * bound (that may clear up, so a restart is worth it); 0 after SIGTERM/SIGINT once in-flight
 * requests have finished.
 */
import { ConfigError, configPathFromArgv, loadProxyConfig, sendsKeyInClear } from './config.js';
import type { ProxyConfig } from './config.js';
import type { Provider } from './provider.js';
import { createProxyServer } from './server.js';
import type { LogFn } from './server.js';

export const EXIT_CONFIG = 78;

// Lines logged in one turn of the event loop go out in one write: under load that is one
// syscall for many requests, and no line waits longer than the current turn.
let pendingLog = '';
const flushLog = (): void => {
  const text = pendingLog;
  pendingLog = '';
  if (text !== '') process.stdout.write(text);
};
const log: LogFn = (entry) => {
  if (pendingLog === '') setImmediate(flushLog);
  pendingLog += `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`;
};
process.on('exit', flushLog);

export function runProxy(provider: Provider, argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): void {
  const config = loadOrExit(provider, argv);
  const rawKey = env[config.apiKeyEnv];
  const apiKey = rawKey === undefined || rawKey.trim() === '' ? undefined : rawKey.trim();
  const proxy = createProxyServer({ config, provider, apiKey, log });
  if (sendsKeyInClear(config)) log({ msg: 'warning: upstream is plain http on a non-loopback host; the API key travels unencrypted' });

  proxy.server.once('error', (err: NodeJS.ErrnoException) => {
    process.stderr.write(`${provider.kind}-proxy: cannot listen on 127.0.0.1:${config.port}: ${err.code ?? err.message}\n`);
    process.exit(1);
  });
  // Loopback only: the gateway is on the same host and nothing else may reach the key's holder.
  proxy.server.listen(config.port, '127.0.0.1', () => {
    const address = proxy.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    log({ msg: 'listening', kind: config.kind, address: '127.0.0.1', port, models: config.models.length, upstreamKey: apiKey !== undefined });
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log({ msg: 'forced stop', signal });
      process.exit(1);
    }
    stopping = true;
    log({ msg: 'stopping', signal });
    void proxy.shutdown().then(() => {
      log({ msg: 'stopped' });
      process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function loadOrExit(provider: Provider, argv: readonly string[]): ProxyConfig {
  const path = configPathFromArgv(argv);
  if (path === null) {
    process.stderr.write(`usage: node ${provider.kind}-proxy.mjs --config /path/proxy.json\n`);
    process.exit(EXIT_CONFIG);
  }
  try {
    const config = loadProxyConfig(path);
    if (config.kind !== provider.kind) {
      throw new ConfigError(path, [`kind: this is the ${provider.kind} proxy, but the config is for ${JSON.stringify(config.kind)}`]);
    }
    return config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${provider.kind}-proxy: ${err.message}\n`);
    process.exit(EXIT_CONFIG);
  }
}
