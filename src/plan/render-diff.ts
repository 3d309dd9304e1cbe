import type { DesiredFile } from '../render/desired.js';
import type { FileAction } from './model.js';

/** What a comparison of two renders needs of a file. */
export type RenderedFile = Pick<DesiredFile, 'path' | 'mode' | 'content' | 'sensitive'>;

/** One file of an environment's render, compared between two revisions (a base branch and a pull request). */
export interface RenderedFileChange {
  path: string;
  action: FileAction;
  /** "new file", "content differs", "mode 644 → 600", "no longer rendered", "unchanged". */
  reason: string;
  sensitive: boolean;
  /** The text on each side, for a diff. Never present for a sensitive file. */
  before?: string;
  after?: string;
}

const mode = (m: number) => m.toString(8);

/**
 * Two renders of one environment, file by file, sorted by path. Pure. A sensitive file (on either
 * side) carries no content: only whether it changed.
 */
export function compareRenders(base: readonly RenderedFile[] | null, head: readonly RenderedFile[]): RenderedFileChange[] {
  const before = new Map((base ?? []).map((f) => [f.path, f]));
  const after = new Map(head.map((f) => [f.path, f]));
  const out: RenderedFileChange[] = [];
  for (const path of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const b = before.get(path);
    const a = after.get(path);
    const sensitive = Boolean(b?.sensitive || a?.sensitive);
    const texts = sensitive ? {} : { ...(b ? { before: b.content } : {}), ...(a ? { after: a.content } : {}) };
    if (!b) out.push({ path, action: 'create', reason: 'new file', sensitive, ...texts });
    else if (!a) out.push({ path, action: 'delete', reason: 'no longer rendered', sensitive, ...texts });
    else {
      const reasons = [
        ...(b.content !== a.content ? ['content differs'] : []),
        ...(b.mode !== a.mode ? [`mode ${mode(b.mode)} → ${mode(a.mode)}`] : []),
      ];
      out.push({ path, action: reasons.length ? 'update' : 'no-op', reason: reasons.join(', ') || 'unchanged', sensitive, ...(reasons.length ? texts : {}) });
    }
  }
  return out;
}
