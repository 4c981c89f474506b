/**
 * hotpatch-eligibility: for each planned update on a node, can it install without a restart?
 * Builds the hotpatch facts from the root's `hotpatch-manifest.json` (the update's facts) and
 * the node's inventory (its OS, the versions of the binaries, its hotpatch enrolment), then asks
 * the rules (hotpatch.ts). The answer decides whether the node is drained first.
 *
 * What the inventory does not report is treated as unknown, and unknown takes the conservative
 * value: under KB897341, Rights Management running, a program being debugged and no earlier
 * security update, so a restart may be required; the reasons say so.
 *
 * Event `{ node, inventory: InventoryResult, updates: PlannedInstall[], hotfixRoot: { bucket,
 * prefix } }`. Errors: `InvalidEvent`, `HotpatchManifestInvalid`, S3 errors unchanged.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import type { InventoryResult } from '../core/contracts.js';
import {
  decideHotpatch,
  type Kb897341Facts,
  type ModernHotpatchFacts,
  type WindowsServerEdition,
  type WindowsServerProduct,
} from '../core/hotpatch.js';
import { parseEvent, rolloutNodeRefSchema } from '../core/rollout-input.js';
import {
  findManifestEntry,
  HOTPATCH_MANIFEST_FILE,
  type HotpatchManifestEntry,
  loadHotpatchManifest,
} from '../shared/hotfix-root.js';
import { logContext, logger, tracer } from '../shared/runtime.js';

export interface HotpatchEligibilityDeps {
  readonly s3: S3Client;
  readonly now: () => Date;
}

export const NO_FACTS_REASON = `no hotpatch facts for this update in ${HOTPATCH_MANIFEST_FILE}`;

const flag = z.boolean();

const inventorySchema = z.object({
  computerName: z.string(),
  os: z.object({
    caption: z.string(),
    version: z.string(),
    build: z.string(),
    servicePack: z.number().int().min(0),
    architecture: z.string(),
    editionId: z.string(),
  }),
  binaries: z.array(z.object({ path: z.string(), fileVersion: z.string().nullable() })),
  pendingReboot: flag,
  hotpatch: z.object({
    enrolled: flag,
    vbsEnabled: flag,
    secureBoot: flag,
    azureArcConnected: flag,
  }),
});

const eligibilityEventSchema = z.object({
  node: rolloutNodeRefSchema,
  inventory: inventorySchema,
  // The plan's items pass through whole: the answer returns them with /hotpatch:enable added.
  updates: z.array(
    z.looseObject({
      index: z.number().int().min(0),
      file: z.string().min(1),
      parameters: z.string().optional(),
      exitConditions: z.record(z.string(), z.array(z.number().int())).optional(),
    }),
  ),
  hotfixRoot: z.object({ bucket: z.string().min(1), prefix: z.string() }),
});

/**
 * The event; `updates` are plan-node's PlannedInstall items (index, file, parameters and exit
 * conditions are read; the rest is returned as given).
 */
export interface HotpatchEligibilityEvent {
  readonly node: { readonly name: string; readonly instanceId: string };
  readonly inventory: InventoryResult;
  readonly updates: readonly {
    readonly index: number;
    readonly file: string;
    readonly parameters?: string;
    readonly exitConditions?: Readonly<Record<string, readonly number[]>>;
  }[];
  readonly hotfixRoot: { readonly bucket: string; readonly prefix: string };
}
type InventoryOs = InventoryResult['os'];

export interface UpdateHotpatchDecision {
  readonly index: number;
  readonly file: string;
  /** A prediction: the installer's exit code decides. */
  readonly eligible: boolean;
  /** Failing checks first, then passing ones, then why a restart may be needed. */
  readonly reasons: readonly string[];
  readonly restartMayBeRequired: boolean;
  /** KB897341 and eligible only: the command with `/hotpatch:enable` (KB897341). */
  readonly installCommand?: string;
}

export interface HotpatchEligibilityResult {
  readonly decisions: readonly UpdateHotpatchDecision[];
  /**
   * A restart may happen: drain first. False only when every update is eligible, none may
   * restart and no update's rule lists 1641 (an installer that restarts the node itself).
   */
  readonly restartPossible: boolean;
  /**
   * The planned items to install: each eligible one marked `hotpatch: true`, and a KB897341 one
   * given `/hotpatch:enable` in its parameters (the install command the rules build).
   */
  readonly updates: readonly Record<string, unknown>[];
  /** The node already waits for a restart (which makes restartPossible true). */
  readonly pendingReboot: boolean;
}

