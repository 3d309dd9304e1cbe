import type { z } from 'zod';
import type { Problem } from './problem.js';
import { problemAt, type SourceFile } from './source.js';

/** A short, single-line rendering of a value found in config, for "found …" in messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = data;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

type Def = { type: string; [k: string]: unknown };
const defOf = (schema: unknown): Def => (schema as { _zod: { def: Def } })._zod.def;

/** The keys an object at `path` may hold, read from the schema itself so the list never goes stale. */
function knownKeys(schema: z.ZodType, data: unknown, path: readonly PropertyKey[]): string[] {
  let s: unknown = schema;
  let v: unknown = data;
  const unwrap = () => {
    for (;;) {
      const d = defOf(s);
      if (d.type === 'optional' || d.type === 'default' || d.type === 'nullable') s = d.innerType;
      else if (d.type === 'pipe') s = d.in;
      else if (d.type === 'union') {
        const options = d.options as unknown[];
        const disc = d.discriminator as string | undefined;
        const tag = disc && v && typeof v === 'object' ? (v as Record<string, unknown>)[disc] : undefined;
        const match = options.find((o) => {
          const od = defOf(o);
          if (od.type !== 'object' || !disc) return false;
          const lit = defOf((od.shape as Record<string, unknown>)[disc]);
          return (lit.values as unknown[] | undefined)?.includes(tag);
        });
        if (!match) return false;
        s = match;
      } else return true;
    }
  };
  for (const p of path) {
    if (!unwrap()) return [];
    const d = defOf(s);
    if (d.type === 'object') s = (d.shape as Record<string, unknown>)[String(p)];
    else if (d.type === 'array') s = d.element;
    else if (d.type === 'record') s = d.valueType;
    else return [];
    if (!s) return [];
    v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  }
  if (!unwrap()) return [];
  const d = defOf(s);
  return d.type === 'object' ? Object.keys(d.shape as object) : [];
}

/** Translates zod's issues into problems that name the line, the key, what was expected and what was found. */
export function problemsFromIssues(
  source: SourceFile,
  schema: z.ZodType,
  data: unknown,
  issues: readonly z.core.$ZodIssue[],
): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = issue.path;
    const found = valueAt(data, path);
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          const allowed = knownKeys(schema, data, path).filter((k) => k !== '$schema');
          const hint = allowed.length ? ` (expected one of: ${allowed.join(', ')})` : '';
          out.push(problemAt(source, [...path, key], `unknown key "${key}"${hint}`, 'key'));
        }
        break;
      case 'invalid_type':
        if (found === undefined) {
          out.push(problemAt(source, path, `missing required key (expected ${issue.expected})`));
        } else {
          out.push(problemAt(source, path, `expected ${issue.expected}, found ${describeValue(found)}`));
        }
        break;
      case 'invalid_value':
        out.push(
          problemAt(
            source,
            path,
            `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}; found ${describeValue(found)}`,
          ),
        );
        break;
      case 'invalid_union': {
        const opts = (issue as { options?: unknown[] }).options;
        if (opts) {
          const what = found === undefined ? 'nothing' : describeValue(found);
          out.push(problemAt(source, path, `expected one of ${opts.map((o) => JSON.stringify(o)).join(', ')}; found ${what}`));
        } else {
          out.push(problemAt(source, path, `${issue.message}; found ${describeValue(found)}`));
        }
        break;
      }
      default: {
        const message = issue.message.startsWith('expected') ? issue.message : issue.message.replace(/^Invalid input: /, '');
        out.push(problemAt(source, path, `${message}; found ${describeValue(found)}`));
      }
    }
  }
  return out;
}
