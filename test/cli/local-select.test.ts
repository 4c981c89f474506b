/**
 * The local backend fills a target's nodes from its scenario when the input leaves them out,
 * but not a group chosen by `select` (issue 11): the workflow resolves it, and nodes beside
 * select would be refused ("give either nodes or select").
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../cli/local-backend.js';

let backend: LocalBackend;
beforeAll(async () => {
  // A scenario of standalone servers: a group without nodes gets them all.
  backend = await openLocalBackend({
    cwd: process.cwd(),
    scenario: 'examples/scenarios/default.json',
    runScenarioRollouts: false,
  });
}, 120_000);
afterAll(() => backend?.close());

it('a selected group is left as given; a group without nodes still gets the scenario nodes', () => {
  const selected = { target: { kind: 'group', name: 'web', select: { tags: { Env: 'prod' } } } };
  expect(backend.completeInput(selected)).toEqual(selected);
  const listed = backend.completeInput({ target: { kind: 'group', name: 'web' } }) as {
    target: { nodes?: unknown[] };
  };
  expect(listed.target.nodes?.length).toBeGreaterThan(0);
});
