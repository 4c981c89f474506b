/**
 * The state machines as they ship: rendered from the synthesized template (never hand-written),
 * validated with asl-validator and our own transition check, and searched for the paths that
 * matter: a drained node is always resumed, a held lock is always released.
 */
import { createRequire } from 'node:module';
import type { CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import {
  type AslDefinition,
  functionLogicalId,
  renderStateMachines,
} from '../../sandbox/definitions.js';
import { synth } from './synth.js';

// asl-validator ships no type declarations; this is the shape of its default export.
type AslValidator = (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errors: unknown[]; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

type State = Record<string, unknown>;
interface Scope {
  readonly StartAt: string;
  readonly States: Record<string, State>;
}
interface ChoiceRule {
  readonly Next?: string;
  readonly Variable?: string;
  readonly BooleanEquals?: boolean;
  readonly StringEquals?: string;
}
interface CatchRule {
  readonly ErrorEquals?: readonly string[];
  readonly Next: string;
  readonly ResultPath?: string | null;
}

const { template, stack } = synth();
const machines = renderStateMachines(
  template.toJSON() as Parameters<typeof renderStateMachines>[0],
);
const logicalId = (construct: IConstruct) =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);
const definitionOf = (construct: IConstruct): AslDefinition => {
  const machine = machines.find((m) => m.logicalId === logicalId(construct));
  if (!machine) throw new Error(`no rendered state machine for ${construct.node.path}`);
  return machine.definition;
};
const nodeWorkflow = definitionOf(stack.controlPlane.nodeWorkflow);
const rolloutWorkflow = definitionOf(stack.controlPlane.rolloutWorkflow);
const scanWorkflow = definitionOf(stack.controlPlane.scanWorkflow);
const WORKFLOWS = [
  ['node workflow', nodeWorkflow],
  ['rollout workflow', rolloutWorkflow],
  ['scan workflow', scanWorkflow],
] as const;
const fns = stack.controlPlane.functions.functions;

// -- reading states ------------------------------------------------------------------------

const choicesOf = (state: State) => (state.Choices as ChoiceRule[] | undefined) ?? [];
const catchesOf = (state: State) => (state.Catch as CatchRule[] | undefined) ?? [];

/** Every transition out of a state, labelled by the field that makes it. */
function transitions(state: State): { field: string; target: string }[] {
  const out: { field: string; target: string }[] = [];
  if (typeof state.Next === 'string') out.push({ field: 'Next', target: state.Next });
  if (typeof state.Default === 'string') out.push({ field: 'Default', target: state.Default });
  choicesOf(state).forEach((rule, i) => {
    out.push({ field: `Choices[${i}].Next`, target: String(rule.Next) });
  });
  catchesOf(state).forEach((rule, i) => {
    out.push({ field: `Catch[${i}].Next`, target: String(rule.Next) });
  });
  return out;
}

/** The nested scopes of a state: a Map's processor, a Parallel's branches. */
function nestedScopes(state: State): { label: string; scope: Scope }[] {
  const processor = (state.ItemProcessor ?? state.Iterator) as Scope | undefined;
  if (processor)
    return [{ label: state.ItemProcessor ? 'ItemProcessor' : 'Iterator', scope: processor }];
  return ((state.Branches as Scope[] | undefined) ?? []).map((scope, i) => ({
    label: `Branches[${i}]`,
    scope,
  }));
}

/** Every state of a definition, nested ones included, with its path. */
function allStates(scope: Scope, path = ''): { path: string; name: string; state: State }[] {
  return Object.entries(scope.States).flatMap(([name, state]) => [
    { path: `${path}${name}`, name, state },
    ...nestedScopes(state).flatMap(({ label, scope: inner }) =>
      allStates(inner, `${path}${name}.${label}/`),
    ),
  ]);
}

/**
 * Checks that every StartAt, Next, Default, Choices[].Next and Catch[].Next names a state of
 * its own scope (Map processors and Parallel branches included), that every non-terminal state
 * has a way out, and that every state is reachable from its scope's StartAt.
 */
function transitionProblems(scope: Scope, path = ''): string[] {
  const problems: string[] = [];
  const names = new Set(Object.keys(scope.States));
  if (!names.has(scope.StartAt)) {
    problems.push(`${path}StartAt "${scope.StartAt}" names no state in its scope`);
  }
  for (const [name, state] of Object.entries(scope.States)) {
    for (const { field, target } of transitions(state)) {
      if (!names.has(target)) problems.push(`${path}${name}.${field} "${target}" names no state`);
    }
    const terminal =
      state.End === true || ['Choice', 'Succeed', 'Fail'].includes(String(state.Type));
    if (!terminal && typeof state.Next !== 'string') {
      problems.push(`${path}${name} has neither Next nor End`);
    }
    for (const { label, scope: inner } of nestedScopes(state)) {
      problems.push(...transitionProblems(inner, `${path}${name}.${label}/`));
    }
  }
  const reached = new Set<string>();
  const queue = names.has(scope.StartAt) ? [scope.StartAt] : [];
  while (queue.length > 0) {
    const name = queue.pop() as string;
    if (reached.has(name)) continue;
    reached.add(name);
    const state = scope.States[name];
    if (state)
      queue.push(
        ...transitions(state)
          .map((t) => t.target)
          .filter((t) => names.has(t)),
      );
  }
  for (const name of names) {
    if (!reached.has(name)) problems.push(`${path}${name} is not reachable from StartAt`);
  }
  return problems;
}

/** The function a Lambda task invokes and the payload it sends, if the state is one. */
function lambdaCall(
  state: State,
): { functionId: string; payload: Record<string, unknown> } | undefined {
  if (state.Type !== 'Task') return undefined;
  const resource = String(state.Resource);
  const parameters = (state.Parameters ?? {}) as Record<string, unknown>;
  const direct = functionLogicalId(resource);
  if (direct) return { functionId: direct, payload: parameters };
  if (resource.startsWith('arn:aws:states:::lambda:invoke')) {
    const functionId = functionLogicalId(String(parameters.FunctionName));
    if (functionId) {
      return { functionId, payload: (parameters.Payload ?? {}) as Record<string, unknown> };
    }
  }
  return undefined;
}

const isTerminal = (state: State) =>
  state.Type === 'Succeed' || state.Type === 'Fail' || state.End === true;

/**
 * Depth-first search over every transition from `start`. A path ends when it meets a state
 * `covers` accepts (the path is fine) or a terminal state (the path is reported). Returns the
 * uncovered paths. `step` may prune transitions a known fact makes impossible.
 */
function uncoveredPaths<F>(
  scope: Scope,
  start: string,
  initial: F,
  covers: (name: string, state: State) => boolean,
  step: (state: State, fact: F) => { target: string; fact: F }[] = (state, fact) =>
    transitions(state).map(({ target }) => ({ target, fact })),
): string[][] {
  const found: string[][] = [];
  const seen = new Set<string>();
  const visit = (name: string, fact: F, path: string[]) => {
    const key = `${name}|${JSON.stringify(fact)}`;
    if (seen.has(key)) return;
    seen.add(key);
    const state = scope.States[name];
    if (!state) throw new Error(`${name} is not a state`);
    const here = [...path, name];
    if (covers(name, state)) return;
    if (isTerminal(state)) {
      found.push(here);
      return;
    }
    for (const next of step(state, fact)) visit(next.target, next.fact, here);
  };
  visit(start, initial, []);
  return found;
}

// -- the drained flag: what the node workflow knows about $.state.drained ------------------

type Drained = boolean | 'unknown';

/** The drained flag after a state's result is written. */
function drainedAfter(state: State, drained: Drained, resultPath: unknown): Drained {
  if (resultPath === '$.state') {
    const parameters = (state.Parameters ?? {}) as Record<string, unknown>;
    if (typeof parameters.drained === 'boolean') return parameters.drained;
    if (parameters['drained.$'] === '$.state.drained') return drained;
    return 'unknown';
  }
  // A result written over the whole input (the default '$') replaces $.state too.
  if (resultPath === undefined || resultPath === '$') {
    return state.Type === 'Choice' || state.Type === 'Fail' ? drained : 'unknown';
  }
  return drained;
}

/** Transitions of the node workflow, pruned by what the drained flag rules out. */
function drainedStep(state: State, drained: Drained): { target: string; fact: Drained }[] {
  const out: { target: string; fact: Drained }[] = [];
  if (state.Type === 'Choice') {
    for (const rule of choicesOf(state)) {
      const onDrained =
        rule.Variable === '$.state.drained' && typeof rule.BooleanEquals === 'boolean';
      if (onDrained && drained !== 'unknown' && rule.BooleanEquals !== drained) continue;
      out.push({ target: String(rule.Next), fact: drained });
      // This rule is certain to match: later rules and the default cannot be taken.
      if (onDrained && drained !== 'unknown') return out;
    }
    if (typeof state.Default === 'string') out.push({ target: state.Default, fact: drained });
    return out;
  }
  const after = drainedAfter(state, drained, 'ResultPath' in state ? state.ResultPath : undefined);
  if (typeof state.Next === 'string') out.push({ target: state.Next, fact: after });
  for (const rule of catchesOf(state)) {
    out.push({ target: rule.Next, fact: drainedAfter(state, drained, rule.ResultPath ?? '$') });
  }
  return out;
}

// -- point 1: restarts of a cluster node only after a successful drain ---------------------

interface DrainFacts {
  /** $.state.drained as far as the path knows. */
  readonly drained: Drained;
  /** The path took a branch that requires `$.commands.drain.status` to be Success. */
  readonly drainSucceeded: boolean;
}

type Rule = Record<string, unknown>;

/**
 * What a Choice rule can be for a cluster node with these facts: `true`, `false` or 'unknown';
 * and whether taking it means a drain succeeded.
 */
function evaluateRule(rule: Rule, facts: DrainFacts): { value: Drained; drainOk: boolean } {
  if (Array.isArray(rule.And)) {
    const parts = (rule.And as Rule[]).map((r) => evaluateRule(r, facts));
    const value = parts.some((p) => p.value === false)
      ? false
      : parts.every((p) => p.value === true)
        ? true
        : 'unknown';
    return { value, drainOk: parts.some((p) => p.drainOk) };
  }
  if (Array.isArray(rule.Or)) {
    const parts = (rule.Or as Rule[]).map((r) => evaluateRule(r, facts));
    const value = parts.some((p) => p.value === true)
      ? true
      : parts.every((p) => p.value === false)
        ? false
        : 'unknown';
    return { value, drainOk: parts.every((p) => p.drainOk) };
  }
  if (rule.Not) {
    const inner = evaluateRule(rule.Not as Rule, facts);
    return { value: inner.value === 'unknown' ? 'unknown' : !inner.value, drainOk: false };
  }
  if (rule.Variable === '$.target.kind' && typeof rule.StringEquals === 'string') {
    return { value: rule.StringEquals === 'cluster', drainOk: false };
  }
  if (rule.Variable === '$.state.drained' && typeof rule.BooleanEquals === 'boolean') {
    return {
      value: facts.drained === 'unknown' ? 'unknown' : rule.BooleanEquals === facts.drained,
      drainOk: false,
    };
  }
  if (rule.Variable === '$.commands.drain.status' && rule.StringEquals === 'Success') {
    return { value: 'unknown', drainOk: true };
  }
  return { value: 'unknown', drainOk: false };
}

/**
 * Paths of a cluster node's workflow that reach a task sending the restart document without a
 * successful drain since the last resume. Searches every transition, pruning Choice rules the
 * facts decide (the target is a cluster; the drained flag as each Pass sets it).
 */
function restartsWithoutDrain(scope: Scope): string[][] {
  const found: string[][] = [];
  const seen = new Set<string>();
  const visit = (name: string, facts: DrainFacts, path: string[]) => {
    const key = `${name}|${JSON.stringify(facts)}`;
    if (seen.has(key)) return;
    seen.add(key);
    const state = scope.States[name];
    if (!state) throw new Error(`${name} is not a state`);
    const here = [...path, name];
    if (sendsDocument(state, 'restart') && !facts.drainSucceeded) {
      found.push(here);
      return;
    }
    if (isTerminal(state)) return;
    if (state.Type === 'Choice') {
      for (const rule of choicesOf(state) as Rule[]) {
        const { value, drainOk } = evaluateRule(rule, facts);
        if (value === false) continue;
        const next = { ...facts, drainSucceeded: facts.drainSucceeded || drainOk };
        visit(String(rule.Next), next, here);
        if (value === true) return;
      }
      if (typeof state.Default === 'string') visit(state.Default, facts, here);
      return;
    }
    const after = (resultPath: unknown): DrainFacts => {
      const drained = drainedAfter(state, facts.drained, resultPath);
      // A resume (drained back to false) ends what the earlier drain did.
      return { drained, drainSucceeded: drained === false ? false : facts.drainSucceeded };
    };
    if (typeof state.Next === 'string') {
      visit(state.Next, after('ResultPath' in state ? state.ResultPath : undefined), here);
    }
    for (const rule of catchesOf(state)) visit(rule.Next, after(rule.ResultPath ?? '$'), here);
  };
  visit(scope.StartAt, { drained: false, drainSucceeded: false }, []);
  return found;
}

const sendsDocument = (state: State, document: string) =>
  lambdaCall(state)?.payload.document === document;
const isResume = (_: string, state: State) => sendsDocument(state, 'resume');

const isRelease = (_: string, state: State) => {
  const call = lambdaCall(state);
  return call?.functionId === logicalId(fns.runLock) && call.payload.action === 'release';
};

const stateNamed = (scope: Scope, name: string): State => {
  const state = scope.States[name];
  if (!state) throw new Error(`the definition has no state ${name}`);
  return state;
};

// -- tests ---------------------------------------------------------------------------------

describe('rendered definitions', () => {
  it('renders every workflow from the template', () => {
    expect(machines.map((m) => m.logicalId).sort()).toEqual(
      [
        logicalId(stack.controlPlane.nodeWorkflow),
        logicalId(stack.controlPlane.rolloutWorkflow),
        logicalId(stack.controlPlane.scanWorkflow),
        logicalId(stack.controlPlane.complianceWorkflow),
        logicalId(stack.controlPlane.stagingWorkflow),
      ].sort(),
    );
  });

  it.each(WORKFLOWS)('the %s is valid ASL (asl-validator)', (_, definition) => {
    // Act
    const { isValid, errorsText } = aslValidator(definition);
    // Assert
    expect(errorsText()).toBe('');
    expect(isValid).toBe(true);
  });

  it.each(WORKFLOWS)(
    'every transition of the %s names a state, and all are reachable',
    (_, definition) => {
      expect(transitionProblems(definition)).toEqual([]);
    },
  );

  it.each(WORKFLOWS)('the %s fits the 1 MB definition limit of Step Functions', (_, definition) => {
    expect(Buffer.byteLength(JSON.stringify(definition))).toBeLessThan(1024 * 1024);
  });
});

describe('the checks fail on a broken definition', () => {
  /** A copy of a rendered definition, changed by `mutate`. */
  const broken = (mutate: (d: { StartAt: string; States: Record<string, State> }) => void) => {
    const copy = structuredClone(nodeWorkflow) as unknown as {
      StartAt: string;
      States: Record<string, State>;
    };
    mutate(copy);
    return copy;
  };
  const firstWith = (d: Scope, test: (s: State) => boolean): [string, State] => {
    const entry = Object.entries(d.States).find(([, s]) => test(s));
    if (!entry) throw new Error('no such state in the definition');
    return entry;
  };

  it('reports a Next that names no state', () => {
    // Arrange
    const definition = broken((d) => {
      stateNamed(d, d.StartAt).Next = 'NoSuchState';
    });
    // Act
    const validator = aslValidator(definition);
    const problems = transitionProblems(definition);
    // Assert
    expect(validator.isValid).toBe(false);
    expect(validator.errorsText()).toContain('NoSuchState');
    expect(problems).toContainEqual(expect.stringContaining('Next "NoSuchState" names no state'));
  });

  it('reports a deleted state that others still name', () => {
    // Arrange
    const deleted = String(stateNamed(nodeWorkflow, nodeWorkflow.StartAt).Next);
    const definition = broken((d) => {
      delete d.States[deleted];
    });
    // Act
    const validator = aslValidator(definition);
    const problems = transitionProblems(definition);
    // Assert
    expect(validator.isValid).toBe(false);
    expect(validator.errorsText()).toContain(deleted);
    expect(problems).toContainEqual(expect.stringContaining(`"${deleted}" names no state`));
  });

  it.each([
    {
      change: 'a Catch target',
      mutate: (d: Scope) => {
        const [, state] = firstWith(d, (s) => catchesOf(s).length > 0);
        (catchesOf(state)[0] as { Next: string }).Next = 'NoSuchState';
      },
      expected: 'Catch[0].Next "NoSuchState"',
    },
    {
      change: 'a Choices target',
      mutate: (d: Scope) => {
        const [, state] = firstWith(d, (s) => s.Type === 'Choice');
        (choicesOf(state)[0] as { Next: string }).Next = 'NoSuchState';
      },
      expected: 'Choices[0].Next "NoSuchState"',
    },
    {
      change: 'a Default target',
      mutate: (d: Scope) => {
        const [, state] = firstWith(d, (s) => typeof s.Default === 'string');
        state.Default = 'NoSuchState';
      },
      expected: 'Default "NoSuchState"',
    },
    {
      change: 'the StartAt',
      mutate: (d: Scope) => {
        (d as { StartAt: string }).StartAt = 'NoSuchState';
      },
      expected: 'StartAt "NoSuchState"',
    },
    {
      change: 'an unreachable state',
      mutate: (d: Scope) => {
        d.States.Orphan = { Type: 'Succeed' };
      },
      expected: 'Orphan is not reachable',
    },
  ])('our check reports $change', ({ mutate, expected }) => {
    // Arrange
    const definition = broken(mutate);
    // Act
    const problems = transitionProblems(definition);
    // Assert
    expect(problems).toContainEqual(expect.stringContaining(expected));
  });

  it('our check looks inside a Distributed Map', () => {
    // Arrange
    const definition = structuredClone(rolloutWorkflow) as unknown as Scope;
    const [name, map] = Object.entries(definition.States).find(([, s]) => s.Type === 'Map') ?? [];
    (map?.ItemProcessor as { StartAt: string }).StartAt = 'NoSuchState';
    // Act
    const problems = transitionProblems(definition);
    // Assert
    expect(problems).toContainEqual(
      `${name}.ItemProcessor/StartAt "NoSuchState" names no state in its scope`,
    );
  });
});

describe('structure of both workflows', () => {
  it.each(WORKFLOWS)('every .waitForTaskToken task of the %s has a timeout', (_, definition) => {
    // Act
    const waits = allStates(definition).filter(({ state }) =>
      String(state.Resource).endsWith('.waitForTaskToken'),
    );
    // Assert
    for (const { path, state } of waits) {
      expect(
        typeof state.TimeoutSeconds === 'number' || typeof state.TimeoutSecondsPath === 'string',
        path,
      ).toBe(true);
    }
  });

  it('waits on SSM commands with task tokens (and the node workflow has some)', () => {
    // Act
    const commands = allStates(nodeWorkflow).filter(
      ({ state }) => lambdaCall(state)?.payload.document,
    );
    // Assert
    expect(commands.length).toBeGreaterThan(0);
    for (const { path, state } of commands) {
      expect(String(state.Resource), path).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
      expect(lambdaCall(state)?.payload['taskToken.$'], path).toBe('$$.Task.Token');
      expect(lambdaCall(state)?.functionId, path).toBe(logicalId(fns.sendCommand));
    }
  });

  it.each(WORKFLOWS)(
    'every Lambda task of the %s retries Lambda.TooManyRequestsException',
    (_, definition) => {
      // Act
      const tasks = allStates(definition).filter(({ state }) => lambdaCall(state));
      // Assert
      expect(tasks.length).toBeGreaterThan(0);
      for (const { path, state } of tasks) {
        const errors = ((state.Retry as { ErrorEquals: string[] }[] | undefined) ?? []).flatMap(
          (r) => r.ErrorEquals,
        );
        expect(errors, path).toContain('Lambda.TooManyRequestsException');
      }
    },
  );

  it.each(WORKFLOWS)(
    'no error of the %s is named by two Retriers of one state (the second would never apply)',
    (_, definition) => {
      // Act
      const duplicates = allStates(definition).flatMap(({ path, state }) => {
        const seen = new Set<string>();
        const twice: string[] = [];
        for (const retrier of (state.Retry as { ErrorEquals: string[] }[] | undefined) ?? []) {
          for (const error of retrier.ErrorEquals) {
            if (seen.has(error)) twice.push(`${path}: ${error}`);
            seen.add(error);
          }
        }
        return twice;
      });
      // Assert
      expect(allStates(definition).some(({ state }) => state.Retry)).toBe(true);
      expect(duplicates).toEqual([]);
    },
  );

  it.each(WORKFLOWS)(
    "every Lambda task of the %s retries the Lambda service's errors with full jitter, capped at 60 s",
    (_, definition) => {
      // Act
      const tasks = allStates(definition).filter(({ state }) => lambdaCall(state));
      // Assert
      expect(tasks.length).toBeGreaterThan(0);
      for (const { path, state } of tasks) {
        const retriers = (state.Retry as Record<string, unknown>[] | undefined) ?? [];
        const serviceRetrier = retriers.filter((r) =>
          (r.ErrorEquals as string[]).includes('Lambda.ServiceException'),
        );
        expect(serviceRetrier, path).toEqual([
          expect.objectContaining({
            IntervalSeconds: 2,
            MaxAttempts: 6,
            BackoffRate: 2,
            MaxDelaySeconds: 60,
            JitterStrategy: 'FULL',
            ErrorEquals: expect.arrayContaining([
              'Lambda.ClientExecutionTimeoutException',
              'Lambda.AWSLambdaException',
              'Lambda.SdkClientException',
            ]),
          }),
        ]);
      }
    },
  );

  it.each(WORKFLOWS)('the %s uses JSONPath only: no JSONata, no Assign', (_, definition) => {
    // Act
    const jsonata = [
      ...(definition.QueryLanguage && definition.QueryLanguage !== 'JSONPath' ? ['(machine)'] : []),
      ...allStates(definition)
        .filter(
          ({ state }) => state.QueryLanguage !== undefined && state.QueryLanguage !== 'JSONPath',
        )
        .map(({ path }) => path),
    ];
    const assigns = allStates(definition)
      .filter(({ state }) => 'Assign' in state || 'Arguments' in state || 'Output' in state)
      .map(({ path }) => path);
    // Assert
    expect(jsonata).toEqual([]);
    expect(assigns).toEqual([]);
  });
});

describe('node workflow', () => {
  it('has no Wait state: command results arrive by task token, not polling', () => {
    // Act
    const waits = allStates(nodeWorkflow).filter(({ state }) => state.Type === 'Wait');
    // Assert
    expect(Object.keys(nodeWorkflow.States).length).toBeGreaterThan(0);
    expect(waits.map(({ path }) => path)).toEqual([]);
  });

  it("the Drain state's success path reaches a resume", () => {
    // Arrange
    const drain = stateNamed(nodeWorkflow, 'Drain');
    // Act
    const reached = new Set<string>();
    const queue = [String(drain.Next)];
    while (queue.length > 0) {
      const name = queue.pop() as string;
      if (reached.has(name)) continue;
      reached.add(name);
      queue.push(...transitions(stateNamed(nodeWorkflow, name)).map((t) => t.target));
    }
    // Assert
    expect(sendsDocument(drain, 'drain')).toBe(true);
    expect(reached).toContain('MarkDrained');
    expect(
      [...reached].filter((n) => isResume(n, stateNamed(nodeWorkflow, n))).length,
    ).toBeGreaterThan(0);
  });

  it('every way a drain task can fail marks the node maybe paused before it ends (a failed drain may have paused it)', () => {
    // Arrange
    const drains = Object.entries(nodeWorkflow.States).filter(([, state]) =>
      sendsDocument(state, 'drain'),
    );
    const marksPaused = (_: string, state: State) =>
      ((state.Parameters ?? {}) as Record<string, unknown>).drained === true;
    // Act
    const unmarked = drains.flatMap(([, state]) =>
      catchesOf(state).flatMap((c) => uncoveredPaths(nodeWorkflow, c.Next, null, marksPaused)),
    );
    // Assert
    expect(drains.map(([name]) => name)).toContain('Drain');
    expect(drains.length).toBeGreaterThan(1);
    for (const [, state] of drains) {
      expect(catchesOf(state).at(-1)?.ErrorEquals).toEqual(['States.ALL']);
    }
    expect(unmarked).toEqual([]);
  });

  it('every path from each state that marks the node drained to a Fail state passes through a resume', () => {
    // Arrange: MarkDrained, and the drains before a restart and before a pending restart.
    const marks = Object.entries(nodeWorkflow.States).filter(
      ([name, state]) =>
        name.startsWith('MarkDrained') &&
        ((state.Parameters ?? {}) as Record<string, unknown>).drained === true,
    );
    // Act
    const unresumed = marks.flatMap(([, state]) =>
      uncoveredPaths<Drained>(nodeWorkflow, String(state.Next), true, isResume, drainedStep).filter(
        (path) => stateNamed(nodeWorkflow, path.at(-1) as string).Type === 'Fail',
      ),
    );
    // Assert
    expect(marks.length).toBeGreaterThan(2);
    expect(unresumed).toEqual([]);
  });

  it('a cluster node reaches no Restart state without a successful drain (issue 8, point 1)', () => {
    // Act
    const undrained = restartsWithoutDrain(nodeWorkflow as unknown as Scope);
    // Assert
    const restarts = Object.entries(nodeWorkflow.States).filter(([, state]) =>
      sendsDocument(state, 'restart'),
    );
    expect(restarts.length).toBeGreaterThanOrEqual(4);
    expect(undrained).toEqual([]);
  });

  it('the drain-before-restart search finds a restart that skips the drain (it can fail)', () => {
    // Arrange: the final restart's rule forgets to ask whether a cluster node is drained.
    const definition = structuredClone(nodeWorkflow) as unknown as Scope;
    const rules = (definition.States.RestartPending as State).Choices as Rule[];
    const first = rules[0] as Rule;
    expect(first.Next).toBe('RestartFinal');
    rules[0] = { ...((first.And as Rule[])[0] as Rule), Next: 'RestartFinal' };
    // Act
    const undrained = restartsWithoutDrain(definition);
    // Assert
    expect(undrained.map((path) => path.at(-1))).toContain('RestartFinal');
  });

  it('every path from MarkDrained to a Fail state passes through a resume', () => {
    // Arrange
    const markDrained = stateNamed(nodeWorkflow, 'MarkDrained');
    const drained = drainedAfter(markDrained, 'unknown', markDrained.ResultPath);
    // Act
    const unresumed = uncoveredPaths<Drained>(
      nodeWorkflow,
      String(markDrained.Next),
      drained,
      isResume,
      drainedStep,
    ).filter((path) => stateNamed(nodeWorkflow, path.at(-1) as string).Type === 'Fail');
    // Assert
    expect(drained).toBe(true);
    expect(unresumed).toEqual([]);
  });

  it('the resume search finds a failure path that skips the resume (it can fail)', () => {
    // Arrange: send a drained failure straight to the record, skipping ResumeAfterFailure.
    const definition = structuredClone(nodeWorkflow) as unknown as Scope;
    for (const state of Object.values(definition.States)) {
      for (const rule of choicesOf(state)) {
        const target = definition.States[String(rule.Next)];
        if (
          rule.Variable === '$.state.drained' &&
          target &&
          sendsDocument(target, 'resume') &&
          target.Next
        ) {
          (rule as { Next: string }).Next = String(target.Next);
        }
      }
    }
    // Act
    const unresumed = uncoveredPaths<Drained>(
      definition,
      'MarkDrained',
      true,
      isResume,
      drainedStep,
    ).filter((path) => stateNamed(definition, path.at(-1) as string).Type === 'Fail');
    // Assert
    expect(unresumed.length).toBeGreaterThan(0);
  });
});

describe('rollout workflow', () => {
  const BEFORE_LOCK = ['TargetLocked', 'InvalidInput'];
  const acquire = stateNamed(rolloutWorkflow, 'AcquireLock');

  it('takes the lock with the runLock function', () => {
    const call = lambdaCall(acquire);
    expect(call?.functionId).toBe(logicalId(fns.runLock));
    expect(call?.payload.action).toBe('acquire');
    expect(catchesOf(acquire).map((c) => c.Next)).toContain('TargetLocked');
  });

  it('releases the lock on every path from AcquireLock to an end', () => {
    // Act
    const unreleased = uncoveredPaths(
      rolloutWorkflow,
      String(acquire.Next),
      null,
      isRelease,
    ).filter((path) => !BEFORE_LOCK.includes(path.at(-1) as string));
    // Assert
    expect(unreleased).toEqual([]);
  });

  it('reaches TargetLocked and InvalidInput only before the lock is held', () => {
    // Act
    const ends = uncoveredPaths(rolloutWorkflow, String(acquire.Next), null, () => false).map(
      (path) => path.at(-1),
    );
    // Assert
    expect(ends.length).toBeGreaterThan(0);
    for (const name of BEFORE_LOCK) expect(ends).not.toContain(name);
  });

  it('the release search finds a path that skips the release (it can fail)', () => {
    // Arrange: bypass every release on the success path.
    const definition = structuredClone(rolloutWorkflow) as unknown as Scope;
    const releases = Object.entries(definition.States).filter(([n, s]) => isRelease(n, s));
    for (const state of Object.values(definition.States)) {
      for (const [name, release] of releases) {
        if (state.Next === name) state.Next = release.Next;
      }
    }
    // Act
    const unreleased = uncoveredPaths(definition, String(acquire.Next), null, isRelease).filter(
      (path) => !BEFORE_LOCK.includes(path.at(-1) as string),
    );
    // Assert
    expect(releases.length).toBeGreaterThan(0);
    expect(unreleased.length).toBeGreaterThan(0);
  });

  describe('cluster or group', () => {
    const [, kind] =
      Object.entries(rolloutWorkflow.States).find(
        ([, s]) => s.Type === 'Choice' && choicesOf(s).some((r) => r.Variable === '$.target.kind'),
      ) ?? [];
    const clusterStart = kind && choicesOf(kind).find((r) => r.StringEquals === 'cluster')?.Next;
    const isFinish = (state: State) => lambdaCall(state)?.payload.action === 'finishRun';

    /** The states of the cluster branch: reachable from its start, up to recording the finish. */
    const clusterBranch = (): Set<string> => {
      const branch = new Set<string>();
      const queue = [String(clusterStart)];
      while (queue.length > 0) {
        const name = queue.pop() as string;
        const state = stateNamed(rolloutWorkflow, name);
        if (branch.has(name) || isFinish(state)) continue;
        branch.add(name);
        queue.push(...transitions(state).map((t) => t.target));
      }
      return branch;
    };

    it('runs a cluster one node at a time in a loop, without a Map', () => {
      // Arrange
      const branch = clusterBranch();
      // Act
      const maps = [...branch].filter((n) => stateNamed(rolloutWorkflow, n).Type === 'Map');
      const loops = [...branch].filter((n) =>
        transitions(stateNamed(rolloutWorkflow, n)).some(
          (t) => branch.has(t.target) && reaches(t.target, n, branch),
        ),
      );
      const children = [...branch].filter((n) =>
        String(stateNamed(rolloutWorkflow, n).Resource).startsWith(
          'arn:aws:states:::states:startExecution.sync',
        ),
      );
      // Assert
      expect(branch.size).toBeGreaterThan(1);
      expect(maps).toEqual([]);
      expect(loops.length).toBeGreaterThan(0);
      expect(children).toHaveLength(1);
    });

    it('runs a group in a Distributed Map with failure and concurrency limits from the input', () => {
      // Arrange
      const gateChoice = stateNamed(rolloutWorkflow, String(kind?.Default));
      // Without an approval gate the whole fleet runs in one map (the Choice's IsNull branch).
      const noGate = (gateChoice.Choices as { IsNull?: boolean; Next: string }[]).find(
        (c) => c.IsNull,
      );
      const groupStart = stateNamed(rolloutWorkflow, String(noGate?.Next));
      const processor = groupStart.ItemProcessor as Scope & { ProcessorConfig?: { Mode?: string } };
      // Assert
      expect(gateChoice.Type).toBe('Choice');
      expect(groupStart.Type).toBe('Map');
      expect(processor.ProcessorConfig?.Mode).toBe('DISTRIBUTED');
      // Results go to S3, so a 10,000-node fleet's results never pass through the execution.
      expect(groupStart.ResultWriter).toMatchObject({ Resource: 'arn:aws:states:::s3:putObject' });
      expect(groupStart.ToleratedFailureCountPath).toMatch(/^\$\./);
      expect(groupStart.MaxConcurrencyPath).toMatch(/^\$\./);
      expect(
        Object.values(processor.States).some((s) =>
          String(s.Resource).startsWith('arn:aws:states:::states:startExecution.sync'),
        ),
      ).toBe(true);
    });

    /** Whether `to` is reachable from `from` within `within`. */
    function reaches(from: string, to: string, within: Set<string>): boolean {
      const seen = new Set<string>();
      const queue = [from];
      while (queue.length > 0) {
        const name = queue.pop() as string;
        if (name === to) return true;
        if (seen.has(name) || !within.has(name)) continue;
        seen.add(name);
        queue.push(...transitions(stateNamed(rolloutWorkflow, name)).map((t) => t.target));
      }
      return false;
    }
  });
});

describe('transient errors (issue 8, point 14)', () => {
  const childStarts = allStates(rolloutWorkflow as unknown as Scope).filter(({ state }) =>
    String(state.Resource).startsWith('arn:aws:states:::states:startExecution.sync'),
  );

  it('every child execution start, cluster loop and fleet maps, retries the transient Step Functions errors', () => {
    // Assert: the cluster loop's one start and each fleet map's (whole, pilot, rest, phase).
    expect(childStarts.map((s) => s.path).sort()).toEqual(
      [
        'UpdateClusterNode',
        'UpdateFleet.ItemProcessor/UpdateFleetNode',
        'UpdateFleetPhase.ItemProcessor/UpdateFleetPhaseNode',
        'UpdateFleetPilot.ItemProcessor/UpdateFleetPilotNode',
        'UpdateFleetRest.ItemProcessor/UpdateFleetRestNode',
      ].sort(),
    );
    for (const { path, state } of childStarts) {
      const retried = ((state.Retry ?? []) as { ErrorEquals: string[] }[]).flatMap(
        (r) => r.ErrorEquals,
      );
      expect(retried, path).toEqual(
        expect.arrayContaining([
          'StepFunctions.ExecutionLimitExceededException',
          'StepFunctions.ThrottlingException',
          'StepFunctions.SdkClientException',
        ]),
      );
      // A node that failed is not transient: retrying it would update the node twice.
      expect(retried, path).not.toContain('States.TaskFailed');
      expect(retried, path).not.toContain('States.ALL');
    }
  });

  it('a failed history write after a successful node still ends the node execution succeeded', () => {
    // Arrange
    const record = stateNamed(nodeWorkflow, 'RecordNodeSucceeded');
    // Act: follow every catch of the record task to its end.
    const ends = catchesOf(record).flatMap((c) =>
      uncoveredPaths(nodeWorkflow, c.Next, null, () => false).map((p) => p.at(-1)),
    );
    // Assert
    expect(lambdaCall(record)?.payload.action).toBe('recordNode');
    expect(catchesOf(record).length).toBeGreaterThan(0);
    expect(new Set(ends)).toEqual(new Set(['NodeUpdated']));
    expect(stateNamed(nodeWorkflow, 'NodeUpdated').Type).toBe('Succeed');
  });
});

describe('run-level policy in the definitions (issue 8, points 3 and 10)', () => {
  it("a fleet's rest tolerates only what the pilot left: the budget is read after the gate, before the rest", () => {
    // Arrange
    const rest = stateNamed(rolloutWorkflow, 'UpdateFleetRest');
    const budget = stateNamed(rolloutWorkflow, 'FailureBudgetAfterPilot');
    const gate = stateNamed(rolloutWorkflow, 'AwaitFleetApproval');
    // Assert
    expect(gate.Next).toBe('FailureBudgetAfterPilot');
    // Through the health-gate Choice (issue 13, item 1): without healthGates straight on.
    expect(budget.Next).toBe('HealthGatesBeforeRest');
    expect(stateNamed(rolloutWorkflow, 'HealthGatesBeforeRest').Default).toBe('UpdateFleetRest');
    expect(lambdaCall(budget)).toMatchObject({
      functionId: logicalId(fns.runHistory),
      payload: { action: 'failureBudget' },
    });
    expect(budget.ResultPath).toBe('$.failureBudget');
    expect(rest.ToleratedFailureCountPath).toBe('$.failureBudget.remaining');
    expect(stateNamed(rolloutWorkflow, 'UpdateFleetPilot').ToleratedFailureCountPath).toBe(
      '$.policy.maxFailedNodes',
    );
  });

  it("the node workflow runs plug-ins one at a time (RunPluginsSerially), in the run's order: no Map or Parallel", () => {
    // Arrange
    const states = allStates(nodeWorkflow as unknown as Scope);
    const start = choicesOf(stateNamed(nodeWorkflow, 'StartPlugins'));
    const afterHotfix = choicesOf(stateNamed(nodeWorkflow, 'AfterHotfixPlugin'));
    // Assert
    expect(states.filter(({ state }) => state.Type === 'Map' || state.Type === 'Parallel')).toEqual(
      [],
    );
    // The first plug-in is the list's first; none at all (a plain removal) goes to the end.
    expect(start[0]).toMatchObject({
      Not: { Variable: '$.plugins[0]', IsPresent: true },
      Next: 'RestartPending',
    });
    expect(JSON.stringify(start[1])).toContain('"Variable":"$.plugins[0].name"');
    expect(start[1]?.Next).toBe('FirstHotfixAttempt');
    // After the hotfix plug-in, Windows Update only when the hotfix plug-in came first of two.
    const next = afterHotfix.find((r) => r.Next === 'FirstWindowsUpdateAttempt');
    expect(JSON.stringify(next)).toContain('"StringEquals":"Microsoft.HotfixPlugin"');
    expect(JSON.stringify(next)).toContain('"Variable":"$.plugins[1]","IsPresent":true');
  });
});

describe('a cluster node left Paused stops the run (issue 8, point 8)', () => {
  it('a failed cluster node is checked for a pause first; a paused one ends the run without reaching another node', () => {
    // Arrange
    const update = stateNamed(rolloutWorkflow, 'UpdateClusterNode');
    const check = stateNamed(rolloutWorkflow, 'CheckPausedNodes');
    const choice = stateNamed(rolloutWorkflow, String(check.Next));
    const onPaused = choicesOf(choice).find(
      (r) => r.Variable === '$.paused.anyPaused' && r.BooleanEquals === true,
    )?.Next;
    // Act: every path from the stop to an end.
    const paths = uncoveredPaths(rolloutWorkflow, String(onPaused), null, () => false);
    // Assert
    expect(catchesOf(update).map((c) => c.Next)).toEqual(['CheckPausedNodes']);
    expect(lambdaCall(check)?.payload.action).toBe('pausedNodes');
    expect(lambdaCall(stateNamed(rolloutWorkflow, String(onPaused)))?.payload).toMatchObject({
      action: 'finishRun',
      // NodeLeftPaused or StorageRepairTimedOut (issue 13, item 6), as pausedNodes says.
      error: { 'Error.$': '$.paused.error', 'Cause.$': '$.paused.reason' },
    });
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) {
      expect(path).not.toContain('UpdateClusterNode');
      expect(path.some((n) => isRelease(n, stateNamed(rolloutWorkflow, n)))).toBe(true);
    }
  });
});

