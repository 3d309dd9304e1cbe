import type { z } from 'zod';
import type { Deployment } from '../schema/deployment.js';
import type { Environment } from '../schema/environment.js';
import type { FallbackChain } from '../schema/chain.js';
import type { Provider } from '../schema/provider.js';
import type { SecretsFile } from '../schema/secrets.js';
import type { Supabase } from '../schema/supabase.js';
import { requiredFiles, schemaCatalog } from '../schema/catalog.js';
import { problemsFromIssues } from './issues.js';
import type { Config } from './model.js';
import { sortProblems, type Problem } from './problem.js';
import { readFunctionSettings, SUPABASE_CONFIG_FILE, type FunctionSettings } from './function-settings.js';
import { checkRules } from './rules.js';
import { parseSource, problemAt, type FileText, type SourceFile } from './source.js';

export interface Parsed<T> {
  source: SourceFile;
  value: T;
}

/** Every file parsed and schema-checked, with its source kept for positions in rule problems. */
export interface ConfigSources {
  deployment?: Parsed<Deployment>;
  chain?: Parsed<FallbackChain>;
  secrets?: Parsed<SecretsFile>;
  supabase?: Parsed<Supabase>;
  providers: Parsed<Provider>[];
  environments: Parsed<Environment>[];
  /** Ids of provider files that exist but did not parse: references to them are not reported again. */
  brokenProviders: Set<string>;
}

export type LoadResult = { ok: true; config: Config; problems: [] } | { ok: false; problems: Problem[] };

/**
 * What the repository holds beside config/ that config refers to: the OpenClaw versions with a lock
 * in runtime/ (runtime/openclaw-VERSION/package-lock.json). Without it (a config read from memory),
 * the rules that need it are not checked.
 */
export interface RepositoryFacts {
  openclawLocks: ReadonlySet<string>;
}

/**
 * Parses and validates the whole config: syntax, schema and domain rules. Pure: the caller reads
 * the files. Every problem is collected; a config is returned only when there are none.
 */
export function loadConfig(files: readonly FileText[], repository?: RepositoryFacts): LoadResult {
  const problems: Problem[] = [];
  const sources: ConfigSources = { providers: [], environments: [], brokenProviders: new Set() };

  for (const f of files) {
    // Read below, with config/supabase.yaml: it is the Supabase CLI's file, not a clawops schema's.
    if (f.file === SUPABASE_CONFIG_FILE) continue;
    const entry = schemaCatalog.find((e) => e.matches(f.file));
    if (!entry) {
      problems.push({
        file: f.file,
        line: 1,
        column: 1,
        key: '',
        message:
          'not a known config file (expected config/openclaw.json, config/fallback-chain.yaml, config/secrets.yaml, config/supabase.yaml, config/providers/<id>.yaml or config/environments/<name>.yaml)',
      });
      continue;
    }
    const broken = () => {
      if (entry.name === 'provider') sources.brokenProviders.add(f.file.replace(/^.*\//, '').replace(/\.yaml$/, ''));
    };
    const { source, problems: syntax } = parseSource(f);
    if (syntax.length) {
      problems.push(...syntax);
      broken();
      continue;
    }
    const data: unknown = source.doc.toJS();
    const result = (entry.schema as z.ZodType).safeParse(data);
    if (!result.success) {
      problems.push(...problemsFromIssues(source, entry.schema, data, result.error.issues));
      broken();
      continue;
    }
    const parsed = { source, value: result.data };
    switch (entry.name) {
      case 'openclaw':
        sources.deployment = parsed as Parsed<Deployment>;
        break;
      case 'fallback-chain':
        sources.chain = parsed as Parsed<FallbackChain>;
        break;
      case 'secrets':
        sources.secrets = parsed as Parsed<SecretsFile>;
        break;
      case 'supabase':
        sources.supabase = parsed as Parsed<Supabase>;
        break;
      case 'provider':
        sources.providers.push(parsed as Parsed<Provider>);
        break;
      case 'environment':
        sources.environments.push(parsed as Parsed<Environment>);
        break;
    }
  }

  const present = new Set(files.map((f) => f.file));
  for (const file of requiredFiles) {
    if (!present.has(file)) problems.push({ file, line: 1, column: 1, key: '', message: 'missing file' });
  }
  if (!files.some((f) => f.file.startsWith('config/providers/')))
    problems.push({ file: 'config/providers/', line: 1, column: 1, key: '', message: 'no providers declared' });
  if (!files.some((f) => f.file.startsWith('config/environments/')))
    problems.push({ file: 'config/environments/', line: 1, column: 1, key: '', message: 'no environments declared' });

  // Domain rules need the files they relate; they run on whatever parsed, so a schema slip in one
  // file does not hide a rule broken in another.
  problems.push(...checkRules(sources));
  if (repository) problems.push(...checkOpenclawLocks(sources, repository.openclawLocks));

  // The edge function's settings live where the Supabase CLI reads them.
  let functionSettings: FunctionSettings | undefined;
  if (sources.supabase) {
    const fn = sources.supabase.value.function;
    const read = readFunctionSettings(files.find((f) => f.file === SUPABASE_CONFIG_FILE), fn.name, fn.source);
    problems.push(...read.problems);
    functionSettings = read.settings;
  }

  if (problems.length || !sources.deployment || !sources.chain || !sources.secrets) {
    return { ok: false, problems: sortProblems(problems) };
  }
  const byId = <T>(key: (t: T) => string) => (a: Parsed<T>, b: Parsed<T>) => key(a.value).localeCompare(key(b.value));
  return {
    ok: true,
    problems: [],
    config: {
      deployment: sources.deployment.value,
      providers: [...sources.providers].sort(byId((p) => p.id)).map((p) => p.value),
      chain: sources.chain.value.chain,
      secrets: sources.secrets.value.secrets,
      ...(sources.supabase && functionSettings
        ? { supabase: { ...sources.supabase.value, function: { ...sources.supabase.value.function, ...functionSettings } } }
        : {}),
      environments: [...sources.environments].sort(byId((e) => e.name)).map((e) => e.value),
    },
  };
}

/** A host that fetches its runtime from the registry installs OpenClaw from the lock the repository pins. */
function checkOpenclawLocks(s: ConfigSources, locks: ReadonlySet<string>): Problem[] {
  const out: Problem[] = [];
  for (const { source, value: e } of s.environments) {
    const version = e.runtime?.openclaw;
    if (e.runtime?.fetch !== 'registry' || !version || locks.has(version)) continue;
    out.push(
      problemAt(source, ['runtime', 'openclaw'], `OpenClaw ${version} has no lock in runtime/openclaw-${version}/package-lock.json, from which a host with runtime.fetch: registry installs it: run \`npm run lock-openclaw -- ${version}\` and commit it`),
    );
  }
  return out;
}
