/**
 * The CLI's commands as data: each one's options, arguments, help and exit codes. One table feeds
 * the argument parser, each command's `--help` and the overview, so they cannot disagree.
 */

export interface OptionSpec {
  /** A string option names its value (`--env NAME`); a flag has none. */
  value?: string;
  help: string;
}

export interface CommandSpec {
  name: string;
  /** Usage lines after `clawops ` (the first is also the overview's). */
  usage: string[];
  summary: string;
  options: Record<string, OptionSpec>;
  /** Positional arguments after the command, by name: at most this many. */
  args: string[];
  /** The exit codes that apply; a pair says what the code means for this command. */
  exits: (number | [number, string])[];
  /** Shown in the overview under GitHub Actions. */
  actions?: boolean;
}

const EXIT_WORDS: Record<number, string> = {
  0: 'ok',
  1: 'invalid config, or a failure',
  2: 'changes pending (plan --detailed-exitcode) or drift found',
  3: 'rolled back: a health gate failed and the previous release serves again',
  4: 'locked by another apply',
  64: 'wrong usage',
  130: 'interrupted (Ctrl-C or SIGTERM): before the switch nothing live changed and the lock is released; during it, the switch finishes on the host',
};

const ROOT: OptionSpec = { value: 'DIR', help: 'The repository holding config/ (default: the current folder)' };
const HELP: OptionSpec = { help: 'This help' };
const ENV: OptionSpec = { value: 'NAME', help: 'The environment (a file in config/environments/)' };
const LOCK = {
  'break-lock': { help: 'Remove a lock whose holder is gone (never a live one)' },
  'lock-wait': { value: 'SECONDS', help: 'How long to wait for another apply to finish (default 120)' },
} satisfies Record<string, OptionSpec>;
/** The local environment's own knobs; an environment on another host refuses them. */
const LOCAL = {
  port: { value: 'PORT', help: "The local gateway's port (CLAWOPS_LOCAL_PORT); the proxies follow it, PORT+1 to PORT+3" },
  openclaw: { value: 'PATH', help: 'Your own openclaw instead of the pinned one (CLAWOPS_OPENCLAW)' },
} satisfies Record<string, OptionSpec>;
/** Of a fleet, one host. */
const HOST: OptionSpec = { value: 'NAME', help: "Of a fleet, only this host (its name in target.hosts, or its instance id)" };
const APPROVE: OptionSpec = { help: 'Change the host without asking (needed where there is no terminal to ask on)' };

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'validate',
    usage: ['validate'],
    summary: 'Check every config file; print all problems',
    options: {},
    args: [],
    exits: [0, 1, 64],
  },
  {
    name: 'audit',
    usage: ['audit --env NAME [--openclaw PATH] [--json]', 'audit --env NAME --pinned'],
    summary: "Have the OpenClaw an environment pins judge its render: config validate and security audit, against the warnings it accepts",
    options: {
      env: ENV,
      openclaw: {
        value: 'PATH',
        help: "That OpenClaw: its openclaw.mjs or openclaw command (default: tools/ under --root when it is the pinned version, else the pinned version from the npm registry, fetched once)",
      },
      json: { help: 'The verdict as JSON' },
      pinned: { help: 'Print the OpenClaw version the environment pins, as openclaw=VERSION (for $GITHUB_OUTPUT), and stop' },
    },
    args: [],
    exits: [0, [1, 'invalid config, a critical finding, a warning not accepted, a stale acceptance, or no OpenClaw of the pinned version'], 64],
  },
  {
    name: 'render',
    usage: ['render --env NAME [--out DIR] [--json]'],
    summary: "Render an environment's files (and manifest.json)",
    options: { env: ENV, out: { value: 'DIR', help: 'Write the files and manifest.json into DIR' }, json: { help: 'Print the manifest as JSON' } },
    args: [],
    exits: [0, 1, 64],
  },
  {
    name: 'plan',
    usage: ['plan --env NAME [--read-only] [--json] [--out FILE] [--detailed-exitcode] [--verbose]'],
    summary: "What apply would change on the environment's host, and why",
    options: {
      ...LOCAL,
      env: ENV,
      host: HOST,
      json: { help: 'The plan as JSON' },
      out: { value: 'FILE', help: 'Save the plan, for `clawops apply FILE`' },
      'detailed-exitcode': { help: 'Exit 2 when there are changes' },
      verbose: { help: 'Also the files and services that do not change' },
      'read-only': { help: "Log in as the environment's read-only facts user (target.factsUser), which can only read facts" },
    },
    args: [],
    exits: [0, 1, 2, 64],
  },
  {
    name: 'apply',
    usage: ['apply --env NAME [--auto-approve] [--break-lock] [--lock-wait SECONDS] [--prune] [--json] [--no-smoke]', 'apply FILE'],
    summary: 'Apply the configuration as one transaction, health-gated (or exactly a saved plan)',
    options: {
      ...LOCAL,
      env: ENV,
      host: HOST,
      'auto-approve': APPROVE,
      ...LOCK,
      prune: { help: 'Remove what systemd reads for a managed unit that clawops did not write (drop-ins, overriding unit files)' },
      json: { help: 'The outcome, log and plan as JSON; no progress' },
      'no-smoke': { help: 'Leave out the smoke checks after the apply' },
    },
    args: ['FILE'],
    exits: [0, [1, 'invalid config, a failure, or not approved at the question: nothing changed'], 3, 4, 64, 130],
  },
  {
    name: 'drift',
    usage: ['drift --env NAME [--format text|markdown|json] [--report-issue]'],
    summary: 'Compare the host with the configuration; changes nothing',
    options: {
      ...LOCAL,
      env: ENV,
      host: HOST,
      format: { value: 'FORMAT', help: 'text (default), markdown or json' },
      json: { help: 'The same as --format json' },
      'report-issue': { help: "In GitHub Actions: the drift as the environment's one drift issue" },
    },
    args: [],
    exits: [0, 1, 2, 64],
  },
  {
    name: 'rollback',
    usage: ['rollback --env NAME [--to RELEASE] [--auto-approve] [--break-lock] [--lock-wait SECONDS]'],
    summary: 'Back to a kept release, with the same health gates',
    options: { ...LOCAL, env: ENV, host: HOST, to: { value: 'RELEASE', help: 'The kept release to go back to (default: the one before)' }, 'auto-approve': APPROVE, ...LOCK },
    args: [],
    exits: [0, [1, 'invalid config, a failure, or not approved at the question: nothing changed'], 3, 4, 64, 130],
  },
  {
    name: 'doctor',
    usage: ['doctor --env NAME'],
    summary: 'Check once what reaching a host needs (AWS CLI and plugin, credentials, SSM, Instance Connect, SSH, sudo, the facts login), each missing part with its fix',
    options: { env: ENV },
    args: [],
    exits: [0, [1, 'something is missing (each line says what to do)'], 64],
  },
  {
    name: 'smoke',
    usage: ['smoke --env NAME', 'smoke --env NAME --chain [--json] [--report-issue]'],
    summary: 'The deployment checklist against the live environment; or each fallback chain step, probed from the host',
    options: {
      ...LOCAL,
      env: ENV,
      host: HOST,
      chain: { help: 'Probe each step of the fallback chain from the host, through the path OpenClaw uses' },
      json: { help: 'With --chain: the chain report as JSON' },
      'report-issue': { help: "With --chain, in GitHub Actions: the chain report as the environment's chain issue" },
    },
    args: [],
    exits: [0, 1, 64],
  },
  {
    name: 'up',
    usage: ['up --env local [--port PORT] [--openclaw PATH]'],
    summary: 'Apply, then run the proxies and the gateway in the foreground, restarted when they crash; Ctrl-C stops them',
    options: { env: ENV, ...LOCAL, 'lock-wait': LOCK['lock-wait'] },
    args: [],
    exits: [[0, 'ok, or stopped by Ctrl-C or SIGTERM'], [1, 'invalid config, or a service that could not start'], 64],
  },
  {
    name: 'down',
    usage: ['down --env local'],
    summary: "Stop the local deployment's user services (systemctl --user)",
    options: { env: ENV, ...LOCAL },
    args: [],
    exits: [0, 1, 64],
  },
  {
    name: 'start',
    usage: ['start --env local [--port PORT] [--openclaw PATH]'],
    summary: 'What npm start runs: user services where this machine has a user service manager, else up',
    options: { env: ENV, ...LOCAL, 'lock-wait': LOCK['lock-wait'] },
    args: [],
    exits: [0, 1, 64],
  },
  {
    name: 'pr-report',
    usage: ['pr-report --env NAME --base-root DIR [--base-render DIR] [--plan|--no-plan] [--out DIR] [--artifact-url URL]'],
    summary: "The pull request's plan: sticky comment, job summary",
    options: {
      env: ENV,
      'base-root': { value: 'DIR', help: 'A checkout of the base branch' },
      'base-render': { value: 'DIR', help: 'The base branch rendered by its own clawops (render --out)' },
      plan: { help: 'Plan against the host (the default)' },
      'no-plan': { help: 'Validate and render only' },
      out: { value: 'DIR', help: 'Write the whole plan to DIR/plan.md' },
      'artifact-url': { value: 'URL', help: 'Where the whole plan is, for a comment cut short' },
    },
    args: [],
    exits: [0, 1, 64],
    actions: true,
  },
  {
    name: 'apply-report',
    usage: ['apply-report --env NAME [--result FILE] [--exit-code N] [--sha SHA]'],
    summary: "An apply's outcome on the merged pull request",
    options: {
      env: ENV,
      result: { value: 'FILE', help: 'What `clawops apply --json` printed' },
      'exit-code': { value: 'N', help: "apply's exit code, for words when there is no result" },
      sha: { value: 'SHA', help: 'The pushed commit (default GITHUB_SHA)' },
    },
    args: [],
    exits: [0, 1, 3, 64],
    actions: true,
  },
];