describe('a cluster node not Up before the run stops it before any drain (issue 8, paused-at-start)', () => {
  it('the node workflow stops after its inventory names a member not Up: recorded NotStarted, no drain, no install', () => {
    // Arrange
    const checked = choicesOf(stateNamed(nodeWorkflow, 'InventoryChecked'));
    const notUpPath = '$.commands.inventory.results[0].cluster.notUp';
    const stopRule = checked.findIndex(
      (r) =>
        JSON.stringify((r as { Not?: unknown }).Not) ===
        JSON.stringify({ Variable: notUpPath, StringEquals: '' }),
    );
    const stop = String(checked[stopRule]?.Next);
    // Act: every path from the stop to an end.
    const paths = uncoveredPaths(nodeWorkflow as unknown as Scope, stop, null, () => false);
    // Assert
    // A failed inventory fails first, then a cluster member in a group target is refused;
    // notUp is compared only after the rules that take every inventory without it (an older
    // node, a standalone server).
    expect(stopRule).toBe(4);
    expect(JSON.stringify(checked[0])).toContain('"Variable":"$.commands.inventory.status"');
    for (const rule of checked.slice(2, 4)) {
      expect(JSON.stringify(rule)).toContain(
        `"Not":${JSON.stringify({ Variable: notUpPath, IsPresent: true })}`,
      );
    }
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) {
      expect(['StoppedAtClusterNodeNotUp', 'NodeFailed']).toContain(path.at(-1));
      expect(path).not.toContain('Drain');
      expect(path).not.toContain('InstallHotfixes');
      const record = path.find((n) => lambdaCall(stateNamed(nodeWorkflow, n))?.payload.action);
      expect(lambdaCall(stateNamed(nodeWorkflow, String(record)))?.payload).toMatchObject({
        action: 'recordNode',
        result: { status: 'NotStarted', 'clusterNotUp.$': expect.any(String) },
      });
    }
    expect(stateNamed(nodeWorkflow, 'StoppedAtClusterNodeNotUp')).toMatchObject({
      Type: 'Fail',
      Error: 'ClusterNodeNotUp',
    });
  });

  it('the node workflow refuses a cluster member of a group target before any drain, restart or install', () => {
    // Arrange
    const checked = choicesOf(stateNamed(nodeWorkflow, 'InventoryChecked'));
    const rule = checked[1];
    // Act: every path from the refusal to an end.
    const paths = uncoveredPaths(
      nodeWorkflow as unknown as Scope,
      String(rule?.Next),
      null,
      () => false,
    );
    // Assert: second, right after a failed inventory; a group node whose cluster is not null.
    expect(rule).toMatchObject({
      And: [
        { Variable: '$.target.kind', StringEquals: 'group' },
        { Not: { Variable: '$.commands.inventory.results[0].cluster', IsNull: true } },
      ],
    });
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) {
      expect(path.at(-1)).toBe('NodeFailed');
      // No command that changes the node: DrainedWhenFailing only reads the state.
      const changing =
        /^(Drain|Restart[A-Z]|InstallHotfixes|WindowsUpdate|PreUpdateScript|RemoveUpdates)/;
      expect(path.filter((n) => changing.test(n) && n !== 'DrainedWhenFailing')).toEqual([]);
    }
    expect(JSON.stringify(stateNamed(nodeWorkflow, String(rule?.Next)))).toContain(
      'ClusterMemberInGroupTarget: node {} is a member of cluster {}',
    );
  });

  it('the rollout ends the run with ClusterNodeNotUp when the check finds it, without reaching another node', () => {
    // Arrange
    const check = stateNamed(rolloutWorkflow, 'CheckPausedNodes');
    const choice = stateNamed(rolloutWorkflow, String(check.Next));
    const onNotUp = choicesOf(choice).find(
      (r) => r.Variable === '$.paused.clusterNotUp' && r.BooleanEquals === true,
    )?.Next;
    // Act
    const paths = uncoveredPaths(rolloutWorkflow, String(onNotUp), null, () => false);
    // Assert: checked before the left-paused rule, so its own error names it.
    expect(choicesOf(choice)[0]?.Variable).toBe('$.paused.clusterNotUp');
    expect(lambdaCall(stateNamed(rolloutWorkflow, String(onNotUp)))?.payload).toMatchObject({
      action: 'finishRun',
      error: { Error: 'ClusterNodeNotUp' },
    });
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) {
      expect(path).not.toContain('UpdateClusterNode');
      expect(path.some((n) => isRelease(n, stateNamed(rolloutWorkflow, n)))).toBe(true);
    }
  });
});

