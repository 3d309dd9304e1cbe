// A key pair made for one run and never stored: the private half stays in this process, the
// public half is pushed to the host for a minute (EC2 Instance Connect).
import { generateKeyPairSync, randomBytes } from 'node:crypto';

export interface EphemeralKey {
  /** OpenSSH's private key format (openssh-key-v1, unencrypted), as ssh2 reads it. */
  privateKey: string;
  /** `ssh-ed25519 AAAA… comment` */
  publicKey: string;
}

export function ephemeralEd25519Key(comment = 'clawops'): EphemeralKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d!, 'base64url');
  const pub = Buffer.from(jwk.x!, 'base64url');
  const type = 'ssh-ed25519';
  const publicBlob = Buffer.concat([sshString(type), sshString(pub)]);
  // PROTOCOL.key in OpenSSH's source: the private section is two equal check words, the key
  // (type, public, seed‖public), a comment, and padding 1, 2, 3… to a multiple of 8.
  const check = randomBytes(4);
  let section = Buffer.concat([check, check, sshString(type), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  const pad = (8 - (section.length % 8)) % 8;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(publicBlob),
    sshString(section),
  ]);
  // The OpenSSH key file's armour lines, around the key made above (PROTOCOL.key in OpenSSH).
  const armor = (edge: 'BEGIN' | 'END') => `-----${edge} OPENSSH PRIVATE KEY-----`;
  const lines = body.toString('base64').match(/.{1,70}/g)!;
  return {
    privateKey: `${armor('BEGIN')}\n${lines.join('\n')}\n${armor('END')}\n`,
    publicKey: `${type} ${publicBlob.toString('base64')} ${comment}`,
  };
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function sshString(value: string | Buffer): Buffer {
  const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([uint32(data.length), data]);
}
