/**
 * Hotpatch eligibility: will this update install on this node without a restart?
 *
 * Two policies:
 * - `kb897341`: classic hotpatching of Windows Server 2003 SP1 security updates, from KB897341
 *   (seeds 000 fr, 001 de, 002 ja). Rules cite seed 002 or 000: the German seed 001 is a machine
 *   translation that flips some negations. Where DOMAIN.md §1 and a seed differ, the seed wins:
 *   `._hp` files in a package only count when nobody has read the KB article, because the article
 *   decides ("if the article says no, or does not mention hotpatching, you cannot", seed 000).
 * - `modern`: Windows Server 2022/2025 hotpatch (DOMAIN.md §1; not in the seeds).
 *
 * Eligible is a prediction, not a promise: the installer's exit code decides (see exit-codes.ts).
 * Pure rules: no AWS SDK, no I/O.
 */
import * as z from 'zod';
import { formatProblems, RolloutRuleError, type ValidationProblem } from './errors.js';

/** The policies a node's facts can be judged under. */
export const HOTPATCH_POLICIES = ['kb897341', 'modern'] as const;
/** One of {@link HOTPATCH_POLICIES}. */
export type HotpatchPolicy = (typeof HOTPATCH_POLICIES)[number];

/** Windows Server releases a fact-gathering script may report. */
export const WINDOWS_SERVER_PRODUCTS = [
  'windowsServer2003',
  'windowsServer2003R2',
  'windowsServer2008',
  'windowsServer2008R2',
  'windowsServer2012',
  'windowsServer2012R2',
  'windowsServer2016',
  'windowsServer2019',
  'windowsServer2022',
  'windowsServer2025',
] as const;
export type WindowsServerProduct = (typeof WINDOWS_SERVER_PRODUCTS)[number];

/** Windows Server editions, across releases. */
export const WINDOWS_SERVER_EDITIONS = [
  'web',
  'standard',
  'enterprise',
  'datacenter',
  'datacenterAzureEdition',
  'smallBusiness',
  'storage',
] as const;
export type WindowsServerEdition = (typeof WINDOWS_SERVER_EDITIONS)[number];

/** Processor architectures of a Windows Server installation. */
export const ARCHITECTURES = ['x86', 'x64', 'ia64'] as const;

/** Kinds of update under KB897341: only GDR security updates can be hotpatched. */
export const KB897341_UPDATE_KINDS = ['securityGdr', 'securityQfe', 'nonSecurity'] as const;

/**
 * What the update's own KB article says about hotpatching. `unknown`: nobody has read it yet.
 */
export const KB_ARTICLE_STATEMENTS = [
  'supported',
  'notSupported',
  'notMentioned',
  'unknown',
] as const;

/** Kinds of monthly update under the modern policy: only security updates are hotpatches. */
export const MODERN_UPDATE_KINDS = ['security', 'nonSecurity', 'dotNet', 'driverFirmware'] as const;

/** First Windows Server 2025 build that takes hotpatches through Azure Arc (DOMAIN.md §1). */
export const ARC_MIN_BUILD = '26100.1742';

const SOURCE = {
  package: 'KB897341 seed 002 (ja) / seed 000 (fr), step 1: the KB article, then ._hp files',
  updateKind: 'KB897341 seed 002 (ja) / seed 000 (fr), introduction: GDR security updates only',
  os: 'KB897341 seed 000 (fr), products list; seed 002 (ja), note: original release not supported',
  binary: 'KB897341 seed 002 (ja), step 2: file version branch table (Authz.dll)',
  binariesRecorded:
    'KB897341 seed 002 (ja), step 2 and testing step 2: record the versions of the binaries replaced',
  debugProgramsRight: 'KB897341 seed 002 (ja), step 3; KB888791 ("Debug programs" user right)',
  restart: 'KB897341 seed 002 (ja), note after step 2',
  modern: 'DOMAIN.md §1, modern hotpatch (not in the seeds)',
} as const;

// ---------------------------------------------------------------------------------------------
// Input schema
// ---------------------------------------------------------------------------------------------