const byName = new Map(COMMANDS.map((c) => [c.name, c]));
const optionsOf = (c: CommandSpec): Record<string, OptionSpec> => ({ ...c.options, root: ROOT, help: HELP });

/** A mistake on the command line, in clawops's words: one line, exit 64. */
export class ArgumentError extends Error {}

export interface Parsed {
  command: CommandSpec;
  values: Record<string, string | boolean | undefined>;
  args: string[];
}

/** `--help` anywhere asks for help: with a known command, that command's. */
export type ParseResult = Parsed | { help: CommandSpec | null };

/** Other tools' words for an option clawops spells differently. */
const HABITS: Record<string, string> = { yes: 'auto-approve', y: 'auto-approve', 'assume-yes': 'auto-approve', approve: 'auto-approve', force: 'auto-approve' };

export function parseCommandLine(argv: readonly string[]): ParseResult {
  // --root, the one option every command has, may also come before the command.
  const lead = argv[0] === '--root' ? 2 : argv[0]?.startsWith('--root=') ? 1 : 0;
  const name = argv[lead] === 'help' ? argv[lead + 1] : argv[lead];
  const wantsHelp = argv[lead] === 'help' || argv.some((a) => a === '--help' || a === '-h');
  if (wantsHelp || name === undefined) return { help: (name && byName.get(name)) || null };
  if (name.startsWith('-')) {
    throw new ArgumentError(`expected a command before ${name}, such as \`clawops plan --env NAME\` (clawops --help lists the commands)`);
  }
  const command = byName.get(name);
  if (!command) throw new ArgumentError(`unknown command ${name}${didYouMean(name, [...byName.keys(), 'help'], '')}`);

  const options = optionsOf(command);
  const values: Parsed['values'] = {};
  const args: string[] = [];
  const rest = [...argv.slice(0, lead), ...argv.slice(lead + 1)];
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (word === '--') {
      args.push(...rest.slice(i + 1));
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      args.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    const flag = eq < 0 ? word : word.slice(0, eq);
    // Terraform's spelling, -auto-approve, is understood as --auto-approve.
    const key = flag.replace(/^--?/, '');
    const spec = flag.startsWith('--') || key.length > 1 ? options[key] : undefined;
    if (!spec) {
      const habit = HABITS[key];
      const hint = habit && options[habit] ? `; did you mean --${habit}?` : didYouMean(key, Object.keys(options), '--');
      throw new ArgumentError(`unknown option ${flag} for ${command.name}${hint}`);
    }
    if (!spec.value) {
      if (eq >= 0) throw new ArgumentError(`option --${key} of ${command.name} takes no value`);
      values[key] = true;
      continue;
    }
    const value = eq >= 0 ? word.slice(eq + 1) : rest[i + 1];
    if (value === undefined || value === '' || (eq < 0 && value.startsWith('--'))) {
      throw new ArgumentError(`option --${key} of ${command.name} needs a value: --${key} ${spec.value}`);
    }
    if (eq < 0) i++;
    values[key] = value;
  }
  if (args.length > command.args.length) {
    const stray = args[command.args.length]!;
    const takes = command.args.length ? `takes one argument, ${command.args.join(' ')}` : 'takes no arguments';
    throw new ArgumentError(`unexpected argument ${stray} for ${command.name} (it ${takes}; clawops ${command.name} --help)`);
  }
  return { command, values, args };
}

