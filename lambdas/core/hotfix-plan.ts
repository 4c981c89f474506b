/**
 * The hotfix plug-in's scan: from a listing of the hotfix root, what each node installs, with
 * which rule and which command, and every path that is ignored and why.
 *
 * Structure (seed 003):
 * - `CAUHotfix_All\<file>`: every node; `<NodeName>\<file>`: that node only (NetBIOS names,
 *   compared case-insensitively). These use the extension rules (`.msu`, `.msi`, `.msp` by default).
 * - `<CAUHotfix_All or NodeName>\<FolderRuleName>\<file>`: every file there is installed with
 *   that `<Folder>` rule, whatever its extension.
 * - Anything else is ignored, with a reason.
 *
 * Order per node (ours; CAU does not document one), deterministic:
 * 1. `CAUHotfix_All` before the node's own folder (general fixes first);
 * 2. within a folder, files taken by extension rules first, then each folder rule's subfolder in
 *    the order the configuration declares the rules (so the config author controls it);
 * 3. within one folder, file names in ordinal order, ignoring case (as NTFS compares names).
 */
import { formatProblems, RolloutRuleError } from './errors.js';
import type { ExitConditions } from './exit-codes.js';
import {
  findExtensionRule,
  findFolderRule,
  type HotfixConfig,
  type HotfixRule,
} from './hotfix-config.js';
import { nodeKey, nodeListProblems } from './node-names.js';

/** The folder whose updates go to every node (seed 003). */
export const ALL_NODES_FOLDER = 'CAUHotfix_All';

/** The configuration file CAU reads from the hotfix root unless `HotfixConfigFileName` says otherwise. */
export const DEFAULT_CONFIG_FILE_NAME = 'DefaultHotfixConfig.xml';

/** Where the node keeps the downloaded hotfix root; `%ProgramData%` is expanded on the node. */
export const DEFAULT_UPDATE_ROOT = '%ProgramData%\\WindowsRollout\\Hotfixes';

/** Raised when the plan's own inputs are invalid (not for ignored files: those are reported). */
export class HotfixPlanError extends RolloutRuleError {}

/** What to plan. */
export interface HotfixPlanInput {
  /** Paths of the files under the hotfix root, relative to it, with `\` or `/` (S3 keys). */
  readonly files: readonly string[];
  /** The nodes of the run (NetBIOS names). */
  readonly nodes: readonly string[];
  readonly config: HotfixConfig;
  /** @default 'DefaultHotfixConfig.xml' */
  readonly configFileName?: string;
  /** The folder on the node that mirrors the hotfix root; `$update$` resolves under it. @default DEFAULT_UPDATE_ROOT */
  readonly updateRoot?: string;
}

/** One update a node will install. */
export interface PlannedUpdate {
  /** The path relative to the hotfix root, with `/` separators. */
  readonly file: string;
  /** `all` for CAUHotfix_All, `node` for the node's own folder. */
  readonly scope: 'all' | 'node';
  readonly rule: { readonly kind: HotfixRule['kind']; readonly name: string };
  /** The installer to run, `$update$` substituted. */
  readonly path: string;
  /** The installer's arguments, `$update$` substituted. */
  readonly parameters: string;
  /** Where the file is on the node: what `$update$` stands for. */
  readonly localPath: string;
  readonly exitConditions: ExitConditions;
  readonly alwaysReboot: boolean;
}

/** A path of the listing that installs nowhere, and why. */
export interface IgnoredPath {
  readonly file: string;
  readonly reason: string;
}

/** The plan: per node (keyed by the name as given), the ordered updates; and what was ignored. */
export interface HotfixPlan {
  readonly nodes: Readonly<Record<string, readonly PlannedUpdate[]>>;
  readonly ignored: readonly IgnoredPath[];
  /** Allowed but suspicious, e.g. the same file name in CAUHotfix_All and a node folder. */
  readonly warnings: readonly string[];
}