const oneOf = (values: readonly string[]): string =>
  `expected one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;

const enumOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: oneOf(values) });

const bool = (meaning: string) => z.boolean({ error: `expected true or false (${meaning})` });

const text = (what: string) =>
  z.string({ error: `expected ${what} (a non-empty string)` }).min(1, {
    error: `expected ${what} (a non-empty string)`,
  });

const KB_ACCEPTED = 'expected "KB" and 6 or 7 digits, e.g. "KB897341"';
const LANGUAGE_ACCEPTED = 'expected a 3-letter package language code, e.g. "ENU" or "JPN"';
const SERVICE_PACK_ACCEPTED =
  'expected the service pack as a whole number 0-9 (0 = original release, 1 = SP1)';
const FILE_VERSION_EXAMPLE = '5.2.3790.2453 (srv03_sp1_gdr.050623-1417)';
const RELEASE_MONTH_ACCEPTED = 'expected the release month as "YYYY-MM", e.g. "2025-05"';
const BUILD_ACCEPTED = 'expected the OS build as "<build>.<revision>", e.g. "26100.1742"';

/** Facts for the classic KB897341 policy (Windows Server 2003 SP1). */
const kb897341FactsSchema = z.strictObject({
  policy: z.literal('kb897341'),
  update: z.strictObject({
    /** The update's KB number, e.g. `KB899588`; any case in, upper case out. */
    kb: z
      .string({ error: KB_ACCEPTED })
      .regex(/^kb\d{6,7}$/i, { error: KB_ACCEPTED })
      .toUpperCase(),
    /** The package's language, the `LLL` of the file name (`ENU`, `JPN`); upper case out. */
    language: z
      .string({ error: LANGUAGE_ACCEPTED })
      .regex(/^[a-z]{3}$/i, { error: LANGUAGE_ACCEPTED })
      .toUpperCase(),
    /** GDR security update, QFE (hotfix branch) security update, or not a security update. */
    kind: enumOf(KB897341_UPDATE_KINDS),
    /** What the update's KB article says about hotpatching; `unknown` if nobody has read it. */
    article: enumOf(KB_ARTICLE_STATEMENTS),
    /**
     * Names of the files in the extracted package (KB262841 switches). Only consulted when
     * `article` is `unknown`. @default - the package was not examined
     */
    packageFiles: z
      .array(text('a file name'), { error: 'expected a list of file names' })
      .optional(),
    /**
     * The update is cumulative and includes an earlier update that needed a restart.
     * @default - not known, so a restart may be required
     */
    cumulativeIncludesRestartRequiredUpdate: bool(
      'the update includes one that restarts',
    ).optional(),
  }),
  os: z.strictObject({
    product: enumOf(WINDOWS_SERVER_PRODUCTS),
    /** 0 for the original release, 1 for SP1, and so on. */
    servicePack: z
      .number({ error: SERVICE_PACK_ACCEPTED })
      .int({ error: SERVICE_PACK_ACCEPTED })
      .min(0, { error: SERVICE_PACK_ACCEPTED })
      .max(9, { error: SERVICE_PACK_ACCEPTED }),
    edition: enumOf(WINDOWS_SERVER_EDITIONS),
    architecture: enumOf(ARCHITECTURES),
  }),
  /**
   * Every binary the update replaces, with the file version recorded on the node before
   * installing, e.g. `{ "path": "%windir%\\system32\\Authz.dll", "fileVersion": "5.2.3790.2453
   * (srv03_sp1_gdr.050623-1417)" }`. Malformed versions are not input errors: they make the
   * node not eligible, with a reason quoting them.
   */
  binaries: z.array(
    z.strictObject({
      path: text('the binary path'),
      fileVersion: z.string({
        error: `expected the file version string, e.g. "${FILE_VERSION_EXAMPLE}"`,
      }),
    }),
    { error: 'expected a list of { path, fileVersion }' },
  ),
  node: z.strictObject({
    /** Some security update has been installed on the node before. */
    securityUpdateInstalledBefore: bool('a security update was installed before'),
    /** Rights Management Services (RMS) is running. */
    rightsManagementRunning: bool('Rights Management is running'),
    /** A program on the node is being debugged. */
    debuggerAttached: bool('a program is being debugged'),
    /** The installing account holds "Debug programs" (SeDebugPrivilege), KB888791. */
    debugProgramsRight: bool('the installing account holds "Debug programs"'),
    /** Running programs known to be incompatible with hotpatching (KB922612); may be empty. */
    incompatibleProgramsRunning: z.array(text('a program name'), {
      error: 'expected a list of program names (may be empty)',
    }),
  }),
});

