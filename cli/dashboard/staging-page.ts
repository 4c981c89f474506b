/// <reference lib="dom" />
/**
 * The dashboard's staging page (issue 13 item 5), part of the page's script (app.ts routes to
 * it): `#/stagings` starts a staging run from a rollout input (POST /stagings) or opens one by
 * id; `#/stagings/<id>` shows it (GET /stagings/{id}, again every 2 s while it runs): per node
 * the outcome, the files and bytes in the cache, the digests verified, the cache hits, the
 * Windows updates downloaded and what could not be staged, with why.
 *
 * It builds with the page's own DOM helpers (passed in as a {@link PageKit}), so every value
 * from the API goes in as text, never as HTML.
 */
import type { StagingAccepted, StagingStatus } from '../backend.js';

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | boolean | ((event: Event) => void) | undefined>;

/** What the staging page uses of app.ts. */
export interface PageKit {
  readonly h: (tag: string, attrs?: Attrs, ...children: (Child | Child[])[]) => HTMLElement;
  readonly api: <T>(method: 'GET' | 'POST', path: string, body?: unknown) => Promise<T>;
  readonly show: (...children: Child[]) => void;
  readonly badge: (status: string) => HTMLElement;
  readonly time: (iso: string | undefined | null) => string;
  readonly errorBox: (error: unknown) => HTMLElement;
  /** False once the operator went to another page: stop refreshing. */
  readonly current: () => boolean;
}

/** How often the page asks GET /stagings/{id} while the run is under way. */
export const STAGING_POLL_MS = 2000;

const COLUMNS = [
  'Node',
  'Outcome',
  'Files',
  'Bytes',
  'Digests verified',
  'Cache hits',
  'Windows updates',
  'Staged at',
  'Not staged',
] as const;

function nodeRow(kit: PageKit, n: StagingStatus['nodes'][number]): HTMLElement {
  const { h } = kit;
  return h(
    'tr',
    {
      'data-node': n.node,
      'data-status': n.status,
      class: n.status === 'Failed' ? 'failed' : n.status === 'Partial' ? 'running' : undefined,
    },
    h('td', {}, n.node),
    h('td', { class: 'outcome' }, kit.badge(n.status)),
    h('td', { class: 'files' }, n.files),
    h('td', { class: 'bytes' }, n.bytes.toLocaleString('en')),
    h('td', { class: 'digests' }, `${n.digestsVerified} of ${n.files}`),
    h('td', { class: 'cache-hits' }, n.cacheHits),
    h('td', { class: 'windows-updates' }, n.windowsUpdates),
    h('td', {}, kit.time(n.stagedAt)),
    h(
      'td',
      { class: 'problems' },
      n.problems.length === 0 ? '—' : h('ul', {}, ...n.problems.map((p) => h('li', {}, p))),
    ),
  );
}

/** A staging run as the page shows it: its status, counts and one row a node. */
export function stagingView(kit: PageKit, view: StagingStatus): HTMLElement[] {
  const { h } = kit;
  const counts = Object.entries(view.counts).map(([status, n]) => `${n} ${status}`);
  return [
    h('h1', {}, `Staging ${view.stagingId} `, kit.badge(view.status)),
    h(
      'div',
      { class: view.status === 'Failed' ? 'summary bad' : 'summary', id: 'staging-summary' },
      h(
        'div',
        { 'data-staging-status': view.status },
        `Started ${kit.time(view.startedAt) || '(not known)'}${view.stoppedAt ? `, ended ${kit.time(view.stoppedAt)}` : ''}. Nothing was drained, installed or restarted.`,
      ),
      h('div', {}, `Nodes: ${counts.length > 0 ? counts.join(', ') : 'none recorded yet'}`),
      view.status === 'Unknown'
        ? h('div', {}, 'Step Functions no longer knows the execution; the records stand.')
        : null,
    ),
    h(
      'table',
      { id: 'staging-nodes' },
      h('tr', {}, ...COLUMNS.map((c) => h('th', {}, c))),
      ...view.nodes.map((n) => nodeRow(kit, n)),
    ),
  ];
}

/** `#/stagings/<id>`: the run, refreshed while it runs. */
export async function stagingRunPage(kit: PageKit, id: string): Promise<void> {
  for (;;) {
    let view: StagingStatus;
    try {
      view = await kit.api<StagingStatus>('GET', `/stagings/${encodeURIComponent(id)}`);
    } catch (error) {
      if (kit.current()) kit.show(kit.h('h1', {}, `Staging ${id}`), kit.errorBox(error));
      return;
    }
    if (!kit.current()) return;
    kit.show(...stagingView(kit, view));
    if (view.status !== 'Running') return;
    await new Promise((done) => setTimeout(done, STAGING_POLL_MS));
    if (!kit.current()) return;
  }
}

/** `#/stagings`: start a staging run from a rollout input, or open one by its id. */
export function stagingStartPage(kit: PageKit): void {
  const { h } = kit;
  const input = h('textarea', { 'aria-label': 'rollout input' }) as HTMLTextAreaElement;
  input.value = JSON.stringify({ target: { kind: 'cluster', name: '' } }, null, 2);
  const idField = h('input', {
    'aria-label': 'staging id',
    name: 'staging-id',
  }) as HTMLInputElement;
  const out = h('div', { id: 'staging-start' });
  const stage = async () => {
    let body: unknown;
    try {
      body = JSON.parse(input.value);
    } catch (error) {
      out.replaceChildren(
        kit.errorBox(new Error(`the input is not JSON: ${(error as Error).message}`)),
      );
      return;
    }
    try {
      const started = await kit.api<StagingAccepted>('POST', '/stagings', body);
      location.hash = `#/stagings/${encodeURIComponent(started.stagingId)}`;
    } catch (error) {
      out.replaceChildren(kit.errorBox(error));
    }
  };
  const open = (event: Event) => {
    event.preventDefault();
    const id = idField.value.trim();
    if (id !== '') location.hash = `#/stagings/${encodeURIComponent(id)}`;
  };
  kit.show(
    h('h1', {}, 'Staging'),
    h(
      'p',
      { class: 'muted' },
      "Stage a rollout's updates on its nodes before the window (POST /stagings): each node downloads its hotfix files into a cache named by their SHA-256 and verifies them, and downloads its Windows updates without installing them. Nothing is drained, installed or restarted.",
    ),
    input,
    h('p', {}, h('button', { 'data-action': 'stage', onclick: () => void stage() }, 'Stage')),
    out,
    h(
      'form',
      { class: 'inline', onsubmit: open },
      h('label', {}, 'Open a staging run: '),
      idField,
      h('button', { type: 'submit', 'data-action': 'open-staging' }, 'Open'),
    ),
  );
}
