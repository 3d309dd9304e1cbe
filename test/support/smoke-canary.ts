/**
 * The smoke's canary, as a deployment declares it: a provider whose key is always refused, an agent
 * whose own model is that provider's, and `smoke.canaryAgent` naming the agent. The provider's
 * upstream comes from the environment (`providers.canary.baseUrl`).
 */
import type { FileText } from '../../src/config/source.js';
import { edit } from './repo.js';

export const CANARY = { agent: 'smoke', model: 'canary/always-fails', modelId: 'always-fails', secret: 'SMOKE_CANARY_API_KEY' } as const;

export function withSmokeCanary(files: FileText[]): FileText[] {
  let out = edit(files, 'config/openclaw.json', (t) =>
    t
      .replace(
        '"entries": {',
        `"entries": {\n      "${CANARY.agent}": { "name": "Smoke", "description": "Answers smoke checks; its primary always fails", "model": "${CANARY.model}" },`,
      )
      .replace('"plugins": { "enabled": false }', `"plugins": { "enabled": false },\n  "smoke": { "canaryAgent": "${CANARY.agent}" }`),
  );
  out = edit(out, 'config/secrets.yaml', (t) => `${t}  ${CANARY.secret}:\n    description: Key of the smoke canary provider, refused by design\n`);
  return [
    ...out,
    {
      file: 'config/providers/canary.yaml',
      text: [
        '# yaml-language-server: $schema=../../schema/provider.schema.json',
        'id: canary',
        'name: Smoke canary',
        'api: openai-completions',
        'baseUrl: https://canary.invalid/v1',
        `apiKeySecret: ${CANARY.secret}`,
        'tier: free',
        'models:',
        `  - id: ${CANARY.modelId}`,
        '    name: Always fails',
        '    contextWindow: 8192',
        '    maxTokens: 1024',
        '',
      ].join('\n'),
    },
  ];
}
