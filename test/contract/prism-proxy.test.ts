import { afterAll, beforeAll, expect } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startPrismProxy, type PrismServer } from '../helpers/prism.js';
import { defineContractSuite } from './contract-suite.js';

let gateway: TestGateway;
let prism: PrismServer;
beforeAll(async () => {
  gateway = await startGateway();
  prism = await startPrismProxy(gateway.url);
});
afterAll(async () => {
  await prism?.close();
  await gateway?.close();
});

/** `--errors` turns a response that breaks the spec into a 500 problem+json: fail with its body. */
async function rejectViolations(res: Response): Promise<void> {
  const type = res.headers.get('content-type') ?? '';
  const violations = res.headers.get('sl-violations');
  if (type.startsWith('application/problem+json') || violations !== null) {
    const body = await res.text();
    expect.fail(`Prism flagged the gateway's response (${res.status}, sl-violations: ${violations ?? 'none'}):\n${body}`);
  }
}

// Prism answers requests that break the spec itself (401 problem+json without a bearer,
// 422 for an invalid body), so those cases are tested on the real server directly. A
// wrong token and an unknown agent pass Prism and reach the gateway.
defineContractSuite('real server behind prism proxy --errors', () => ({
  url: prism.url,
  token: gateway.token,
  enforcesAuth: false,
  checksToken: true,
  validatesRequests: false,
  knowsAgents: true,
  issuesSessionKeys: true,
  inspect: rejectViolations,
}));
