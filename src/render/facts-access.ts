/** The read-only user's program, and the list of what it may read, in the runtime folder. */
export interface FactsAccess {
  /** The OS user pull-request plans and drift log in as (target.factsUser). */
  user: string;
  /** The installed program (root-owned, 0755): the user's ForceCommand and its one sudo rule. */
  program: string;
  /** What the program may read: `dir`, `file` and `unit` lines (root-owned, 0644). */
  allow: string;
  /** The sudoers drop-in: the one command the user may run as root. */
  sudoers: string;
  /** The sshd drop-in: Match User … ForceCommand. */
  sshd: string;
  /** The chain probe the program runs for `--chain` (root-owned, 0644), and the plan it follows (root-owned, 0644). */
  chainProgram: string;
  chainPlan: string;
  /** The folder, the gateway's user's, where the chain probe keeps the record of its own runs. */
  chainRuns: string;
}

export const FACTS_PROGRAM_NAME = 'clawops-facts';

/** Where apply installs the program and its list: a folder of its own under the runtime folder. */
export function factsAccess(user: string, runtimeDir: string): FactsAccess {
  const dir = `${runtimeDir}/facts`;
  return {
    user,
    program: `${dir}/${FACTS_PROGRAM_NAME}`,
    allow: `${dir}/allow`,
    sudoers: `/etc/sudoers.d/${FACTS_PROGRAM_NAME}`,
    // zz-: after every other drop-in, so that its Match block cannot swallow their lines.
    sshd: `/etc/ssh/sshd_config.d/zz-${FACTS_PROGRAM_NAME}.conf`,
    chainProgram: `${dir}/chain-probe.mjs`,
    chainPlan: `${dir}/chain-plan.json`,
    chainRuns: `${dir}/chain-runs`,
  };
}