/** The closest name by edit distance, when it is close enough to be a slip; otherwise nothing. */
function didYouMean(word: string, names: readonly string[], prefix: string): string {
  let best: { name: string; d: number } | undefined;
  for (const name of names) {
    const d = editDistance(word, name);
    if (!best || d < best.d) best = { name, d };
  }
  return best && best.d <= Math.max(1, Math.floor(word.length / 3)) ? `; did you mean ${prefix}${best.name}?` : '';
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swapped neighbours. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

const column = (rows: [string, string][], indent: string): string => {
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, r]) => `${indent}${l.padEnd(width)}${r}`).join('\n');
};

const exitCodes = (codes: CommandSpec['exits']) =>
  `Exit codes:\n${column(codes.map((c): [string, string] => (typeof c === 'number' ? [String(c), EXIT_WORDS[c]!] : [String(c[0]), c[1]])), '  ')}`;

/** One command's help: usage, each option on one line, the exit codes that apply. */
export function commandHelp(c: CommandSpec): string {
  const usage = c.usage.map((u, i) => `${i ? '       ' : 'Usage: '}clawops ${u}`).join('\n');
  const rows = Object.entries(optionsOf(c)).map(([name, o]): [string, string] => [`${name === 'help' ? '-h, ' : ''}--${name}${o.value ? ` ${o.value}` : ''}`, o.help]);
  return `${usage}\n\n${c.summary}.\n\nOptions:\n${column(rows, '  ')}\n\n${exitCodes(c.exits)}\n`;
}

/** `clawops --help`: every command on a line. */
export function overviewHelp(): string {
  const line = (c: CommandSpec): [string, string] => [`clawops ${c.name}${c.options.env ? ' --env NAME' : ''}`, c.summary];
  return [
    'clawops: the OpenClaw deployment, as code',
    '',
    'Usage:',
    column(COMMANDS.filter((c) => !c.actions).map(line), '  '),
    '',
    'In GitHub Actions (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_EVENT_PATH; GITHUB_API_URL):',
    column(COMMANDS.filter((c) => c.actions).map(line), '  '),
    '',
    'Options of every command:',
    column([['--root DIR', ROOT.help], ['-h, --help', "The command's own help: clawops COMMAND --help"]], '  '),
    '',
    exitCodes([0, 1, 2, 3, 4, 64]),
    '',
  ].join('\n');
}
