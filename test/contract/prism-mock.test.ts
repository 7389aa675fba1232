import { afterAll, beforeAll } from 'vitest';
import { startPrismMock, type PrismServer } from '../helpers/prism.js';
import { defineContractSuite } from './contract-suite.js';

let prism: PrismServer;
beforeAll(async () => {
  prism = await startPrismMock();
});
afterAll(() => prism?.close());

// The mock answers from the spec's examples: it checks that a bearer token is present
// (any value passes) and validates requests, but knows no agents and issues no sessions.
defineContractSuite('Prism mock of openapi.yaml', () => ({
  url: prism.url,
  token: 'any-token',
  enforcesAuth: true,
  checksToken: false,
  validatesRequests: true,
  knowsAgents: false,
  issuesSessionKeys: false,
}));
