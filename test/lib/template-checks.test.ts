/**
 * The synthesized template passes AWS's own checkers with 0 errors: cfn-lint on the whole
 * template (each setting that changes resources), and the ASL language service
 * (`amazon-states-language-service`, the validator behind the Step Functions editors) on each
 * state machine definition rendered from it. CI runs this through `npm test`; alone:
 * `npm run check:template`.
 *
 * cfn-lint is a Python tool, installed on the machine, not by npm. Where it is missing, the
 * cfn-lint tests are skipped with one loud line, except with `CI=true`, where they fail.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Diagnostic,
  DiagnosticSeverity,
  getLanguageService,
  TextDocument,
} from 'amazon-states-language-service';
import { afterAll, describe, expect, it } from 'vitest';
import type { RolloutSettings } from '../../lib/rollout-stack.js';
import { type AslDefinition, renderStateMachines } from '../../sandbox/definitions.js';
import { synth } from './synth.js';

/** Settings that add or change resources: each variant's template is linted. */
const VARIANTS: readonly { readonly name: string; readonly settings: Partial<RolloutSettings> }[] =
  [
    { name: 'defaults', settings: {} },
    { name: 'a customer managed key made by the stack', settings: { customerManagedKey: true } },
    {
      name: 'data deleted with the stack, ALL logging, a schedule, node roles, an imported key',
      settings: {
        retainData: false,
        customerManagedKey:
          'arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        workflowLogLevel: 'ALL',
        nodeRoleArns: ['arn:aws:iam::000000000000:role/WindowsNode'],
        schedules: [
          {
            name: 'patch-tuesday',
            schedule: {
              startDate: '2026-01-01',
              daysOfWeek: ['Tuesday'],
              weeksOfMonth: [2],
              time: '03:00',
              timeZone: 'Europe/Paris',
              windowMinutes: 240,
            },
            rollout: {
              target: {
                kind: 'cluster',
                name: 'CLUSTER1',
                nodes: [
                  { name: 'NODE1', instanceId: 'i-0123456789abcdef0' },
                  { name: 'NODE2', instanceId: 'i-0123456789abcdef1' },
                ],
              },
              // Staging ahead of the window: its schedule and role pass the same checks.
              staging: { hoursBeforeWindow: 6 },
            },
          },
        ],
      },
    },
  ];

// -- cfn-lint ------------------------------------------------------------------------------

interface CfnLintFinding {
  readonly Level: 'Error' | 'Warning' | 'Informational';
  readonly Rule: { readonly Id: string };
  readonly Message: string;
  readonly Location: { readonly Path: readonly (string | number)[] };
}

/**
 * cfn-lint warnings left on purpose, each with its reason. W3005: CDK makes a function (and a
 * state machine) depend on its role's default policy and, redundantly, on the role it already
 * names with GetAtt; CloudFormation ignores the duplicate.
 */
const ACCEPTED_WARNINGS: Readonly<Record<string, string>> = {
  W3005: 'CDK adds DependsOn on a role its resource already references with GetAtt',
};

const cfnLintVersion = (() => {
  const probe = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
})();
const inCi = process.env.CI === 'true';
if (!cfnLintVersion && !inCi) {
  console.warn(
    '\n*** SKIPPED: cfn-lint is not on PATH, so the template was NOT linted (install it with `pip install cfn-lint`; with CI=true this fails) ***\n',
  );
}