// ---------------------------------------------------------------------------------------------
// The inventory's OS as the hotpatch rules name it

const PRODUCT_BY_CAPTION: readonly [RegExp, WindowsServerProduct][] = [
  [/server\W+2003\W+r2/i, 'windowsServer2003R2'],
  [/server\W+2003/i, 'windowsServer2003'],
  [/server\W+2008\W+r2/i, 'windowsServer2008R2'],
  [/server\W+2008/i, 'windowsServer2008'],
  [/server\W+2012\W+r2/i, 'windowsServer2012R2'],
  [/server\W+2012/i, 'windowsServer2012'],
  [/server\W+2016/i, 'windowsServer2016'],
  [/server\W+2019/i, 'windowsServer2019'],
  [/server\W+2022/i, 'windowsServer2022'],
  [/server\W+2025/i, 'windowsServer2025'],
];

/** Builds of the releases whose build number alone names them (R2 of 2003 shares 3790). */
const PRODUCT_BY_BUILD: Readonly<Record<string, WindowsServerProduct>> = {
  '7600': 'windowsServer2008R2',
  '7601': 'windowsServer2008R2',
  '9200': 'windowsServer2012',
  '9600': 'windowsServer2012R2',
  '14393': 'windowsServer2016',
  '17763': 'windowsServer2019',
  '20348': 'windowsServer2022',
  '26100': 'windowsServer2025',
};

// `ServerTurbine` is the EditionID of Datacenter: Azure Edition; test it before Datacenter.
const EDITION_BY_ID: readonly [RegExp, WindowsServerEdition][] = [
  [/turbine|azureedition/i, 'datacenterAzureEdition'],
  [/datacenter/i, 'datacenter'],
  [/enterprise/i, 'enterprise'],
  [/standard/i, 'standard'],
  [/web/i, 'web'],
  [/sbs|smallbusiness|solution/i, 'smallBusiness'],
  [/storage/i, 'storage'],
];

const EDITION_BY_CAPTION: readonly [RegExp, WindowsServerEdition][] = [
  [/azure\s+edition/i, 'datacenterAzureEdition'],
  [/datacenter/i, 'datacenter'],
  [/enterprise/i, 'enterprise'],
  [/standard/i, 'standard'],
  [/\bweb\b/i, 'web'],
  [/small\s+business/i, 'smallBusiness'],
  [/storage/i, 'storage'],
];

const first = <T>(table: readonly [RegExp, T][], text: string): T | undefined =>
  table.find(([pattern]) => pattern.test(text))?.[1];

/** `x86`, `AMD64`, `64-bit`, ... as the rules name them; ARM64 is none of them. */
function mapArchitecture(text: string): MappedOs['architecture'] {
  const arch = text.trim().toLowerCase();
  if (/arm/.test(arch)) return undefined;
  if (/ia64|itanium/.test(arch)) return 'ia64';
  if (/amd64|x64|x86_64|64-bit|64 bit/.test(arch)) return 'x64';
  if (/^(x86|i[3-6]86|32-bit|32 bit)$/.test(arch)) return 'x86';
  return undefined;
}

/** The inventory's OS in the hotpatch rules' terms, and what could not be mapped. */
export interface MappedOs {
  readonly product?: WindowsServerProduct;
  readonly edition?: WindowsServerEdition;
  readonly architecture?: 'x86' | 'x64' | 'ia64';
  /** `<build>.<revision>`, as the modern rules compare it. */
  readonly build?: string;
  readonly notes: readonly string[];
}

/**
 * Maps the inventory's caption, EditionID, architecture and build to the hotpatch rules' enums.
 * EditionID is absent before Windows Server 2008, so the caption is the fallback.
 */