/** Facts for the modern policy (Windows Server 2022/2025 hotpatch). */
const modernFactsSchema = z.strictObject({
  policy: z.literal('modern'),
  update: z.strictObject({
    /** The month the update is released for (Patch Tuesday), `YYYY-MM`. */
    releaseMonth: z
      .string({ error: RELEASE_MONTH_ACCEPTED })
      .regex(/^\d{4}-(0[1-9]|1[0-2])$/, { error: RELEASE_MONTH_ACCEPTED }),
    kind: enumOf(MODERN_UPDATE_KINDS),
    /** Microsoft announced this update as an unplanned baseline. @default false */
    unplannedBaseline: bool('the update is an unplanned baseline').optional(),
  }),
  os: z.strictObject({
    product: enumOf(WINDOWS_SERVER_PRODUCTS),
    edition: enumOf(WINDOWS_SERVER_EDITIONS),
    /** OS build and revision (UBR), e.g. `26100.1742`. */
    build: z
      .string({ error: BUILD_ACCEPTED })
      .regex(/^\d{4,5}\.\d{1,6}$/, { error: BUILD_ACCEPTED }),
  }),
  node: z.strictObject({
    /** Connected to Azure Arc (needed for Standard/Datacenter outside Azure Edition). */
    azureArcConnected: bool('the node is connected to Azure Arc'),
    /** Virtualization-based security is running. */
    vbsEnabled: bool('virtualization-based security is running'),
    /** UEFI Secure Boot is on. */
    uefiSecureBootEnabled: bool('UEFI Secure Boot is on'),
    /** The node is enrolled in hotpatch updates. */
    hotpatchEnrolled: bool('the node is enrolled in hotpatch'),
  }),
});

/**
 * Facts about one update on one node, as a discriminated union on `policy`. Strict: unknown
 * fields are errors. See `examples/hotpatch-facts.json` and `examples/hotpatch-modern.json`.
 */
export const hotpatchFactsSchema = z.discriminatedUnion(
  'policy',
  [kb897341FactsSchema, modernFactsSchema],
  { error: oneOf(HOTPATCH_POLICIES) },
);

/** Validated facts (KB and language already upper-cased). */
export type HotpatchFacts = z.infer<typeof hotpatchFactsSchema>;
/** Facts under the `kb897341` policy. */
export type Kb897341Facts = Extract<HotpatchFacts, { policy: 'kb897341' }>;
/** Facts under the `modern` policy. */
export type ModernHotpatchFacts = Extract<HotpatchFacts, { policy: 'modern' }>;

// ---------------------------------------------------------------------------------------------
// Parsing and input errors
// ---------------------------------------------------------------------------------------------

/** Raised by {@link parseHotpatchFacts}; lists every problem, each with its field and value. */
export class HotpatchInputError extends RolloutRuleError {
  readonly problems: readonly ValidationProblem[];

  constructor(problems: readonly ValidationProblem[], options?: { cause?: unknown }) {
    super(formatProblems('invalid hotpatch facts', problems), options);
    this.problems = problems;
  }
}

type Path = readonly PropertyKey[];

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function formatPath(path: Path): string {
  let out = '';
  for (const segment of path) {
    out +=
      typeof segment === 'number' ? `[${segment}]` : `${out === '' ? '' : '.'}${String(segment)}`;
  }
  return out === '' ? '(root)' : out;
}

/** The value at `path` in the raw input, and whether the last key is present at all. */
function valueAt(input: unknown, path: Path): { present: boolean; value: unknown } {
  let current: unknown = input;
  for (const segment of path) {
    if (typeof segment === 'symbol' || typeof current !== 'object' || current === null) {
      return { present: false, value: undefined };
    }
    if (!Object.hasOwn(current, segment)) return { present: false, value: undefined };
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return { present: true, value: current };
}

/** The field names the schema accepts at `path`, for "unknown field" messages. */
function acceptedKeysAt(input: unknown, path: Path): string[] {
  const policy = isRecord(input) ? input.policy : undefined;
  let schema: z.core.$ZodType | undefined =
    policy === 'kb897341'
      ? kb897341FactsSchema
      : policy === 'modern'
        ? modernFactsSchema
        : undefined;
  const unwrap = (s: z.core.$ZodType | undefined) => (s instanceof z.ZodOptional ? s.unwrap() : s);
  for (const segment of path) {
    schema = unwrap(schema);
    if (schema instanceof z.ZodObject) {
      schema = (schema.shape as Record<PropertyKey, z.core.$ZodType | undefined>)[segment];
    } else if (schema instanceof z.ZodArray) {
      schema = schema.element;
    } else {
      return [];
    }
  }
  schema = unwrap(schema);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function toProblems(input: unknown, issues: readonly z.core.$ZodIssue[]): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const accepted = acceptedKeysAt(input, issue.path);
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        problems.push({
          field: formatPath(path),
          value: valueAt(input, path).value,
          message: `unknown field; accepted here: ${accepted.join(', ')}`,
        });
      }
      continue;
    }
    if (issue.path.length === 0) {
      problems.push({
        field: '(root)',
        value: input,
        message: `expected an object with "policy" (${HOTPATCH_POLICIES.join(' or ')}) and its facts`,
      });
      continue;
    }
    const { present, value } = valueAt(input, issue.path);
    problems.push({
      field: formatPath(issue.path),
      value,
      message: present ? issue.message : `missing; ${issue.message}`,
    });
  }
  return problems;
}

