// A local stand-in of AWS STS's GetCallerIdentity that says no as STS does: the Query API's form POST
// (Action=GetCallerIdentity&Version=2011-06-15), signed with Signature Version 4 by the one test
// access key for service `sts` in the region, answered in STS's XML.
//
// Sources:
// - The operation and its response (Account, Arn, UserId):
//   https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
// - The Query API's common parameters (Action, Version) and errors (InvalidClientTokenId 403 for an
//   unknown access key, SignatureDoesNotMatch 403, IncompleteSignature 400, RequestExpired 400,
//   InvalidAction 400, MissingAction 400), in the XML error body <ErrorResponse><Error><Type>
//   <Code><Message>: https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html and
//   https://docs.aws.amazon.com/STS/latest/APIReference/CommonParameters.html
// - Signature Version 4: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from './instance-connect-standin.js';
import { checkSigV4, type SigV4Refusal } from './sigv4.js';

export interface StsStandIn {
  url: string;
  /** The identity the test credentials belong to. */
  arn: string;
  calls: number;
  close(): Promise<void>;
}

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

export async function startStsStandIn(options: { region: string; arn?: string }): Promise<StsStandIn> {
  const arn = options.arn ?? 'arn:aws:sts::123456789012:assumed-role/clawops-operator/doctor';
  const state = { calls: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.calls++;
      const body = Buffer.concat(chunks);
      if (req.method !== 'POST' || (req.url ?? '/') !== '/') return fail(res, 400, 'InvalidAction', 'The action or operation requested is invalid.');
      const refused = checkSigV4(req, body, { accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY, region: options.region, service: 'sts', maxSkewMs: 5 * 60_000 });
      if (refused) {
        const as: Record<SigV4Refusal['reason'], [number, string]> = {
          malformed: [400, 'IncompleteSignature'],
          'unknown-key': [403, 'InvalidClientTokenId'],
          date: [400, 'IncompleteSignature'],
          expired: [400, 'RequestExpired'],
          scope: [403, 'SignatureDoesNotMatch'],
          'unsigned-headers': [400, 'IncompleteSignature'],
          'payload-hash': [400, 'IncompleteSignature'],
          signature: [403, 'SignatureDoesNotMatch'],
        };
        const [status, code] = as[refused.reason];
        return fail(res, status, code, refused.message);
      }
      if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return fail(res, 400, 'InvalidAction', 'expected a form body');
      const form = new URLSearchParams(body.toString('utf8'));
      if (!form.get('Action')) return fail(res, 400, 'MissingAction', 'The request is missing an action or a required parameter.');
      if (form.get('Action') !== 'GetCallerIdentity' || form.get('Version') !== '2011-06-15') {
        return fail(res, 400, 'InvalidAction', `Could not find operation ${form.get('Action')} for version ${form.get('Version')}`);
      }
      const account = /^arn:aws:(?:sts|iam)::(\d{12}):/.exec(arn)![1]!;
      res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
      res.end(
        `<GetCallerIdentityResponse xmlns="${NS}"><GetCallerIdentityResult><Arn>${arn}</Arn><UserId>AROAEXAMPLEID:doctor</UserId><Account>${account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arn,
    get calls() {
      return state.calls;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
  res.end(`<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`);
}
