// The adapters behind `clawops doctor`'s AWS checks, over real HTTP against local stand-ins that
// check Signature Version 4 and answer as the services do: STS GetCallerIdentity (signed with the
// SDK's signer and credential chain) and SSM DescribeInstanceInformation (the SDK's SSM client,
// pointed by AWS_ENDPOINT_URL_SSM). Each refusal arrives as the port's own error, in one line.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CallerIdentityError } from '../../src/aws/caller-identity.js';
import { ManagedInstanceError } from '../../src/aws/managed-instance.js';
import { SsmManagedInstances } from '../../src/aws/ssm-instances-adapter.js';
import { StsCallerIdentity } from '../../src/aws/sts-adapter.js';
import { TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from '../support/instance-connect-standin.js';
import { startSsmInstancesStandIn, type SsmInstancesStandIn } from '../support/ssm-instances-standin.js';
import { startStsStandIn, type StsStandIn } from '../support/sts-standin.js';

const REGION = 'us-east-2';
const INSTANCE = 'i-0123456789abcdef0';
let sts: StsStandIn;
let ssm: SsmInstancesStandIn;

before(async () => {
  sts = await startStsStandIn({ region: REGION });
  ssm = await startSsmInstancesStandIn({ region: REGION });
  // The SDK's own chain, from the environment only: no profile file, no instance metadata.
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY,
    AWS_ENDPOINT_URL_SSM: ssm.url,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  });
  for (const k of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']) delete process.env[k];
});

after(async () => {
  await Promise.all([sts?.close(), ssm?.close()]);
});

async function refusal<E extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  const err = await promise.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof type, String(err));
  assert.ok(!err.message.includes('\n') && !err.message.includes(TEST_SECRET_ACCESS_KEY), err.message);
  return err;
}

async function withEnv<T>(values: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(values).map((k) => [k, process.env[k]]));
  const set = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) if (x === undefined) delete process.env[k];
    else process.env[k] = x;
  };
  set(values);
  try {
    return await fn();
  } finally {
    set(before);
  }
}

describe('STS GetCallerIdentity', () => {
  const port = (region = REGION) => new StsCallerIdentity({ region, endpoint: sts.url });

  test('signed by the credentials in the environment, it says whose they are', async () => {
    assert.deepEqual(await port().callerIdentity(), { arn: sts.arn, account: '123456789012' });
  });

  test('a wrong secret, an unknown key, another region: STS refuses each by its name', async () => {
    await withEnv({ AWS_SECRET_ACCESS_KEY: 'not-the-secret' }, async () => {
      const err = await refusal(port().callerIdentity(), CallerIdentityError);
      assert.equal(err.code, 'SignatureDoesNotMatch');
      assert.match(err.message, /^STS GetCallerIdentity: SignatureDoesNotMatch: The request signature we calculated does not match/);
    });
    await withEnv({ AWS_ACCESS_KEY_ID: 'AKIDUNKNOWNKEY000000' }, async () => {
      assert.equal((await refusal(port().callerIdentity(), CallerIdentityError)).code, 'InvalidClientTokenId');
    });
    assert.equal((await refusal(port('eu-west-1').callerIdentity(), CallerIdentityError)).code, 'SignatureDoesNotMatch');
  });

  test('no credentials anywhere: the SDK chain says so, and nothing is sent', async () => {
    const calls = sts.calls;
    await withEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }, async () => {
      const err = await refusal(port().callerIdentity(), CallerIdentityError);
      assert.equal(err.code, 'CredentialsProviderError');
    });
    assert.equal(sts.calls, calls);
  });

  test('an endpoint that does not answer', async () => {
    const err = await refusal(new StsCallerIdentity({ region: REGION, endpoint: 'http://127.0.0.1:9' }).callerIdentity(), CallerIdentityError);
    assert.equal(err.code, 'NetworkError');
  });
});

describe('SSM DescribeInstanceInformation', () => {
  const port = new SsmManagedInstances({ region: REGION });

  test('an instance whose agent is online, one that lost its connection, and one SSM does not know', async () => {
    ssm.nodes.set(INSTANCE, { pingStatus: 'Online', agentVersion: '3.3.1142.0' });
    ssm.nodes.set('i-0aaaaaaaaaaaaaaa0', { pingStatus: 'ConnectionLost' });
    assert.deepEqual(await port.describe(INSTANCE), { instanceId: INSTANCE, pingStatus: 'Online', agentVersion: '3.3.1142.0', platformName: 'Ubuntu 24.04' });
    assert.equal((await port.describe('i-0aaaaaaaaaaaaaaa0'))?.pingStatus, 'ConnectionLost');
    assert.equal(await port.describe('i-0bbbbbbbbbbbbbbb0'), null);
  });

  test('credentials without ssm:DescribeInstanceInformation, and a wrong secret', async () => {
    ssm.denyAll = true;
    try {
      const err = await refusal(port.describe(INSTANCE), ManagedInstanceError);
      assert.equal(err.code, 'AccessDeniedException');
      assert.match(err.message, /^SSM DescribeInstanceInformation \(i-0123456789abcdef0\): AccessDeniedException: .*not authorized to perform: ssm:DescribeInstanceInformation/);
    } finally {
      ssm.denyAll = false;
    }
    await withEnv({ AWS_SECRET_ACCESS_KEY: 'not-the-secret' }, async () => {
      assert.equal((await refusal(port.describe(INSTANCE), ManagedInstanceError)).code, 'InvalidSignatureException');
    });
  });
});
