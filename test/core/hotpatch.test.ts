import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RolloutRuleError } from '../../lambdas/core/errors.js';
import {
  type BranchVerdict,
  classifyBranch,
  decideHotpatch,
  type HotpatchCheck,
  type HotpatchDecision,
  HotpatchInputError,
  packageAllowsHotpatch,
  parseBranchTag,
  parseHotpatchFacts,
} from '../../lambdas/core/hotpatch.js';

// Sources named in rows. Rules cite seed 002 (ja) or 000 (fr): seed 001 (de) flips negations.
const SEED_PACKAGE = 'seed 002 (KB897341 ja) step 1.1-1.2; seed 000 (fr)';
const SEED_KIND = 'seed 000 (KB897341 fr) introduction: GDR security updates';
const SEED_OS = 'seed 000 (KB897341 fr) products list; seed 002 (ja) note on the original release';
const SEED_BRANCH = 'seed 002 (KB897341 ja), branch table';
const SEED_BRANCH_TOKENS = 'seed 002 branch table, read by tag tokens (DOMAIN.md §1.3)';
const SEED_RESTART = 'seed 002 (KB897341 ja), note after step 2';
const SEED_RIGHTS = 'seed 002 (KB897341 ja) step 3, KB888791';
const SEED_INSTALL = 'seed 002 (KB897341 ja), install section';
const MODERN = 'DOMAIN.md §1, modern hotpatch';
const STYLE_ERRORS = 'STYLE.md: errors name the field, the value and what is accepted';

const AUTHZ = '%windir%\\system32\\Authz.dll';
const GDR_VERSION = '5.2.3790.2453 (srv03_sp1_gdr.050623-1417)';

type Json = Record<string, unknown>;

/** A classic KB897341 case that is eligible, with no reason to restart; rows change one fact. */
function classic(
  over: { update?: Json; os?: Json; node?: Json; binaries?: readonly unknown[] } = {},
): Json {
  return {
    policy: 'kb897341',
    update: {
      kb: 'KB901234',
      language: 'ENU',
      kind: 'securityGdr',
      article: 'supported',
      cumulativeIncludesRestartRequiredUpdate: false,
      ...over.update,
    },
    os: {
      product: 'windowsServer2003',
      servicePack: 1,
      edition: 'standard',
      architecture: 'x86',
      ...over.os,
    },
    binaries: over.binaries ?? [{ path: AUTHZ, fileVersion: GDR_VERSION }],
    node: {
      securityUpdateInstalledBefore: true,
      rightsManagementRunning: false,
      debuggerAttached: false,
      debugProgramsRight: true,
      incompatibleProgramsRunning: [],
      ...over.node,
    },
  };
}

/** A modern case that is eligible: Windows Server 2025 Datacenter via Arc, a hotpatch month. */
function modern(over: { update?: Json; os?: Json; node?: Json } = {}): Json {
  return {
    policy: 'modern',
    update: { releaseMonth: '2025-05', kind: 'security', unplannedBaseline: false, ...over.update },
    os: { product: 'windowsServer2025', edition: 'datacenter', build: '26100.1742', ...over.os },
    node: {
      azureArcConnected: true,
      vbsEnabled: true,
      uefiSecureBootEnabled: true,
      hotpatchEnrolled: true,
      ...over.node,
    },
  };
}

const decide = (input: unknown): HotpatchDecision => decideHotpatch(parseHotpatchFacts(input));

function checkOf(decision: HotpatchDecision, rule: string): HotpatchCheck {
  const found = decision.checks.filter((c) => c.rule === rule);
  expect(found, `exactly one "${rule}" check`).toHaveLength(1);
  return found[0] as HotpatchCheck;
}

function inputError(input: unknown): HotpatchInputError {
  try {
    parseHotpatchFacts(input);
  } catch (error) {
    expect(error).toBeInstanceOf(HotpatchInputError);
    return error as HotpatchInputError;
  }
  return expect.fail(`expected HotpatchInputError for ${JSON.stringify(input)}`);
}

/** A deep copy of `input` with the value at a dotted path replaced, or removed when `undefined`. */
function withField(input: Json, path: string, value: unknown): Json {
  const copy = structuredClone(input);
  const keys = path.split('.');
  let target: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  const last = keys.at(-1) as string;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}

