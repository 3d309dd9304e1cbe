import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { REPO_ROOT, repoConfig } from '../support/repo.js';

test('.env.example lists every declared secret, each under a comment saying what it is', async () => {
  const lines = (await readFile(`${REPO_ROOT}.env.example`, 'utf8')).split('\n');
  const listed = lines.flatMap((l, i) => {
    const m = /^([A-Z][A-Z0-9_]*)=$/.exec(l);
    return m ? [{ name: m[1]!, comment: lines[i - 1] ?? '' }] : [];
  });
  const declared = Object.keys((await repoConfig()).secrets).sort();
  assert.deepEqual(listed.map((s) => s.name).sort(), declared);
  for (const s of listed) assert.match(s.comment, /^# \S/, `${s.name} has no comment above it`);
});