export function mapInventoryOs(os: InventoryOs): MappedOs {
  const notes: string[] = [];
  const buildMatch = /(\d{4,5})(?:\.(\d{1,6}))?$/.exec(os.build.trim());
  const product =
    first(PRODUCT_BY_CAPTION, os.caption) ??
    (buildMatch ? PRODUCT_BY_BUILD[buildMatch[1] as string] : undefined);
  const edition =
    (os.editionId.trim() === '' ? undefined : first(EDITION_BY_ID, os.editionId)) ??
    first(EDITION_BY_CAPTION, os.caption);
  const architecture = mapArchitecture(os.architecture);
  let build: string | undefined;
  if (buildMatch?.[2] !== undefined) build = `${buildMatch[1]}.${buildMatch[2]}`;
  else if (buildMatch) {
    build = `${buildMatch[1]}.0`;
    notes.push(
      `os: the inventory reports build ${JSON.stringify(os.build)} without its revision; taken as ${build}, the oldest it can be`,
    );
  }
  const described = `caption ${JSON.stringify(os.caption)}, EditionID ${JSON.stringify(os.editionId)}, architecture ${JSON.stringify(os.architecture)}, build ${JSON.stringify(os.build)}`;
  if (product === undefined)
    notes.push(`os: no Windows Server release recognised in the inventory (${described})`);
  if (edition === undefined)
    notes.push(`os: no Windows Server edition recognised in the inventory (${described})`);
  if (architecture === undefined)
    notes.push(`os: architecture not recognised in the inventory (${described})`);
  return {
    ...(product ? { product } : {}),
    ...(edition ? { edition } : {}),
    ...(architecture ? { architecture } : {}),
    ...(build ? { build } : {}),
    notes,
  };
}

/**
 * KB897341 node facts the inventory does not report, at their conservative values. The
 * installing account is not unknown: SSM Agent runs commands as LocalSystem, which holds
 * SeDebugPrivilege ("Debug programs").
 */
const KB897341_NODE_ASSUMED: Kb897341Facts['node'] = {
  securityUpdateInstalledBefore: false,
  rightsManagementRunning: true,
  debuggerAttached: true,
  debugProgramsRight: true,
  incompatibleProgramsRunning: [],
};

const KB897341_ASSUMPTION =
  'node: Rights Management, debugged programs, programs incompatible with hotpatching and earlier security updates are not in the inventory; taken as unknown, at the conservative value (a restart may be required); the "Debug programs" right is taken as held, since SSM Agent runs the installer as LocalSystem';

const notEligible = (
  index: number,
  file: string,
  reasons: readonly string[],
): UpdateHotpatchDecision => ({
  index,
  file,
  eligible: false,
  reasons,
  restartMayBeRequired: true,
});

type NodeInventory = Pick<InventoryResult, 'os' | 'binaries' | 'hotpatch'>;
/** Facts for the rules and notes on how they were read; no facts when the OS is not known. */
type BuiltFacts = {
  readonly facts?: Kb897341Facts | ModernHotpatchFacts;
  readonly notes: readonly string[];
};

function kb897341Facts(
  entry: Extract<HotpatchManifestEntry, { policy: 'kb897341' }>,
  inventory: NodeInventory,
): BuiltFacts {
  const os = mapInventoryOs(inventory.os);
  const notes = [...os.notes];
  if (!os.product || !os.edition || !os.architecture) return { notes };
  const versions = new Map(inventory.binaries.map((b) => [binaryKey(b.path), b.fileVersion]));
  const binaries = entry.binaries.map((path) => {
    const fileVersion = versions.get(binaryKey(path)) ?? null;
    if (fileVersion === null) {
      notes.push(`binary: ${path} has no file version in the node's inventory`);
    }
    return { path, fileVersion: fileVersion ?? '' };
  });
  notes.push(KB897341_ASSUMPTION);
  const { product, edition, architecture } = os;
  return {
    facts: {
      policy: 'kb897341',
      update: entry.update,
      os: { product, servicePack: inventory.os.servicePack, edition, architecture },
      binaries,
      node: KB897341_NODE_ASSUMED,
    },
    notes,
  };
}

function modernFacts(
  entry: Extract<HotpatchManifestEntry, { policy: 'modern' }>,
  inventory: NodeInventory,
): BuiltFacts {
  const os = mapInventoryOs(inventory.os);
  // The modern rules do not look at the architecture.
  const notes = os.notes.filter((n) => !n.startsWith('os: architecture'));
  if (!os.build) notes.push('os: no build in the inventory');
  if (!os.product || !os.edition || !os.build) return { notes };
  const { hotpatch } = inventory;
  return {
    facts: {
      policy: 'modern',
      update: entry.update,
      os: { product: os.product, edition: os.edition, build: os.build },
      node: {
        azureArcConnected: hotpatch.azureArcConnected,
        vbsEnabled: hotpatch.vbsEnabled,
        uefiSecureBootEnabled: hotpatch.secureBoot,
        hotpatchEnrolled: hotpatch.enrolled,
      },
    },
    notes,
  };
}