describe('kb897341 policy', () => {
  it('the fixture is eligible with no reason to restart, so each row below changes one thing', () => {
    const decision = decide(classic());
    expect(decision.eligible).toBe(true);
    expect(decision.checks.every((c) => c.ok)).toBe(true);
    expect(decision.restart).toEqual({ mayBeRequired: false, reasons: [] });
    expect(decision.installCommand).toBe('WindowsServer2003-KB901234-x86-ENU.exe /hotpatch:enable');
  });

  describe('package support: the KB article decides, ._hp files only when nobody read it', () => {
    const hp = ['update\\update.exe', 'SP1GDR\\authz.dll', 'SP1GDR\\authz.dll._hp'];
    const noHp = ['update\\update.exe', 'SP1GDR\\authz.dll'];
    it.each([
      {
        name: 'article says supported',
        article: 'supported',
        packageFiles: undefined,
        ok: true,
        detail: /^the KB article says the update can be hotpatched$/,
        source: SEED_PACKAGE,
      },
      {
        name: 'article says supported, package has ._hp files',
        article: 'supported',
        packageFiles: hp,
        ok: true,
        detail: /says the update can be hotpatched/,
        source: SEED_PACKAGE,
      },
      {
        name: 'article says not supported',
        article: 'notSupported',
        packageFiles: undefined,
        ok: false,
        detail: /^the KB article says the update cannot be hotpatched$/,
        source: 'seed 000 (fr) step 1.1: « si l’article spécifie donc »',
      },
      {
        name: 'article says not supported; ._hp files do not override it',
        article: 'notSupported',
        packageFiles: hp,
        ok: false,
        detail:
          /cannot be hotpatched; the package's \._hp files \(SP1GDR\\authz\.dll\._hp\) do not override the article/,
        source: SEED_PACKAGE,
      },
      {
        name: 'article does not mention hotpatching',
        article: 'notMentioned',
        packageFiles: noHp,
        ok: false,
        detail: /^the KB article does not mention hotpatching, so it cannot be hotpatched$/,
        source: 'seed 000 (fr) step 1.1: « si l’article ne mentionnez pas mise à jour à chaud »',
      },
      {
        name: 'article does not mention hotpatching; ._hp files do not override it',
        article: 'notMentioned',
        packageFiles: hp,
        ok: false,
        detail: /does not mention hotpatching.*\._hp files .* do not override the article/,
        source: SEED_PACKAGE,
      },
      {
        name: 'article unread, ._hp files present: evidence of support',
        article: 'unknown',
        packageFiles: hp,
        ok: true,
        detail: /nobody has read the KB article; the package contains \._hp files .*evidence/,
        source: 'seed 000 (fr) step 1.2: « Vous pouvez éventuellement » with ._hp files',
      },
      {
        name: 'article unread, ._hp matched case-insensitively',
        article: 'unknown',
        packageFiles: ['SP1GDR\\AUTHZ.DLL._HP'],
        ok: true,
        detail: /AUTHZ\.DLL\._HP/,
        source: SEED_PACKAGE,
      },
      {
        name: 'article unread, no ._hp files',
        article: 'unknown',
        packageFiles: noHp,
        ok: false,
        detail: /nobody has read the KB article and the package contains no \._hp files/,
        source: SEED_PACKAGE,
      },
      {
        name: 'article unread, "_hp" without the dot is not a ._hp file',
        article: 'unknown',
        packageFiles: ['SP1GDR\\authz_hp'],
        ok: false,
        detail: /contains no \._hp files/,
        source: SEED_PACKAGE,
      },
      {
        name: 'article unread, package not examined',
        article: 'unknown',
        packageFiles: undefined,
        ok: false,
        detail: /package was not examined \(update\.packageFiles\)/,
        source: SEED_PACKAGE,
      },
    ])('$name ($source)', ({ article, packageFiles, ok, detail }) => {
      const decision = decide(classic({ update: { article, packageFiles } }));
      const pkg = checkOf(decision, 'package');
      expect(pkg.ok).toBe(ok);
      expect(pkg.detail).toMatch(detail);
      expect(decision.eligible).toBe(ok);
      expect(decision.reasons).toContain(`package: ${pkg.detail}`);
    });
  });

  describe('update kind: only GDR security updates', () => {
    it.each([
      { kind: 'securityGdr', ok: true, detail: /GDR security update/, source: SEED_KIND },
      { kind: 'securityQfe', ok: false, detail: /only GDR security updates/, source: SEED_KIND },
      { kind: 'nonSecurity', ok: false, detail: /not a security update/, source: SEED_KIND },
    ])('$kind ($source)', ({ kind, ok, detail }) => {
      const decision = decide(classic({ update: { kind } }));
      expect(checkOf(decision, 'updateKind')).toMatchObject({ ok });
      expect(checkOf(decision, 'updateKind').detail).toMatch(detail);
      expect(decision.eligible).toBe(ok);
    });
  });

  describe('OS: Windows Server 2003 SP1, 32-bit x86, four editions', () => {
    it.each([
      { name: 'SP1 Datacenter x86', os: { edition: 'datacenter' }, ok: true, detail: /listed/ },
      { name: 'SP1 Enterprise x86', os: { edition: 'enterprise' }, ok: true, detail: /listed/ },
      { name: 'SP1 Standard x86', os: { edition: 'standard' }, ok: true, detail: /listed/ },
      { name: 'SP1 Web Edition', os: { edition: 'web' }, ok: true, detail: /listed/ },
      {
        name: 'original release (no SP)',
        os: { servicePack: 0 },
        ok: false,
        detail: /original release of Windows Server 2003 \(no service pack\) does not support/,
      },
      {
        name: 'SP2',
        os: { servicePack: 2 },
        ok: false,
        detail: /SP2 is not listed; the article lists Windows Server 2003 SP1 only/,
      },
      {
        name: 'x64',
        os: { architecture: 'x64' },
        ok: false,
        detail: /x64 is not 32-bit x86.*SP1 only/,
      },
      {
        name: 'ia64',
        os: { architecture: 'ia64', edition: 'datacenter' },
        ok: false,
        detail: /ia64/,
      },
      {
        name: 'Small Business Server is not listed',
        os: { edition: 'smallBusiness' },
        ok: false,
        detail: /Small Business Server is not listed/,
      },
      {
        name: 'Windows Server 2003 R2 is not listed',
        os: { product: 'windowsServer2003R2' },
        ok: false,
        detail: /Windows Server 2003 R2 is not listed/,
      },
      {
        name: 'Windows Server 2008 SP1 is not listed',
        os: { product: 'windowsServer2008' },
        ok: false,
        detail: /Windows Server 2008 is not listed/,
      },
    ])(`$name (${SEED_OS})`, ({ os, ok, detail }) => {
      const decision = decide(classic({ os }));
      const osCheck = checkOf(decision, 'os');
      expect(osCheck.ok).toBe(ok);
      expect(osCheck.detail).toMatch(detail);
      expect(decision.eligible).toBe(ok);
    });
  });

  describe('binary branch, by tag tokens', () => {
    const rows: { fileVersion: string; verdict: BranchVerdict; source: string }[] = [
      {
        fileVersion: '5.2.3790.2000 (srv03_gdr.050101-1200)',
        verdict: 'eligible',
        source: SEED_BRANCH,
      },
      {
        fileVersion: '5.2.3790.0 (srv03_rtm.030324-2048)',
        verdict: 'eligible',
        source: SEED_BRANCH,
      },
      {
        fileVersion: '5.2.3790.1830 (srv03_sp1.050324-1447)',
        verdict: 'eligible',
        source: SEED_BRANCH,
      },
      { fileVersion: GDR_VERSION, verdict: 'eligible', source: SEED_BRANCH_TOKENS },
      {
        fileVersion: '5.2.3790.1830 (srv03_sp1_rtm.050324-1447)',
        verdict: 'eligible',
        source: SEED_BRANCH_TOKENS,
      },
      {
        fileVersion: '  5.2.3790.2453   (SRV03_SP1_GDR.050623-1417) ',
        verdict: 'eligible',
        source: SEED_BRANCH_TOKENS,
      },
      { fileVersion: '5.2.3790.2000 (srv03_qfe.050101-1200)', verdict: 'qfe', source: SEED_BRANCH },
      {
        fileVersion: '5.2.3790.2465 (srv03_sp1_qfe.050705-1234)',
        verdict: 'qfe',
        source: SEED_BRANCH_TOKENS,
      },
      {
        fileVersion: '5.2.3790.2000 (srv03_xyz.050101-1200)',
        verdict: 'unknownTag',
        source: SEED_BRANCH_TOKENS,
      },
      {
        fileVersion: '5.2.3790.2000 (srv03_gdr_beta.050101-1200)',
        verdict: 'unknownTag',
        source: SEED_BRANCH_TOKENS,
      },
      {
        fileVersion: '5.2.3790.2000 (srv03_sp10.050101-1200)',
        verdict: 'unknownTag',
        source: SEED_BRANCH_TOKENS,
      },
      {
        fileVersion: '5.2.3790.2000 (srv03.050101-1200)',
        verdict: 'unknownTag',
        source: SEED_BRANCH_TOKENS,
      },
      {
        fileVersion: '5.2.3790.2000 (srv03_.050101-1200)',
        verdict: 'unknownTag',
        source: SEED_BRANCH_TOKENS,
      },
      {
        fileVersion: '5.2.3790.2000 (xp_gdr.050101-1200)',
        verdict: 'unknownTag',
        source: SEED_BRANCH_TOKENS,
      },
      {
        fileVersion: '6.0.6001.18000 (lh_sp2rtm.080118-1840)',
        verdict: 'unknownTag',
        source: SEED_BRANCH_TOKENS,
      },
      {
        fileVersion: '10.0.26100.1 (winmain.240401-1435)',
        verdict: 'unknownTag',
        source: SEED_BRANCH_TOKENS,
      },
      { fileVersion: '', verdict: 'malformed', source: SEED_BRANCH },
      { fileVersion: '   ', verdict: 'malformed', source: SEED_BRANCH },
      { fileVersion: '5.2.3790.2453', verdict: 'malformed', source: SEED_BRANCH },
      {
        fileVersion: '5.2.3790.2453 srv03_gdr.050623-1417',
        verdict: 'malformed',
        source: SEED_BRANCH,
      },
      { fileVersion: '(srv03_gdr.050623-1417)', verdict: 'malformed', source: SEED_BRANCH },
      {
        fileVersion: '5.2.3790 (srv03_gdr.050623-1417)',
        verdict: 'malformed',
        source: SEED_BRANCH,
      },
      {
        fileVersion: '5.2.3790.99999 (srv03_gdr.050623-1417)',
        verdict: 'malformed',
        source: SEED_BRANCH,
      },
      {
        fileVersion: '5.2.x.2453 (srv03_gdr.050623-1417)',
        verdict: 'malformed',
        source: SEED_BRANCH,
      },
      { fileVersion: '5.2.3790.2453 (srv03_gdr)', verdict: 'malformed', source: SEED_BRANCH },
      {
        fileVersion: '5.2.3790.2453 (srv03_gdr.05062-1417)',
        verdict: 'malformed',
        source: SEED_BRANCH,
      },
      {
        fileVersion: '5.2.3790.2453 (srv03_gdr.050623-14)',
        verdict: 'malformed',
        source: SEED_BRANCH,
      },
      {
        fileVersion: '5.2.3790.2453 (srv03_gdr.0506231417)',
        verdict: 'malformed',
        source: SEED_BRANCH,
      },
      {
        fileVersion: '5.2.3790.2453 (srv03_gdr. 050623-1417)',
        verdict: 'malformed',
        source: 'seed 000 (fr) spacing « (srv03_gdr. ######-####) » is a translation artefact',
      },
      { fileVersion: '5.2.3790.2453 (.050623-1417)', verdict: 'malformed', source: SEED_BRANCH },
      ...[
        'x5.2.3790.2453 (srv03_sp1_gdr.050623-1417)',
        '5.2.3790.2453 (srv03_sp1_gdr.050623-1417)x',
        '5.2.3790.2453 (srv03_sp1_gdr.x050623-1417)',
        '5.2.3790.2453 (srv03_sp1_gdr.050623-1417x)',
        '5.2.3790.2453 (srv03-sp1_gdr.050623-1417)',
        '5.2.3790.2453x (srv03_sp1_gdr.050623-1417)',
        '5.2.3790.65536 (srv03_sp1_gdr.050623-1417)',
        '5.2.3790.2453.1 (srv03_sp1_gdr.050623-1417)',
        'junk 5.2.3790.2453 (srv03_sp1_gdr.050623-1417)',
        '5.2.3790.2453 (srv03_sp1_gdr.050623-1417) junk',
        '5.2.3790.2453 (srv03_sp1_gdr-.050623-1417)',
      ].map((fileVersion) => ({
        fileVersion,
        verdict: 'malformed' as BranchVerdict,
        source: 'issue 14: junk around a well-formed version is refused, not read past',
      })),
      {
        fileVersion: '5.2.3790.2000 (xp_sp1_qfe.050101-1200)',
        verdict: 'unknownTag' as BranchVerdict,
        source: 'issue 14: a qfe token outside the srv03 family is an unknown tag, not a srv03 QFE',
      },
      {
        fileVersion: '5.2.3790.2000 (srv03_xsp1.050101-1200)',
        verdict: 'unknownTag' as BranchVerdict,
        source: 'issue 14: a service-pack token is exactly sp and one digit',
      },
      {
        fileVersion: '65535.0.3790.2453 (srv03_sp1_gdr.050623-1417)',
        verdict: 'eligible' as BranchVerdict,
        source: 'issue 14: 65535 is the largest version part',
      },
    ];

    it.each(rows)('$fileVersion -> $verdict ($source)', ({ fileVersion, verdict }) => {
      const judged = classifyBranch(fileVersion);
      expect(judged.verdict).toBe(verdict);
      expect(judged.ok).toBe(verdict === 'eligible');
      expect(judged.detail).toContain(JSON.stringify(fileVersion));
      if (verdict === 'unknownTag') expect(judged.detail).toMatch(/unknown branch tag/);
      if (verdict === 'malformed') expect(judged.detail).toMatch(/^malformed file version/);
      if (verdict === 'qfe') expect(judged.detail).toMatch(/QFE/);

      const decision = decide(classic({ binaries: [{ path: AUTHZ, fileVersion }] }));
      expect(decision.eligible).toBe(verdict === 'eligible');
      expect(checkOf(decision, 'binary').detail).toBe(`${AUTHZ} ${judged.detail}`);
    });

    it('parseBranchTag splits version, tag, tokens and timestamp (seed 002 branch table)', () => {
      expect(parseBranchTag(GDR_VERSION)).toEqual({
        ok: true,
        version: '5.2.3790.2453',
        tag: 'srv03_sp1_gdr',
        tokens: ['srv03', 'sp1', 'gdr'],
        timestamp: '050623-1417',
      });
      const bad = parseBranchTag('5.2.3790.2453 (srv03_gdr.050623-14)');
      expect(bad.ok).toBe(false);
      expect(bad.ok ? '' : bad.reason).toMatch(/timestamp "050623-14" is not 6 digits/);
    });

    it.each([
      { fileVersion: ' ', why: 'empty' },
      { fileVersion: '5.2.3790.2453', why: 'expected "<version> (<branch tag>.<yymmdd>-<hhmm>)"' },
      {
        fileVersion: '5.2.x.2453 (srv03_gdr.050623-1417)',
        why: 'version "5.2.x.2453" is not four numbers 0-65535 separated by dots',
      },
      {
        fileVersion: '5.2.3790.2453 (srv03_gdr)',
        why: 'no "." between the branch tag and the timestamp in "(srv03_gdr)"',
      },
      {
        fileVersion: '5.2.3790.2453 (.050623-1417)',
        why: 'branch tag "" is empty or has characters other than letters, digits and _',
      },
      {
        fileVersion: '5.2.3790.2453 (srv03_gdr.050623-14)',
        why: 'timestamp "050623-14" is not 6 digits, "-", 4 digits',
      },
    ])(
      'issue 14: parseBranchTag says why $fileVersion is malformed: $why (seed 002 branch table)',
      ({ fileVersion, why }) => {
        expect(parseBranchTag(fileVersion)).toEqual({
          ok: false,
          reason: `malformed file version ${JSON.stringify(fileVersion)}: ${why}; expected e.g. "${GDR_VERSION}"`,
        });
      },
    );

    it('judges every binary: one qfe binary among GDR ones makes the node not eligible (seed 002 branch table)', () => {
      const binaries = [
        { path: AUTHZ, fileVersion: GDR_VERSION },
        {
          path: '%windir%\\system32\\ntdll.dll',
          fileVersion: '5.2.3790.2465 (srv03_sp1_qfe.050705-1234)',
        },
        {
          path: '%windir%\\system32\\kernel32.dll',
          fileVersion: '5.2.3790.1830 (srv03_sp1_rtm.050324-1447)',
        },
      ];
      const decision = decide(classic({ binaries }));
      expect(decision.eligible).toBe(false);
      const verdicts = decision.checks.filter((c) => c.rule === 'binary');
      expect(verdicts.map((c) => c.ok)).toEqual([true, false, true]);
      expect(verdicts.map((c) => c.detail.split(' ')[0])).toEqual(binaries.map((b) => b.path));
      expect(decision.reasons[0]).toMatch(/^binary: %windir%\\system32\\ntdll\.dll .*QFE/);
      expect(decision.installCommand).toBeUndefined();
    });

    it('no binaries listed: not eligible, versions must be recorded first (seed 002 testing step 2)', () => {
      const decision = decide(classic({ binaries: [] }));
      expect(decision.eligible).toBe(false);
      expect(checkOf(decision, 'binary')).toMatchObject({ ok: false });
      expect(checkOf(decision, 'binary').detail).toMatch(
        /no binaries listed: record the file version/,
      );
    });
  });

  describe('"Debug programs" user right', () => {
    it.each([
      {
        debugProgramsRight: true,
        eligible: true,
        detail: /holds the "Debug programs"/,
        source: SEED_RIGHTS,
      },
      {
        debugProgramsRight: false,
        eligible: false,
        detail: /lacks the "Debug programs" user right \(SeDebugPrivilege\).*KB888791/,
        source: SEED_RIGHTS,
      },
    ])(
      'debugProgramsRight=$debugProgramsRight ($source)',
      ({ debugProgramsRight, eligible, detail }) => {
        const decision = decide(classic({ node: { debugProgramsRight } }));
        expect(decision.eligible).toBe(eligible);
        expect(checkOf(decision, 'debugProgramsRight').ok).toBe(eligible);
        expect(checkOf(decision, 'debugProgramsRight').detail).toMatch(detail);
      },
    );
  });

  describe('restart may still be needed, separately from eligibility', () => {
    it.each([
      {
        name: 'cumulative update includes one that restarts',
        over: { update: { cumulativeIncludesRestartRequiredUpdate: true } },
        reason: /cumulative and includes an earlier update that needs a restart/,
        source: SEED_RESTART,
      },
      {
        name: 'cumulative content not recorded',
        over: { update: { cumulativeIncludesRestartRequiredUpdate: undefined } },
        reason: /not recorded whether .*update\.cumulativeIncludesRestartRequiredUpdate/,
        source: SEED_RESTART,
      },
      {
        name: 'no security update installed before',
        over: { node: { securityUpdateInstalledBefore: false } },
        reason:
          /no security update was installed on this node before: .*like a conventional update/,
        source: SEED_RESTART,
      },
      {
        name: 'Rights Management running',
        over: { node: { rightsManagementRunning: true } },
        reason: /Rights Management \(RMS\) is running/,
        source: SEED_RESTART,
      },
      {
        name: 'a program is being debugged',
        over: { node: { debuggerAttached: true } },
        reason: /a program is being debugged/,
        source: SEED_RESTART,
      },
      {
        name: 'incompatible programs running',
        over: { node: { incompatibleProgramsRunning: ['LegacyAV 4.2', 'BackupAgent'] } },
        reason: /incompatible with hotpatching are running: LegacyAV 4\.2, BackupAgent .*KB922612/,
        source: 'seed 002 (KB897341 ja) step 3 note; KB922612',
      },
    ])('$name ($source)', ({ over, reason }) => {
      const decision = decide(classic(over));
      expect(decision.eligible).toBe(true);
      expect(decision.installCommand).toBeDefined();
      expect(decision.restart.mayBeRequired).toBe(true);
      expect(decision.restart.reasons).toHaveLength(1);
      expect(decision.restart.reasons[0]).toMatch(reason);
    });

    it(
      'an update that is not eligible installs conventionally and may restart (' +
        SEED_RESTART +
        ')',
      () => {
        const decision = decide(classic({ update: { kind: 'securityQfe' } }));
        expect(decision.eligible).toBe(false);
        expect(decision.restart.mayBeRequired).toBe(true);
        expect(decision.restart.reasons[0]).toMatch(/not hotpatch-eligible: .*conventional update/);
      },
    );
  });

  describe('install command and log file', () => {
    it.each([
      {
        kb: 'KB901234',
        language: 'ENU',
        file: 'WindowsServer2003-KB901234-x86-ENU.exe',
        log: 'KB901234',
      },
      {
        kb: 'kb901234',
        language: 'jpn',
        file: 'WindowsServer2003-KB901234-x86-JPN.exe',
        log: 'KB901234',
      },
      {
        kb: 'Kb2345678',
        language: 'Fra',
        file: 'WindowsServer2003-KB2345678-x86-FRA.exe',
        log: 'KB2345678',
      },
    ])(`$kb/$language -> $file (${SEED_INSTALL})`, ({ kb, language, file, log }) => {
      const decision = decide(classic({ update: { kb, language } }));
      expect(decision.installCommand).toBe(`${file} /hotpatch:enable`);
      expect(decision.logFile).toBe(`%windir%\\${log}.log`);
    });

    it('no command or log when not eligible', () => {
      const decision = decide(classic({ os: { servicePack: 2 } }));
      expect(decision.installCommand).toBeUndefined();
      expect(decision.logFile).toBeUndefined();
    });
  });

  it('reasons: one line per check, failing checks first', () => {
    const decision = decide(
      classic({
        node: { debugProgramsRight: false },
        binaries: [
          { path: AUTHZ, fileVersion: GDR_VERSION },
          { path: 'x.dll', fileVersion: '5.2.3790.1 (srv03_qfe.050101-1200)' },
        ],
      }),
    );
    expect(decision.reasons).toHaveLength(decision.checks.length);
    expect(decision.reasons.slice(0, 2)).toEqual([
      expect.stringMatching(/^binary: x\.dll /),
      expect.stringMatching(/^debugProgramsRight: the installing account lacks/),
    ]);
    expect(decision.reasons.slice(2)).toEqual([
      'package: the KB article says the update can be hotpatched',
      expect.stringMatching(/^updateKind: /),
      expect.stringMatching(/^os: /),
      expect.stringMatching(/^binary: %windir%/),
    ]);
  });
});