/**
 * Validates raw facts (parsed JSON) against {@link hotpatchFactsSchema}.
 *
 * @throws HotpatchInputError listing every problem, each with its field path and value.
 */
export function parseHotpatchFacts(input: unknown): HotpatchFacts {
  let result: ReturnType<typeof hotpatchFactsSchema.safeParse>;
  try {
    result = hotpatchFactsSchema.safeParse(input);
  } catch (error) {
    // Only reachable with exotic objects (throwing getters); JSON input never gets here.
    throw new HotpatchInputError(
      [{ field: '(root)', message: `could not be read: ${String(error)}` }],
      { cause: error },
    );
  }
  if (result.success) return result.data;
  throw new HotpatchInputError(toProblems(input, result.error.issues), { cause: result.error });
}

// ---------------------------------------------------------------------------------------------
// Binary branch (KB897341 step 2)
// ---------------------------------------------------------------------------------------------

/** A parsed file version string, e.g. `5.2.3790.2453 (srv03_sp1_gdr.050623-1417)`. */
export type ParsedFileVersion =
  | {
      readonly ok: true;
      /** `5.2.3790.2453` */
      readonly version: string;
      /** The branch tag as written, between `(` and `.`: `srv03_sp1_gdr`. */
      readonly tag: string;
      /** The tag lower-cased and split on `_`: `['srv03', 'sp1', 'gdr']`. */
      readonly tokens: readonly string[];
      /** Build timestamp `yymmdd-hhmm`: `050623-1417`. */
      readonly timestamp: string;
    }
  | { readonly ok: false; readonly reason: string };

/**
 * Parses a file version string into version, branch tag and timestamp. Says nothing about
 * eligibility: see {@link classifyBranch}.
 */
export function parseBranchTag(fileVersion: string): ParsedFileVersion {
  const quoted = JSON.stringify(fileVersion);
  const fail = (why: string): ParsedFileVersion => ({
    ok: false,
    reason: `malformed file version ${quoted}: ${why}; expected e.g. "${FILE_VERSION_EXAMPLE}"`,
  });
  const trimmed = fileVersion.trim();
  if (trimmed === '') return fail('empty');
  const match = /^(\S+)\s+\(([^()]*)\)$/.exec(trimmed);
  if (!match) return fail('expected "<version> (<branch tag>.<yymmdd>-<hhmm>)"');
  const version = match[1] ?? '';
  const inner = match[2] ?? '';
  const parts = version.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,5}$/.test(p) || Number(p) > 0xffff)) {
    return fail(`version "${version}" is not four numbers 0-65535 separated by dots`);
  }
  const dot = inner.indexOf('.');
  if (dot < 0) return fail(`no "." between the branch tag and the timestamp in "(${inner})"`);
  const tag = inner.slice(0, dot);
  const timestamp = inner.slice(dot + 1);
  if (!/^[A-Za-z0-9_]+$/.test(tag)) {
    return fail(`branch tag "${tag}" is empty or has characters other than letters, digits and _`);
  }
  if (!/^\d{6}-\d{4}$/.test(timestamp)) {
    return fail(`timestamp "${timestamp}" is not 6 digits, "-", 4 digits`);
  }
  return { ok: true, version, tag, tokens: tag.toLowerCase().split('_'), timestamp };
}

/** What a binary's branch says about hotpatching. */
export type BranchVerdict = 'eligible' | 'qfe' | 'unknownTag' | 'malformed';

/**
 * Judges one binary's file version by its branch tag tokens (seed 002, step 2): the tag must
 * start with `srv03_`; any `qfe` token means not eligible; all of `gdr`, `rtm`, `sp<digit>`
 * means eligible (so `srv03_sp1_gdr` is); any other tag is unknown, hence not eligible.
 * Tokens compare case-insensitively.
 */
