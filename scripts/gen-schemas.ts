/**
 * Writes schema/<name>.schema.json from the zod schemas (the one source of truth), for editors
 * and for anyone who reads JSON Schema. A test fails when the checked-in files are stale.
 * Run: npm run gen
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { schemaCatalog } from '../src/schema/catalog.js';

export const SCHEMA_DIR = fileURLToPath(new URL('../schema/', import.meta.url));

export function schemaFiles(): Record<string, string> {
  return Object.fromEntries(
    schemaCatalog.map((entry) => {
      // draft-07 is what editors' YAML and JSON language servers understand best; "input" so that
      // keys with defaults are optional, as they are to a person writing the file.
      const json = z.toJSONSchema(entry.schema, { target: 'draft-7', io: 'input' });
      const { $schema, ...rest } = json;
      const doc = { $schema, title: `clawops ${entry.name}`, ...rest };
      return [`${entry.name}.schema.json`, `${JSON.stringify(doc, null, 2)}\n`];
    }),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(SCHEMA_DIR, { recursive: true });
  for (const [name, text] of Object.entries(schemaFiles())) writeFileSync(`${SCHEMA_DIR}${name}`, text);
  console.log(`wrote ${Object.keys(schemaFiles()).length} schemas into ${SCHEMA_DIR}`);
}
