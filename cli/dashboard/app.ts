/// <reference lib="dom" />
/**
 * The dashboard page (bundled by esbuild into one script; see cli/dashboard/server.ts). Plain
 * TypeScript over the DOM: every value from the API goes in as a text node or an attribute value,
 * never as HTML, because node names, update titles and reasons come from customers' servers.
 *
 * Pages (hash routes): `#/` runs of a target, `#/rollouts/<id>` one run live, `#/rollouts/<id>/report`,
 * `#/node/<name>` a node's ledger and removal, `#/scan` a scan preview, `#/stagings` and
 * `#/stagings/<id>` staging before the window (staging-page.ts).
 */
import { type InstallLedger, planRemoval } from '../../lambdas/core/install-ledger.js';
import type {
  DecisionAccepted,
  Ledger,
  NodeProgress,
  RemovalAccepted,
  RolloutPage,
  RolloutStatus,
  RunReport,
  ScanAccepted,
  ScanView,
} from '../backend.js';
import { joinReportPages } from '../report-pages.js';
import { type PageKit, stagingRunPage, stagingStartPage } from './staging-page.js';

// ---------------------------------------------------------------------------------------------
// DOM helpers: text only

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | boolean | ((event: Event) => void) | undefined>;

function h(tag: string, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  return el;
}

const app = () => document.getElementById('app') as HTMLElement;
const show = (...children: Child[]) =>
  app().replaceChildren(...(children.filter(Boolean) as (Node | string)[]));
const badge = (status: string) =>
  h('span', { class: `badge ${status}`, 'data-status': status }, status);
const enc = encodeURIComponent;

// ---------------------------------------------------------------------------------------------
// The API, through this page's server

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const response = await fetch(`/api${path}`, {
    method,
    headers: {
      'x-rollout-dashboard': '1',
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(
      response.status,
      error?.code ?? `HTTP${response.status}`,
      error?.message ?? (text.slice(0, 300) || `HTTP ${response.status}`),
    );
  }
  return parsed as T;
}

const errorBox = (error: unknown) =>
  h(
    'div',
    { class: 'error', role: 'alert' },
    error instanceof ApiError
      ? `${error.message} (HTTP ${error.status} ${error.code})`
      : String((error as Error)?.message ?? error),
  );

// ---------------------------------------------------------------------------------------------
// Times

const time = (iso: string | undefined | null) => (iso ? new Date(iso).toLocaleString() : '');

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.round(seconds);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  return hh > 0 ? `${hh} h ${mm} min` : mm > 0 ? `${mm} min ${ss} s` : `${ss} s`;
}

const between = (from?: string | null, to?: string | null) =>
  from && to ? duration((Date.parse(to) - Date.parse(from)) / 1000) : '';

// ---------------------------------------------------------------------------------------------
// Confirmation

/** A confirmation dialog; resolves to the comment typed, or null when cancelled. */
function confirmAction(
  title: string,
  question: string,
  confirmLabel: string,
  askComment: string | null,
): Promise<string | null> {
  const modal = document.getElementById('modal') as HTMLElement;
  return new Promise((resolve) => {
    const input =
      askComment === null
        ? null
        : (h('input', {
            type: 'text',
            'aria-label': askComment,
            placeholder: askComment,
          }) as HTMLInputElement);
    const close = (value: string | null) => {
      modal.hidden = true;
      modal.replaceChildren();
      resolve(value);
    };
    modal.replaceChildren(
      h(
        'div',
        { class: 'box', role: 'dialog', 'aria-label': title },
        h('h2', {}, title),
        h('p', {}, question),
        input,
        h(
          'button',
          { class: 'danger', 'data-confirm': '', onclick: () => close(input?.value ?? '') },
          confirmLabel,
        ),
        h('button', { 'data-dismiss': '', onclick: () => close(null) }, 'Back'),
      ),
    );
    modal.hidden = false;
  });
}

// ---------------------------------------------------------------------------------------------
// Runs of a target

const RUN_STATUSES = ['', 'Running', 'Succeeded', 'Failed', 'Stopped', 'Cancelled'];

