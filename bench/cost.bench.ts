/**
 * The price of a rollout (issue 11 §6): per node-update in the sandbox, count what AWS bills
 * (Step Functions state transitions, Lambda requests and GB-seconds, DynamoDB read and write
 * requests, EventBridge events, S3 requests, SSM calls) and price it per 1,000 node-updates from
 * {@link PRICES}. `npm run bench -- cost`; BENCH_COST_NODES sets the group size (default 100).
 * Figures, not assertions.
 */
import { runScenario } from '../sandbox/run-scenario.js';
import { round } from './measure.js';
import { scenario } from './sandbox.bench.js';

/**
 * Public list prices, us-east-1, as assumptions: check them before you quote a figure. Taken
 * from the AWS pricing pages as known on 2026-12-04 (Step Functions, Lambda, DynamoDB on-demand
 * after the November 2024 reduction, EventBridge, S3 Standard, Systems Manager).
 */
export const PRICES = {
  date: '2026-12-04',
  region: 'us-east-1',
  source: 'aws.amazon.com/<service>/pricing (list prices, no free tier, no discounts)',
  /** Step Functions Standard: $0.025 per 1,000 state transitions. */
  stateTransition: 0.025 / 1000,
  /** Lambda: $0.20 per million requests. */
  lambdaRequest: 0.2 / 1e6,
  /** Lambda on arm64 (our functions): $0.0000133334 per GB-second. */
  lambdaGbSecond: 0.0000133334,
  /** DynamoDB on-demand: $0.625 per million write request units. */
  dynamoWriteUnit: 0.625 / 1e6,
  /** DynamoDB on-demand: $0.125 per million read request units. */
  dynamoReadUnit: 0.125 / 1e6,
  /** EventBridge custom events (PutEvents): $1.00 per million. AWS service events: free. */
  eventBridgeEvent: 1 / 1e6,
  /** S3 Standard: $0.005 per 1,000 PUT/LIST, $0.0004 per 1,000 GET. */
  s3Put: 0.005 / 1000,
  s3Get: 0.0004 / 1000,
  /** Run Command on EC2 managed nodes: no charge (standard tier). */
  ssmCall: 0,
  /**
   * Distributed Map (Standard child workflows): one state transition for each child workflow
   * execution the map starts, besides the transitions of the states inside it (the item
   * processor's, here one StartExecution.sync task), at the state-transition price. Source:
   * Step Functions Developer Guide, "Transitions" ("Transitions in Distributed Map states"),
   * and aws.amazon.com/step-functions/pricing; read 2026-12-05.
   */
  mapChildExecution: 0.025 / 1000,
} as const;

/**
 * S3 PUTs Step Functions' ResultWriter makes per Map Run (not simulated by the sandbox):
 * manifest.json and one results file per status with items (SUCCEEDED_0.json, FAILED_0.json).
 */
export const RESULT_WRITER_PUTS_PER_MAP_RUN = 3;

/** Assumptions where the sandbox cannot measure what AWS bills. */
export const ASSUMPTIONS = {
  /** Our functions' memory (RolloutFunctions): 512 MB. */
  lambdaMemoryGb: 0.5,
  /** Billed duration per invocation: warm, one or two SDK calls. The sandbox's own timing is not AWS's. */
  lambdaBilledMs: 100,
  /** Items under 1 KB written and 4 KB read: one request unit each (strongly consistent reads). */
  unitsPerRequest: 1,
} as const;

const WRITES = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
]);
const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);

