/**
 * A reader for the part of TOML 1.0 (https://toml.io/en/v1.0.0) that a Supabase CLI project file
 * (supabase/config.toml) uses: comments, `[table]` and `[a.b."c"]` headers, `key = value` with
 * bare, quoted and dotted keys, basic and literal strings, integers, floats, booleans, and arrays
 * of those (across lines too). Anything else (inline tables, arrays of tables, multi-line strings,
 * dates) is reported as not supported here rather than misread. Every value keeps its position.
 */

export type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

export interface TomlError {
  line: number;
  column: number;
  message: string;
}

export interface TomlDocument {
  value: TomlTable;
  /** Where each key was written (a table: its header), by its path joined with NUL. */
  positions: Map<string, { line: number; column: number }>;
  errors: TomlError[];
}

export const tomlPathKey = (path: readonly string[]): string => path.join('\0');

const BARE = /^[A-Za-z0-9_-]+/;

class Reader {
  i = 0;
  constructor(
    readonly text: string,
    readonly lineStarts: number[],
  ) {}
  ch(): string {
    return this.text[this.i] ?? '';
  }
  pos(at = this.i): { line: number; column: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: at - this.lineStarts[lo]! + 1 };
  }
  /** Spaces and tabs; with `lines`, newlines and comments too. */
  skip(lines = false): void {
    for (;;) {
      const c = this.ch();
      if (c === ' ' || c === '\t') this.i++;
      else if (lines && (c === '\n' || c === '\r')) this.i++;
      else if (lines && c === '#') while (this.i < this.text.length && this.ch() !== '\n') this.i++;
      else return;
    }
  }
}

class TomlSyntaxError extends Error {
  constructor(
    readonly at: number,
    message: string,
  ) {
    super(message);
  }
}

const ESCAPES: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };

function readString(r: Reader): string {
  const quote = r.ch();
  if (r.text.startsWith(quote.repeat(3), r.i)) throw new TomlSyntaxError(r.i, 'multi-line strings are not supported here');
  const start = r.i;
  r.i++;
  let out = '';
  for (;;) {
    const c = r.ch();
    if (c === '' || c === '\n') throw new TomlSyntaxError(start, 'unterminated string');
    r.i++;
    if (c === quote) return out;
    if (c === '\\' && quote === '"') {
      const e = r.ch();
      r.i++;
      if (e in ESCAPES) out += ESCAPES[e];
      else if (e === 'u' || e === 'U') {
        const n = e === 'u' ? 4 : 8;
        const hex = r.text.slice(r.i, r.i + n);
        if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(hex)) throw new TomlSyntaxError(r.i - 2, `\\${e} needs ${n} hex digits`);
        out += String.fromCodePoint(parseInt(hex, 16));
        r.i += n;
      } else throw new TomlSyntaxError(r.i - 2, `unknown escape \\${e}`);
    } else out += c;
  }
}

function readKeyPart(r: Reader): string {
  if (r.ch() === '"' || r.ch() === "'") return readString(r);
  const m = BARE.exec(r.text.slice(r.i));
  if (!m) throw new TomlSyntaxError(r.i, 'expected a key');
  r.i += m[0].length;
  return m[0];
}

function readKey(r: Reader): string[] {
  const parts = [readKeyPart(r)];
  r.skip();
  while (r.ch() === '.') {
    r.i++;
    r.skip();
    parts.push(readKeyPart(r));
    r.skip();
  }
  return parts;
}

