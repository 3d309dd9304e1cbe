/**
 * The edge function's settings come from supabase/config.toml, the file the Supabase CLI reads:
 * the repository's own file gives what clawops deploys with, and every slip is reported with the
 * file, line, column and key, all at once, through the same config load as everything else.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problem.js';
import { parseToml } from '../../src/config/toml.js';
import { edit, repoConfig, repoFiles } from '../support/repo.js';

const FILE = 'supabase/config.toml';

async function problemsWith(change: (text: string) => string): Promise<string[]> {
  const r = loadConfig(edit(await repoFiles(), FILE, change));
  assert.equal(r.ok, false, 'the edited config must not load');
  return r.problems.map(formatProblem);
}

describe('supabase/config.toml', () => {
  test("the repository's file: verify_jwt off, the entrypoint inside the function's folder", async () => {
    const sb = (await repoConfig()).supabase!;
    assert.equal(sb.function.source, 'supabase/functions/openclaw-bridge');
    assert.equal(sb.function.verifyJwt, false);
    assert.equal(sb.function.entrypoint, 'index.ts');
    assert.equal(sb.function.importMap, undefined);
  });

  test('without the file, the config does not load, and says which file and why', async () => {
    const r = loadConfig((await repoFiles()).filter((f) => f.file !== FILE));
    assert.equal(r.ok, false);
    assert.deepEqual(r.problems.map(formatProblem), [
      "supabase/config.toml:1:1: missing file: the Supabase CLI's project file, whose [functions.openclaw-bridge] table holds the edge function's settings (verify_jwt, entrypoint)",
    ]);
  });

  test('verify_jwt left to the CLI default or turned on is refused where it is written', async () => {
    assert.deepEqual(await problemsWith((t) => t.replace('verify_jwt = false', 'verify_jwt = true')), [
      "supabase/config.toml:11:14: functions.openclaw-bridge.verify_jwt: expected verify_jwt = false: browsers send CORS preflights without a token, and the bridge checks the caller's Supabase user itself",
    ]);
    const [absent] = await problemsWith((t) => t.replace('verify_jwt = false\n', ''));
    assert.match(absent!, /^supabase\/config\.toml:7:1: functions\.openclaw-bridge: expected verify_jwt = false \(the Supabase CLI's default is true\)/);
    assert.deepEqual(await problemsWith((t) => t.replace('verify_jwt = false', 'verify_jwt = "no"')), [
      'supabase/config.toml:11:14: functions.openclaw-bridge.verify_jwt: expected true or false',
    ]);
  });

  test('an entrypoint outside the uploaded folder, a key the CLI does not know, static files: all reported at once', async () => {
    const problems = await problemsWith((t) =>
      t.replace('entrypoint = "./functions/openclaw-bridge/index.ts"', 'entrypoint = "./functions/other/index.ts"\nverify_jwts = false\nstatic_files = ["./functions/openclaw-bridge/*.html"]'),
    );
    assert.deepEqual(problems, [
      "supabase/config.toml:12:14: functions.openclaw-bridge.entrypoint: entrypoint: supabase/functions/other/index.ts is not inside supabase/functions/openclaw-bridge, the function's source folder (config/supabase.yaml function.source)",
      'supabase/config.toml:13:15: functions.openclaw-bridge.verify_jwts: unknown key (the Supabase CLI accepts enabled, verify_jwt, import_map, entrypoint, static_files)',
      "supabase/config.toml:14:16: functions.openclaw-bridge.static_files: expected no static files: clawops uploads the source folder's code and JSON files only",
    ]);
  });

  test('the CLI default entrypoint, functions/<slug>/index.ts, is used when none is written', async () => {
    const r = loadConfig(edit(await repoFiles(), FILE, (t) => t.replace('entrypoint = "./functions/openclaw-bridge/index.ts"\n', '')));
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    if (r.ok) assert.equal(r.config.supabase!.function.entrypoint, 'index.ts');
  });

  test('a function table for another slug, or none, is named', async () => {
    const problems = await problemsWith((t) => t.replace('[functions.openclaw-bridge]', '[functions.bridge]'));
    assert.deepEqual(problems, ['supabase/config.toml:7:1: functions.openclaw-bridge: expected a [functions.openclaw-bridge] table: the function config/supabase.yaml deploys']);
  });

  test('TOML the reader cannot take is reported at its line and column, every line at once', async () => {
    const problems = await problemsWith((t) => t.replace('enabled = true', 'enabled = yes').replace('project_id = "clawops"', 'project_id = "clawops'));
    assert.deepEqual(problems, [
      'supabase/config.toml:5:14: unterminated string',
      'supabase/config.toml:8:11: expected a value (a "string", a number, true, false or an array), found yes',
    ]);
  });
});

describe('the TOML reader', () => {
  test('tables, dotted and quoted keys, strings, numbers, booleans, arrays over lines, comments', () => {
    const doc = parseToml(
      [
        'project_id = "a\\tb\\u00e9" # comment',
        "literal = 'C:\\path'",
        '[api]',
        'port = 54_321',
        'ratio = 0.5',
        'schemas = [',
        '  "public", # first',
        '  "graphql_public",',
        ']',
        '[functions."odd name"]',
        'verify_jwt = false',
        'a.b = 1',
      ].join('\n'),
    );
    assert.deepEqual(doc.errors, []);
    assert.deepEqual(doc.value, {
      project_id: 'a\tbé',
      literal: 'C:\\path',
      api: { port: 54321, ratio: 0.5, schemas: ['public', 'graphql_public'] },
      functions: { 'odd name': { verify_jwt: false, a: { b: 1 } } },
    });
    assert.deepEqual(doc.positions.get('functions\0odd name\0verify_jwt'), { line: 11, column: 14 });
  });

  test('duplicates and what it does not read are errors, not guesses', () => {
    const doc = parseToml('a = 1\na = 2\n[t]\n[t]\nx = { y = 1 }\n[[arr]]\nd = 1979-05-27\ns = """long"""\n');
    assert.deepEqual(
      doc.errors.map((e) => `${e.line}:${e.column} ${e.message}`),
      [
        '2:1 a is defined twice',
        '4:1 [t] is defined twice',
        '5:5 inline tables are not supported here',
        '6:1 arrays of tables ([[…]]) are not supported here',
        '7:5 dates and times are not supported here',
        '8:5 multi-line strings are not supported here',
      ],
    );
  });
});