/** Decides one update on one node from its manifest entry and the node's inventory. */
export function decideUpdate(
  update: { readonly index: number; readonly file: string },
  entry: HotpatchManifestEntry | undefined,
  inventory: NodeInventory,
): UpdateHotpatchDecision {
  const { index, file } = update;
  if (entry === undefined) return notEligible(index, file, [NO_FACTS_REASON]);
  const { facts, notes } =
    entry.policy === 'kb897341' ? kb897341Facts(entry, inventory) : modernFacts(entry, inventory);
  if (facts === undefined) return notEligible(index, file, notes);
  const decision = decideHotpatch(facts);
  return {
    index,
    file,
    eligible: decision.eligible,
    reasons: [
      ...decision.reasons,
      ...notes,
      ...decision.restart.reasons.map((reason) => `restart: ${reason}`),
    ],
    restartMayBeRequired: decision.restart.mayBeRequired,
    ...(decision.installCommand ? { installCommand: decision.installCommand } : {}),
  };
}

/** The switch KB897341 installs a hotpatch with. */
export const HOTPATCH_SWITCH = '/hotpatch:enable';

/** The planned item as installed: marked hotpatch when eligible, with the switch when KB897341. */
export function withHotpatch<T extends { readonly parameters?: string }>(
  item: T,
  decision: UpdateHotpatchDecision,
): T & { hotpatch?: boolean } {
  if (!decision.eligible) return item;
  const parameters = item.parameters ?? '';
  const needsSwitch =
    decision.installCommand !== undefined && !parameters.toLowerCase().includes(HOTPATCH_SWITCH);
  return {
    ...item,
    hotpatch: true,
    ...(needsSwitch ? { parameters: `${parameters} ${HOTPATCH_SWITCH}`.trim() } : {}),
  };
}

/** Whether a rule lists 1641 under any condition: its installer may restart the node itself. */
const mayRestartItself = (conditions: Readonly<Record<string, readonly number[]>> | undefined) =>
  Object.values(conditions ?? {}).some((codes) => codes.includes(1641));

const binaryKey = (path: string) => path.trim().replace(/\//g, '\\').toLowerCase();

export function makeHotpatchEligibilityHandler(deps: HotpatchEligibilityDeps) {
  return async function hotpatchEligibility(event: unknown): Promise<HotpatchEligibilityResult> {
    const { node, inventory, updates, hotfixRoot } = parseEvent(
      'hotpatch-eligibility',
      eligibilityEventSchema,
      event,
    );
    logContext({ node: node.name });
    const manifest =
      updates.length === 0
        ? {}
        : await loadHotpatchManifest(deps.s3, hotfixRoot.bucket, hotfixRoot.prefix);
    const decisions = updates.map((u) =>
      decideUpdate(u, findManifestEntry(manifest, u.file), inventory),
    );
    const hotpatchOnly = decisions.every((d) => d.eligible && !d.restartMayBeRequired);
    const selfRestart = updates.some((u) => mayRestartItself(u.exitConditions));
    const result: HotpatchEligibilityResult = {
      decisions,
      restartPossible: inventory.pendingReboot || !hotpatchOnly || selfRestart,
      pendingReboot: inventory.pendingReboot,
      updates: updates.map((u, i) => withHotpatch(u, decisions[i] as UpdateHotpatchDecision)),
    };
    logger.info('hotpatch eligibility', {
      updates: decisions.length,
      eligible: decisions.filter((d) => d.eligible).length,
      restartPossible: result.restartPossible,
      decidedAt: deps.now().toISOString(),
    });
    return result;
  };
}

let cached: ReturnType<typeof makeHotpatchEligibilityHandler> | undefined;

function productionDeps(): HotpatchEligibilityDeps {
  return { s3: tracer.captureAWSv3Client(new S3Client({})), now: () => new Date() };
}

export const handler = async (
  event: unknown,
  _context?: Context,
): Promise<HotpatchEligibilityResult> => {
  cached ??= makeHotpatchEligibilityHandler(productionDeps());
  return cached(event);
};
