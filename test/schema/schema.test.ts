import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { schemaCatalog } from '../../src/schema/catalog.js';
import { schemaFiles, SCHEMA_DIR } from '../../scripts/gen-schemas.js';
import { repoFiles } from '../support/repo.js';

describe('schema/*.schema.json', () => {
  for (const [name, text] of Object.entries(schemaFiles())) {
    test(`${name} is generated from the zod schemas and up to date (npm run gen)`, async () => {
      assert.equal(await readFile(`${SCHEMA_DIR}${name}`, 'utf8'), text);
    });
  }

  test('every config file names its JSON Schema, for editors', async () => {
    // supabase/config.toml is the Supabase CLI's file, not one of clawops's schemas.
    for (const f of (await repoFiles()).filter((x) => x.file.startsWith('config/'))) {
      const entry = schemaCatalog.find((e) => e.matches(f.file))!;
      const depth = f.file.split('/').length - 1;
      const ref = `${'../'.repeat(depth)}schema/${entry.name}.schema.json`;
      if (f.file.endsWith('.json')) assert.equal(JSON.parse(f.text).$schema, ref, f.file);
      else assert.ok(f.text.startsWith(`# yaml-language-server: $schema=${ref}\n`), `${f.file} should start with a yaml-language-server comment naming ${ref}`);
    }
  });
});
