import * as z from 'zod';
import { AbsolutePath, HttpUrl, Port, SchemaRef, SecretName } from './common.js';
import { SecurityGroupSchema } from './security-group.js';

const AwsRegion = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'expected an AWS region such as us-east-2' });

const InstanceId = z.string().regex(/^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, { error: 'expected an EC2 instance id such as i-0123456789abcdef0' });
const HostKey = z
  .string()
  .regex(/^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/=]+$/, {
    error: 'expected a public host key, such as "ssh-ed25519 AAAA…"',
  });
/** A host's name in a fleet: in reports, locks' messages and `--host`. */
export const FleetHostName = z.string().regex(/^[a-z0-9][a-z0-9.-]{0,62}$/, { error: 'expected a host name of lower-case letters, digits, dots and dashes' });

const FleetHost = z.strictObject({
  name: FleetHostName,
  host: z.string().min(1).describe('Host name or address.'),
  port: z.int().min(1).max(65535).optional().describe('Default: the target\'s port.'),
  hostKey: HostKey.describe('This host\'s pinned host key; any other key is refused.'),
  instanceId: InstanceId.optional().describe('The EC2 instance, for instanceConnect or via.ssm (in place of theirs).'),
});

const FleetInstances = z.strictObject({
  tag: z
    .record(z.string().min(1).max(128), z.string().max(256))
    .refine((t) => Object.keys(t).length >= 1, { error: 'expected at least one tag, such as {Role: openclaw}' })
    .describe('Every running instance carrying all these tags (Key: Value) is a host of the fleet.'),
  region: AwsRegion,
  address: z.enum(['private', 'public']).default('private').describe('Which of the instance\'s addresses clawops connects to.'),
  hostKeys: z
    .record(InstanceId, HostKey)
    .optional()
    .describe('Each instance\'s pinned host key, by instance id; an instance without one uses the target\'s hostKey, and without that is refused.'),
});

export const RolloutSchema = z
  .strictObject({
    batch: z
      .union([z.int().min(1), z.string().regex(/^(100|[1-9]?\d)%$/, { error: 'expected a number of hosts (1) or a percentage of the fleet ("34%")' })])
      .default(1)
      .describe('How many hosts are applied at once: a number, or a percentage of the fleet rounded down, at least 1 (Ansible\'s serial).'),
    maxFailPercentage: z
      .number()
      .min(0)
      .max(100)
      .default(0)
      .describe('The rollout stops after a batch in which more than this percentage of hosts failed (Ansible\'s max_fail_percentage); 0 stops at the first failure.'),
  })
  .describe('How apply rolls a release out across a fleet: in batches, each host a transaction of its own with its health gates.');
export type Rollout = z.infer<typeof RolloutSchema>;

const LocalTarget = z.strictObject({
  kind: z.literal('local'),
});