async function runsPage(query: URLSearchParams) {
  const kind = query.get('group') !== null ? 'group' : 'cluster';
  const name = query.get(kind) ?? '';
  const status = query.get('status') ?? '';
  const kindSelect = h(
    'select',
    { name: 'kind', 'aria-label': 'target kind' },
    ...['cluster', 'group'].map((k) => h('option', { value: k, selected: k === kind }, k)),
  ) as HTMLSelectElement;
  const nameInput = h('input', {
    name: 'target',
    'aria-label': 'target name',
    placeholder: 'cluster or group name',
    value: name,
  }) as HTMLInputElement;
  const statusSelect = h(
    'select',
    { name: 'status', 'aria-label': 'status' },
    ...RUN_STATUSES.map((s) =>
      h('option', { value: s, selected: s === status }, s || 'any status'),
    ),
  ) as HTMLSelectElement;
  const form = h(
    'form',
    {
      class: 'inline',
      onsubmit: (event) => {
        event.preventDefault();
        const q = new URLSearchParams({ [kindSelect.value]: nameInput.value.trim() });
        if (statusSelect.value) q.set('status', statusSelect.value);
        location.hash = `#/?${q}`;
      },
    },
    kindSelect,
    nameInput,
    statusSelect,
    h('button', { type: 'submit' }, 'Show runs'),
  );
  show(
    h('h1', {}, 'Runs'),
    form,
    name
      ? h('p', { class: 'muted' }, 'Loading…')
      : h('p', { class: 'muted' }, 'Name a cluster or a group to list its runs, newest first.'),
  );
  if (!name) return;
  try {
    const rows: RolloutPage['rollouts'] = [];
    let cursor: string | null = null;
    // A few pages at most: the filter by status is applied here, on the newest runs.
    for (let page = 0; page < 5; page++) {
      const q = new URLSearchParams({ [kind]: name, limit: '50', ...(cursor ? { cursor } : {}) });
      const answer: RolloutPage = await api<RolloutPage>('GET', `/rollouts?${q}`);
      rows.push(...answer.rollouts);
      cursor = answer.cursor;
      if (!cursor) break;
    }
    const shown = status ? rows.filter((r) => r.status === status) : rows;
    show(
      h('h1', {}, `Runs of ${kind} ${name}`),
      form,
      shown.length === 0
        ? h('p', {}, status ? `No ${status} run of ${name}.` : `No run of ${name}.`)
        : h(
            'table',
            { id: 'runs' },
            h(
              'tr',
              {},
              ...[
                'Run',
                'Status',
                'Started',
                'Finished',
                'Nodes',
                'Change ticket',
                'Requested by',
                'Reason',
              ].map((t) => h('th', {}, t)),
            ),
            ...shown.map((r) =>
              h(
                'tr',
                {
                  class: r.status === 'Failed' ? 'failed' : r.status === 'Running' ? 'running' : '',
                  'data-run': r.rolloutId,
                },
                h('td', {}, h('a', { href: `#/rollouts/${enc(r.rolloutId)}` }, r.rolloutId)),
                h(
                  'td',
                  {},
                  badge(r.status),
                  r.cancelRequested && r.status === 'Running' ? ' (cancel requested)' : '',
                ),
                h('td', {}, time(r.startedAt)),
                h('td', {}, time(r.finishedAt)),
                h('td', {}, r.nodes),
                h('td', {}, r.changeTicket ? `${r.changeTicket.system} ${r.changeTicket.id}` : ''),
                h('td', {}, r.requestedBy ?? ''),
                h('td', {}, r.reason ?? ''),
              ),
            ),
          ),
    );
  } catch (error) {
    show(h('h1', {}, 'Runs'), form, errorBox(error));
  }
}

// ---------------------------------------------------------------------------------------------
// One run, live

type NodeRow = RolloutStatus['nodes'][number];

/** What the node is doing now, from the run store: its result, or being updated, or waiting. */
function phaseOf(node: NodeRow, run: RolloutStatus): string {
  if (node.status !== 'Pending') return node.status;
  if (run.status !== 'Running' && run.status !== 'Pending') return 'NotStarted';
  if (run.currentStep.phase === 'UpdatingNodes' && run.currentStep.nodes.includes(node.name))
    return 'Updating';
  return 'Pending';
}

let timer: ReturnType<typeof setTimeout> | undefined;

/** Nodes whose live step the run page reads at once (GET .../nodes/{node}/progress each). */
const MAX_PROGRESS_READS = 20;

/**
 * The live step of each node being updated, from its execution's history (the run store
 * records a node only when it ends). A node whose progress cannot be read shows none.
 */
