/** Issue 12 §7: the operator's CloudWatch dashboard, from the synthesized template. */
import { describe, expect, it } from 'vitest';
import { synth } from './synth.js';

/** The dashboard body with its tokens (Refs, GetAtts) rendered as `{ref:Id}`. */
function dashboardBody(): { text: string; widgets: { properties: Record<string, unknown> }[] } {
  const { template } = synth();
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = (dashboards[0] as { Properties: { DashboardBody: unknown } }).Properties
    .DashboardBody as { 'Fn::Join': [string, unknown[]] };
  const text = body['Fn::Join'][1]
    .map((part) => (typeof part === 'string' ? part : `{ref:${JSON.stringify(part)}}`))
    .join('');
  // The rendered tokens sit inside JSON strings: parse with them replaced by a placeholder.
  const parsed = JSON.parse(text.replace(/\{ref:.*?\}\}/g, 'TOKEN')) as {
    widgets: { properties: Record<string, unknown> }[];
  };
  return { text, widgets: parsed.widgets };
}

const stateMachineIds = () =>
  Object.keys(synth().template.findResources('AWS::StepFunctions::StateMachine'));

describe('the CloudWatch dashboard', () => {
  const { text, widgets } = dashboardBody();
  const titles = widgets.map((w) => w.properties.title);

  it('has the operator widgets, alarms first', () => {
    expect(titles).toEqual([
      'Alarms',
      'Rollouts',
      'Nodes (node workflow executions)',
      'Time per node',
      'SSM commands by how they ended',
      'Completion events dead-lettered',
    ]);
  });

  it('links every alarm of the control plane', () => {
    const { template } = synth();
    const alarms = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThanOrEqual(3);
    for (const id of alarms) expect(text).toContain(`"${id}"`);
  });

  it.each([
    ['rollouts started', 'ExecutionsStarted'],
    ['rollouts succeeded', 'RolloutSucceeded'],
    ['rollouts failed', 'RolloutFailed'],
    ['nodes updated', 'ExecutionsSucceeded'],
    ['nodes failed', 'ExecutionsFailed'],
    ['time per node', 'ExecutionTime'],
    ['commands timed out', '"status","TimedOut"'],
    ['dead-lettered events', 'ApproximateNumberOfMessagesVisible'],
  ])('graphs %s (%s)', (_what, metric) => {
    expect(text).toContain(metric);
  });

  it('graphs both workflows: rollouts and nodes', () => {
    // The scan, compliance and staging workflows install nothing: the dashboard is about updates.
    const ids = stateMachineIds().filter((id) => /^ControlPlane(Rollout|Node)Workflow/.test(id));
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(text).toContain(id);
  });
});
