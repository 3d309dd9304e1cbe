// End to end, a change of the pinned OpenClaw on a real Debian host with systemd: the release
// before the pinned one (tools/previous) goes live first, the pin moves up, and a rollback goes
// back across the change. OpenClaw may migrate its state when a new version first runs, so the
// switch keeps a copy of that state, taken with the gateway stopped, and a rollback across the
// change puts it back, keeping what the newer version wrote aside.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../support/repo.js';
import { assertAllHealthy, assertHostIs, assertNoSecretLeft, expectExit } from './checks.js';
import { CLAWOPS_DIR, currentRelease, ENV, startE2E, startStubUpstream, STATE, VERSIONS, type E2E } from './support.js';

const PREVIOUS = (JSON.parse(await readFile(join(REPO_ROOT, 'tools/previous/package.json'), 'utf8')) as { dependencies: { openclaw: string } }).dependencies.openclaw;
const ENV_FILE = `config/environments/${ENV}.yaml`;
const GATEWAY_VERSION = `systemctl show -p ExecStart --value openclaw-gateway.service | grep -o '/openclaw/[^/]*/' | head -n 1`;

let e: E2E;

describe('a change of the pinned OpenClaw, and a rollback across it', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    assert.notEqual(PREVIOUS, VERSIONS.openclaw, 'tools/previous holds another OpenClaw than the pinned one');
    e = await startE2E('e2e-upgrade', { openclaw: PREVIOUS });
    await startStubUpstream(e);
    await expectExit(await e.cli(['apply', '--env', ENV, '--no-smoke']), 0, e);
  }, { timeout: 20 * 60_000 });

  after(async () => {
    await e?.stop();
  });

  it('the upgrade copies OpenClaw\'s state before the new version runs; a rollback restores the copy and keeps what was written since aside', async () => {
    assert.equal((await e.sh(GATEWAY_VERSION)).trim(), `/openclaw/${PREVIOUS}/`);
    const before = await currentRelease(e);
    const stateDirMode = (await e.sh(`stat -c '%U %a' ${STATE}`)).trim();
    assert.match(stateDirMode, /^ubuntu /);
    // State as the older OpenClaw left it, and a file of OpenClaw's own that it wrote (its databases).
    await e.sh(`echo written-by-${PREVIOUS} > ${STATE}/e2e-before.txt`);
    const dbs = (await e.sh(`cd ${STATE} && sudo find . -path ./.clawops -prune -o -name '*.sqlite' -print | sort`)).trim();
    assert.ok(dbs.length > 0, 'OpenClaw keeps databases in its state folder');

    await e.editRepo(ENV_FILE, (t) => t.replace(`openclaw: ${PREVIOUS}`, `openclaw: ${VERSIONS.openclaw}`));
    const plan = await e.cli(['plan', '--env', ENV, '--detailed-exitcode']);
    await expectExit(plan, 2, e);
    assert.match(plan.stdout, new RegExp(`^OpenClaw's state: copied \\(the gateway stopped\\) before OpenClaw ${VERSIONS.openclaw.replace(/\./g, '\\.')} first runs, since it may migrate it; a rollback to ${PREVIOUS.replace(/\./g, '\\.')} restores this copy`, 'm'));

    const up = await e.cli(['apply', '--env', ENV]);
    await expectExit(up, 0, e);
    const upgraded = await currentRelease(e);
    assert.equal((await e.sh(GATEWAY_VERSION)).trim(), `/openclaw/${VERSIONS.openclaw}/`);
    const copy = `${CLAWOPS_DIR}/releases/${upgraded.id}/openclaw-state`;
    assert.equal((await e.sh(`sudo cat ${copy}/e2e-before.txt`)).trim(), `written-by-${PREVIOUS}`);
    assert.deepEqual(JSON.parse(await e.sh(`sudo cat ${copy}/.clawops-state.json`)), { from: PREVIOUS, to: VERSIONS.openclaw });
    assert.equal((await e.sh(`cd ${copy} && sudo find . -name '*.sqlite' -print | sort`)).trim(), dbs, 'every database is in the copy');
    assert.equal((await e.sh(`sudo test -e ${copy}/.clawops || sudo test -e ${copy}/gateway.env || sudo test -e ${copy}/openclaw.json || echo none`)).trim(), 'none', "clawops's own files are not OpenClaw's state");
    await assertAllHealthy(e);

    // The newer version writes state of its own; then the operator goes back.
    await e.sh(`echo written-by-${VERSIONS.openclaw} > ${STATE}/e2e-after.txt`);
    const back = await e.cli(['rollback', '--env', ENV, '--to', before.id]);
    await expectExit(back, 0, e);
    assert.match(back.stdout, new RegExp(`^OpenClaw's state: restored from the copy release ${upgraded.id} kept before OpenClaw ${VERSIONS.openclaw.replace(/\./g, '\\.')} first ran`, 'm'));
    assert.equal((await e.sh(GATEWAY_VERSION)).trim(), `/openclaw/${PREVIOUS}/`, 'the gateway runs the older OpenClaw again');
    const live = await currentRelease(e);
    const kept = `${CLAWOPS_DIR}/state-kept/${live.id}`;
    assert.equal((await e.sh(`cat ${STATE}/e2e-before.txt`)).trim(), `written-by-${PREVIOUS}`);
    assert.equal((await e.sh(`stat -c '%U %a' ${STATE}`)).trim(), stateDirMode, 'the state folder keeps its owner and mode');
    assert.equal((await e.sh(`test -e ${STATE}/e2e-after.txt && echo there || echo gone`)).trim(), 'gone', 'the state is as the older version left it');
    assert.equal((await e.sh(`sudo cat ${kept}/e2e-after.txt`)).trim(), `written-by-${VERSIONS.openclaw}`, 'what the newer version wrote is kept aside, not deleted');
    await assertHostIs(e, live.id);
    await assertAllHealthy(e);
  });

  it('no secret value appears in any CLI output, nor in the logs clawops keeps on the host', async () => {
    await assertNoSecretLeft(e, 4);
  });
});