const workDir = mkdtempSync(join(tmpdir(), 'rollout-template-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** Runs cfn-lint on a template and returns its findings. */
function cfnLint(template: unknown, name: string): CfnLintFinding[] {
  const file = join(workDir, `${name.replace(/\W+/g, '-')}.template.json`);
  writeFileSync(file, JSON.stringify(template, null, 1));
  const run = spawnSync('cfn-lint', ['--format', 'json', '--', file], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  // Exit status is a bit mask of the levels found (2 errors, 4 warnings, 8 informational); 1 is
  // a failure of cfn-lint itself.
  if (run.status === null || run.status === 1 || run.error) {
    throw new Error(`cfn-lint did not run on ${file}: ${run.error?.message ?? run.stderr}`);
  }
  return JSON.parse(run.stdout || '[]') as CfnLintFinding[];
}

const describeFinding = (f: CfnLintFinding) =>
  `${f.Level} ${f.Rule.Id} at ${f.Location.Path.join('/')}: ${f.Message}`;

describe.skipIf(!cfnLintVersion && !inCi)('cfn-lint', () => {
  it('is installed (CI=true requires it)', () => {
    expect(cfnLintVersion, 'cfn-lint is not on PATH; CI must run it').toMatch(/^cfn-lint \d/);
  });

  it.each(VARIANTS.map((v, i) => ({ ...v, file: `variant-${i}` })))(
    'finds 0 errors in the template ($name)',
    ({ settings, file }) => {
      // Arrange
      const { template } = synth({ settings });
      // Act
      const findings = cfnLint(template.toJSON(), file);
      // Assert
      expect(findings.filter((f) => f.Level === 'Error').map(describeFinding)).toEqual([]);
      expect(
        findings
          .filter((f) => f.Level === 'Warning' && !(f.Rule.Id in ACCEPTED_WARNINGS))
          .map(describeFinding),
      ).toEqual([]);
    },
  );

  it('reports an error in a broken template (the check can fail)', () => {
    // Arrange: a table without its required key schema.
    const broken = {
      AWSTemplateFormatVersion: '2010-09-09',
      Resources: { Table: { Type: 'AWS::DynamoDB::Table', Properties: { BillingMode: 'FAST' } } },
    };
    // Act
    const findings = cfnLint(broken, 'broken');
    // Assert
    expect(findings.filter((f) => f.Level === 'Error').length).toBeGreaterThan(0);
  });
});

// -- the ASL language service --------------------------------------------------------------

const asl = getLanguageService({});

/** The language service's diagnostics for one definition. */
async function aslDiagnostics(definition: unknown): Promise<Diagnostic[]> {
  const text = JSON.stringify(definition, null, 2);
  const document = TextDocument.create('definition.asl.json', 'json', 0, text);
  const diagnostics = await asl.doValidation(document, asl.parseJSONDocument(document));
  return diagnostics.map((d) => ({
    ...d,
    message: `${d.message} (line ${d.range.start.line + 1}: ${text.split('\n')[d.range.start.line]?.trim()})`,
  }));
}

const errorsOf = (diagnostics: readonly Diagnostic[]) =>
  diagnostics
    .filter((d) => d.severity === undefined || d.severity === DiagnosticSeverity.Error)
    .map((d) => d.message);

describe('the ASL language service', () => {
  const { template, stack } = synth();
  const machines = renderStateMachines(
    template.toJSON() as Parameters<typeof renderStateMachines>[0],
  );

  it('renders every state machine of the template', () => {
    expect(machines.map((m) => m.logicalId).sort()).toEqual(
      [
        stack.controlPlane.nodeWorkflow,
        stack.controlPlane.rolloutWorkflow,
        stack.controlPlane.scanWorkflow,
        stack.controlPlane.complianceWorkflow,
        stack.controlPlane.stagingWorkflow,
      ]
        .map((m) => stack.getLogicalId(m.node.defaultChild as never))
        .sort(),
    );
  });

  it.each(machines.map((m) => [m.logicalId, m.definition] as const))(
    'finds 0 errors and 0 warnings in %s',
    async (_, definition) => {
      // Act
      const diagnostics = await aslDiagnostics(definition);
      // Assert
      expect(errorsOf(diagnostics)).toEqual([]);
      expect(diagnostics.map((d) => d.message)).toEqual([]);
    },
  );

  it('reports a Next that names no state (the check can fail)', async () => {
    // Arrange
    const definition = machines[0]?.definition as AslDefinition;
    const [first] = Object.keys(definition.States);
    const broken = {
      ...definition,
      States: { ...definition.States, [first ?? '']: { Type: 'Pass', Next: 'NoSuchState' } },
    };
    // Act
    const diagnostics = await aslDiagnostics(broken);
    // Assert
    expect(errorsOf(diagnostics).join('\n')).toMatch(/NoSuchState|state/i);
  });
});
