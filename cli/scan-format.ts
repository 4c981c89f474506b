/**
 * `rollout scan`: following a scan (POST /scans, then GET /scans/{id} until it ended) and its
 * text, which shows everything the JSON has: per node, each update that would install with KB,
 * title, classification, severity, restart expected and why, hotpatch candidate and why; each
 * update left out with the rule; the node's pending restart and failure; then the plan's
 * Windows Update query, hotfix root, ignored paths and warnings.
 */
import type { ScanNodeResult } from '../lambdas/core/scan-result.js';
import type { ScanView } from '../lambdas/handlers/scan-api.js';

/** What following a scan needs from the backend. */
export interface ScanReader {
  getScan(id: string): Promise<ScanView>;
}

/** Polls the scan until it ended; returns its last view. */
export async function followScan(
  backend: ScanReader,
  scanId: string,
  options: { readonly intervalMs: number; readonly sleep?: (ms: number) => Promise<void> },
): Promise<ScanView> {
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((done) => setTimeout(done, ms)));
  for (;;) {
    const view = await backend.getScan(scanId);
    if (view.status !== 'Running') return view;
    await sleep(options.intervalMs);
  }
}

const yesNo = (value: boolean) => (value ? 'yes' : 'no');

function renderNode(node: ScanNodeResult): string[] {
  const ping = node.pingStatus === null ? 'not registered with SSM' : node.pingStatus;
  const lines = [
    '',
    `${node.node} (${node.instanceId}, ${ping}): ${node.status === 'Scanned' ? 'scanned' : 'SCAN FAILED'}; ${node.updates.length} update${node.updates.length === 1 ? '' : 's'} would install; restart expected: ${yesNo(node.restartExpected)}; hotpatch candidates: ${node.hotpatchCandidates}`,
  ];
  lines.push(`  scanned at ${node.scannedAt}`);
  if (node.error !== null) lines.push(`  failed: ${node.error.code}: ${node.error.message.trim()}`);
  if (node.pendingRestart !== null) {
    lines.push(`  restart pending before the run: ${yesNo(node.pendingRestart)}`);
  }
  if (node.windowsUpdate !== null) {
    lines.push(
      `  Windows Update found ${node.windowsUpdate.found}, ${node.windowsUpdate.applicable} would install`,
    );
  }
  for (const [i, u] of node.updates.entries()) {
    lines.push(
      `  ${i + 1}. ${u.kb ?? '(no KB)'}  ${u.title}`,
      `     source: ${u.source === 'hotfix' ? `hotfix file ${u.file}` : `Windows Update, update id ${u.updateId}`}; classification: ${u.classification ?? 'unknown'}; severity: ${u.msrcSeverity ?? 'none'}`,
      `     restart expected: ${yesNo(u.restartExpected)} (${u.restartReason})`,
      `     hotpatch candidate: ${yesNo(u.hotpatchCandidate)} (${u.hotpatchReason})`,
    );
  }
  if (node.excluded.length > 0) {
    lines.push('  left out:');
    for (const e of node.excluded) {
      lines.push(
        `    ${e.kb ?? '(no KB)'}  ${e.title} [${e.source === 'hotfix' ? `hotfix ${e.file}` : `Windows Update ${e.updateId}`}]: ${e.rule} (${e.reason})`,
      );
    }
  }
  if (node.restartReasons.length > 0) {
    lines.push('  why a restart is expected:', ...node.restartReasons.map((r) => `    ${r}`));
  }
  return lines;
}

/** The scan as text: every field of the JSON, in the order an operator reads it. */
export function renderScanView(view: ScanView): string {
  const lines = [
    `Scan ${view.scanId}: ${view.status}; started ${view.startedAt}${view.stoppedAt ? `, ended ${view.stoppedAt}` : ''}. Nothing was installed, drained or restarted.`,
  ];
  if (view.error !== null) lines.push(`Failed: ${view.error.code}: ${view.error.message}`);
  for (const node of view.nodes) lines.push(...renderNode(node));
  if (view.nodesMissing.length > 0) {
    lines.push('', `No result could be read for: ${view.nodesMissing.join(', ')}`);
  }
  const plan = view.plan;
  if (plan !== null) {
    const wu = plan.windowsUpdate;
    if (wu) {
      lines.push(
        '',
        `Windows Update query: ${wu.queryString}; recommended updates ${wu.includeRecommendedUpdates ? 'included' : 'left out'}`,
      );
      for (const [rule, value] of Object.entries(wu.selection ?? {})) {
        lines.push(
          `  updateSelection.${rule}: ${Array.isArray(value) ? value.join(', ') : String(value)}`,
        );
      }
    }
    const hotfix = (plan as { hotfix?: { root: string; config: string } | null }).hotfix;
    if (hotfix) lines.push('', `Hotfix root: ${hotfix.root} (configuration ${hotfix.config})`);
    const ignored = (plan as { ignored?: { file: string; reason: string }[] }).ignored ?? [];
    if (ignored.length > 0) {
      lines.push(
        '',
        'Ignored in the hotfix root:',
        ...ignored.map((i) => `  ${i.file}: ${i.reason}`),
      );
    }
    if (plan.nodeOrder.length > 0) lines.push('', `Node order: ${plan.nodeOrder.join(', ')}`);
    if (plan.warnings.length > 0) {
      lines.push('', 'Warnings:', ...plan.warnings.map((w) => `  ${w}`));
    }
  }
  return lines.join('\n');
}