export function classifyBranch(fileVersion: string): {
  readonly ok: boolean;
  readonly verdict: BranchVerdict;
  readonly detail: string;
} {
  const parsed = parseBranchTag(fileVersion);
  if (!parsed.ok) return { ok: false, verdict: 'malformed', detail: parsed.reason };
  const quoted = JSON.stringify(fileVersion);
  const [family, ...rest] = parsed.tokens;
  if (family === 'srv03' && rest.includes('qfe')) {
    return {
      ok: false,
      verdict: 'qfe',
      detail: `${quoted}: branch ${parsed.tag} is a QFE (hotfix) branch, which cannot be hotpatched`,
    };
  }
  if (
    family === 'srv03' &&
    rest.length > 0 &&
    rest.every((t) => t === 'gdr' || t === 'rtm' || /^sp\d$/.test(t))
  ) {
    return {
      ok: true,
      verdict: 'eligible',
      detail: `${quoted}: branch ${parsed.tag} is a GDR/RTM/service pack branch, which can be hotpatched`,
    };
  }
  return {
    ok: false,
    verdict: 'unknownTag',
    detail: `${quoted}: unknown branch tag "${parsed.tag}" (known: srv03_ followed by gdr, rtm or sp<digit>, or qfe); treated as not eligible`,
  };
}

// ---------------------------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------------------------

/** One rule checked for a decision. */
export interface HotpatchCheck {
  /** Stable name of the rule, e.g. `package`, `binary`, `os`. */
  readonly rule: string;
  readonly ok: boolean;
  /** Why it passed or failed, naming the facts used. */
  readonly detail: string;
  /** The document the rule comes from. */
  readonly source: string;
}

/** The verdict on one update for one node. */
export interface HotpatchDecision {
  readonly policy: HotpatchPolicy;
  /** Every check passed. A prediction: the installer's exit code decides. */
  readonly eligible: boolean;
  /** `<rule>: <detail>`, one line per check, failing checks first. */
  readonly reasons: readonly string[];
  /** The checks in the order they were made. */
  readonly checks: readonly HotpatchCheck[];
  /**
   * Whether the node may need a restart anyway, separate from `eligible`. Always true when the
   * update is not eligible (it installs as a conventional update). False means no known reason,
   * not a promise: a node may still ask for a restart with hotpatching enabled (KB922612).
   */
  readonly restart: { readonly mayBeRequired: boolean; readonly reasons: readonly string[] };
  /** `kb897341` and eligible only: `WindowsServer2003-KB######-x86-LLL.exe /hotpatch:enable`. */
  readonly installCommand?: string;
  /** `kb897341` and eligible only: `%windir%\KB######.log`, to judge unattended installs. */
  readonly logFile?: string;
}

/** Judges one update on one node under the facts' policy. */
export function decideHotpatch(facts: HotpatchFacts): HotpatchDecision {
  return facts.policy === 'kb897341' ? decideKb897341(facts) : decideModern(facts);
}

const check = (rule: string, ok: boolean, detail: string, source: string): HotpatchCheck => ({
  rule,
  ok,
  detail,
  source,
});

function orderedReasons(checks: readonly HotpatchCheck[]): string[] {
  const line = (c: HotpatchCheck) => `${c.rule}: ${c.detail}`;
  return [...checks.filter((c) => !c.ok).map(line), ...checks.filter((c) => c.ok).map(line)];
}

const PRODUCT_NAMES: Record<WindowsServerProduct, string> = {
  windowsServer2003: 'Windows Server 2003',
  windowsServer2003R2: 'Windows Server 2003 R2',
  windowsServer2008: 'Windows Server 2008',
  windowsServer2008R2: 'Windows Server 2008 R2',
  windowsServer2012: 'Windows Server 2012',
  windowsServer2012R2: 'Windows Server 2012 R2',
  windowsServer2016: 'Windows Server 2016',
  windowsServer2019: 'Windows Server 2019',
  windowsServer2022: 'Windows Server 2022',
  windowsServer2025: 'Windows Server 2025',
};

const EDITION_NAMES: Record<WindowsServerEdition, string> = {
  web: 'Web Edition',
  standard: 'Standard',
  enterprise: 'Enterprise',
  datacenter: 'Datacenter',
  datacenterAzureEdition: 'Datacenter: Azure Edition',
  smallBusiness: 'Small Business Server',
  storage: 'Storage Server',
};

