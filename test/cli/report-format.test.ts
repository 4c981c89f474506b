/** Issue 12 §3: reports like Get-CauReport -Detailed, failures first, times in the operator's zone. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import {
  failureSummary,
  formatReport,
  formatTime,
  renderReportHtml,
  renderReportText,
  resolveTimeZone,
} from '../../cli/report-format.js';
import type { RunReportView } from '../../lambdas/core/api-model.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NOW = new Date('2026-01-14T00:00:00.000Z');
const LONG_TITLE =
  'CAUHotfix_All/2026-01 Cumulative Update for Microsoft server operating system version 23H2 (KB5034439).msu';

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), cwd: REPO });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

const update = (over: Partial<RunReportView['nodes'][number]['updates'][number]>) => ({
  plugin: 'Microsoft.HotfixPlugin',
  update: LONG_TITLE,
  attempt: 1,
  index: 0,
  outcome: 'Success_RebootRequired' as const,
  exitCode: 3010,
  exitCodeHex: '0xBC2',
  exitCodeName: 'ERROR_SUCCESS_REBOOT_REQUIRED',
  rebootRequired: true,
  rebootInitiated: false,
  durationSeconds: 300,
  ...over,
});

const REPORT: RunReportView = {
  runId: 'r-7',
  target: 'CLUSTER1',
  targetKind: 'cluster',
  status: 'Failed',
  reason: 'NODE2 failed; maxFailedNodes 0 reached',
  startedAt: '2026-01-13T22:00:00.000Z',
  finishedAt: '2026-01-13T23:00:00.000Z',
  makespanSeconds: 3600,
  lockReleased: true,
  changeTicket: null,
  requestedBy: null,
  nodes: [
    {
      name: 'NODE1',
      status: 'Succeeded',
      startedAt: '2026-01-13T22:00:00.000Z',
      finishedAt: '2026-01-13T22:20:00.000Z',
      drained: true,
      restarts: 1,
      attempts: 1,
      updates: [update({})],
      ledger: [],
    },
    {
      name: 'NODE2',
      status: 'Failed',
      detail: 'UpdateFailed: the installer failed on every attempt',
      startedAt: '2026-01-13T22:20:00.000Z',
      finishedAt: '2026-01-13T22:50:00.000Z',
      drained: true,
      restarts: 0,
      attempts: 2,
      updates: [
        update({
          outcome: 'Failed',
          exitCode: 1603,
          exitCodeHex: '0x643',
          exitCodeName: 'ERROR_INSTALL_FAILURE',
          rebootRequired: false,
        }),
        update({
          attempt: 2,
          outcome: 'Failed',
          exitCode: 1603,
          exitCodeHex: '0x643',
          exitCodeName: 'ERROR_INSTALL_FAILURE',
          rebootRequired: false,
        }),
      ],
      ledger: [],
    },
    {
      name: 'NODE3',
      status: 'NotStarted',
      drained: false,
      restarts: 0,
      attempts: 0,
      updates: [],
      ledger: [],
    },
  ],
};

describe('the failure summary', () => {
  it('names the failed node, the update, the attempt, the exit code and its name, and why', () => {
    expect(failureSummary(REPORT)).toEqual([
      `NODE2 Failed installing ${LONG_TITLE} (attempt 2): Failed, exit 1603 (0x643) ERROR_INSTALL_FAILURE; UpdateFailed: the installer failed on every attempt (drained: yes)`,
    ]);
  });

  it('is empty for a run without failures', () => {
    expect(
      failureSummary({ ...REPORT, nodes: [REPORT.nodes[0] as RunReportView['nodes'][number]] }),
    ).toEqual([]);
  });
});

describe('the text report', () => {
  const text = renderReportText(REPORT, { timeZone: 'America/New_York' });
  const lines = text.split('\n');

  it('puts the failures first: the summary before any node, the failed node before the others', () => {
    const failed = lines.findIndex((l) => l.includes('FAILED (1 of 3 nodes)'));
    const firstNode = lines.findIndex((l) => /^ {2}NODE\d/.test(l));
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThan(firstNode);
    expect(lines.filter((l) => /^ {2}NODE\d/.test(l)).map((l) => l.trim().split(' ')[0])).toEqual([
      'NODE2',
      'NODE1',
      'NODE3',
    ]);
  });

  it('lists under a node what the rescan after the final restart found still applicable, and why', () => {
    const rescanned = renderReportText(
      {
        ...REPORT,
        nodes: [
          {
            ...(REPORT.nodes[0] as RunReportView['nodes'][number]),
            stillApplicable: [
              {
                kb: 'KB5035002',
                title: '2026-01 Cumulative Update (KB5035002)',
                source: 'WindowsUpdate',
                reason: 'newlyOffered',
                detail: 'not tried by this run: offered only after its installs',
              },
            ],
          },
          { ...(REPORT.nodes[2] as RunReportView['nodes'][number]), stillApplicable: [] },
        ],
      },
      { timeZone: 'UTC' },
    ).split('\n');
    const at = rescanned.indexOf('    still applicable after the restart (1):');
    expect(at).toBeGreaterThan(rescanned.findIndex((l) => l.startsWith('  NODE1')));
    expect(rescanned[at + 1]).toBe(
      '      KB5035002 2026-01 Cumulative Update (KB5035002): not tried by this run: offered only after its installs',
    );
    expect(rescanned).toContain('    still applicable after the restart: none');
    // A node not rescanned (the shared REPORT) gets no such line.
    expect(lines.some((l) => l.includes('still applicable'))).toBe(false);
  });

  it('shows full update titles and exit code names', () => {
    // NODE2 attempt 1 and NODE1; attempt 2 is marked [try 2].
    expect(lines.filter((l) => l.trim() === LONG_TITLE)).toHaveLength(2);
    expect(text).toContain('exit 1603 (0x643) ERROR_INSTALL_FAILURE');
    expect(text).toContain('[try 2] CAUHotfix_All/2026-01 Cumulative Update');
  });

  it('shows times in the given zone and says which', () => {
    expect(text).toContain('started 2026-01-13 17:00:00 EST, finished 2026-01-13 18:00:00 EST');
    expect(text).toContain('started 2026-01-13 17:20:00 EST, finished 2026-01-13 17:50:00 EST');
    expect(text).not.toContain('2026-01-13T22:00:00');
    expect(lines.at(-1)).toBe('Times in America/New_York.');
  });
});

describe('the HTML report', () => {
  const html = renderReportHtml(REPORT, NOW, { timeZone: 'Asia/Tokyo' });
  it('lists the failures before the node table, failed nodes first, times in the zone', () => {
    expect(html.indexOf('class="failures"')).toBeLessThan(html.indexOf('class="nodes"'));
    expect(html.indexOf('<td>NODE2</td>')).toBeLessThan(html.indexOf('<td>NODE1</td>'));
    expect(html).toContain('2026-01-14 07:00:00 GMT+9');
    expect(html).toContain('<td>ERROR_INSTALL_FAILURE</td>');
  });
});

describe('time zones', () => {
  it.each([
    { zone: 'UTC', shown: '2026-07-01 12:00:00 UTC' },
    { zone: 'Europe/Berlin', shown: '2026-07-01 14:00:00 GMT+2' },
    { zone: 'America/Los_Angeles', shown: '2026-07-01 05:00:00 PDT' },
  ])('$zone', ({ zone, shown }) => {
    expect(formatTime('2026-07-01T12:00:00Z', zone)).toBe(shown);
  });

  it('refuses an unknown zone with what would be accepted', () => {
    expect(resolveTimeZone('Mars/Olympus')).toEqual({
      problem: expect.stringContaining('expected an IANA time zone'),
    });
  });

  it('JSON keeps the API UTC times whatever the zone', () => {
    expect(formatReport(REPORT, 'json', { timeZone: 'Asia/Tokyo' })).toBe(
      JSON.stringify(REPORT, null, 2),
    );
  });
});

describe('rollout report --tz (local sandbox)', () => {
  it('a bad --tz is a usage error naming it', async () => {
    const result = await run('report', '--local', 'change-management-1', '--tz', 'Mars/Olympus');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--tz "Mars/Olympus": expected an IANA time zone');
  });

  it('--tz UTC: the report shows UTC, and the API report carries node times and exit code names', async () => {
    const text = await run('report', '--local', 'change-management-1', '--tz', 'UTC');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    expect(text.stdout.trim().split('\n').at(-1)).toBe('Times in UTC.');
    const json = JSON.parse(
      (await run('report', '--local', 'change-management-1', '--json')).stdout,
    );
    expect(json.nodes[0].startedAt).toMatch(/Z$/);
    expect(json.nodes[0].updates[0]).toMatchObject({
      exitCode: 3010,
      exitCodeName: 'ERROR_SUCCESS_REBOOT_REQUIRED',
    });
  }, 60_000);
});