async function nodeProgress(id: string, run: RolloutStatus): Promise<Map<string, NodeProgress>> {
  const updating = run.nodes
    .filter((n) => phaseOf(n, run) === 'Updating')
    .slice(0, MAX_PROGRESS_READS);
  const read = await Promise.all(
    updating.map((n) =>
      api<NodeProgress>('GET', `/rollouts/${enc(id)}/nodes/${enc(n.name)}/progress`).then(
        (p) => [n.name, p] as const,
        () => undefined,
      ),
    ),
  );
  return new Map(read.filter((r) => r !== undefined));
}

/** The answer to the last approve, reject or cancel: it stays shown across refreshes. */
let actionResult: { readonly id: string; readonly node: HTMLElement } | undefined;
/** Only the newest refresh of a run page renders and schedules the next. */
let refreshes = 0;

async function runPage(id: string, generation: number) {
  const refresh = ++refreshes;
  if (timer !== undefined) clearTimeout(timer);
  const current = () => generation === routeGeneration && refresh === refreshes;
  let run: RolloutStatus;
  try {
    run = await api<RolloutStatus>('GET', `/rollouts/${enc(id)}`);
  } catch (error) {
    if (!current()) return;
    show(h('h1', {}, `Run ${id}`), errorBox(error));
    return;
  }
  if (!current()) return;
  const live = run.status === 'Running' || run.status === 'Pending';
  const progress = await nodeProgress(id, run);
  if (!current()) return;
  if (actionResult?.id !== id) actionResult = { id, node: h('div', { id: 'action-result' }) };
  const message = actionResult.node;
  const act = async (what: 'approve' | 'reject' | 'cancel') => {
    const comment = await confirmAction(
      what === 'cancel'
        ? 'Cancel the rollout'
        : what === 'approve'
          ? 'Approve the rollout'
          : 'Reject the rollout',
      what === 'cancel'
        ? `Cancel ${id}? Nodes being updated finish their step; no further node starts.`
        : what === 'approve'
          ? `Approve ${id}? The rest of the nodes will be updated.`
          : `Reject ${id}? The run stops where it waits: ${run.approval?.waitingFor ?? 'at the gate'}.`,
      what === 'cancel' ? 'Cancel the rollout' : what === 'approve' ? 'Approve' : 'Reject',
      what === 'cancel' ? 'reason (optional)' : 'comment (optional)',
    );
    if (comment === null) return;
    try {
      const body =
        what === 'cancel' ? (comment ? { reason: comment } : {}) : comment ? { comment } : {};
      const answer = await api<DecisionAccepted | { message: string }>(
        'POST',
        `/rollouts/${enc(id)}/${what}`,
        body,
      );
      message.replaceChildren(h('div', { class: 'summary' }, answer.message));
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
    void runPage(id, generation);
  };
  const started = run.startedAt ?? run.execution?.startDate ?? null;
  show(
    h('h1', {}, `Run ${run.rolloutId} `, badge(run.status)),
    h(
      'div',
      { class: run.status === 'Failed' ? 'summary bad' : 'summary' },
      h(
        'div',
        {},
        `Target: ${run.target ? `${run.target.kind} ${run.target.name}` : '(not recorded yet)'}`,
      ),
      h('div', { id: 'step' }, run.currentStep.description),
      h(
        'div',
        {},
        `Nodes: ${run.progress.finished} of ${run.progress.total} finished (${run.progress.succeeded} succeeded, ${run.progress.failed} failed, ${run.progress.nothingToInstall} with nothing to install)`,
      ),
      h(
        'div',
        {},
        `Started ${time(started)}${run.finishedAt ? `, finished ${time(run.finishedAt)} (${between(started, run.finishedAt)})` : ''}`,
      ),
      run.reason ? h('div', { id: 'reason' }, `Reason: ${run.reason}`) : null,
      run.changeTicket
        ? h('div', {}, `Change ticket: ${run.changeTicket.system} ${run.changeTicket.id}`)
        : null,
      run.cancelRequested ? h('div', {}, 'A cancel was requested.') : null,
    ),
    run.approval
      ? h(
          'div',
          { class: 'gate', id: 'approval' },
          h('strong', {}, 'Waiting for approval. '),
          // What the API says the run waits at: the pilot, a phase, or a health gate's hold.
          h('span', { id: 'waiting-for' }, sentence(run.approval.waitingFor)),
          `; decide by ${time(run.approval.decideBy)} or the run is rejected. `,
          h('button', { 'data-action': 'approve', onclick: () => void act('approve') }, 'Approve'),
          h('button', { 'data-action': 'reject', onclick: () => void act('reject') }, 'Reject'),
        )
      : null,
    live
      ? h(
          'p',
          {},
          h(
            'button',
            { class: 'danger', 'data-action': 'cancel', onclick: () => void act('cancel') },
            'Cancel the rollout',
          ),
        )
      : null,
    message,
    h(
      'table',
      { id: 'nodes' },
      h(
        'tr',
        {},
        ...[
          'Node',
          'Phase',
          'Step',
          'Attempts',
          'Restarts',
          'Drained',
          'Started',
          'Elapsed',
          'Detail',
          '',
        ].map((t) => h('th', {}, t)),
      ),
      ...run.nodes.map((node) => {
        const phase = phaseOf(node, run);
        return h(
          'tr',
          {
            'data-node': node.name,
            class: phase === 'Failed' ? 'failed' : phase === 'Updating' ? 'running' : '',
          },
          h('td', {}, node.name),
          h('td', { class: 'phase' }, badge(phase)),
          h(
            'td',
            { class: 'step', 'data-step': progress.get(node.name)?.step ?? '' },
            progress.get(node.name)?.summary ?? '',
          ),
          h('td', {}, node.attempts ?? ''),
          h('td', {}, node.restarts ?? ''),
          h('td', {}, node.drained === undefined ? '' : node.drained ? 'yes' : 'no'),
          h('td', {}, time(node.startedAt)),
          h('td', {}, node.startedAt ? between(node.startedAt, node.finishedAt) : ''),
          h('td', {}, node.detail ?? ''),
          h('td', {}, h('a', { href: `#/node/${enc(node.name)}` }, 'ledger')),
        );
      }),
    ),
    h(
      'p',
      {},
      h('a', { href: `#/rollouts/${enc(id)}/report`, id: 'report-link' }, 'Report'),
      run.target
        ? [
            ' · ',
            h(
              'a',
              { href: `#/?${new URLSearchParams({ [String(run.target.kind)]: run.target.name })}` },
              `Runs of ${run.target.name}`,
            ),
          ]
        : null,
    ),
    live ? h('p', { class: 'muted' }, 'Refreshes every 2 seconds.') : null,
  );
  if (live) timer = setTimeout(() => void runPage(id, generation), 2000);
}

// ---------------------------------------------------------------------------------------------
// The report: failures first

type ReportNode = RunReport['nodes'][number];

const failedFirst = (a: ReportNode, b: ReportNode) =>
  Number(b.status === 'Failed') - Number(a.status === 'Failed') || a.name.localeCompare(b.name);

async function reportPage(id: string) {
  show(h('h1', {}, `Report of ${id}`), h('p', {}, 'Loading…'));
  let report: RunReport;
  try {
    // Every page: the API pages a report too big for one response (page.nextCursor).
    const path = `/rollouts/${enc(id)}/report`;
    report = await joinReportPages(
      (cursor) =>
        api<RunReport>('GET', cursor === undefined ? path : `${path}?cursor=${enc(cursor)}`),
      (sofar, total) =>
        show(h('h1', {}, `Report of ${id}`), h('p', {}, `Loading… ${sofar} of ${total} nodes`)),
    );
  } catch (error) {
    show(h('h1', {}, `Report of ${id}`), errorBox(error));
    return;
  }
  const failed = report.nodes.filter((n) => n.status === 'Failed');
  const nodes = [...report.nodes].sort(failedFirst);
  show(
    h('h1', {}, `Report of ${report.runId} `, badge(report.status)),
    h(
      'div',
      {
        class: failed.length > 0 || report.status === 'Failed' ? 'summary bad' : 'summary',
        id: 'report-summary',
      },
      h(
        'div',
        {},
        `${report.targetKind ?? 'target'} ${report.target}: ${report.status}${report.reason ? ` (${report.reason})` : ''}`,
      ),
      h(
        'div',
        {},
        `Started ${time(report.startedAt)}, finished ${time(report.finishedAt)}${report.makespanSeconds === undefined ? '' : ` (${duration(report.makespanSeconds)})`}; lock ${report.lockReleased ? 'released' : 'still held'}`,
      ),
      failed.length === 0
        ? h(
            'div',
            {},
            `No node failed (${report.nodes.length} node${report.nodes.length === 1 ? '' : 's'}).`,
          )
        : h(
            'ul',
            { id: 'failures' },
            ...failed.map((n) => {
              const bad = n.updates.filter(
                (u) => u.outcome !== 'Success' && u.outcome !== 'Success_RebootRequired',
              );
              return h(
                'li',
                {},
                h('strong', {}, n.name),
                `: ${n.detail ?? 'failed'}`,
                n.failedStep ? ` at ${n.failedStep}` : '',
                n.drained
                  ? n.resumed === false
                    ? ' (drained, NOT resumed: left Paused)'
                    : ' (drained, then resumed)'
                  : '',
                ...bad.map(
                  (u) =>
                    ` · ${u.update}: ${u.outcome}${u.exitCodeHex ? ` ${u.exitCodeHex}` : ''}${u.exitCodeName ? ` ${u.exitCodeName}` : ''}${u.detail ? ` (${u.detail})` : ''}`,
                ),
              );
            }),
          ),
      ...(report.notices ?? []).map((notice) => h('div', { class: 'warning' }, notice)),
    ),
    ...nodes.map((n) =>
      h(
        'section',
        { 'data-report-node': n.name },
        h('h2', {}, `${n.name} `, badge(n.status)),
        h(
          'div',
          { class: 'muted' },
          `Drained: ${n.drained ? (n.resumed === false ? 'yes, left Paused' : 'yes, resumed') : 'no'}${n.failedStep ? ` · failed at ${n.failedStep}` : ''} · restarts ${n.restarts} · attempts ${n.attempts} · ${time(n.startedAt)} – ${time(n.finishedAt)}${n.detail ? ` · ${n.detail}` : ''}`,
        ),
        ...(n.scripts ?? []).map((sc) =>
          h(
            'div',
            { class: sc.status === 'Success' ? 'summary' : 'summary bad', 'data-script': sc.phase },
            `${sc.phase}-update script: ${sc.status}, exit ${sc.exitCode}, ${time(sc.completedAt)}`,
            sc.outputTail.trim() ? h('pre', {}, sc.outputTail.trimEnd()) : null,
          ),
        ),
        n.updates.length === 0
          ? h('p', {}, 'No update ran.')
          : h(
              'table',
              {},
              h(
                'tr',
                {},
                ...[
                  '#',
                  'Plug-in',
                  'Update',
                  'Attempt',
                  'Outcome',
                  'Exit code',
                  'Restart',
                  'Duration',
                  'Started',
                  'Finished',
                  'Detail',
                ].map((t) => h('th', {}, t)),
              ),
              ...n.updates.map((u) =>
                h(
                  'tr',
                  {
                    class:
                      u.outcome === 'Success' || u.outcome === 'Success_RebootRequired'
                        ? ''
                        : 'failed',
                  },
                  h('td', {}, u.index),
                  h('td', {}, u.plugin),
                  h('td', { class: 'mono' }, u.update),
                  h('td', {}, u.attempt),
                  h('td', {}, u.outcome),
                  h(
                    'td',
                    {},
                    [
                      u.exitCode ?? '',
                      u.exitCodeHex ? ` (${u.exitCodeHex})` : '',
                      u.exitCodeName ? ` ${u.exitCodeName}` : '',
                    ].join(''),
                  ),
                  h('td', {}, u.rebootInitiated ? 'restarted' : u.rebootRequired ? 'required' : ''),
                  h('td', {}, duration(u.durationSeconds)),
                  h('td', {}, time(u.startedAt)),
                  h('td', {}, time(u.finishedAt)),
                  h('td', {}, u.detail ?? ''),
                ),
              ),
            ),
      ),
    ),
    h('p', {}, h('a', { href: `#/rollouts/${enc(id)}` }, 'Back to the run')),
  );
}

// ---------------------------------------------------------------------------------------------
// A node's ledger, and removal with the KB823836 check first

type LedgerEntry = Ledger['entries'][number];

async function nodePage(name: string) {
  const nameInput = h('input', {
    'aria-label': 'node name',
    placeholder: 'node name',
    value: name,
  }) as HTMLInputElement;
  const form = h(
    'form',
    {
      class: 'inline',
      onsubmit: (e) => {
        e.preventDefault();
        location.hash = `#/node/${enc(nameInput.value.trim())}`;
      },
    },
    nameInput,
    h('button', { type: 'submit' }, 'Show ledger'),
  );
  if (!name) {
    show(h('h1', {}, 'Node ledger'), form);
    return;
  }
  let ledger: Ledger;
  try {
    ledger = await api<Ledger>('GET', `/nodes/${enc(name)}/ledger`);
  } catch (error) {
    show(h('h1', {}, `Ledger of ${name}`), form, errorBox(error));
    return;
  }
  const boxes = new Map<string, HTMLInputElement>();
  const checkArea = h('div', { id: 'removal-check' });
  const targetKind = h(
    'select',
    { 'aria-label': 'target kind' },
    h('option', { value: 'cluster' }, 'cluster'),
    h('option', { value: 'group' }, 'group'),
  ) as HTMLSelectElement;
  const targetName = h('input', {
    'aria-label': 'target name',
    placeholder: 'cluster or group',
  }) as HTMLInputElement;
  const instanceId = h('input', {
    'aria-label': 'instance id',
    placeholder: 'instance id (i-… or mi-…)',
  }) as HTMLInputElement;
  const dependents = h('input', {
    type: 'checkbox',
    'aria-label': 'include dependents',
  }) as HTMLInputElement;
  const force = h('input', { type: 'checkbox', 'aria-label': 'force' }) as HTMLInputElement;

  const check = () => {
    const chosen = [...boxes].filter(([, box]) => box.checked).map(([id]) => id);
    if (chosen.length === 0) {
      checkArea.replaceChildren(h('div', { class: 'error' }, 'Choose the updates to remove.'));
      return;
    }
    // The API's own rule (lambdas/core/install-ledger.ts), run here before anything is sent.
    let plan: ReturnType<typeof planRemoval>;
    try {
      plan = planRemoval(ledger as InstallLedger, chosen, {
        includeDependents: dependents.checked,
      });
    } catch (error) {
      checkArea.replaceChildren(errorBox(error));
      return;
    }
    const { warnings, order } = plan;
    checkArea.replaceChildren(
      h('h2', {}, 'Removal check (KB823836)'),
      h(
        'p',
        { id: 'removal-order' },
        `Removal order (reverse install order): ${order.join(', ')}${plan.addedDependents.length > 0 ? ` (dependents added: ${plan.addedDependents.join(', ')})` : ''}. Removing an update needs a restart.`,
      ),
      warnings.length === 0
        ? h(
            'div',
            { class: 'summary', 'data-check': 'clear' },
            'In order: no later installed update shares a file with these.',
          )
        : h(
            'div',
            { class: 'warning', 'data-check': 'warnings' },
            h(
              'strong',
              {},
              'Out of order (KB823836): later updates that replaced the same files may break.',
            ),
            h(
              'ul',
              {},
              ...warnings.map((w) =>
                h(
                  'li',
                  {},
                  `${w.updateId}: ${w.laterUpdatesSharingFiles.map((l) => `${l.updateId} (${l.files.join(', ')})`).join('; ')}; installed since: ${w.installedSince.join(', ')}`,
                ),
              ),
            ),
            h(
              'p',
              {},
              'Tick "include dependents" to remove those too (safe order), or "force" to remove out of order anyway.',
            ),
          ),
      h(
        'p',
        { class: 'inline' },
        targetKind,
        targetName,
        instanceId,
        h('label', {}, dependents, ' include dependents'),
        ' ',
        h('label', {}, force, ' force'),
      ),
      h(
        'button',
        { class: 'danger', 'data-action': 'remove', onclick: () => void remove(chosen) },
        `Remove ${chosen.join(', ')}`,
      ),
      h('div', { id: 'removal-result' }),
    );
  };
  const remove = async (chosen: string[]) => {
    const ok = await confirmAction(
      'Remove updates',
      `Remove ${chosen.join(', ')} from ${name}? The node restarts.`,
      'Remove',
      null,
    );
    if (ok === null) return;
    const result = document.getElementById('removal-result') as HTMLElement;
    try {
      const answer = await api<RemovalAccepted>('POST', `/nodes/${enc(name)}/removals`, {
        updates: chosen,
        ...(dependents.checked ? { includeDependents: true } : {}),
        ...(force.checked ? { force: true } : {}),
        ...(targetName.value.trim()
          ? { target: { kind: targetKind.value, name: targetName.value.trim() } }
          : {}),
        ...(instanceId.value.trim() ? { instanceId: instanceId.value.trim() } : {}),
      });
      result.replaceChildren(
        h(
          'div',
          { class: 'summary' },
          `Removal ${answer.removalId} started: ${answer.order.join(', ')}${answer.addedDependents.length ? ` (added ${answer.addedDependents.join(', ')})` : ''}. `,
          h('a', { href: `#/rollouts/${enc(answer.removalId)}` }, 'Follow it'),
        ),
      );
    } catch (error) {
      result.replaceChildren(errorBox(error));
    }
  };
  show(
    h('h1', {}, `Ledger of ${ledger.node}`),
    form,
    ledger.entries.length === 0
      ? h('p', {}, 'Nothing installed by a rollout is recorded for this node.')
      : h(
          'table',
          { id: 'ledger' },
          h(
            'tr',
            {},
            ...['', '#', 'Update', 'Installed', 'Hotpatched', 'Files', 'Run', 'Removed'].map((t) =>
              h('th', {}, t),
            ),
          ),
          ...ledger.entries.map((e: LedgerEntry) => {
            const box = h('input', {
              type: 'checkbox',
              'aria-label': `remove ${e.updateId}`,
            }) as HTMLInputElement;
            if (e.removedAt === undefined) boxes.set(e.updateId, box);
            return h(
              'tr',
              { 'data-update': e.updateId },
              h('td', {}, e.removedAt === undefined ? box : ''),
              h('td', {}, e.sequence),
              h('td', { class: 'mono' }, e.updateId),
              h('td', {}, time(e.installedAt)),
              h('td', {}, e.hotpatched ? 'yes' : 'no'),
              h('td', { class: 'mono' }, e.replacedFiles.map((f) => f.path).join(', ')),
              h('td', {}, e.runId ? h('a', { href: `#/rollouts/${enc(e.runId)}` }, e.runId) : ''),
              h('td', {}, e.removedAt ? `${time(e.removedAt)} by ${e.removedByRunId ?? ''}` : ''),
            );
          }),
        ),
    boxes.size > 0
      ? h('button', { 'data-action': 'check-removal', onclick: check }, 'Check removal')
      : null,
    checkArea,
  );
}

// ---------------------------------------------------------------------------------------------
// Scan preview

/** How often the scan page asks GET /scans/{id} while the scan runs. */
const SCAN_POLL_MS = 2000;

function scanNodeView(n: ScanView['nodes'][number]): HTMLElement {
  return h(
    'section',
    { class: 'scan-node', 'data-node': n.node, 'data-status': n.status },
    h(
      'h2',
      {},
      `${n.node} `,
      badge(n.status),
      ` ${n.updates.length} to install; restart expected: ${n.restartExpected ? 'yes' : 'no'}; hotpatch candidates: ${n.hotpatchCandidates}`,
    ),
    h(
      'p',
      { class: 'muted' },
      `${n.instanceId}; SSM ${n.pingStatus ?? 'not registered'}`,
      n.pendingRestart === null
        ? ''
        : `; restart pending before the run: ${n.pendingRestart ? 'yes' : 'no'}`,
      n.windowsUpdate === null
        ? ''
        : `; Windows Update found ${n.windowsUpdate.found}, ${n.windowsUpdate.applicable} would install`,
    ),
    n.error ? h('div', { class: 'error' }, `${n.error.code}: ${n.error.message}`) : null,
    h(
      'table',
      { class: 'scan-updates' },
      h(
        'tr',
        {},
        ...[
          '#',
          'KB',
          'Title',
          'Source',
          'Classification',
          'Severity',
          'Restart expected',
          'Hotpatch',
        ].map((t) => h('th', {}, t)),
      ),
      ...n.updates.map((u, i) =>
        h(
          'tr',
          { 'data-kb': u.kb ?? '' },
          h('td', {}, i + 1),
          h('td', { class: 'mono' }, u.kb ?? '—'),
          h('td', {}, u.title),
          h('td', {}, u.source === 'hotfix' ? `hotfix ${u.file ?? ''}` : 'Windows Update'),
          h('td', {}, u.classification ?? 'unknown'),
          h('td', {}, u.msrcSeverity ?? '—'),
          h('td', {}, `${u.restartExpected ? 'yes' : 'no'}: ${u.restartReason}`),
          h('td', {}, `${u.hotpatchCandidate ? 'candidate' : 'no'}: ${u.hotpatchReason}`),
        ),
      ),
    ),
    n.excluded.length === 0
      ? null
      : h(
          'div',
          { class: 'scan-excluded' },
          h('h3', {}, 'Left out'),
          h(
            'ul',
            {},
            ...n.excluded.map((e) =>
              h(
                'li',
                { 'data-kb': e.kb ?? '', 'data-rule': e.rule },
                `${e.kb ?? '(no KB)'} ${e.title} [${e.source === 'hotfix' ? 'hotfix' : 'Windows Update'}]: ${e.rule} (${e.reason})`,
              ),
            ),
          ),
        ),
    n.restartReasons.length === 0
      ? null
      : h(
          'div',
          {},
          h('h3', {}, 'Why a restart is expected'),
          h('ul', {}, ...n.restartReasons.map((r) => h('li', {}, r))),
        ),
  );
}

function scanView(view: ScanView): Child[] {
  const plan = view.plan;
  return [
    h(
      'p',
      { 'data-scan-status': view.status },
      badge(view.status),
      ` Scan ${view.scanId} started ${time(view.startedAt)}${view.stoppedAt ? `, ended ${time(view.stoppedAt)}` : ''}. Nothing was installed, drained or restarted.`,
    ),
    view.error ? h('div', { class: 'error' }, `${view.error.code}: ${view.error.message}`) : null,
    ...(plan?.warnings ?? []).map((w) => h('div', { class: 'warning' }, w)),
    plan?.windowsUpdate
      ? h('p', { class: 'muted' }, `Windows Update query: ${plan.windowsUpdate.queryString}`)
      : null,
    ...view.nodes.map(scanNodeView),
    view.nodesMissing.length > 0
      ? h('div', { class: 'warning' }, `No result for: ${view.nodesMissing.join(', ')}`)
      : null,
  ];
}

function scanPage() {
  const generation = routeGeneration;
  const input = h('textarea', { 'aria-label': 'rollout input' }) as HTMLTextAreaElement;
  input.value = JSON.stringify({ target: { kind: 'cluster', name: '' } }, null, 2);
  const out = h('div', { id: 'scan-result' });
  const follow = async (scanId: string) => {
    for (;;) {
      if (generation !== routeGeneration) return;
      const view = await api<ScanView>('GET', `/scans/${enc(scanId)}`);
      out.replaceChildren(...(scanView(view).filter(Boolean) as Node[]));
      if (view.status !== 'Running') return;
      await new Promise((done) => setTimeout(done, SCAN_POLL_MS));
    }
  };
  const scan = async () => {
    let body: unknown;
    try {
      body = JSON.parse(input.value);
    } catch (error) {
      out.replaceChildren(
        errorBox(new Error(`the input is not JSON: ${(error as Error).message}`)),
      );
      return;
    }
    out.replaceChildren(h('p', {}, 'Scanning…'));
    try {
      const started = await api<ScanAccepted>('POST', '/scans', body);
      await follow(started.scanId);
    } catch (error) {
      out.replaceChildren(errorBox(error));
    }
  };
  show(
    h('h1', {}, 'Scan preview'),
    h(
      'p',
      { class: 'muted' },
      "What a rollout with this input would install on each node (POST /scans, then GET /scans/{id}): each node searches Windows Update with the run's query and selection, next to its hotfix plan. Installs nothing.",
    ),
    input,
    h('p', {}, h('button', { 'data-action': 'scan', onclick: () => void scan() }, 'Scan')),
    out,
  );
}

// ---------------------------------------------------------------------------------------------
// Staging (staging-page.ts)

/** A phrase from the API as the start of a sentence. */
const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

const stagingKit = (generation: number): PageKit => ({
  h,
  api,
  show,
  badge,
  time,
  errorBox,
  current: () => generation === routeGeneration,
});

// ---------------------------------------------------------------------------------------------
// Routing

let routeGeneration = 0;

function route() {
  routeGeneration++;
  if (timer !== undefined) clearTimeout(timer);
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path = '/', search = ''] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'rollouts' && parts[1] !== undefined && parts[2] === 'report')
    void reportPage(parts[1]);
  else if (parts[0] === 'rollouts' && parts[1] !== undefined)
    void runPage(parts[1], routeGeneration);
  else if (parts[0] === 'node') void nodePage(parts[1] ?? '');
  else if (parts[0] === 'scan') scanPage();
  else if (parts[0] === 'stagings' && parts[1] !== undefined)
    void stagingRunPage(stagingKit(routeGeneration), parts[1]);
  else if (parts[0] === 'stagings') stagingStartPage(stagingKit(routeGeneration));
  else void runsPage(new URLSearchParams(search));
}

window.addEventListener('hashchange', route);
route();