describe('modern policy', () => {
  it('the fixture is eligible with no restart', () => {
    const decision = decide(modern());
    expect(decision).toMatchObject({
      policy: 'modern',
      eligible: true,
      restart: { mayBeRequired: false },
    });
    expect(decision.installCommand).toBeUndefined();
  });

  it.each([
    { releaseMonth: '2025-01', hotpatch: false },
    { releaseMonth: '2025-02', hotpatch: true },
    { releaseMonth: '2025-03', hotpatch: true },
    { releaseMonth: '2025-04', hotpatch: false },
    { releaseMonth: '2025-05', hotpatch: true },
    { releaseMonth: '2025-06', hotpatch: true },
    { releaseMonth: '2025-07', hotpatch: false },
    { releaseMonth: '2025-08', hotpatch: true },
    { releaseMonth: '2025-09', hotpatch: true },
    { releaseMonth: '2025-10', hotpatch: false },
    { releaseMonth: '2025-11', hotpatch: true },
    { releaseMonth: '2025-12', hotpatch: true },
  ])(
    `$releaseMonth: hotpatch month $hotpatch (${MODERN}, baseline months Jan/Apr/Jul/Oct)`,
    ({ releaseMonth, hotpatch }) => {
      const decision = decide(modern({ update: { releaseMonth } }));
      expect(decision.eligible).toBe(hotpatch);
      expect(checkOf(decision, 'releaseMonth').ok).toBe(hotpatch);
      expect(decision.restart.mayBeRequired).toBe(!hotpatch);
      if (hotpatch) expect(checkOf(decision, 'releaseMonth').detail).toMatch(/is a hotpatch month/);
      else expect(decision.restart.reasons).toEqual([expect.stringMatching(/is a baseline month/)]);
    },
  );

  it(`names the surrounding baselines, across a year end (${MODERN})`, () => {
    expect(
      checkOf(decide(modern({ update: { releaseMonth: '2025-11' } })), 'releaseMonth').detail,
    ).toBe('2025-11 (November) is a hotpatch month between the 2025-10 and 2026-01 baselines');
  });

  it.each([
    { build: '26100.1741', ok: false },
    { build: '26100.1742', ok: true },
    { build: '26100.4061', ok: true },
    { build: '26100.32', ok: false },
    { build: '26100.17420', ok: true },
    { build: '20348.2700', ok: false },
  ])(`Arc build $build -> $ok (${MODERN}: build 26100.1742 or later)`, ({ build, ok }) => {
    const decision = decide(modern({ os: { build } }));
    expect(checkOf(decision, 'build').ok).toBe(ok);
    expect(decision.eligible).toBe(ok);
    if (!ok) expect(checkOf(decision, 'build').detail).toMatch(/older than 26100\.1742/);
  });

  it.each([
    {
      name: '2022 Datacenter: Azure Edition',
      over: {
        os: {
          product: 'windowsServer2022',
          edition: 'datacenterAzureEdition',
          build: '20348.2700',
        },
      },
      ok: true,
      failing: [],
    },
    {
      name: '2025 Datacenter: Azure Edition, no Arc',
      over: { os: { edition: 'datacenterAzureEdition' }, node: { azureArcConnected: false } },
      ok: true,
      failing: [],
    },
    { name: '2025 Standard via Arc', over: { os: { edition: 'standard' } }, ok: true, failing: [] },
    {
      name: '2025 Datacenter not connected to Arc',
      over: { node: { azureArcConnected: false } },
      ok: false,
      failing: ['platform'],
    },
    {
      name: '2025 Datacenter via Arc, VBS off',
      over: { node: { vbsEnabled: false } },
      ok: false,
      failing: ['vbs'],
    },
    {
      name: '2025 Datacenter via Arc, Secure Boot off',
      over: { node: { uefiSecureBootEnabled: false } },
      ok: false,
      failing: ['secureBoot'],
    },
    {
      name: 'not enrolled in hotpatch',
      over: { node: { hotpatchEnrolled: false } },
      ok: false,
      failing: ['enrolled'],
    },
    {
      name: '2022 Datacenter (not Azure Edition)',
      over: { os: { product: 'windowsServer2022', build: '20348.2700' } },
      ok: false,
      failing: ['platform'],
    },
    {
      name: '2019 Datacenter: Azure Edition does not exist as a hotpatch platform',
      over: {
        os: {
          product: 'windowsServer2019',
          edition: 'datacenterAzureEdition',
          build: '17763.6000',
        },
      },
      ok: false,
      failing: ['platform'],
    },
    {
      name: '2025 Enterprise is not an edition that hotpatches',
      over: { os: { edition: 'enterprise' } },
      ok: false,
      failing: ['platform'],
    },
  ])(`platform: $name (${MODERN})`, ({ over, ok, failing }) => {
    const decision = decide(modern(over));
    expect(decision.eligible).toBe(ok);
    expect(decision.checks.filter((c) => !c.ok).map((c) => c.rule)).toEqual(failing);
    if (!ok)
      expect(decision.restart.reasons).toEqual([
        expect.stringMatching(/node cannot take hotpatches/),
      ]);
  });

  it.each([
    { kind: 'security', unplannedBaseline: false, ok: true, reason: undefined },
    { kind: 'nonSecurity', unplannedBaseline: false, ok: false, reason: /non-security update/ },
    { kind: 'dotNet', unplannedBaseline: false, ok: false, reason: /\.NET update/ },
    { kind: 'driverFirmware', unplannedBaseline: false, ok: false, reason: /driver or firmware/ },
    { kind: 'security', unplannedBaseline: true, ok: false, reason: /unplanned baseline/ },
  ])(
    `hotpatch month, $kind, unplanned baseline $unplannedBaseline -> $ok (${MODERN})`,
    ({ kind, unplannedBaseline, ok, reason }) => {
      const decision = decide(modern({ update: { kind, unplannedBaseline } }));
      expect(decision.eligible).toBe(ok);
      expect(decision.restart.mayBeRequired).toBe(!ok);
      if (reason) expect(decision.restart.reasons).toEqual([expect.stringMatching(reason)]);
    },
  );
});