const SshTarget = z.strictObject({
  kind: z.literal('ssh'),
  host: z.string().min(1).optional().describe('Host name or address. Data only: tests never connect to it. Either this, hosts or instances.'),
  hosts: z.array(FleetHost).min(1).optional().describe('A fleet: several hosts sharing the rest of these settings. Either this, host or instances.'),
  instances: FleetInstances.optional().describe('A fleet found at each run: every running EC2 instance with the tags (DescribeInstances). Either this, host or hosts.'),
  port: z.int().min(1).max(65535).default(22),
  user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { error: 'expected a Unix user name' }),
  hostKey: HostKey.optional().describe('The pinned host key; any other key is refused. Needed with host.'),
  privateKeySecret: SecretName.optional().describe('Secret holding the SSH private key. Either this or instanceConnect.'),
  instanceConnect: z
    .strictObject({
      instanceId: InstanceId.optional().describe('The instance; in a fleet, each host\'s own instanceId.'),
      region: AwsRegion,
      availabilityZone: z
        .string()
        .regex(/^(\w+-){2,3}\d+\w+$/, { error: 'expected an availability zone such as us-east-2a' })
        .optional()
        .describe('The instance\'s availability zone; optional for the API.'),
    })
    .optional()
    .describe(
      'No stored key: each run makes a fresh ed25519 key pair and pushes its public half to the instance for `user` with EC2 Instance Connect (SendSSHPublicKey), valid there for 60 seconds. Either this or privateKeySecret.',
    ),
  factsUser: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*$/, { error: 'expected a Unix user name' })
    .optional()
    .describe(
      'A read-only OS user (clawops-facts) that plan --read-only, pr-report --plan and drift log in as: apply creates it, and its login runs only the installed facts program (sshd ForceCommand), which reads the managed folders and units through one sudo rule. Its authorized_keys is the operator\'s to set (or EC2 Instance Connect pushes a key for it). Needs services: systemd.',
    ),
  factsPrivateKeySecret: SecretName.optional().describe(
    'Secret holding the SSH private key of factsUser, where it has a stored key of its own (the only key a pull-request plan receives). Without it, factsUser logs in with privateKeySecret, or with a key pushed by instanceConnect.',
  ),
  proxyCommand: z
    .string()
    .trim()
    .min(1)
    .regex(/^(?:[^%]|%[hpr%])*$/, { error: 'expected a command; %h, %p, %r and %% are the only tokens it may use' })
    .optional()
    .describe(
      'OpenSSH\'s ProxyCommand: a command whose standard input and output carry the SSH stream, in place of a TCP connection to host:port. %h, %p and %r become the host, port and user; %% a percent sign. It runs on the operator\'s machine through /bin/sh, and ends with the run.',
    ),
  via: z
    .strictObject({
      ssm: z
        .strictObject({
          instanceId: InstanceId.optional().describe('The instance; in a fleet, each host\'s own instanceId.'),
          region: AwsRegion,
        })
        .describe('An SSM session (AWS-StartSSHSession) to the instance: no open port 22 needed. Needs the AWS CLI and the Session Manager plugin on the operator\'s machine.'),
    })
    .optional()
    .describe('How the SSH stream reaches the host, in place of a TCP connection to host:port.'),
});

const SecretSource = z.discriminatedUnion('source', [
  z.strictObject({
    source: z.literal('dotenv'),
    path: z.string().min(1).describe('A .env file on the operator\'s machine, relative to the repository or absolute.'),
    missing: z
      .enum(['error', 'empty'])
      .default('error')
      .describe('A secret with no value: refuse to apply (error), or write it empty and warn (empty).'),
    generate: z
      .array(SecretName)
      .optional()
      .describe('Secrets clawops makes itself when the file has no value: a random value, made once and kept in the state folder (.clawops/generated.env, mode 0600).'),
  }),
  z.strictObject({ source: z.literal('env').describe('The process environment, as in GitHub Actions.') }),
  z.strictObject({
    source: z.literal('ssm'),
    prefix: z.string().regex(/^\/[A-Za-z0-9_./-]*$/, { error: 'expected a Parameter Store path such as /clawops/ec2' }),
    region: AwsRegion,
  }).describe('AWS Systems Manager Parameter Store: each secret is the SecureString parameter <prefix>/<NAME>.'),
  z.strictObject({
    source: z.literal('host-ssm'),
    prefix: z.string().regex(/^\/[A-Za-z0-9_./-]*$/, { error: 'expected a Parameter Store path such as /clawops/ec2' }),
    region: AwsRegion,
    endpoints: z
      .strictObject({
        ssm: HttpUrl.describe('Parameter Store (AWS_ENDPOINT_URL_SSM).'),
        metadata: HttpUrl.describe('The instance metadata service (AWS_EC2_METADATA_SERVICE_ENDPOINT).'),
      })
      .optional()
      .describe('Test environments only (test: true): where the host reaches stand-ins of AWS in place of AWS.'),
  }).describe(
    'AWS Systems Manager Parameter Store, read by the host itself with its instance role at activation: each secret is the SecureString parameter <prefix>/<NAME>, and no value passes through the machine running clawops. Plans compare parameter versions (DescribeParameters), never values.',
  ),
]);