// Characters Windows does not allow in file or folder names, and control characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we reject
const INVALID_SEGMENT = /[<>:"|?*\u0000-\u001f]/;

interface Candidate {
  file: string;
  segments: string[];
  scopeIndex: 0 | 1;
  ruleIndex: number;
  rule: HotfixRule;
}

/** Plans the hotfix root for each node. */
export function planHotfixRoot(input: HotfixPlanInput): HotfixPlan {
  const problems = nodeListProblems(input.nodes, 'nodes');
  if (problems.length > 0) throw new HotfixPlanError(formatProblems('cannot plan', problems));
  const configFileName = input.configFileName ?? DEFAULT_CONFIG_FILE_NAME;
  const updateRoot = trimSeparators(input.updateRoot ?? DEFAULT_UPDATE_ROOT);
  const nodeByKey = new Map(input.nodes.map((n) => [nodeKey(n), n]));
  const ruleOrder = new Map(input.config.folderRules.map((r, i) => [r, i + 1]));

  const ignored: IgnoredPath[] = [];
  const byScope = new Map<string, Candidate[]>(); // scope key: ALL or a node key
  const seenFiles = new Set<string>();

  for (const original of input.files) {
    const verdict = classify(original);
    if ('reason' in verdict) ignored.push({ file: original, reason: verdict.reason });
    else {
      const list = byScope.get(verdict.scopeKey) ?? [];
      list.push(verdict.candidate);
      byScope.set(verdict.scopeKey, list);
    }
  }

  function classify(
    original: string,
  ): { reason: string } | { scopeKey: string; candidate: Candidate } {
    if (original.endsWith('/') || original.endsWith('\\')) {
      return { reason: 'a folder marker, not a file' };
    }
    const segments = original.split(/[\\/]+/).filter((s, i) => !(i === 0 && s === ''));
    const file = segments.join('/');
    if (seenFiles.has(file.toLowerCase())) {
      return { reason: 'listed twice (paths compare case-insensitively)' };
    }
    seenFiles.add(file.toLowerCase());
    if (segments.length === 0 || segments.some((s) => s === '')) {
      return { reason: 'an empty path' };
    }
    if (segments.some((s) => s === '.' || s === '..')) {
      return { reason: 'a path with . or .. segments, which could leave the hotfix root' };
    }
    const bad = segments.find(
      (s) => INVALID_SEGMENT.test(s) || s !== s.trimEnd() || s.endsWith('.'),
    );
    if (bad !== undefined) {
      return { reason: `${JSON.stringify(bad)} is not a valid Windows file or folder name` };
    }
    const [top, second] = segments as [string, string?];
    if (segments.length === 1) {
      if (top.toLowerCase() === configFileName.toLowerCase()) {
        return { reason: 'the hotfix configuration file' };
      }
      return {
        reason: `outside the structure: updates belong in ${ALL_NODES_FOLDER}\\ or a <NodeName>\\ folder`,
      };
    }
    let scopeKey: string;
    let scopeIndex: 0 | 1;
    if (top.toLowerCase() === ALL_NODES_FOLDER.toLowerCase()) {
      scopeKey = ALL_NODES_FOLDER;
      scopeIndex = 0;
    } else if (nodeByKey.has(nodeKey(top))) {
      scopeKey = nodeKey(top);
      scopeIndex = 1;
    } else {
      return {
        reason: `folder ${JSON.stringify(top)} is neither ${ALL_NODES_FOLDER} nor a node of this run`,
      };
    }
    if (segments.length === 2) {
      const rule = findExtensionRule(input.config, second as string);
      if (!rule) {
        const known = input.config.extensionRules.map((r) => `.${r.name.toLowerCase()}`);
        return {
          reason: `no extension rule for ${JSON.stringify(second)} (extension rules: ${known.join(', ') || 'none'})`,
        };
      }
      return { scopeKey, candidate: { file, segments, scopeIndex, ruleIndex: 0, rule } };
    }
    if (segments.length === 3) {
      const rule = findFolderRule(input.config, second as string);
      if (!rule) {
        return {
          reason: `subfolder ${JSON.stringify(second)} is not the name of a <Folder> rule`,
        };
      }
      const ruleIndex = ruleOrder.get(rule) ?? 0;
      return { scopeKey, candidate: { file, segments, scopeIndex, ruleIndex, rule } };
    }
    return {
      reason: `nested too deep: only <scope>\\<file> and <scope>\\<FolderRule>\\<file> are installed`,
    };
  }

  const warnings: string[] = [];
  const all = sortCandidates(byScope.get(ALL_NODES_FOLDER) ?? []);
  // Updates from CAUHotfix_All are the same for every node: build them once and share them.
  const shared = all.map((c) => toPlannedUpdate(c, updateRoot));
  const allNames = new Map(all.map((c) => [lastSegment(c).toLowerCase(), c.file]));
  const nodes: Record<string, PlannedUpdate[]> = {};
  for (const node of input.nodes) {
    const own = sortCandidates(byScope.get(nodeKey(node)) ?? []);
    for (const c of own) {
      const same = allNames.get(lastSegment(c).toLowerCase());
      if (same) {
        warnings.push(
          `${node}: ${c.file} has the same file name as ${same}; both are planned and the second will likely report AlreadyInstalled`,
        );
      }
    }
    nodes[node] = [...shared, ...own.map((c) => toPlannedUpdate(c, updateRoot))];
  }
  return { nodes, ignored, warnings };
}

function sortCandidates(list: Candidate[]): Candidate[] {
  return [...list].sort(
    (a, b) =>
      a.scopeIndex - b.scopeIndex ||
      a.ruleIndex - b.ruleIndex ||
      ordinalIgnoreCase(a.file, b.file) ||
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0),
  );
}

/**
 * Compares as Windows' ordinal-ignore-case does: by upper-cased UTF-16 code units, each
 * character mapped on its own (simple case mapping): `ß` stays `ß`, where JavaScript's
 * `toUpperCase` would make it `SS` and sort `ßa` before `sz`.
 */
export function ordinalIgnoreCase(a: string, b: string): number {
  const x = simpleUpperCase(a);
  const y = simpleUpperCase(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function simpleUpperCase(text: string): string {
  return Array.from(text, (c) => {
    const upper = c.toUpperCase();
    return upper.length === c.length ? upper : c;
  }).join('');
}

function lastSegment(c: Candidate): string {
  return c.segments[c.segments.length - 1] as string;
}

function toPlannedUpdate(c: Candidate, updateRoot: string): PlannedUpdate {
  const localPath = `${updateRoot}\\${c.segments.join('\\')}`;
  return {
    file: c.file,
    scope: c.scopeIndex === 0 ? 'all' : 'node',
    rule: { kind: c.rule.kind, name: c.rule.name },
    path: substituteUpdate(c.rule.template.path, localPath),
    parameters: substituteUpdate(c.rule.template.parameters, localPath),
    localPath,
    exitConditions: c.rule.exitConditions,
    alwaysReboot: c.rule.alwaysReboot,
  };
}

/**
 * Replaces every `$update$` (any case) with the file's path. A replacer function keeps `$`
 * sequences in the path literal.
 */
export function substituteUpdate(template: string, localPath: string): string {
  return template.replace(/\$update\$/gi, () => localPath);
}

function trimSeparators(path: string): string {
  return path.replace(/[\\/]+$/, '');
}