export async function benchCost() {
  const count = Number(process.env.BENCH_COST_NODES ?? 100);
  const result = await runScenario(
    scenario({ kind: 'group', count, minutes: 5, maxConcurrency: 20 }),
  );
  const sandbox = result.sandbox;
  const nodeUpdates = count;
  const transitions = sandbox.executions.reduce((n, e) => n + e.stateTransitions, 0);
  const nodeRuns = sandbox.executions.filter((e) => e.name.includes('-N'));
  const lambdaRequests = [...sandbox.invocations.values()].reduce((a, b) => a + b, 0);
  const gbSeconds =
    (lambdaRequests * ASSUMPTIONS.lambdaBilledMs * ASSUMPTIONS.lambdaMemoryGb) / 1000;
  let writes = 0;
  let reads = 0;
  for (const [operation, n] of sandbox.dynamoOperations) {
    if (WRITES.has(operation)) writes += n;
    else if (READS.has(operation)) reads += n;
  }
  const events = sandbox.events.received.length;
  // Issue 11: the Distributed Map's own billing (item executions and the states inside them),
  // and the S3 requests (the handlers' and the ItemReader's, counted by the sandbox's S3; the
  // ResultWriter's, assumed per Map Run).
  const map = sandbox.mapRuns;
  const mapTransitions = map.items + map.processorStates;
  const s3 = sandbox.s3.requests;
  const s3Puts =
    (s3.get('PutObject') ?? 0) +
    (s3.get('ListObjectsV2') ?? 0) +
    map.runs * RESULT_WRITER_PUTS_PER_MAP_RUN;
  const s3Gets = (s3.get('GetObject') ?? 0) + (s3.get('GetObjectAttributes') ?? 0);
  const commands = result.fleet.nodes().reduce((n, node) => n + node.commands.length, 0);
  // S3: the scan writes the node list; each node's plan reads the hotfix root (list + config).
  const per1000 = (n: number) => round((n / nodeUpdates) * 1000, 1);
  const lines = {
    stateTransitions: transitions * PRICES.stateTransition,
    lambdaRequests: lambdaRequests * PRICES.lambdaRequest,
    lambdaGbSeconds: gbSeconds * PRICES.lambdaGbSecond,
    dynamoWrites: writes * ASSUMPTIONS.unitsPerRequest * PRICES.dynamoWriteUnit,
    dynamoReads: reads * ASSUMPTIONS.unitsPerRequest * PRICES.dynamoReadUnit,
    eventBridgeEvents: events * PRICES.eventBridgeEvent,
    ssmCommands: commands * PRICES.ssmCall,
    distributedMapItems: mapTransitions * PRICES.mapChildExecution,
    s3Puts: s3Puts * PRICES.s3Put,
    s3Gets: s3Gets * PRICES.s3Get,
  };
  const total = Object.values(lines).reduce((a, b) => a + b, 0);
  const usd = (x: number) => round((x / nodeUpdates) * 1000, 4);
  return {
    benchmark: 'cost',
    group: `${count} nodes, 3 updates each (one restart), maxConcurrency 20`,
    status: result.runs[0]?.report?.status,
    // The 100-node figure before issue 11 item 6 merged the node workflow's Choice chains (429db3d).
    previous: { stateTransitionsPer1000: 39_130, totalUsdPer1000: 1.0013, commit: '429db3d' },
    perNodeUpdate: {
      stateTransitions: round(transitions / nodeUpdates, 1),
      nodeWorkflowTransitions: round(
        nodeRuns.reduce((n, e) => n + e.stateTransitions, 0) / Math.max(1, nodeRuns.length),
        1,
      ),
      lambdaInvocations: round(lambdaRequests / nodeUpdates, 1),
      dynamoWrites: round(writes / nodeUpdates, 1),
      dynamoReads: round(reads / nodeUpdates, 1),
      eventBridgeEvents: round(events / nodeUpdates, 2),
      ssmCommands: round(commands / nodeUpdates, 1),
      distributedMapTransitions: round(mapTransitions / nodeUpdates, 2),
      s3Requests: round((s3Puts + s3Gets) / nodeUpdates, 2),
    },
    per1000NodeUpdates: {
      counts: {
        stateTransitions: per1000(transitions),
        lambdaInvocations: per1000(lambdaRequests),
        lambdaGbSeconds: per1000(gbSeconds),
        dynamoWriteUnits: per1000(writes),
        dynamoReadUnits: per1000(reads),
        eventBridgeEvents: per1000(events),
        ssmCommands: per1000(commands),
        distributedMapTransitions: per1000(mapTransitions),
        s3PutListRequests: per1000(s3Puts),
        s3GetRequests: per1000(s3Gets),
      },
      usd: Object.fromEntries(Object.entries(lines).map(([k, v]) => [k, usd(v)])),
      totalUsd: usd(total),
    },
    lambdaByFunction: Object.fromEntries(sandbox.invocations),
    dynamoByOperation: Object.fromEntries(sandbox.dynamoOperations),
    distributedMap: { ...map, resultWriterPutsAssumedPerRun: RESULT_WRITER_PUTS_PER_MAP_RUN },
    s3ByOperation: Object.fromEntries(s3),
    prices: PRICES,
    assumptions: ASSUMPTIONS,
    notes: [
      "Distributed Map: one transition per child workflow execution it starts plus the item processor's own states (the StartExecution.sync task), counted by the sandbox per item (distributedMapTransitions); the node workflow's transitions are in stateTransitions.",
      `S3: the requests the handlers and the Distributed Map's ItemReader make, counted by the sandbox's S3; the ResultWriter's ${RESULT_WRITER_PUTS_PER_MAP_RUN} PUTs per Map Run are assumed (not simulated).`,
      'Not counted: CloudWatch Logs ingestion ($0.50/GB; the workflows log ERROR only by default), X-Ray traces, KMS requests with a customer key, API Gateway for API-started runs.',
      'SSM status-change events reach EventBridge as AWS service events: free; counted above are only our PutEvents (lifecycle events).',
    ],
  };
}
