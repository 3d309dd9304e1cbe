import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Problem } from './problem.js';
import { formatKeyPath } from './problem.js';

/** A config file's text, parsed with positions so every problem can name its line and column. */
export interface SourceFile {
  file: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

export interface FileText {
  file: string;
  text: string;
}

/** JSON is parsed by the YAML parser too (JSON is YAML 1.2): one positional model for both. */
export function parseSource({ file, text }: FileText): { source: SourceFile; problems: Problem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  const source = { file, text, doc, lines };
  const problems = [...doc.errors, ...doc.warnings].map((e): Problem => {
    const pos = lines.linePos(e.pos[0]);
    return { file, line: pos.line, column: pos.col, key: '', message: e.message.split('\n')[0] ?? e.message };
  });
  return { source, problems };
}

/**
 * Where a key path points in the file. With `at: 'key'` the position is the key itself (for an
 * unknown or misnamed key); otherwise its value. Falls back to the nearest existing parent, so a
 * missing key is reported at the object that lacks it.
 */
export function locate(
  source: SourceFile,
  path: readonly PropertyKey[],
  at: 'value' | 'key' = 'value',
): { line: number; column: number } {
  let node: unknown = source.doc.contents;
  let offset = (node as Node | null)?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const part = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(part));
      if (!pair) break;
      const keyNode = pair.key as Node;
      if (last && at === 'key') {
        offset = keyNode.range?.[0] ?? offset;
        break;
      }
      node = pair.value;
      offset = (pair.value as Node | null)?.range?.[0] ?? keyNode.range?.[0] ?? offset;
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part] as Node | undefined;
      if (!item) break;
      node = item;
      offset = item.range?.[0] ?? offset;
    } else {
      break;
    }
  }
  const pos = source.lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

export function problemAt(
  source: SourceFile,
  path: readonly PropertyKey[],
  message: string,
  at: 'value' | 'key' = 'value',
): Problem {
  const { line, column } = locate(source, path, at);
  return { file: source.file, line, column, key: formatKeyPath(path), message };
}
