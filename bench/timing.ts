// What the benches share: the median of a series, and the wall time of one command.
import { spawn } from 'node:child_process';

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Wall time of a command, in ms; fails loudly on an unexpected exit code. */
export function timed(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; expect?: number[] } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, ...(opts.cwd ? { cwd: opts.cwd } : {}), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (!(opts.expect ?? [0]).includes(code ?? -1)) reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}\n${out.slice(-3000)}`));
      else resolve(ms);
    });
  });
}