describe('issue 14: the details a user reads in a decision', () => {
  it.each([
    {
      releaseMonth: '2025-02',
      detail: '2025-02 (February) is a hotpatch month between the 2025-01 and 2025-04 baselines',
    },
    {
      releaseMonth: '2025-03',
      detail: '2025-03 (March) is a hotpatch month between the 2025-01 and 2025-04 baselines',
    },
    {
      releaseMonth: '2025-05',
      detail: '2025-05 (May) is a hotpatch month between the 2025-04 and 2025-07 baselines',
    },
    {
      releaseMonth: '2025-09',
      detail: '2025-09 (September) is a hotpatch month between the 2025-07 and 2025-10 baselines',
    },
    {
      releaseMonth: '2025-12',
      detail: '2025-12 (December) is a hotpatch month between the 2025-10 and 2026-01 baselines',
    },
    {
      releaseMonth: '2025-07',
      detail:
        '2025-07 (July) is a baseline month (January, April, July, October): the baseline installs with a restart',
    },
  ])(`$releaseMonth: $detail (${MODERN})`, ({ releaseMonth, detail }) => {
    expect(checkOf(decide(modern({ update: { releaseMonth } })), 'releaseMonth').detail).toBe(
      detail,
    );
  });

  it.each([
    { kind: 'security', detail: 'a security update, which ships as a hotpatch in hotpatch months' },
    { kind: 'nonSecurity', detail: 'a non-security update: installs with a restart' },
    { kind: 'dotNet', detail: 'a .NET update: installs with a restart' },
    { kind: 'driverFirmware', detail: 'a driver or firmware update: installs with a restart' },
  ])(`modern update kind $kind: $detail (${MODERN})`, ({ kind, detail }) => {
    const decision = decide(modern({ update: { kind } }));
    expect(checkOf(decision, 'updateKind')).toMatchObject({ ok: kind === 'security', detail });
    expect(decision.restart.reasons.includes(detail)).toBe(kind !== 'security');
  });

  it.each([
    {
      over: {},
      rule: 'platform',
      ok: true,
      detail: 'Windows Server 2025 Datacenter connected to Azure Arc supports hotpatch',
    },
    {
      over: { node: { azureArcConnected: false } },
      rule: 'platform',
      ok: false,
      detail:
        'Windows Server 2025 Datacenter supports hotpatch only when connected to Azure Arc (node.azureArcConnected is false)',
    },
    { over: {}, rule: 'build', ok: true, detail: 'build 26100.1742 is 26100.1742 or later' },
    {
      over: { os: { build: '26100.1000' } },
      rule: 'build',
      ok: false,
      detail:
        'build 26100.1000 is older than 26100.1742, the first build Azure Arc hotpatch supports',
    },
    {
      over: { os: { build: '26200.1' } },
      rule: 'build',
      ok: true,
      detail: 'build 26200.1 is 26100.1742 or later',
    },
    { over: {}, rule: 'vbs', ok: true, detail: 'virtualization-based security is running' },
    {
      over: { node: { vbsEnabled: false } },
      rule: 'vbs',
      ok: false,
      detail: 'virtualization-based security is off: Azure Arc hotpatch needs it',
    },
    { over: {}, rule: 'secureBoot', ok: true, detail: 'UEFI Secure Boot is on' },
    {
      over: { node: { uefiSecureBootEnabled: false } },
      rule: 'secureBoot',
      ok: false,
      detail: 'UEFI Secure Boot is off: Azure Arc hotpatch needs it',
    },
    { over: {}, rule: 'enrolled', ok: true, detail: 'the node is enrolled in hotpatch' },
    {
      over: { node: { hotpatchEnrolled: false } },
      rule: 'enrolled',
      ok: false,
      detail: 'the node is not enrolled in hotpatch',
    },
    { over: {}, rule: 'unplannedBaseline', ok: true, detail: 'not an unplanned baseline' },
    {
      over: { update: { unplannedBaseline: true } },
      rule: 'unplannedBaseline',
      ok: false,
      detail: 'an unplanned baseline: installs with a restart',
    },
    {
      over: {
        os: {
          product: 'windowsServer2022',
          edition: 'datacenterAzureEdition',
          build: '20348.2700',
        },
      },
      rule: 'platform',
      ok: true,
      detail: 'Windows Server 2022 Datacenter: Azure Edition supports hotpatch',
    },
    {
      over: { os: { product: 'windowsServer2019', edition: 'standard', build: '17763.1' } },
      rule: 'platform',
      ok: false,
      detail:
        'Windows Server 2019 Standard does not support hotpatch: supported are Windows Server 2022/2025 Datacenter: Azure Edition, and Windows Server 2025 Standard/Datacenter via Azure Arc',
    },
  ])(`modern $rule check: $detail (${MODERN})`, ({ over, rule, ok, detail }) => {
    const decision = decide(modern(over));
    expect(checkOf(decision, rule)).toEqual({
      rule,
      ok,
      detail,
      source: 'DOMAIN.md §1, modern hotpatch (not in the seeds)',
    });
    expect(decision.eligible).toBe(ok);
  });

  it(`issue 14: a modern fact without unplannedBaseline is a planned release (${MODERN})`, () => {
    const facts = modern();
    delete (facts.update as Json).unplannedBaseline;
    const decision = decide(facts);
    expect(decision.eligible).toBe(true);
    expect(checkOf(decision, 'unplannedBaseline')).toMatchObject({
      ok: true,
      detail: 'not an unplanned baseline',
    });
    expect(packageAllowsHotpatch(parseHotpatchFacts(facts) as never).allows).toBe(true);
  });

  it(`a modern unplanned baseline is not eligible and restarts, even in a hotpatch month (${MODERN})`, () => {
    const decision = decide(
      modern({ update: { releaseMonth: '2025-05', unplannedBaseline: true } }),
    );
    expect(decision.eligible).toBe(false);
    expect(decision.restart).toEqual({
      mayBeRequired: true,
      reasons: ['an unplanned baseline: installs with a restart'],
    });
  });

  it.each([
    { os: {}, detail: 'Windows Server 2003 SP1 Standard, x86: listed in the article' },
    {
      os: { edition: 'web' },
      detail: 'Windows Server 2003 SP1 Web Edition, x86: listed in the article',
    },
    {
      os: { edition: 'enterprise' },
      detail: 'Windows Server 2003 SP1 Enterprise, x86: listed in the article',
    },
    {
      os: { edition: 'datacenter' },
      detail: 'Windows Server 2003 SP1 Datacenter, x86: listed in the article',
    },
    ...(
      [
        ['windowsServer2003R2', 'Windows Server 2003 R2'],
        ['windowsServer2008', 'Windows Server 2008'],
        ['windowsServer2008R2', 'Windows Server 2008 R2'],
        ['windowsServer2012', 'Windows Server 2012'],
        ['windowsServer2012R2', 'Windows Server 2012 R2'],
        ['windowsServer2016', 'Windows Server 2016'],
        ['windowsServer2019', 'Windows Server 2019'],
        ['windowsServer2022', 'Windows Server 2022'],
        ['windowsServer2025', 'Windows Server 2025'],
      ] as const
    ).map(([product, name]) => ({
      os: { product },
      detail: `${name} SP1 Standard, x86: ${name} is not listed; the article lists Windows Server 2003 SP1 only (32-bit x86 Datacenter, Enterprise, Standard; Web Edition)`,
    })),
    ...(
      [
        ['datacenterAzureEdition', 'Datacenter: Azure Edition'],
        ['smallBusiness', 'Small Business Server'],
        ['storage', 'Storage Server'],
      ] as const
    ).map(([edition, name]) => ({
      os: { edition },
      detail: `Windows Server 2003 SP1 ${name}, x86: ${name} is not listed; the article lists Windows Server 2003 SP1 only (32-bit x86 Datacenter, Enterprise, Standard; Web Edition)`,
    })),
    {
      os: { servicePack: 0 },
      detail:
        'Windows Server 2003 Standard, x86: the original release of Windows Server 2003 (no service pack) does not support hotpatching; the article lists Windows Server 2003 SP1 only (32-bit x86 Datacenter, Enterprise, Standard; Web Edition)',
    },
    {
      os: { servicePack: 2, architecture: 'x64' },
      detail:
        'Windows Server 2003 SP2 Standard, x64: SP2 is not listed; x64 is not 32-bit x86; the article lists Windows Server 2003 SP1 only (32-bit x86 Datacenter, Enterprise, Standard; Web Edition)',
    },
  ])(`kb897341 os check: $detail (${SEED_OS})`, ({ os, detail }) => {
    const decision = decide(classic({ os }));
    expect(checkOf(decision, 'os').detail).toBe(detail);
  });

  it.each([
    {
      update: { article: 'unknown', packageFiles: ['sp1gdr/authz._hp.txt', 'authz.dll'] },
      ok: false,
      detail:
        'nobody has read the KB article and the package contains no ._hp files: no evidence that it can be hotpatched',
    },
    {
      update: {
        article: 'unknown',
        packageFiles: ['sp1gdr/authz.dl._hp', 'sp1gdr/ntdll.dl._HP', 'authz.dll'],
      },
      ok: true,
      detail:
        'nobody has read the KB article; the package contains ._hp files (sp1gdr/authz.dl._hp, sp1gdr/ntdll.dl._HP), taken as evidence that it may be hotpatched: read the article to confirm',
    },
    {
      update: { article: 'notSupported', packageFiles: ['sp1gdr/authz.dl._hp'] },
      ok: false,
      detail:
        "the KB article says the update cannot be hotpatched; the package's ._hp files (sp1gdr/authz.dl._hp) do not override the article",
    },
    {
      update: { article: 'notMentioned', packageFiles: ['sp1gdr/authz.dl._hp'] },
      ok: false,
      detail:
        "the KB article does not mention hotpatching, so it cannot be hotpatched; the package's ._hp files (sp1gdr/authz.dl._hp) do not override the article",
    },
    {
      update: { article: 'notSupported' },
      ok: false,
      detail: 'the KB article says the update cannot be hotpatched',
    },
  ])(
    `issue 14: kb897341 package check on the decision path: $detail (${SEED_PACKAGE})`,
    ({ update, ok, detail }) => {
      expect(checkOf(decide(classic({ update })), 'package')).toMatchObject({ ok, detail });
    },
  );
});

