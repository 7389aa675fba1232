import { afterAll, beforeAll } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { defineContractSuite } from './contract-suite.js';

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway?.close());

defineContractSuite('real server (in-process, agent main on echo)', () => ({
  url: gateway.url,
  token: gateway.token,
  enforcesAuth: true,
  checksToken: true,
  validatesRequests: true,
  knowsAgents: true,
  issuesSessionKeys: true,
}));