const KB897341_EDITIONS: readonly WindowsServerEdition[] = [
  'datacenter',
  'enterprise',
  'standard',
  'web',
];

function packageCheck(update: Kb897341Facts['update']): HotpatchCheck {
  const hpFiles = (update.packageFiles ?? []).filter((name) => /\._hp$/i.test(name));
  const hpList = hpFiles.join(', ');
  const notOverride =
    hpFiles.length > 0 ? `; the package's ._hp files (${hpList}) do not override the article` : '';
  switch (update.article) {
    case 'supported':
      return check(
        'package',
        true,
        'the KB article says the update can be hotpatched',
        SOURCE.package,
      );
    case 'notSupported':
      return check(
        'package',
        false,
        `the KB article says the update cannot be hotpatched${notOverride}`,
        SOURCE.package,
      );
    case 'notMentioned':
      return check(
        'package',
        false,
        `the KB article does not mention hotpatching, so it cannot be hotpatched${notOverride}`,
        SOURCE.package,
      );
    case 'unknown':
      if (hpFiles.length > 0) {
        return check(
          'package',
          true,
          `nobody has read the KB article; the package contains ._hp files (${hpList}), taken as evidence that it may be hotpatched: read the article to confirm`,
          SOURCE.package,
        );
      }
      return check(
        'package',
        false,
        update.packageFiles === undefined
          ? 'nobody has read the KB article and the package was not examined (update.packageFiles): no evidence that it can be hotpatched'
          : 'nobody has read the KB article and the package contains no ._hp files: no evidence that it can be hotpatched',
        SOURCE.package,
      );
  }
}

function updateKindCheck(kind: Kb897341Facts['update']['kind']): HotpatchCheck {
  const detail = {
    securityGdr: 'a GDR security update, the kind hotpatching installs',
    securityQfe:
      'a QFE (hotfix branch) security update: only GDR security updates can be hotpatched',
    nonSecurity: 'not a security update: only GDR security updates can be hotpatched',
  }[kind];
  return check('updateKind', kind === 'securityGdr', detail, SOURCE.updateKind);
}

function osCheck(os: Kb897341Facts['os']): HotpatchCheck {
  const described = `${PRODUCT_NAMES[os.product]}${os.servicePack > 0 ? ` SP${os.servicePack}` : ''} ${EDITION_NAMES[os.edition]}, ${os.architecture}`;
  const problems: string[] = [];
  if (os.product !== 'windowsServer2003') {
    problems.push(`${PRODUCT_NAMES[os.product]} is not listed`);
  } else if (os.servicePack === 0) {
    problems.push(
      'the original release of Windows Server 2003 (no service pack) does not support hotpatching',
    );
  } else if (os.servicePack !== 1) {
    problems.push(`SP${os.servicePack} is not listed`);
  }
  if (!KB897341_EDITIONS.includes(os.edition))
    problems.push(`${EDITION_NAMES[os.edition]} is not listed`);
  if (os.architecture !== 'x86') problems.push(`${os.architecture} is not 32-bit x86`);
  if (problems.length === 0) {
    return check('os', true, `${described}: listed in the article`, SOURCE.os);
  }
  return check(
    'os',
    false,
    `${described}: ${problems.join('; ')}; the article lists Windows Server 2003 SP1 only (32-bit x86 Datacenter, Enterprise, Standard; Web Edition)`,
    SOURCE.os,
  );
}

function binaryChecks(binaries: Kb897341Facts['binaries']): HotpatchCheck[] {
  if (binaries.length === 0) {
    return [
      check(
        'binary',
        false,
        'no binaries listed: record the file version of every binary the update replaces (e.g. %windir%\\system32\\Authz.dll) before installing',
        SOURCE.binariesRecorded,
      ),
    ];
  }
  return binaries.map((b) => {
    const verdict = classifyBranch(b.fileVersion);
    return check('binary', verdict.ok, `${b.path} ${verdict.detail}`, SOURCE.binary);
  });
}