function readValue(r: Reader): TomlValue {
  const c = r.ch();
  if (c === '"' || c === "'") return readString(r);
  if (c === '[') {
    r.i++;
    const items: TomlValue[] = [];
    for (;;) {
      r.skip(true);
      if (r.ch() === ']') {
        r.i++;
        return items;
      }
      items.push(readValue(r));
      r.skip(true);
      if (r.ch() === ',') r.i++;
      else if (r.ch() !== ']') throw new TomlSyntaxError(r.i, 'expected , or ] in an array');
    }
  }
  if (c === '{') throw new TomlSyntaxError(r.i, 'inline tables are not supported here');
  const m = /^[^\s,\]#]+/.exec(r.text.slice(r.i));
  if (!m) throw new TomlSyntaxError(r.i, 'expected a value');
  const word = m[0];
  let value: TomlValue;
  if (word === 'true' || word === 'false') value = word === 'true';
  else if (/^[+-]?(0|[1-9](_?\d)*)$/.test(word)) value = Number(word.replace(/_/g, ''));
  else if (/^0x[0-9A-Fa-f](_?[0-9A-Fa-f])*$/.test(word)) value = parseInt(word.slice(2).replace(/_/g, ''), 16);
  else if (/^[+-]?(0|[1-9](_?\d)*)(\.\d(_?\d)*)?([eE][+-]?\d(_?\d)*)?$/.test(word)) value = Number(word.replace(/_/g, ''));
  else if (/^\d{4}-\d{2}-\d{2}/.test(word)) throw new TomlSyntaxError(r.i, 'dates and times are not supported here');
  else throw new TomlSyntaxError(r.i, `expected a value (a "string", a number, true, false or an array), found ${word}`);
  r.i += word.length;
  return value;
}

const isTable = (v: TomlValue | undefined): v is TomlTable => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses TOML text; a line that cannot be read is reported and skipped, so every error is found at once. */
export function parseToml(text: string): TomlDocument {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const r = new Reader(text, lineStarts);
  const root: TomlTable = {};
  const positions = new Map<string, { line: number; column: number }>();
  const errors: TomlError[] = [];
  const defined = new Set<string>();
  let table = root;
  let tablePath: string[] = [];

  /** The table at `path` under `from`, made as needed; a non-table in the way is an error. */
  const descend = (from: TomlTable, base: string[], path: string[], at: number): TomlTable => {
    let t = from;
    for (let k = 0; k < path.length; k++) {
      const key = path[k]!;
      const next = t[key];
      if (next === undefined) {
        t[key] = {};
        positions.set(tomlPathKey([...base, ...path.slice(0, k + 1)]), r.pos(at));
      } else if (!isTable(next)) throw new TomlSyntaxError(at, `${[...base, ...path.slice(0, k + 1)].join('.')} is already a value, not a table`);
      t = t[key] as TomlTable;
    }
    return t;
  };

  while (r.i < text.length) {
    r.skip(true);
    if (r.i >= text.length) break;
    const lineStart = r.i;
    try {
      if (r.ch() === '[') {
        if (text[r.i + 1] === '[') throw new TomlSyntaxError(r.i, 'arrays of tables ([[…]]) are not supported here');
        r.i++;
        r.skip();
        const path = readKey(r);
        if (r.ch() !== ']') throw new TomlSyntaxError(r.i, 'expected ] to close the table header');
        r.i++;
        const id = tomlPathKey(path);
        if (defined.has(id)) throw new TomlSyntaxError(lineStart, `[${path.join('.')}] is defined twice`);
        defined.add(id);
        table = descend(root, [], path, lineStart);
        positions.set(id, r.pos(lineStart));
        tablePath = path;
      } else {
        const keyAt = r.i;
        const path = readKey(r);
        if (r.ch() !== '=') throw new TomlSyntaxError(r.i, 'expected = after the key');
        r.i++;
        r.skip();
        const valueAt = r.i;
        const value = readValue(r);
        const parent = descend(table, tablePath, path.slice(0, -1), keyAt);
        const last = path[path.length - 1]!;
        if (last in parent) throw new TomlSyntaxError(keyAt, `${[...tablePath, ...path].join('.')} is defined twice`);
        parent[last] = value;
        positions.set(tomlPathKey([...tablePath, ...path]), r.pos(valueAt));
      }
      r.skip();
      if (r.ch() === '#') while (r.i < text.length && r.ch() !== '\n') r.i++;
      if (r.i < text.length && r.ch() !== '\n' && r.ch() !== '\r') throw new TomlSyntaxError(r.i, 'expected the end of the line');
    } catch (e) {
      if (!(e instanceof TomlSyntaxError)) throw e;
      errors.push({ ...r.pos(e.at), message: e.message });
      while (r.i < text.length && r.ch() !== '\n') r.i++;
    }
  }
  return { value: root, positions, errors };
}
