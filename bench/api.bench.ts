/**
 * API load check (issue 15): the real API handler over dynalite and the sandbox's Step
 * Functions. Requests per second and p50/p95 of the status and list routes, and the heap after
 * 30,000 requests (a long-lived local control plane, like the dashboard's, must not grow
 * without bound). Figures, not assertions.
 */
import { fileURLToPath } from 'node:url';
import { runScenario } from '../sandbox/run-scenario.js';
import { loadScenario } from '../sandbox/scenario.js';
import { heapUsedMiB, round } from './measure.js';

const SCENARIO = fileURLToPath(
  new URL('../examples/scenarios/change-management.json', import.meta.url),
);

export async function benchApi(requests = 30_000) {
  const scenario = await loadScenario(SCENARIO);
  const { sandbox } = await runScenario(scenario, { runRollouts: false });
  const api = sandbox.api();
  const call = (
    method: string,
    path: string,
    query: Record<string, string> | null,
    body?: unknown,
  ) =>
    api({
      httpMethod: method,
      path,
      headers: { 'Content-Type': 'application/json' },
      queryStringParameters: query,
      body: body === undefined ? null : JSON.stringify(body),
      requestContext: { requestId: 'bench', identity: { userArn: 'arn:aws:iam::0:user/bench' } },
    });
  // A few finished rollouts to read.
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await call('POST', '/rollouts', null, scenario.runs[0]?.rollout);
    ids.push(String((JSON.parse(res.body) as { rolloutId: string }).rolloutId));
    await sandbox.settle();
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapBefore = heapUsedMiB();
  const samples = { status: [] as number[], list: [] as number[] };
  const started = process.hrtime.bigint();
  for (let i = 0; i < requests; i++) {
    const route = i % 2 === 0 ? 'status' : 'list';
    const t0 = process.hrtime.bigint();
    const res =
      route === 'status'
        ? await call('GET', `/rollouts/${ids[i % ids.length]}`, null)
        : await call('GET', '/rollouts', { cluster: 'CLUSTER1', limit: '20' });
    samples[route].push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (res.statusCode !== 200) throw new Error(`${route}: HTTP ${res.statusCode} ${res.body}`);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  gc?.();
  const heapAfter = heapUsedMiB();
  await sandbox.stop();
  const stats = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const at = (q: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    return { requests: xs.length, p50Ms: round(at(0.5)), p95Ms: round(at(0.95)) };
  };
  return {
    benchmark: 'api',
    requests,
    requestsPerSecond: round(requests / seconds, 1),
    status: stats(samples.status),
    list: stats(samples.list),
    heapMiB: { before: heapBefore, after: heapAfter, gcExposed: gc !== undefined },
    note: 'run with node --expose-gc for comparable heap figures',
  };
}