function decideKb897341(facts: Kb897341Facts): HotpatchDecision {
  const { update, os, binaries, node } = facts;
  const checks: HotpatchCheck[] = [
    packageCheck(update),
    updateKindCheck(update.kind),
    osCheck(os),
    ...binaryChecks(binaries),
    check(
      'debugProgramsRight',
      node.debugProgramsRight,
      node.debugProgramsRight
        ? 'the installing account holds the "Debug programs" user right (SeDebugPrivilege) Update.exe needs'
        : 'the installing account lacks the "Debug programs" user right (SeDebugPrivilege): Update.exe cannot apply the hotpatch; grant it (KB888791)',
      SOURCE.debugProgramsRight,
    ),
  ];
  const eligible = checks.every((c) => c.ok);

  const restart: string[] = [];
  if (!eligible) {
    restart.push(
      'not hotpatch-eligible: the update installs as a conventional update, which may restart',
    );
  }
  if (update.cumulativeIncludesRestartRequiredUpdate === undefined) {
    restart.push(
      'not recorded whether the update is cumulative and includes an earlier update that needs a restart (update.cumulativeIncludesRestartRequiredUpdate)',
    );
  } else if (update.cumulativeIncludesRestartRequiredUpdate) {
    restart.push(
      `the update is cumulative and includes an earlier update that needs a restart (${SOURCE.restart})`,
    );
  }
  if (!node.securityUpdateInstalledBefore) {
    restart.push(
      `no security update was installed on this node before: the hotpatch package then behaves like a conventional update (${SOURCE.restart})`,
    );
  }
  if (node.rightsManagementRunning) {
    restart.push(`Rights Management (RMS) is running (${SOURCE.restart})`);
  }
  if (node.debuggerAttached) {
    restart.push(`a program is being debugged (${SOURCE.restart})`);
  }
  if (node.incompatibleProgramsRunning.length > 0) {
    restart.push(
      `programs known to be incompatible with hotpatching are running: ${node.incompatibleProgramsRunning.join(', ')} (KB897341 step 3 note; KB922612)`,
    );
  }

  return {
    policy: 'kb897341',
    eligible,
    reasons: orderedReasons(checks),
    checks,
    restart: { mayBeRequired: restart.length > 0, reasons: restart },
    ...(eligible
      ? {
          installCommand: `WindowsServer2003-${update.kb}-x86-${update.language}.exe /hotpatch:enable`,
          logFile: `%windir%\\${update.kb}.log`,
        }
      : {}),
  };
}

const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;

const yearMonth = (year: number, month: number): string =>
  `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`;

/** Compares `major.revision` builds: negative when `a` is older than `b`. */
function compareBuild(a: string, b: string): number {
  const [aMajor = 0, aRev = 0] = a.split('.').map(Number);
  const [bMajor = 0, bRev = 0] = b.split('.').map(Number);
  return aMajor !== bMajor ? aMajor - bMajor : aRev - bRev;
}

