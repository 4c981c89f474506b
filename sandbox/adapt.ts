/**
 * How faithful is the sandbox: the ONE place where the synthesized definitions are adapted to
 * what the local ASL interpreter (aws-local-stepfunctions) can run. Every adaptation is listed
 * here and in the README; everything else runs as synthesized.
 *
 * 1. `lambda:invoke.waitForTaskToken` tasks: the interpreter has no task tokens. The state's
 *    Parameters become its Lambda payload with `taskToken` left for the sandbox to fill, and its
 *    `TimeoutSeconds`/`TimeoutSecondsPath` move into the payload (`__timeoutSeconds`) so the
 *    sandbox enforces the timeout in virtual time and raises `States.Timeout` itself.
 * 2. `states:startExecution.sync:2` tasks: the sandbox runs the child state machine itself, from
 *    its own synthesized definition, and fails the task with `States.TaskFailed` when it fails.
 * 3. Distributed Map states: the interpreter runs inline maps only. The state becomes a task the
 *    sandbox runs: it reads the ItemReader's S3 object (or, without one, the array at its
 *    ItemsPath, as the scan workflow's map has), applies ItemSelector, runs the item
 *    processor per item with MaxConcurrency, and raises
 *    `States.ExceedToleratedFailureThreshold` past ToleratedFailureCount, as AWS does. Its Next,
 *    ResultPath, Retry and Catch stay as synthesized. The ItemReader (item-reader.ts) reads the
 *    object with GetObject from the sandbox's S3 (aws-fakes.ts): `InputType` JSON, JSONL or CSV
 *    (header row or `CSVHeaders`), `MaxItems`/`MaxItemsPath`; any other reader is refused by
 *    name, and a missing or malformed object is `States.ItemReaderFailed`, as in AWS. The
 *    ResultWriter writes nothing: each item's result is its child execution's. Without a
 *    ResultWriter the map's result is the items' outputs in order, as in AWS (the scan's map).
 * 4. Lambda tasks (function ARNs): the interpreter would call AWS; each is overridden to call the
 *    real handler in-process with the payload Step Functions would send.
 * 5. Retry intervals run in zero wall time (they are waits, and the sandbox's time is virtual).
 * 6. `$$.Execution.StartTime` reads `$$.Execution.SandboxStartTime`: the interpreter always sets
 *    StartTime to the wall clock, and the sandbox's executions start in virtual time.
 * 7. Task states without a timeout get one that cannot expire in wall time: the interpreter
 *    applies the ASL spec's 60 seconds of wall time, where AWS waits up to 99999999 seconds.
 * 8. DynamoDB requests go to dynalite's own request listener in-process (`InProcessHandler` in
 *    aws-fakes.ts), not over a loopback socket: the same validation, storage, answers and error
 *    names, without an HTTP client and server per call. Not a change to a definition, but a
 *    difference from AWS all the same, so it is listed here.
 * 9. `$$.State.EnteredTime` (which the interpreter does not set) becomes the literal
 *    {@link SANDBOX_STATE_ENTERED_TIME}; the sandbox replaces it in a task's parameters with the
 *    virtual time the task starts at, which is when its state was entered.
 * 10. Wait states (a phase's bake): the interpreter waits in wall time. The state becomes a task
 *    the sandbox runs, sleeping its `Seconds`/`SecondsPath` on the virtual clock, with the input
 *    passed on unchanged (`ResultPath: null`), as a Wait passes it on.
 * 11. The sandbox's DynamoDB client does not compute SigV4 signatures (sandbox-signer.ts):
 *    dynalite checks the Authorization header's form, never the signature. Not a change to a
 *    definition either; listed because it differs from AWS.
 */

/** What a `"x.$": "$$.State.EnteredTime"` parameter holds until the sandbox fills the time in. */
export const SANDBOX_STATE_ENTERED_TIME = '$$.State.EnteredTime';

/** Wall-clock seconds no sandbox run reaches (and within Node's 32-bit timer range). */
const NO_WALL_TIMEOUT_SECONDS = 2_000_000;

import type { AslDefinition } from './definitions.js';

type State = Record<string, unknown>;
type States = Record<string, State>;

/** What kind of task a state is, for the sandbox's local handlers. */
export type TaskKind =
  | { readonly kind: 'lambda'; readonly functionArn: string }
  | { readonly kind: 'waitForToken'; readonly functionArn: string }
  | { readonly kind: 'childExecution' }
  | { readonly kind: 'distributedMap'; readonly original: State }
  | { readonly kind: 'wait' };

export const SANDBOX_DISTRIBUTED_MAP = 'arn:aws:states:::sandbox:distributedMap';
export const SANDBOX_WAIT = 'arn:aws:states:::sandbox:wait';

/** An adapted definition and what each task state is. */
export interface AdaptedDefinition {
  readonly definition: AslDefinition;
  /** Task state name → what it is (names are unique within one definition scope). */
  readonly tasks: ReadonlyMap<string, TaskKind>;
  /** Names of states with a Retry, whose intervals run in zero wall time. */
  readonly retryable: readonly string[];
}

const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[^:]+:[^:]+:function:[^:]+$/;