/** A DNS name (gateway.example.com) or, for a test environment's internal CA, an IP address. */
const TlsDomain = z
  .string()
  .regex(/^(?:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]|\d{1,3}(?:\.\d{1,3}){3})$/, {
    error: 'expected a lower-case domain name such as gateway.example.com',
  });

/** A duration as Caddy writes it: 30m, 12h, 7d. */
const CaddyDuration = z.string().regex(/^\d+(?:s|m|h|d)$/, { error: 'expected a duration such as 30m, 12h or 7d' });

const GatewayTls = z
  .strictObject({
    domain: TlsDomain.describe('The name clients reach the gateway at; its DNS A/AAAA record points at the server. gateway.publicUrl is https://<domain>.'),
    port: z.int().min(1).max(65535).default(443).describe('Where Caddy serves the TLS hop (443 unless said).'),
    issuer: z
      .enum(['acme', 'internal'])
      .default('acme')
      .describe('acme: a public certificate (Let\'s Encrypt or ZeroSSL), by the TLS-ALPN-01 challenge on the TLS port itself; internal: Caddy\'s own local CA, for a test environment (test: true).'),
    acme: z
      .strictObject({
        email: z.email().optional().describe('The ACME account\'s contact, told of expiring certificates.'),
        challenge: z
          .literal('tls-alpn-01')
          .default('tls-alpn-01')
          .describe('TLS-ALPN-01: proven on the TLS port, so only it must be open. HTTP-01 would need port 80 open too.'),
      })
      .optional(),
    lifetime: CaddyDuration.optional().describe('internal only: how long each certificate is valid (Caddy\'s internal issuer; at most its intermediate\'s 7 days).'),
    expiryWarningDays: z
      .number()
      .positive()
      .default(14)
      .describe('smoke and drift report a served certificate that expires within this many days (default 14).'),
  })
  .describe('The TLS hop: Caddy on the host terminates TLS for the domain and passes requests (WebSocket upgrades too) to the gateway on loopback.');