function decideModern(facts: ModernHotpatchFacts): HotpatchDecision {
  const { update, os, node } = facts;
  const src = SOURCE.modern;
  const described = `${PRODUCT_NAMES[os.product]} ${EDITION_NAMES[os.edition]}`;
  const azureEdition =
    os.edition === 'datacenterAzureEdition' &&
    (os.product === 'windowsServer2022' || os.product === 'windowsServer2025');
  const arcPath =
    os.product === 'windowsServer2025' &&
    (os.edition === 'standard' || os.edition === 'datacenter');

  const nodeChecks: HotpatchCheck[] = [];
  if (azureEdition) {
    nodeChecks.push(check('platform', true, `${described} supports hotpatch`, src));
  } else if (arcPath) {
    nodeChecks.push(
      check(
        'platform',
        node.azureArcConnected,
        node.azureArcConnected
          ? `${described} connected to Azure Arc supports hotpatch`
          : `${described} supports hotpatch only when connected to Azure Arc (node.azureArcConnected is false)`,
        src,
      ),
      check(
        'build',
        compareBuild(os.build, ARC_MIN_BUILD) >= 0,
        compareBuild(os.build, ARC_MIN_BUILD) >= 0
          ? `build ${os.build} is ${ARC_MIN_BUILD} or later`
          : `build ${os.build} is older than ${ARC_MIN_BUILD}, the first build Azure Arc hotpatch supports`,
        src,
      ),
      check(
        'vbs',
        node.vbsEnabled,
        node.vbsEnabled
          ? 'virtualization-based security is running'
          : 'virtualization-based security is off: Azure Arc hotpatch needs it',
        src,
      ),
      check(
        'secureBoot',
        node.uefiSecureBootEnabled,
        node.uefiSecureBootEnabled
          ? 'UEFI Secure Boot is on'
          : 'UEFI Secure Boot is off: Azure Arc hotpatch needs it',
        src,
      ),
    );
  } else {
    nodeChecks.push(
      check(
        'platform',
        false,
        `${described} does not support hotpatch: supported are Windows Server 2022/2025 Datacenter: Azure Edition, and Windows Server 2025 Standard/Datacenter via Azure Arc`,
        src,
      ),
    );
  }
  nodeChecks.push(
    check(
      'enrolled',
      node.hotpatchEnrolled,
      node.hotpatchEnrolled
        ? 'the node is enrolled in hotpatch'
        : 'the node is not enrolled in hotpatch',
      src,
    ),
  );

  const [year = 0, month = 1] = update.releaseMonth.split('-').map(Number);
  const monthName = MONTH_NAMES[month - 1] ?? update.releaseMonth;
  const baselineMonth = (month - 1) % 3 === 0;
  const previousBaseline = month - ((month - 1) % 3);
  const nextBaseline =
    previousBaseline + 3 > 12
      ? yearMonth(year + 1, previousBaseline - 9)
      : yearMonth(year, previousBaseline + 3);
  const unplanned = update.unplannedBaseline ?? false;
  const kindDetail = {
    security: 'a security update, which ships as a hotpatch in hotpatch months',
    nonSecurity: 'a non-security update: installs with a restart',
    dotNet: 'a .NET update: installs with a restart',
    driverFirmware: 'a driver or firmware update: installs with a restart',
  }[update.kind];
  const updateChecks: HotpatchCheck[] = [
    check('updateKind', update.kind === 'security', kindDetail, src),
    check(
      'unplannedBaseline',
      !unplanned,
      unplanned ? 'an unplanned baseline: installs with a restart' : 'not an unplanned baseline',
      src,
    ),
    check(
      'releaseMonth',
      !baselineMonth,
      baselineMonth
        ? `${update.releaseMonth} (${monthName}) is a baseline month (January, April, July, October): the baseline installs with a restart`
        : `${update.releaseMonth} (${monthName}) is a hotpatch month between the ${yearMonth(year, previousBaseline)} and ${nextBaseline} baselines`,
      src,
    ),
  ];

  const checks = [...nodeChecks, ...updateChecks];
  const restart: string[] = [];
  if (!nodeChecks.every((c) => c.ok)) {
    restart.push(
      'the node cannot take hotpatches (see the failing checks): every update installs with a restart',
    );
  }
  for (const c of updateChecks) if (!c.ok) restart.push(c.detail);

  return {
    policy: 'modern',
    eligible: checks.every((c) => c.ok),
    reasons: orderedReasons(checks),
    checks,
    restart: { mayBeRequired: restart.length > 0, reasons: restart },
  };
}

/**
 * What an update's own facts say, before any node is looked at: can its package install as a
 * hotpatch at all? Used by the scan (what would install where, and where a restart is
 * expected); the node's OS and binaries are checked at run time by {@link decideHotpatch}.
 */
export function packageAllowsHotpatch(
  entry:
    | { readonly policy: 'kb897341'; readonly update: Kb897341Facts['update'] }
    | { readonly policy: 'modern'; readonly update: ModernHotpatchFacts['update'] },
): { readonly allows: boolean; readonly reason: string } {
  if (entry.policy === 'kb897341') {
    const u = entry.update;
    const hpFiles = (u.packageFiles ?? []).some((f) => f.toLowerCase().endsWith('._hp'));
    const supported = u.article === 'supported' || (u.article === 'unknown' && hpFiles);
    if (u.kind !== 'securityGdr') {
      return {
        allows: false,
        reason: `${u.kind} update: only GDR security updates hotpatch (KB897341)`,
      };
    }
    if (!supported) {
      return {
        allows: false,
        reason: `the KB article is ${u.article}: the package cannot be hotpatched (KB897341)`,
      };
    }
    return { allows: true, reason: 'a GDR security update the KB article says can be hotpatched' };
  }
  const u = entry.update;
  const month = Number(u.releaseMonth.split('-')[1] ?? 1);
  if (u.kind !== 'security')
    return { allows: false, reason: `a ${u.kind} update installs with a restart` };
  if (u.unplannedBaseline)
    return { allows: false, reason: 'an unplanned baseline installs with a restart' };
  if ((month - 1) % 3 === 0) {
    return {
      allows: false,
      reason: `${u.releaseMonth} is a baseline month: the baseline installs with a restart`,
    };
  }
  return { allows: true, reason: `${u.releaseMonth} is a hotpatch month` };
}
