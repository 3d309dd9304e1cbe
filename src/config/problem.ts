/** One thing wrong with the config, placed where a person can fix it. */
export interface Problem {
  /** Repository-relative path of the file, such as config/providers/groq.yaml. */
  file: string;
  line: number;
  column: number;
  /** Key path inside the file, dotted, such as models[0].contextWindow; empty for the whole file. */
  key: string;
  message: string;
}

export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_$][\w$-]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

export function formatProblem(p: Problem): string {
  const where = `${p.file}:${p.line}:${p.column}`;
  return p.key ? `${where}: ${p.key}: ${p.message}` : `${where}: ${p.message}`;
}

export function sortProblems(problems: Problem[]): Problem[] {
  return [...problems].sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.key.localeCompare(b.key),
  );
}

/** Raised when config does not validate; carries every problem found, not just the first. */
export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(`${problems.length} problem${problems.length === 1 ? '' : 's'} in config`);
    this.name = 'ConfigError';
  }
}
