import { spawn, type ChildProcess } from 'node:child_process';
import { HEALTHY_BODY } from '../render/desired.js';
import { EX_CONFIG } from '../render/systemd.js';

/** One process to keep running, as a unit file would describe it. */
export interface Supervised {
  /** The name its log lines carry, such as gemini-proxy. */
  name: string;
  exec: string[];
  cwd: string;
  /** Its whole environment: the secrets from its env file included, never on its command line. */
  env: NodeJS.ProcessEnv;
  /** A URL whose body says healthy (HEALTHY_BODY). */
  health: string;
  /** How long it may take to become healthy at the start. */
  startSeconds: number;
}

export interface SupervisorOptions {
  /** One line a process printed, prefixed with its name as `docker compose up` does. */
  log(line: string): void;
  /** What the supervisor itself says: started, exited, restarting, stopped. */
  say(line: string): void;
  /** The first restart's delay; each next one doubles, up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** How long a process has between SIGTERM and SIGKILL when stopping. */
  graceMs?: number;
}

interface Running {
  spec: Supervised;
  child: ChildProcess | null;
  exited: Promise<void>;
  restarts: number;
  timer: NodeJS.Timeout | null;
}

/**
 * Runs services as child processes, each in its own process group (so stopping one stops all
 * it started), in stages: each stage starts once the one before is healthy. A process that exits
 * is started again after a delay that doubles with each failure and resets once it is healthy
 * again; one that exits 78 (invalid config) is not, and the supervisor fails.
 */
export class Supervisor {
  readonly #opts: Required<SupervisorOptions>;
  readonly #running: Running[] = [];
  #stopping = false;
  #width = 0;
  /** Settles when the supervisor fails for good (a message) or is stopped (null). */
  readonly ended: Promise<string | null>;
  #end!: (reason: string | null) => void;

  constructor(opts: SupervisorOptions) {
    this.#opts = { backoffMs: 1000, maxBackoffMs: 30_000, graceMs: 15_000, ...opts };
    this.ended = new Promise((resolve) => (this.#end = resolve));
  }

  /** Starts each stage once the one before is healthy; throws when one does not become healthy. */
  async start(stages: Supervised[][]): Promise<void> {
    this.#width = Math.max(...stages.flat().map((s) => s.name.length));
    for (const stage of stages) {
      const started = stage.map((spec) => this.#launch(spec));
      await Promise.all(started.map((r) => this.#waitHealthy(r)));
    }
  }

  /** Stops every process, the last started first: SIGTERM to its group, SIGKILL after the grace. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const r of [...this.#running].reverse()) {
      if (r.timer) clearTimeout(r.timer);
      await this.#stopOne(r);
    }
    this.#end(null);
  }

  #launch(spec: Supervised): Running {
    const r: Running = { spec, child: null, exited: Promise.resolve(), restarts: 0, timer: null };
    this.#running.push(r);
    this.#spawn(r);
    return r;
  }

  #spawn(r: Running): void {
    const { spec } = r;
    const [program, ...args] = spec.exec;
    // detached: a process group of its own, which a signal to the group reaches whole (OpenClaw
    // starts helpers of its own), and which a Ctrl-C at the terminal does not reach before we do.
    const child = spawn(program!, args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    r.child = child;
    this.#opts.say(`${spec.name} started (pid ${child.pid ?? '?'})`);
    for (const stream of [child.stdout!, child.stderr!]) lines(stream, (line) => this.#opts.log(`${spec.name.padEnd(this.#width)} | ${line}`));
    r.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.#opts.say(`${spec.name} could not start: ${err.message}`);
        resolve();
        this.#onExit(r, child, null, null);
      });
      child.once('exit', (code, signal) => {
        // Whatever it started and left behind goes with it.
        killGroup(child.pid, 'SIGKILL');
        resolve();
        this.#onExit(r, child, code, signal);
      });
    });
  }

  #onExit(r: Running, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#stopping || r.child !== child) return;
    r.child = null;
    const how = signal ? `was killed (${signal})` : `exited with code ${code ?? '?'}`;
    if (code === EX_CONFIG) {
      this.#opts.say(`${r.spec.name} ${how}: its config is invalid, so it is not restarted`);
      this.#end(`${r.spec.name} exited with code ${EX_CONFIG} (invalid config)`);
      return;
    }
    const delay = Math.min(this.#opts.backoffMs * 2 ** r.restarts, this.#opts.maxBackoffMs);
    r.restarts++;
    this.#opts.say(`${r.spec.name} ${how}; restarting in ${(delay / 1000).toFixed(delay < 1000 ? 1 : 0)} s`);
    r.timer = setTimeout(() => {
      r.timer = null;
      if (this.#stopping) return;
      this.#spawn(r);
      void this.#waitHealthy(r).then(
        () => this.#opts.say(`${r.spec.name} is healthy again`),
        () => {},
      );
    }, delay);
  }

  /** Waits until the health URL says healthy; a restart in between keeps the same deadline. */
  async #waitHealthy(r: Running): Promise<void> {
    const deadline = Date.now() + r.spec.startSeconds * 1000;
    for (;;) {
      if (this.#stopping) throw new Error('stopped');
      if (r.child && (await healthy(r.spec.health))) {
        r.restarts = 0;
        return;
      }
      if (Date.now() > deadline) {
        const reason = `${r.spec.name} did not become healthy at ${r.spec.health} within ${r.spec.startSeconds} s`;
        this.#end(reason);
        throw new Error(reason);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async #stopOne(r: Running): Promise<void> {
    const child = r.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      killGroup(child?.pid, 'SIGKILL');
      return;
    }
    killGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), this.#opts.graceMs);
    await r.exited;
    clearTimeout(timer);
    this.#opts.say(`${r.spec.name} stopped`);
  }
}

/** Whether the URL answers with a healthy body within two seconds. */
export async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.ok && new RegExp(HEALTHY_BODY).test(await res.text());
  } catch {
    return false;
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** Calls back with each whole line of a stream; a last line without a newline is kept too. */
function lines(stream: NodeJS.ReadableStream, each: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const p of parts) each(p.replace(/\r$/, ''));
  });
  stream.on('end', () => {
    if (rest) each(rest);
    rest = '';
  });
}