describe('parseHotpatchFacts', () => {
  it(`upper-cases the KB number and the language (${SEED_INSTALL})`, () => {
    const facts = parseHotpatchFacts(classic({ update: { kb: 'kb901234', language: 'jpn' } }));
    expect(facts.policy === 'kb897341' && facts.update).toMatchObject({
      kb: 'KB901234',
      language: 'JPN',
    });
  });

  it.each([
    {
      name: 'service pack as text',
      input: withField(classic(), 'os.servicePack', 'SP1'),
      field: 'os.servicePack',
      value: 'SP1',
    },
    {
      name: 'service pack fraction',
      input: withField(classic(), 'os.servicePack', 1.5),
      field: 'os.servicePack',
      value: 1.5,
    },
    {
      name: 'KB with 5 digits',
      input: withField(classic(), 'update.kb', 'KB12345'),
      field: 'update.kb',
      value: 'KB12345',
    },
    {
      name: 'KB with 8 digits',
      input: withField(classic(), 'update.kb', 'KB12345678'),
      field: 'update.kb',
      value: 'KB12345678',
    },
    {
      name: 'KB without prefix',
      input: withField(classic(), 'update.kb', '901234'),
      field: 'update.kb',
      value: '901234',
    },
    {
      name: '2-letter language',
      input: withField(classic(), 'update.language', 'EN'),
      field: 'update.language',
      value: 'EN',
    },
    {
      name: 'unknown article statement',
      input: withField(classic(), 'update.article', 'yes'),
      field: 'update.article',
      value: 'yes',
    },
    {
      name: 'unknown update kind',
      input: withField(classic(), 'update.kind', 'security'),
      field: 'update.kind',
      value: 'security',
    },
    {
      name: 'unknown architecture',
      input: withField(classic(), 'os.architecture', 'amd64'),
      field: 'os.architecture',
      value: 'amd64',
    },
    {
      name: 'file version not a string',
      input: classic({ binaries: [{ path: AUTHZ, fileVersion: 42 }] }),
      field: 'binaries[0].fileVersion',
      value: 42,
    },
    {
      name: 'empty binary path',
      input: classic({ binaries: [{ path: '', fileVersion: GDR_VERSION }] }),
      field: 'binaries[0].path',
      value: '',
    },
    {
      name: 'boolean as text',
      input: withField(classic(), 'node.debugProgramsRight', 'yes'),
      field: 'node.debugProgramsRight',
      value: 'yes',
    },
    {
      name: 'unknown field',
      input: withField(classic(), 'update.hotpatchable', true),
      field: 'update.hotpatchable',
      value: true,
    },
    {
      name: 'unknown policy',
      input: withField(classic(), 'policy', 'kb123'),
      field: 'policy',
      value: 'kb123',
    },
    {
      name: 'release month 13',
      input: withField(modern(), 'update.releaseMonth', '2025-13'),
      field: 'update.releaseMonth',
      value: '2025-13',
    },
    {
      name: 'build without revision',
      input: withField(modern(), 'os.build', '26100'),
      field: 'os.build',
      value: '26100',
    },
    {
      name: 'kb897341 field under modern',
      input: withField(modern(), 'os.servicePack', 1),
      field: 'os.servicePack',
      value: 1,
    },
    {
      name: 'issue 14: junk before the KB number',
      input: withField(classic(), 'update.kb', 'xKB897341'),
      field: 'update.kb',
      value: 'xKB897341',
    },
    {
      name: 'issue 14: junk after the KB number',
      input: withField(classic(), 'update.kb', 'KB897341x'),
      field: 'update.kb',
      value: 'KB897341x',
    },
    {
      name: 'issue 14: a 4-letter language',
      input: withField(classic(), 'update.language', 'ENUX'),
      field: 'update.language',
      value: 'ENUX',
    },
    {
      name: 'issue 14: junk before a 3-letter language',
      input: withField(classic(), 'update.language', 'xENU'),
      field: 'update.language',
      value: 'xENU',
    },
    {
      name: 'issue 14: a language with a digit',
      input: withField(classic(), 'update.language', 'EN1'),
      field: 'update.language',
      value: 'EN1',
    },
    { name: 'not an object', input: null, field: '(root)', value: null },
    { name: 'an array', input: [classic()], field: '(root)', value: [classic()] },
  ])(`$name: names $field and its value (${STYLE_ERRORS})`, ({ input, field, value }) => {
    const error = inputError(input);
    expect(error.problems).toContainEqual(expect.objectContaining({ field, value }));
    expect(error.message).toContain(`  - ${field} (${JSON.stringify(value).slice(0, 60)}`);
  });

  it.each([
    {
      field: 'os.edition',
      input: withField(classic(), 'os.edition', undefined),
      accepted: /"datacenter"/,
    },
    {
      field: 'policy',
      input: withField(classic(), 'policy', undefined),
      accepted: /"kb897341", "modern"/,
    },
    {
      field: 'node.hotpatchEnrolled',
      input: withField(modern(), 'node.hotpatchEnrolled', undefined),
      accepted: /true or false/,
    },
  ])(
    `missing $field is named with what is accepted (${STYLE_ERRORS})`,
    ({ field, input, accepted }) => {
      const error = inputError(input);
      const problem = error.problems.find((p) => p.field === field);
      expect(problem?.message).toMatch(/^missing; /);
      expect(problem?.message).toMatch(accepted);
      expect(error.message).toContain(`  - ${field}: missing; `);
    },
  );

  const KB = 'expected "KB" and 6 or 7 digits, e.g. "KB897341"';
  const LANG = 'expected a 3-letter package language code, e.g. "ENU" or "JPN"';
  const SP = 'expected the service pack as a whole number 0-9 (0 = original release, 1 = SP1)';
  const MONTH = 'expected the release month as "YYYY-MM", e.g. "2025-05"';
  const BUILD = 'expected the OS build as "<build>.<revision>", e.g. "26100.1742"';
  it.each([
    { input: withField(classic(), 'update.kb', 7), field: 'update.kb', message: KB },
    {
      input: withField(classic(), 'update.language', 'EN'),
      field: 'update.language',
      message: LANG,
    },
    { input: withField(classic(), 'update.language', 7), field: 'update.language', message: LANG },
    {
      input: withField(classic(), 'update.kind', 'x'),
      field: 'update.kind',
      message: 'expected one of "securityGdr", "securityQfe", "nonSecurity"',
    },
    {
      input: withField(classic(), 'update.packageFiles', 'x'),
      field: 'update.packageFiles',
      message: 'expected a list of file names',
    },
    {
      input: withField(classic(), 'update.packageFiles', ['a._hp', '']),
      field: 'update.packageFiles[1]',
      message: 'expected a file name (a non-empty string)',
    },
    {
      input: withField(classic(), 'update.cumulativeIncludesRestartRequiredUpdate', 'yes'),
      field: 'update.cumulativeIncludesRestartRequiredUpdate',
      message: 'expected true or false (the update includes one that restarts)',
    },
    { input: withField(classic(), 'os.servicePack', 10), field: 'os.servicePack', message: SP },
    { input: withField(classic(), 'os.servicePack', 'SP1'), field: 'os.servicePack', message: SP },
    {
      input: withField(classic(), 'binaries', [{ path: 5, fileVersion: GDR_VERSION }]),
      field: 'binaries[0].path',
      message: 'expected the binary path (a non-empty string)',
    },
    { input: withField(classic(), 'os.servicePack', -1), field: 'os.servicePack', message: SP },
    {
      input: withField(classic(), 'binaries', 'x'),
      field: 'binaries',
      message: 'expected a list of { path, fileVersion }',
    },
    {
      input: withField(classic(), 'binaries', [{ path: '', fileVersion: GDR_VERSION }]),
      field: 'binaries[0].path',
      message: 'expected the binary path (a non-empty string)',
    },
    {
      input: withField(classic(), 'binaries', [{ path: AUTHZ, fileVersion: 5 }]),
      field: 'binaries[0].fileVersion',
      message: `expected the file version string, e.g. "${GDR_VERSION}"`,
    },
    {
      input: withField(classic(), 'node.securityUpdateInstalledBefore', 1),
      field: 'node.securityUpdateInstalledBefore',
      message: 'expected true or false (a security update was installed before)',
    },
    {
      input: withField(classic(), 'node.rightsManagementRunning', 1),
      field: 'node.rightsManagementRunning',
      message: 'expected true or false (Rights Management is running)',
    },
    {
      input: withField(classic(), 'node.debuggerAttached', 1),
      field: 'node.debuggerAttached',
      message: 'expected true or false (a program is being debugged)',
    },
    {
      input: withField(classic(), 'node.debugProgramsRight', 1),
      field: 'node.debugProgramsRight',
      message: 'expected true or false (the installing account holds "Debug programs")',
    },
    {
      input: withField(classic(), 'node.incompatibleProgramsRunning', 'x'),
      field: 'node.incompatibleProgramsRunning',
      message: 'expected a list of program names (may be empty)',
    },
    {
      input: withField(classic(), 'node.incompatibleProgramsRunning', ['']),
      field: 'node.incompatibleProgramsRunning[0]',
      message: 'expected a program name (a non-empty string)',
    },
    {
      input: withField(modern(), 'update.releaseMonth', '2025-13'),
      field: 'update.releaseMonth',
      message: MONTH,
    },
    {
      input: withField(modern(), 'update.releaseMonth', '2025-00'),
      field: 'update.releaseMonth',
      message: MONTH,
    },
    {
      input: withField(modern(), 'update.releaseMonth', 'x2025-05'),
      field: 'update.releaseMonth',
      message: MONTH,
    },
    {
      input: withField(modern(), 'update.releaseMonth', '2025-05x'),
      field: 'update.releaseMonth',
      message: MONTH,
    },
    {
      input: withField(modern(), 'update.releaseMonth', 202505),
      field: 'update.releaseMonth',
      message: MONTH,
    },
    {
      input: withField(modern(), 'update.unplannedBaseline', 'no'),
      field: 'update.unplannedBaseline',
      message: 'expected true or false (the update is an unplanned baseline)',
    },
    { input: withField(modern(), 'os.build', '26100'), field: 'os.build', message: BUILD },
    { input: withField(modern(), 'os.build', 'x26100.1742'), field: 'os.build', message: BUILD },
    { input: withField(modern(), 'os.build', '26100.1742x'), field: 'os.build', message: BUILD },
    { input: withField(modern(), 'os.build', 26100.1742), field: 'os.build', message: BUILD },
    {
      input: withField(modern(), 'node.azureArcConnected', 1),
      field: 'node.azureArcConnected',
      message: 'expected true or false (the node is connected to Azure Arc)',
    },
    {
      input: withField(modern(), 'node.vbsEnabled', 1),
      field: 'node.vbsEnabled',
      message: 'expected true or false (virtualization-based security is running)',
    },
    {
      input: withField(modern(), 'node.uefiSecureBootEnabled', 1),
      field: 'node.uefiSecureBootEnabled',
      message: 'expected true or false (UEFI Secure Boot is on)',
    },
    {
      input: withField(modern(), 'node.hotpatchEnrolled', 1),
      field: 'node.hotpatchEnrolled',
      message: 'expected true or false (the node is enrolled in hotpatch)',
    },
    {
      input: withField(modern(), 'policy', 'newer'),
      field: 'policy',
      message: 'expected one of "kb897341", "modern"',
    },
  ])(
    `issue 14: $field gets the message a user reads: $message (${STYLE_ERRORS})`,
    ({ input, field, message }) => {
      const error = inputError(input);
      expect(error.problems.map((p) => [p.field, p.message])).toEqual([[field, message]]);
    },
  );

  it.each([
    { input: 5, source: 'a number' },
    { input: [], source: 'an array' },
  ])(
    `issue 14: $source at the root is named (root) with what is accepted (${STYLE_ERRORS})`,
    ({ input }) => {
      expect(inputError(input).problems).toEqual([
        {
          field: '(root)',
          value: input,
          message: 'expected an object with "policy" (kb897341 or modern) and its facts',
        },
      ]);
    },
  );

  it.each([
    {
      input: withField(classic(), 'extra', 1),
      field: 'extra',
      accepted: 'policy, update, os, binaries, node',
    },
    {
      input: withField(classic(), 'binaries', [{ path: AUTHZ, fileVersion: GDR_VERSION, size: 1 }]),
      field: 'binaries[0].size',
      accepted: 'path, fileVersion',
    },
    {
      input: withField(modern(), 'update.extra', 1),
      field: 'update.extra',
      accepted: 'releaseMonth, kind, unplannedBaseline',
    },
  ])(
    `issue 14: an unknown field $field lists the fields accepted there (${STYLE_ERRORS})`,
    ({ input, field, accepted }) => {
      expect(inputError(input).problems).toEqual([
        { field, value: 1, message: `unknown field; accepted here: ${accepted}` },
      ]);
    },
  );

  it('issue 14: input whose reading throws (a throwing getter) is a HotpatchInputError naming the cause', () => {
    const input = {
      get policy(): string {
        throw new Error('boom');
      },
    };
    const error = inputError(input);
    expect(error.problems).toEqual([
      { field: '(root)', message: 'could not be read: Error: boom' },
    ]);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it(`lists every problem in one error (${STYLE_ERRORS})`, () => {
    let input = withField(classic(), 'os.servicePack', 'SP1');
    input = withField(input, 'update.kb', 'Q123');
    input = withField(input, 'node.extra', 1);
    const error = inputError(input);
    expect(error).toBeInstanceOf(RolloutRuleError);
    expect(error.name).toBe('HotpatchInputError');
    expect(error.problems.map((p) => p.field).sort()).toEqual([
      'node.extra',
      'os.servicePack',
      'update.kb',
    ]);
    expect(error.message).toMatch(/^invalid hotpatch facts \(3 problems\):/);
    expect(error.message).toContain(
      'node.extra (1): unknown field; accepted here: securityUpdateInstalledBefore',
    );
    expect(error.cause).toBeDefined();
  });

  it('arbitrary JSON either parses or throws HotpatchInputError, never anything else', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseHotpatchFacts(value);
        } catch (error) {
          expect(error).toBeInstanceOf(HotpatchInputError);
          expect((error as HotpatchInputError).problems.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('one field of a valid input replaced by arbitrary JSON: parses and decides, or names that field', () => {
    const fields = [
      'update.kb',
      'update.language',
      'update.kind',
      'update.article',
      'update.packageFiles',
      'update.cumulativeIncludesRestartRequiredUpdate',
      'os',
      'os.product',
      'os.servicePack',
      'os.edition',
      'os.architecture',
      'binaries',
      'node.securityUpdateInstalledBefore',
      'node.debugProgramsRight',
      'node.incompatibleProgramsRunning',
    ];
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.jsonValue(), (field, value) => {
        const input = withField(classic(), field, value);
        let facts: ReturnType<typeof parseHotpatchFacts>;
        try {
          facts = parseHotpatchFacts(input);
        } catch (error) {
          expect(error).toBeInstanceOf(HotpatchInputError);
          const problems = (error as HotpatchInputError).problems;
          expect(problems.some((p) => p.field.startsWith(field))).toBe(true);
          return;
        }
        expect(typeof decideHotpatch(facts).eligible).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
});

describe('example files the README links', () => {
  const load = (name: string): unknown =>
    JSON.parse(readFileSync(new URL(`../../examples/${name}`, import.meta.url), 'utf8'));

  it('examples/hotpatch-facts.json is an eligible KB897341 case (seed 002)', () => {
    const decision = decide(load('hotpatch-facts.json'));
    expect(decision.policy).toBe('kb897341');
    expect(decision.eligible).toBe(true);
    expect(decision.installCommand).toMatch(
      /^WindowsServer2003-KB\d{6,7}-x86-[A-Z]{3}\.exe \/hotpatch:enable$/,
    );
    expect(decision.checks.filter((c) => c.rule === 'binary').length).toBeGreaterThan(0);
  });

  it(`examples/hotpatch-modern.json is an eligible modern case in a hotpatch month (${MODERN})`, () => {
    const decision = decide(load('hotpatch-modern.json'));
    expect(decision).toMatchObject({
      policy: 'modern',
      eligible: true,
      restart: { mayBeRequired: false },
    });
  });
});

describe('packageAllowsHotpatch: the package facts alone, for the scan', () => {
  const kb = (update: Record<string, unknown>) =>
    ({
      policy: 'kb897341',
      update: {
        kb: 'KB901234',
        language: 'ENU',
        kind: 'securityGdr',
        article: 'supported',
        ...update,
      },
    }) as never;
  const modern = (update: Record<string, unknown>) =>
    ({
      policy: 'modern',
      update: { releaseMonth: '2025-05', kind: 'security', ...update },
    }) as never;
  it.each([
    {
      entry: kb({}),
      allows: true,
      source: 'seed 000: GDR security update, article says it can be hotpatched',
    },
    {
      entry: kb({ kind: 'securityQfe' }),
      allows: false,
      source: 'seed 000: only GDR security updates',
    },
    {
      entry: kb({ article: 'notMentioned' }),
      allows: false,
      source: 'seed 000: an article that says nothing means no',
    },
    {
      entry: kb({ article: 'unknown', packageFiles: ['sp1gdr/authz.dl._hp'] }),
      allows: true,
      source: 'seed 000: ._hp files, when nobody read the article',
    },
    { entry: kb({ article: 'unknown' }), allows: false, source: 'no article and no ._hp files' },
    { entry: modern({}), allows: true, source: 'DOMAIN.md §1: May is a hotpatch month' },
    {
      entry: modern({ releaseMonth: '2025-07' }),
      allows: false,
      source: 'DOMAIN.md §1: July is a baseline month',
    },
    {
      entry: modern({ unplannedBaseline: true }),
      allows: false,
      source: 'DOMAIN.md §1: unplanned baselines restart',
    },
    {
      entry: modern({ kind: 'dotNet' }),
      allows: false,
      source: 'DOMAIN.md §1: .NET updates restart',
    },
    {
      entry: kb({ article: 'notSupported', packageFiles: ['sp1gdr/authz.dl._hp'] }),
      allows: false,
      source: 'issue 14 / seed 002 step 1: the article decides; ._hp files do not override a no',
    },
    {
      entry: kb({ article: 'notMentioned', packageFiles: ['sp1gdr/authz.dl._hp'] }),
      allows: false,
      source:
        'issue 14 / seed 000: an article that says nothing is a no, whatever the package holds',
    },
    {
      entry: kb({ article: 'supported', packageFiles: [] }),
      allows: true,
      source: 'issue 14 / seed 002 step 1: the article says yes; no ._hp files needed',
    },
    {
      entry: kb({ article: 'unknown', packageFiles: ['sp1gdr/authz._hp.txt'] }),
      allows: false,
      source: 'issue 14: "._hp" must end the name; authz._hp.txt is not a ._hp file',
    },
    {
      entry: kb({ article: 'unknown', packageFiles: ['SP1GDR/AUTHZ.DL._HP'] }),
      allows: true,
      source: 'issue 14: file names compare case-insensitively, as on Windows',
    },
    {
      entry: modern({ releaseMonth: '2025-05', unplannedBaseline: false }),
      allows: true,
      source: 'issue 14 / DOMAIN.md §1: unplannedBaseline false in a hotpatch month',
    },
    {
      entry: modern({ releaseMonth: '2025-01' }),
      allows: false,
      source: 'DOMAIN.md §1: January is a baseline month',
    },
    {
      entry: modern({ releaseMonth: '2025-10' }),
      allows: false,
      source: 'DOMAIN.md §1: October is a baseline month',
    },
    {
      entry: modern({ releaseMonth: '2025-12' }),
      allows: true,
      source: 'DOMAIN.md §1: December is a hotpatch month',
    },
  ])('$source → $allows', ({ entry, allows }) => {
    expect(packageAllowsHotpatch(entry).allows).toBe(allows);
  });

  it.each([
    {
      entry: kb({ kind: 'securityQfe' }),
      reason: 'securityQfe update: only GDR security updates hotpatch (KB897341)',
    },
    {
      entry: kb({ article: 'notSupported' }),
      reason: 'the KB article is notSupported: the package cannot be hotpatched (KB897341)',
    },
    { entry: kb({}), reason: 'a GDR security update the KB article says can be hotpatched' },
    { entry: modern({ kind: 'dotNet' }), reason: 'a dotNet update installs with a restart' },
    {
      entry: modern({ unplannedBaseline: true }),
      reason: 'an unplanned baseline installs with a restart',
    },
    {
      entry: modern({ releaseMonth: '2025-04' }),
      reason: '2025-04 is a baseline month: the baseline installs with a restart',
    },
    { entry: modern({}), reason: '2025-05 is a hotpatch month' },
  ])('gives the scan the reason: $reason', ({ entry, reason }) => {
    expect(packageAllowsHotpatch(entry).reason).toBe(reason);
  });
});