export const EnvironmentSchema = z
  .strictObject({
    $schema: SchemaRef.optional(),
    name: z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'expected a lower-case environment name' }),
    description: z.string().min(1),
    test: z
      .boolean()
      .optional()
      .describe('A throwaway test environment: plaintext gateway URLs off loopback and Caddy\'s internal CA are allowed here, and nowhere else.'),
    target: z.discriminatedUnion('kind', [LocalTarget, SshTarget]),
    services: z
      .enum(['systemd', 'user', 'none'])
      .describe(
        'systemd: units are installed and managed; user: the operator\'s own user units (systemctl --user) where the machine has a user service manager, else `clawops up` runs them in the foreground; none: files only.',
      ),
    user: z.string().regex(/^[a-z_][a-z0-9_-]*$/).optional().describe('Owner of the deployed files and the services\' user.'),
    paths: z.strictObject({
      state: AbsolutePath.describe('OpenClaw\'s state folder (OPENCLAW_STATE_DIR).'),
      proxies: AbsolutePath.describe('Where the proxies and their settings live.'),
      runtime: AbsolutePath.optional().describe('Where Node and OpenClaw are installed, in versioned folders.'),
    }),
    runtime: z
      .strictObject({
        node: z.string().regex(/^\d+\.\d+\.\d+$/, { error: 'expected an exact Node version such as 24.21.0' }),
        openclaw: z.string().regex(/^\d{4}\.\d+\.\d+$/, { error: 'expected an exact OpenClaw version such as 2026.9.6' }),
        fetch: z
          .enum(['upload', 'registry'])
          .optional()
          .describe(
            'upload (the default): the machine running clawops fetches the runtime and uploads it. registry: the host has a route to the npm registry and fetches the pinned runtime itself: the Node tarball, checked against the sha512 integrity the registry publishes for that version, and each package of the OpenClaw tree, checked against the integrity the lock in the repository pins (runtime/openclaw-VERSION/package-lock.json, written by npm run lock-openclaw).',
          ),
        registry: HttpUrl.optional().describe('The npm registry the host fetches from (runtime.fetch: registry); https://registry.npmjs.org unless set.'),
      })
      .optional()
      .describe('Versions the host must run; apply installs or changes them.'),
    gates: z
      .strictObject({
        timeoutSeconds: z
          .int()
          .min(5)
          .max(3600)
          .default(180)
          .describe('How long each service may take to become healthy after a (re)start before the release is rolled back.'),
      })
      .optional()
      .describe('The health gates of an apply (systemd environments).'),
    gateway: z.strictObject({
      bind: z.enum(['loopback', 'lan']).describe('OpenClaw\'s bind mode; it accepts a mode, not an address.'),
      publicUrl: HttpUrl.optional().describe('How the edge function reaches the gateway. With gateway.tls it is https://<domain> (written or left out).'),
      tls: GatewayTls.optional(),
      controlUi: z
        .strictObject({
          enabled: z.boolean().default(true).describe('Whether the gateway serves its Control UI (gateway.controlUi.enabled).'),
          allowedOrigins: z
            .array(HttpUrl)
            .min(1)
            .optional()
            .describe('The browser origins allowed to open the Control UI (gateway.controlUi.allowedOrigins); needed on a gateway not bound to loopback.'),
        })
        .optional()
        .describe('OpenClaw\'s browser Control UI. A gateway not bound to loopback needs allowedOrigins, or enabled: false.'),
      auth: z
        .strictObject({
          rateLimit: z
            .strictObject({
              maxAttempts: z.int().min(1).describe('Failed authentications allowed per client address within the window.'),
              windowMs: z.int().min(1000).describe('The window failures are counted in, in milliseconds.'),
              lockoutMs: z.int().min(1000).describe('How long a client address is refused once over the limit, in milliseconds.'),
              exemptLoopback: z.boolean().default(true).describe('Whether loopback clients (the CLI and smoke checks on the host) are never locked out.'),
            })
            .describe('Throttling of failed gateway authentications (gateway.auth.rateLimit); needed on a gateway not bound to loopback.'),
        })
        .optional(),
    }),
    providers: z
      .record(
        z.string(),
        z.strictObject({
          upstream: HttpUrl.optional().describe('Replaces the provider\'s upstream base URL in this environment.'),
          baseUrl: HttpUrl.optional().describe('Replaces the URL OpenClaw calls; not allowed for proxied providers.'),
        }),
      )
      .optional(),
    secrets: SecretSource.describe('Where this environment\'s secret values come from at apply time.'),
    security: z
      .strictObject({
        accept: z
          .array(
            z.strictObject({
              check: z
                .string()
                .regex(/^[a-z][A-Za-z0-9_.-]*$/, { error: 'expected an OpenClaw audit checkId, such as models.weak_tier' })
                .describe('The checkId of a warning `openclaw security audit` reports.'),
              reason: z.string().trim().min(1, { error: 'expected a reason: why this warning is accepted here' }).describe('Why the warning is accepted in this environment; shown in every plan.'),
            }),
          )
          .describe('Warnings of `openclaw security audit` this environment accepts, each with its reason. A critical finding cannot be accepted.'),
      })
      .optional()
      .describe('What `clawops audit` lets pass in this environment.'),
    securityGroup: SecurityGroupSchema.optional(),
    rollout: RolloutSchema.optional().describe('For a fleet (target.hosts or target.instances): how apply rolls out. Default: one host at a time, stopping at the first failure.'),
  })
  .describe('One environment: where and how the deployment runs (config/environments/<name>.yaml).');
export type Environment = z.infer<typeof EnvironmentSchema>;
export type EnvironmentInput = z.input<typeof EnvironmentSchema>;