describe('health gates in the rollout workflow (issue 13, item 1)', () => {
  it('the cluster loop picks the gated path only on $.healthGates, before the node, never inside it', () => {
    // Arrange
    const more = stateNamed(rolloutWorkflow, 'MoreClusterNodes');
    const any = stateNamed(rolloutWorkflow, 'AnyClusterNodes');
    // Assert: the gated rule comes first and tests $.healthGates; without it the old rule.
    for (const choice of [more, any]) {
      const [gated, plain] = choicesOf(choice);
      expect(JSON.stringify(gated)).toContain('"IsPresent":true');
      expect(JSON.stringify(gated)).toContain('$.healthGates');
      expect(gated?.Next).toBe('SelectGatedNode');
      expect(plain?.Next).toBe('SelectNode');
    }
    expect(stateNamed(rolloutWorkflow, 'SelectGatedNode').Next).toBe('HealthGateBeforeNode');
    expect(stateNamed(rolloutWorkflow, 'HealthGateBeforeNodePassed').Next).toBe('CheckWarnAfter');
    expect(stateNamed(rolloutWorkflow, 'SelectNode').Next).toBe('CheckWarnAfter');
  });

  it('the gate keeps only what it acts on, and each verdict has its way out', () => {
    // Arrange
    const check = stateNamed(rolloutWorkflow, 'HealthGateBeforeNode');
    const verdict = stateNamed(rolloutWorkflow, 'HealthGateBeforeNodeVerdict');
    const act = stateNamed(rolloutWorkflow, 'HealthGateBeforeNodeAct');
    const hold = stateNamed(rolloutWorkflow, 'HealthGateBeforeNodeAwaitApproval');
    // Assert
    expect(lambdaCall(check)).toMatchObject({
      functionId: logicalId(fns.checkAlarms),
      payload: { checkpoint: 'beforeNode', 'node.$': '$.current.node.name' },
    });
    expect(Object.keys(check.ResultSelector as object).sort()).toEqual([
      'action.$',
      'checkpoint.$',
      'firing.$',
      'message.$',
      'missing.$',
      'node.$',
    ]);
    expect(check.ResultPath).toBe('$.healthGate');
    expect(catchesOf(check).map((c) => c.Next)).toEqual(['FinishRunAfterError']);
    expect(choicesOf(verdict).map((c) => c.Next)).toEqual(['HealthGateBeforeNodePassed']);
    expect(verdict.Default).toBe('HealthGateBeforeNodeAnnounce');
    expect(lambdaCall(stateNamed(rolloutWorkflow, 'HealthGateBeforeNodeAnnounce'))).toMatchObject({
      functionId: logicalId(fns.runHistory),
      payload: { action: 'healthGate' },
    });
    expect(choicesOf(act).map((c) => c.Next)).toEqual([
      'HealthGateBeforeNodeAwaitApproval',
      'HealthGateBeforeNodeAlarm',
    ]);
    expect(act.Default).toBe('HealthGateBeforeNodeMissingAlarm');
    expect(stateNamed(rolloutWorkflow, 'HealthGateBeforeNodeAlarm').Next).toBe(
      'FinishRunAfterError',
    );
    expect(hold.Next).toBe('HealthGateBeforeNodePassed');
    expect(catchesOf(hold).map((c) => c.Next)).toEqual([
      'RecordRunCalledOff',
      'FinishRunAfterError',
    ]);
  });

  it('a group is gated before each wave: the whole group, the pilot and the rest', () => {
    const fleet = stateNamed(rolloutWorkflow, 'FleetHasApprovalGate');
    // Phases come first (each phase's own gate is checked at its end: beforePhase).
    expect(choicesOf(fleet).map((c) => c.Next)).toEqual([
      'SelectFleetPhase',
      'HealthGateBeforeFleetWave',
      'UpdateFleet',
      'HealthGateBeforePilotWave',
    ]);
    expect(stateNamed(rolloutWorkflow, 'HealthGateBeforeFleetWavePassed').Next).toBe('UpdateFleet');
    expect(stateNamed(rolloutWorkflow, 'HealthGateBeforePilotWavePassed').Next).toBe(
      'UpdateFleetPilot',
    );
    expect(stateNamed(rolloutWorkflow, 'HealthGateBeforeRestWavePassed').Next).toBe(
      'UpdateFleetRest',
    );
  });
});