/** Adapts one definition scope (a state machine, or a Distributed Map's item processor). */
export function adaptDefinition(original: AslDefinition): AdaptedDefinition {
  const definition = JSON.parse(
    JSON.stringify(original)
      .replaceAll('"$$.Execution.StartTime"', () => '"$$.Execution.SandboxStartTime"')
      .replaceAll(
        /"([^"]+)\.\$":"\$\$\.State\.EnteredTime"/g,
        (_, key: string) => `"${key}":${JSON.stringify(SANDBOX_STATE_ENTERED_TIME)}`,
      ),
  ) as AslDefinition;
  const tasks = new Map<string, TaskKind>();
  const retryable: string[] = [];
  const states: States = {};
  for (const [name, original] of Object.entries(definition.States)) {
    const state: State = structuredClone(original);
    if (state.Retry) retryable.push(name);
    if (state.Type === 'Map') {
      const processor = state.ItemProcessor as { ProcessorConfig?: { Mode?: string } } | undefined;
      if (processor?.ProcessorConfig?.Mode === 'DISTRIBUTED') {
        tasks.set(name, { kind: 'distributedMap', original });
        states[name] = {
          Type: 'Task',
          Resource: SANDBOX_DISTRIBUTED_MAP,
          Parameters: { 'input.$': '$' },
          TimeoutSeconds: NO_WALL_TIMEOUT_SECONDS,
          ...pick(state, [
            'ResultPath',
            'ResultSelector',
            'OutputPath',
            'Retry',
            'Catch',
            'Next',
            'End',
            'Comment',
          ]),
        };
        continue;
      }
      // An inline Map (the staging workflow's, issue 13 item 5): run by the same sandbox task,
      // its items from ItemsPath, in virtual time (engine.ts distributedMap).
      tasks.set(name, { kind: 'distributedMap', original });
      states[name] = {
        Type: 'Task',
        Resource: SANDBOX_DISTRIBUTED_MAP,
        Parameters: { 'input.$': '$' },
        TimeoutSeconds: NO_WALL_TIMEOUT_SECONDS,
        ...pick(state, [
          'ResultPath',
          'ResultSelector',
          'OutputPath',
          'Retry',
          'Catch',
          'Next',
          'End',
          'Comment',
        ]),
      };
      continue;
    }
    if (state.Type === 'Wait') {
      const seconds =
        typeof state.SecondsPath === 'string'
          ? { 'seconds.$': state.SecondsPath }
          : typeof state.Seconds === 'number'
            ? { seconds: state.Seconds }
            : undefined;
      if (seconds === undefined) {
        throw new Error(
          `state ${name}: only Wait states with Seconds or SecondsPath are adapted to virtual time`,
        );
      }
      tasks.set(name, { kind: 'wait' });
      states[name] = {
        Type: 'Task',
        Resource: SANDBOX_WAIT,
        Parameters: seconds,
        ResultPath: null,
        TimeoutSeconds: NO_WALL_TIMEOUT_SECONDS,
        ...pick(state, ['InputPath', 'OutputPath', 'Next', 'End', 'Comment']),
      };
      continue;
    }
    if (state.Type === 'Task') {
      const resource = String(state.Resource);
      if (resource.endsWith(':lambda:invoke.waitForTaskToken')) {
        const parameters = state.Parameters as {
          FunctionName: string;
          Payload: Record<string, unknown>;
        };
        const payload: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(parameters.Payload)) {
          if (key === 'taskToken.$') payload.taskToken = 'issued-by-the-sandbox';
          else payload[key] = value;
        }
        if (typeof state.TimeoutSecondsPath === 'string')
          payload['__timeoutSeconds.$'] = state.TimeoutSecondsPath;
        else if (typeof state.TimeoutSeconds === 'number')
          payload.__timeoutSeconds = state.TimeoutSeconds;
        else
          throw new Error(`state ${name}: a task token wait without a timeout would wait forever`);
        delete state.TimeoutSeconds;
        delete state.TimeoutSecondsPath;
        delete state.HeartbeatSeconds;
        state.Parameters = payload;
        state.Resource = parameters.FunctionName;
        tasks.set(name, { kind: 'waitForToken', functionArn: parameters.FunctionName });
      } else if (
        resource.endsWith(':states:startExecution.sync:2') ||
        resource.endsWith(':states:startExecution.sync')
      ) {
        tasks.set(name, { kind: 'childExecution' });
      } else if (LAMBDA_ARN.test(resource)) {
        tasks.set(name, { kind: 'lambda', functionArn: resource });
      } else {
        throw new Error(`state ${name}: the sandbox cannot run resource ${resource}`);
      }
    }
    if (
      state.Type === 'Task' &&
      state.TimeoutSeconds === undefined &&
      state.TimeoutSecondsPath === undefined
    ) {
      state.TimeoutSeconds = NO_WALL_TIMEOUT_SECONDS;
    }
    states[name] = state;
  }
  return { definition: { ...definition, States: states }, tasks, retryable };
}

function pick(state: State, keys: readonly string[]): State {
  const out: State = {};
  for (const key of keys) if (key in state) out[key] = state[key];
  return out;
}
