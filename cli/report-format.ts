/**
 * A rollout's report in the formats `rollout report` writes: text (like `Get-CauReport
 * -Detailed`), JSON (the API's), CSV (the API's own renderer, RFC 4180) and HTML (like
 * `Export-CauReport -Format HTML`: one self-contained page, the run summary, then per node and
 * per update the outcome, exit code, restart and duration). Every value in the HTML is escaped;
 * the page loads nothing and runs nothing.
 */
import { reportToCsv } from '../lambdas/core/api-model.js';
import { stillApplicableLines } from '../lambdas/core/rescan.js';
import { formatDuration } from '../sandbox/report.js';
import type { RunReport } from './backend.js';

export const REPORT_FORMATS = ['text', 'json', 'csv', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** How text and HTML show times. JSON and CSV keep the API's UTC. */
export interface ReportOptions {
  /** An IANA time zone (`Europe/Berlin`) for the times shown. @default - the machine's own */
  readonly timeZone?: string;
}

/** The report in a format; the text ends without a newline (the CLI adds it). */
export function formatReport(
  report: RunReport,
  format: ReportFormat,
  options: ReportOptions = {},
): string {
  switch (format) {
    case 'text':
      return renderReportText(report, options);
    case 'json':
      return JSON.stringify(report, null, 2);
    case 'csv':
      return reportToCsv(report).replace(/\r\n$/, '');
    case 'html':
      return renderReportHtml(report, new Date(), options);
  }
}

/**
 * Checks a `--tz` value: an IANA name or `UTC`.
 *
 * @returns the name as Intl resolves it, or undefined with the reason in `problem`.
 */
export function resolveTimeZone(value: string): { timeZone: string } | { problem: string } {
  try {
    return {
      timeZone: new Intl.DateTimeFormat('en-US', { timeZone: value }).resolvedOptions().timeZone,
    };
  } catch {
    return { problem: 'expected an IANA time zone such as Europe/Berlin, America/New_York or UTC' };
  }
}

const machineTimeZone = () => new Intl.DateTimeFormat().resolvedOptions().timeZone;

/**
 * `2026-03-02 11:00:00 CET`: an instant in the operator's time zone, with the zone's name, as
 * the CAU console shows local times. Text that is not a time is returned as it is.
 */
export function formatTime(iso: string, timeZone: string = machineTimeZone()): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${parts.timeZoneName}`;
}

type ReportNode = RunReport['nodes'][number];
type ReportUpdate = ReportNode['updates'][number];

const FAILED_NODE = /^(Failed|TimedOut|Aborted)$/;
const isFailedNode = (n: ReportNode) => FAILED_NODE.test(n.status);
const isFailedUpdate = (u: ReportUpdate) =>
  u.outcome === 'Failed' || u.outcome === 'Fail_RebootRequired';

/**
 * What went wrong, first: one line per failed node, naming the update and exit code it failed
 * on (its last failed attempt) and the node's own reason, and whether it had been drained.
 */
export function failureSummary(report: RunReport): string[] {
  return report.nodes.filter(isFailedNode).map((node) => {
    const failed = node.updates.filter(isFailedUpdate).at(-1);
    const where = failed
      ? `installing ${failed.update} (attempt ${failed.attempt}): ${failed.outcome}, exit ${exitCodeText(failed)}`
      : 'before any update was installed';
    const why = node.detail ?? failed?.detail;
    const step = node.failedStep === undefined ? '' : ` at ${node.failedStep}`;
    return `${node.name} ${node.status}${step} ${where}${why ? `; ${why}` : ''}${drainedText(node)}`;
  });
}

/** ` (drained: yes, resumed: yes)`, or nothing for a node never drained. */
function drainedText(node: ReportNode): string {
  if (!node.drained) return '';
  if (node.resumed === undefined) return ' (drained: yes)';
  return ` (drained: yes, resumed: ${node.resumed ? 'yes' : 'no, left Paused'})`;
}

/** Failed nodes first, each group in the rollout's update order. */
const failuresFirst = (nodes: readonly ReportNode[]) => [
  ...nodes.filter(isFailedNode),
  ...nodes.filter((n) => !isFailedNode(n)),
];

const pad = (text: string, width: number) =>
  text.length >= width ? `${text} ` : text + ' '.repeat(width - text.length);

const exitCodeText = (u: RunReport['nodes'][number]['updates'][number]) =>
  u.exitCode === null
    ? '-'
    : `${u.exitCode}${u.exitCodeHex ? ` (${u.exitCodeHex})` : ''}${u.exitCodeName ? ` ${u.exitCodeName}` : ''}`;

const ticketText = (t: RunReport['changeTicket']) =>
  t ? `${t.system} ${t.id}${t.url ? ` <${t.url}>` : ''}` : undefined;

/** Phases (issue 13, item 4): one line per phase judged, with its verdict and how it advanced. */
export function phaseLines(report: RunReport, time: (iso: string) => string): string[] {
  const phases = report.phases ?? [];
  if (phases.length === 0) return [];
  const how = {
    bake: 'baked, then advanced by itself',
    approval: 'waited for approval',
    none: 'last',
  };
  return [
    '',
    `  PHASES (${phases.length}):`,
    ...phases.map(
      (p) =>
        `    ${p.index + 1}. ${p.name}: ${p.nodes.join(', ')}; ${p.failed.length} failed of ${p.failuresAllowed} allowed; ${p.passed ? `passed (${how[p.advance]})` : 'FAILED its criteria: the run stopped'}; judged ${time(p.judgedAt)}`,
    ),
  ];
}

/**
 * The report as text, like `Get-CauReport -Detailed`: the run, what failed and why, then per
 * node (failed ones first) its result and times, and per update the outcome with the exit code
 * and its name. Times are in `options.timeZone`; update names are never cut.
 */
export function renderReportText(report: RunReport, options: ReportOptions = {}): string {
  const tz = options.timeZone ?? machineTimeZone();
  const time = (iso: string) => formatTime(iso, tz);
  const kind = report.targetKind ?? 'target';
  const lines = [
    `Rollout ${report.runId} on ${kind} ${report.target}: ${report.status}${report.reason ? ` (${report.reason})` : ''}`,
  ];
  if (report.startedAt) {
    lines.push(
      `  started ${time(report.startedAt)}${report.finishedAt ? `, finished ${time(report.finishedAt)} (${formatDuration(report.makespanSeconds ?? 0)})` : ', not finished'}; lock ${report.lockReleased ? 'released' : 'HELD'}`,
    );
  }
  for (const notice of report.notices ?? []) lines.push(`  ${notice}`);
  if (report.order) lines.push(`  ${report.order}`);
  const ticket = ticketText(report.changeTicket);
  if (ticket || report.requestedBy) {
    lines.push(
      `  ${[ticket ? `change ticket ${ticket}` : '', report.requestedBy ? `requested by ${report.requestedBy}` : ''].filter(Boolean).join('; ')}`,
    );
  }
  lines.push(...phaseLines(report, time));
  const failures = failureSummary(report);
  if (failures.length > 0) {
    lines.push('', `  FAILED (${failures.length} of ${report.nodes.length} nodes):`);
    for (const failure of failures) lines.push(`    ${failure}`);
  }
  for (const node of failuresFirst(report.nodes)) {
    lines.push(
      '',
      `  ${pad(node.name, 16)}${pad(node.status, 18)}drained: ${node.drained ? 'yes' : 'no '}  restarts: ${node.restarts}  attempts: ${node.attempts}`,
    );
    if (node.startedAt) {
      lines.push(
        `    started ${time(node.startedAt)}${node.finishedAt ? `, finished ${time(node.finishedAt)}` : ''}`,
      );
    }
    if (node.detail) lines.push(`    ${node.detail}`);
    if (node.failedStep) lines.push(`    failed at: ${node.failedStep}`);
    lines.push(...stillApplicableLines(node));
    if (node.drained && node.resumed !== undefined) {
      lines.push(`    resumed: ${node.resumed ? 'yes' : 'no (left Paused)'}`);
    }
    for (const sc of node.scripts ?? []) {
      lines.push(
        `    ${sc.phase}-update script: ${sc.status}, exit ${sc.exitCode}, ${time(sc.completedAt)}`,
      );
      const tail = sc.outputTail.trimEnd().split(/\r?\n/).slice(-3);
      for (const line of tail) if (line.trim() !== '') lines.push(`      | ${line}`);
    }
    for (const u of node.updates) {
      lines.push(
        `    ${u.attempt > 1 ? `[try ${u.attempt}] ` : ''}${u.update}`,
        `      ${pad(u.outcome, 24)}exit ${pad(exitCodeText(u), 50)}restart ${pad(u.rebootRequired ? 'yes' : 'no', 4)}${formatDuration(u.durationSeconds)}`,
      );
      if (u.startedAt && u.finishedAt) {
        lines.push(`      ${time(u.startedAt)} to ${time(u.finishedAt)}`);
      }
      // The detail often only repeats the code and its name, already on the line above.
      if (u.detail && u.detail !== `${u.exitCodeHex} ${u.exitCodeName}`) {
        lines.push(`      ${u.detail}`);
      }
    }
    if (node.ledger.length > 0) {
      lines.push(
        `    ledger: ${node.ledger.map((e) => `${e.sequence}. ${e.updateId}${e.hotpatched ? ' (hotpatch)' : ''}`).join(', ')}`,
      );
    }
  }
  lines.push('', `Times in ${tz}.`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// HTML

/** Text as HTML text or attribute value: & < > " ' escaped. */
export function escapeHtml(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** A CSS class for an outcome or status; from a fixed list, never from the value itself. */
function tone(value: string): string {
  if (/^(Succeeded|Success|Success_RebootRequired|AlreadyInstalled)$/.test(value)) return 'ok';
  if (/^(NothingToInstall|NotApplicable|Skipped|NotStarted|Running|Pending)$/.test(value))
    return 'muted';
  if (/^(Stopped|Cancelled|InstalledPendingReboot)$/.test(value)) return 'warn';
  return 'bad';
}

const cell = (value: unknown, className?: string) =>
  `<td${className ? ` class="${className}"` : ''}>${escapeHtml(value)}</td>`;
const statusCell = (value: string) => cell(value, tone(value));
const row = (cells: readonly string[]) => `<tr>${cells.join('')}</tr>`;
const headRow = (names: readonly string[]) =>
  `<tr>${names.map((n) => `<th scope="col">${escapeHtml(n)}</th>`).join('')}</tr>`;

/** A link only for an http(s) URL; anything else (javascript:, data:) is shown as text. */
function link(url: string | undefined, text: string): string {
  if (url === undefined || !/^https?:\/\//i.test(url)) return escapeHtml(text);
  return `<a href="${escapeHtml(url)}" rel="noopener noreferrer">${escapeHtml(text)}</a>`;
}

const STYLE = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#1b1b1b}
h1{font-size:1.4em;margin:0 0 .6em}h2{font-size:1.1em;margin:1.6em 0 .4em}
table{border-collapse:collapse;margin:.4em 0 1em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}.summary th{width:11em}.num{text-align:right}
.ok{color:#137333}.bad{color:#b3261e;font-weight:600}.warn{color:#9a6700;font-weight:600}.muted{color:#666}
footer{color:#666;font-size:.85em;margin-top:2em}`;

/**
 * The report as one self-contained HTML page (no script, no external resource; a
 * Content-Security-Policy that allows only the inline style): the run summary, the nodes, every
 * update of every node, and the ledger entries the run installed.
 */
export function renderReportHtml(
  report: RunReport,
  generatedAt: Date = new Date(),
  options: ReportOptions = {},
): string {
  const tz = options.timeZone ?? machineTimeZone();
  const time = (iso: string | undefined) => (iso === undefined ? '' : formatTime(iso, tz));
  const kind = report.targetKind ?? 'target';
  const ticket = report.changeTicket;
  const summary: [string, string][] = [
    ['Rollout', escapeHtml(report.runId)],
    ['Target', `${escapeHtml(kind)} ${escapeHtml(report.target)}`],
    ['Status', `<span class="${tone(report.status)}">${escapeHtml(report.status)}</span>`],
    ['Reason', escapeHtml(report.reason ?? '')],
    ['Started', escapeHtml(time(report.startedAt))],
    ['Finished', escapeHtml(report.finishedAt ? time(report.finishedAt) : 'not finished')],
    [
      'Duration',
      escapeHtml(
        report.makespanSeconds === undefined ? '' : formatDuration(report.makespanSeconds),
      ),
    ],
    ['Target lock', report.lockReleased ? 'released' : '<span class="bad">held</span>'],
    ['Change ticket', ticket ? link(ticket.url, `${ticket.system} ${ticket.id}`) : ''],
    ['Requested by', escapeHtml(report.requestedBy ?? '')],
  ];
  const count = (status: string) => report.nodes.filter((n) => n.status === status).length;
  const nodesTable = [
    '<table class="nodes">',
    headRow([
      'Node',
      'Status',
      'Started',
      'Finished',
      'Drained',
      'Restarts',
      'Attempts',
      'Updates',
      'Detail',
      'Failed step',
    ]),
    ...failuresFirst(report.nodes).map((n) =>
      row([
        cell(n.name),
        statusCell(n.status),
        cell(time(n.startedAt)),
        cell(time(n.finishedAt)),
        cell(
          n.drained
            ? n.resumed === undefined
              ? 'yes'
              : `yes, ${n.resumed ? 'resumed' : 'left Paused'}`
            : 'no',
        ),
        cell(n.restarts, 'num'),
        cell(n.attempts, 'num'),
        cell(n.updates.length, 'num'),
        cell(n.detail ?? ''),
        cell(n.failedStep ?? ''),
      ]),
    ),
    '</table>',
  ];
  const updateRows = failuresFirst(report.nodes).flatMap((n) =>
    n.updates.map((u) =>
      row([
        cell(n.name),
        cell(u.attempt, 'num'),
        cell(u.plugin),
        cell(u.update),
        statusCell(u.outcome),
        cell(u.exitCode ?? '', 'num'),
        cell(u.exitCodeHex ?? ''),
        cell(u.exitCodeName ?? ''),
        cell(u.rebootRequired ? 'yes' : 'no'),
        cell(u.rebootInitiated ? 'yes' : 'no'),
        cell(formatDuration(u.durationSeconds), 'num'),
        cell(time(u.startedAt)),
        cell(time(u.finishedAt)),
        cell(u.detail ?? ''),
      ]),
    ),
  );
  const updatesTable =
    updateRows.length === 0
      ? ['<p>No update was attempted.</p>']
      : [
          '<table class="updates">',
          headRow([
            'Node',
            'Attempt',
            'Plug-in',
            'Update',
            'Outcome',
            'Exit code',
            'Hex',
            'Name',
            'Restart required',
            'Restart initiated',
            'Duration',
            'Started',
            'Finished',
            'Detail',
          ]),
          ...updateRows,
          '</table>',
        ];
  const ledgerRows = report.nodes.flatMap((n) =>
    n.ledger.map((e) =>
      row([
        cell(n.name),
        cell(e.sequence, 'num'),
        cell(e.updateId),
        cell(time(e.installedAt)),
        cell(e.hotpatched ? 'yes' : 'no'),
      ]),
    ),
  );
  const ledgerTable =
    ledgerRows.length === 0
      ? ['<p>This rollout installed nothing that is still installed.</p>']
      : [
          '<table class="ledger">',
          headRow(['Node', 'Sequence', 'Update', 'Installed at', 'Hotpatch']),
          ...ledgerRows,
          '</table>',
        ];
  const scriptRows = report.nodes.flatMap((n) =>
    (n.scripts ?? []).map((sc) =>
      row([
        cell(n.name),
        cell(`${sc.phase}-update`),
        statusCell(sc.status),
        cell(sc.exitCode, 'num'),
        cell(time(sc.completedAt)),
        `<td><pre>${escapeHtml(sc.outputTail)}</pre></td>`,
      ]),
    ),
  );
  const scriptsTable =
    scriptRows.length === 0
      ? []
      : [
          '<h2>Pre- and post-update scripts</h2>',
          '<table class="scripts">',
          headRow(['Node', 'Script', 'Status', 'Exit code', 'Completed', 'Output (end)']),
          ...scriptRows,
          '</table>',
        ];
  const title = `Rollout ${report.runId} on ${kind} ${report.target}: ${report.status}`;
  const failures = failureSummary(report);
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    '<table class="summary">',
    ...summary.map(([name, value]) => `<tr><th scope="row">${name}</th><td>${value}</td></tr>`),
    '</table>',
    ...(failures.length === 0
      ? []
      : [
          `<h2 class="bad">Failed (${failures.length} of ${report.nodes.length} nodes)</h2>`,
          '<ul class="failures">',
          ...failures.map((f) => `<li>${escapeHtml(f)}</li>`),
          '</ul>',
        ]),
    `<h2>Nodes (${report.nodes.length}: ${count('Succeeded')} succeeded, ${count('Failed')} failed)</h2>`,
    ...nodesTable,
    '<h2>Updates, per node</h2>',
    ...updatesTable,
    ...scriptsTable,
    '<h2>Install ledger entries of this rollout</h2>',
    ...ledgerTable,
    `<footer>Generated ${escapeHtml(generatedAt.toISOString())} by rollout report (like Export-CauReport). Times in ${escapeHtml(tz)}.</footer>`,
    '</body>',
    '</html>',
  ].join('\n');
}
