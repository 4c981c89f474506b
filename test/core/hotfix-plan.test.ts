import { describe, expect, it } from 'vitest';
import { defaultHotfixConfig } from '../../lambdas/core/default-config.js';
import { parseHotfixConfig } from '../../lambdas/core/hotfix-config.js';
import {
  HotfixPlanError,
  type HotfixPlanInput,
  ordinalIgnoreCase,
  planHotfixRoot,
  substituteUpdate,
} from '../../lambdas/core/hotfix-plan.js';

const config = parseHotfixConfig(`<HotfixConfig>
  <DefaultRules><ExtensionRules>
    <Extension name="MSU"><Template path="%systemroot%\\System32\\wusa.exe" parameters="&quot;$update$&quot; /quiet /norestart"/>
      <ExitConditions><Success><ExitCode Code="0"/></Success><Success_RebootRequired><ExitCode Code="3010"/></Success_RebootRequired></ExitConditions></Extension>
    <Extension name="MSI"><Template path="msiexec.exe" parameters="/i &quot;$update$&quot; /qn"/>
      <ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions></Extension>
  </ExtensionRules></DefaultRules>
  <FolderRules>
    <Folder name="Zeta"><Template path="$update$" parameters="/zeta"/><ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions></Folder>
    <Folder name="Alpha" alwaysReboot="true"><Template path="$update$" parameters="/q"/><ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions></Folder>
  </FolderRules>
</HotfixConfig>`);

const plan = (files: string[], nodes = ['NODE1', 'NODE2'], extra: Partial<HotfixPlanInput> = {}) =>
  planHotfixRoot({ files, nodes, config, ...extra });

const filesOf = (p: ReturnType<typeof plan>, node: string) => p.nodes[node]?.map((u) => u.file);
const reasonOf = (p: ReturnType<typeof plan>, file: string) =>
  p.ignored.find((i) => i.file === file)?.reason;

describe('planHotfixRoot: the hotfix root structure (seed 003)', () => {
  it('CAUHotfix_All applies to every node', () => {
    const p = plan(['CAUHotfix_All/KB1.msu']);
    expect(filesOf(p, 'NODE1')).toEqual(['CAUHotfix_All/KB1.msu']);
    expect(filesOf(p, 'NODE2')).toEqual(['CAUHotfix_All/KB1.msu']);
    expect(p.nodes.NODE1?.[0]).toMatchObject({
      scope: 'all',
      rule: { kind: 'extension', name: 'MSU' },
    });
  });

  it('<NodeName> folders apply to that node only, matched case-insensitively (NetBIOS)', () => {
    const p = plan(['node2\\KB2.msi', 'NODE1/KB3.MSU']);
    expect(filesOf(p, 'NODE1')).toEqual(['NODE1/KB3.MSU']);
    expect(filesOf(p, 'NODE2')).toEqual(['node2/KB2.msi']);
    expect(p.nodes.NODE2?.[0]?.scope).toBe('node');
  });

  it('<scope>\\<FolderRule>\\ files use that folder rule, whatever their extension', () => {
    const p = plan(['CAUHotfix_All/alpha/tool.exe', 'NODE1/Zeta/fix.cmd']);
    expect(p.nodes.NODE1?.map((u) => [u.file, u.rule.name, u.alwaysReboot])).toEqual([
      ['CAUHotfix_All/alpha/tool.exe', 'Alpha', true],
      ['NODE1/Zeta/fix.cmd', 'Zeta', false],
    ]);
  });

  it.each([
    {
      file: 'KB9.msu',
      reason: 'outside the structure: updates belong in CAUHotfix_All\\ or a <NodeName>\\ folder',
      source: 'seed 003: files outside the structure are ignored',
    },
    {
      file: 'DefaultHotfixConfig.xml',
      reason: 'the hotfix configuration file',
      source: 'seed 003: the config file sits in the root',
    },
    {
      file: 'NODE9/KB9.msu',
      reason: 'folder "NODE9" is neither CAUHotfix_All nor a node of this run',
      source: 'seed 003: <NodeName> folders',
    },
    {
      file: 'CAUHotfix_All/setup.exe',
      reason: 'no extension rule for "setup.exe" (extension rules: .msu, .msi)',
      source: 'seed 003: default extensions only',
    },
    {
      file: 'CAUHotfix_All/README',
      reason: 'no extension rule for "README" (extension rules: .msu, .msi)',
      source: 'seed 003: default extensions only',
    },
    {
      file: 'CAUHotfix_All/Other/KB9.msu',
      reason: 'subfolder "Other" is not the name of a <Folder> rule',
      source: 'seed 003: folders outside the structure are ignored',
    },
    {
      file: 'CAUHotfix_All/Alpha/deep/KB9.msu',
      reason:
        'nested too deep: only <scope>\\<file> and <scope>\\<FolderRule>\\<file> are installed',
      source: 'seed 003: structure has two levels',
    },
    {
      file: 'CAUHotfix_All/',
      reason: 'a folder marker, not a file',
      source: 'S3 console folder objects',
    },
    {
      file: 'CAUHotfix_All/../KB9.msu',
      reason: 'a path with . or .. segments, which could leave the hotfix root',
      source: 'our safety rule',
    },
    {
      file: 'CAUHotfix_All/a"b.msu',
      reason: '"a\\"b.msu" is not a valid Windows file or folder name',
      source: 'Windows naming rules',
    },
    {
      file: 'CAUHotfix_All/KB9.msu.',
      reason: '"KB9.msu." is not a valid Windows file or folder name',
      source: 'Windows naming rules: no trailing dot',
    },
  ])('ignores $file ($source)', ({ file, reason }) => {
    const p = plan([file]);
    expect(reasonOf(p, file)).toBe(reason);
    expect(p.nodes.NODE1).toEqual([]);
  });

  it('honours HotfixConfigFileName for the configuration file', () => {
    const p = plan(['Custom.xml', 'DefaultHotfixConfig.xml'], ['NODE1'], {
      configFileName: 'custom.XML',
    });
    expect(reasonOf(p, 'Custom.xml')).toBe('the hotfix configuration file');
    expect(reasonOf(p, 'DefaultHotfixConfig.xml')).toMatch(/^outside the structure/);
  });

  it('reports a path listed twice (case-insensitively) once', () => {
    const p = plan(['CAUHotfix_All/KB1.msu', 'cauhotfix_all\\kb1.MSU']);
    expect(filesOf(p, 'NODE1')).toEqual(['CAUHotfix_All/KB1.msu']);
    expect(reasonOf(p, 'cauhotfix_all\\kb1.MSU')).toBe(
      'listed twice (paths compare case-insensitively)',
    );
  });

  it('warns when a node folder repeats a file name from CAUHotfix_All', () => {
    const p = plan(['CAUHotfix_All/KB1.msu', 'NODE1/kb1.msu']);
    expect(filesOf(p, 'NODE1')).toEqual(['CAUHotfix_All/KB1.msu', 'NODE1/kb1.msu']);
    expect(p.warnings).toEqual([
      expect.stringMatching(/^NODE1: NODE1\/kb1\.msu has the same file name/),
    ]);
  });
});

describe('planHotfixRoot: commands', () => {
  it('substitutes $update$ with the file path on the node, in path and parameters', () => {
    const p = plan(['CAUHotfix_All/KB1.msu', 'NODE1/Alpha/tool.exe'], ['NODE1']);
    expect(p.nodes.NODE1?.[0]).toMatchObject({
      path: '%systemroot%\\System32\\wusa.exe',
      parameters:
        '"%ProgramData%\\WindowsRollout\\Hotfixes\\CAUHotfix_All\\KB1.msu" /quiet /norestart',
      localPath: '%ProgramData%\\WindowsRollout\\Hotfixes\\CAUHotfix_All\\KB1.msu',
    });
    expect(p.nodes.NODE1?.[1]).toMatchObject({
      path: '%ProgramData%\\WindowsRollout\\Hotfixes\\NODE1\\Alpha\\tool.exe',
      parameters: '/q',
    });
  });

  it('uses the given update root', () => {
    const p = plan(['CAUHotfix_All/KB1.msi'], ['N1'], { updateRoot: 'D:\\staging\\run-1\\' });
    expect(p.nodes.N1?.[0]?.parameters).toBe('/i "D:\\staging\\run-1\\CAUHotfix_All\\KB1.msi" /qn');
  });

  it('keeps $ sequences in file names literal', () => {
    expect(substituteUpdate('$UPDATE$ /x $update$', "C:\\$&$1$$'.msu")).toBe(
      "C:\\$&$1$$'.msu /x C:\\$&$1$$'.msu",
    );
  });

  it('carries the rule exit conditions for the interpreter', () => {
    const p = planHotfixRoot({
      files: ['CAUHotfix_All/KB1.msp'],
      nodes: ['N1'],
      config: defaultHotfixConfig(),
    });
    expect(p.nodes.N1?.[0]?.exitConditions.NotApplicable).toEqual([1642]);
  });
});

describe('planHotfixRoot: order (documented in hotfix-plan.ts)', () => {
  it('CAUHotfix_All first, then the node folder; extension rules, then folder rules in config order; names ordinal ignoring case', () => {
    const p = plan(
      [
        'NODE1/b.msu',
        'NODE1/Alpha/z.exe',
        'CAUHotfix_All/Zeta/y.exe',
        'CAUHotfix_All/Alpha/x.exe',
        'CAUHotfix_All/B.msi',
        'CAUHotfix_All/a.msu',
        'NODE1/A.msu',
      ],
      ['NODE1'],
    );
    expect(filesOf(p, 'NODE1')).toEqual([
      'CAUHotfix_All/a.msu',
      'CAUHotfix_All/B.msi',
      'CAUHotfix_All/Zeta/y.exe',
      'CAUHotfix_All/Alpha/x.exe',
      'NODE1/A.msu',
      'NODE1/b.msu',
      'NODE1/Alpha/z.exe',
    ]);
  });

  it('does not depend on the listing order', () => {
    const files = [
      'CAUHotfix_All/c.msu',
      'CAUHotfix_All/A.msu',
      'NODE1/Zeta/q.bat',
      'CAUHotfix_All/b.msi',
    ];
    const forward = plan(files, ['NODE1']);
    const backward = plan([...files].reverse(), ['NODE1']);
    expect(filesOf(backward, 'NODE1')).toEqual(filesOf(forward, 'NODE1'));
  });

  it('orders names ordinally ignoring case', () => {
    expect(['b', 'A', 'a', '_', 'B'].sort(ordinalIgnoreCase)).toEqual(['A', 'a', 'b', 'B', '_']);
  });
});

describe('planHotfixRoot: bad input', () => {
  it.each([
    { nodes: [], message: 'nodes: expected at least one node' },
    { nodes: ['NODE1', 'node1'], message: 'nodes[1] ("node1"): is the same node as nodes[0]' },
    {
      nodes: ['A-VERY-LONG-NAME-16'],
      message: 'nodes[0] ("A-VERY-LONG-NAME-16"): expected a NetBIOS name of at most 15 characters',
    },
    {
      nodes: ['bad name'],
      message: 'nodes[0] ("bad name"): expected a NetBIOS name without spaces',
    },
  ])('refuses nodes $nodes', ({ nodes, message }) => {
    expect(() => plan([], nodes)).toThrow(HotfixPlanError);
    expect(() => plan([], nodes)).toThrow(message);
  });
});

describe('planHotfixRoot: paths as listed (mutation testing, issue 14)', () => {
  it.each([
    { file: '', reason: 'an empty path', source: 'an empty listing entry' },
    {
      file: 'NODE1\\Alpha\\',
      reason: 'a folder marker, not a file',
      source: 'a folder marker written with \\',
    },
    {
      file: 'CAUHotfix_All/./KB9.msu',
      reason: 'a path with . or .. segments, which could leave the hotfix root',
      source: 'our safety rule: a "." segment',
    },
    {
      file: 'CAUHotfix_All/KB9.msu ',
      reason: '"KB9.msu " is not a valid Windows file or folder name',
      source: 'Windows naming rules: no trailing space',
    },
  ])('ignores $file ($source)', ({ file, reason }) => {
    const p = plan([file]);
    expect(p.ignored).toEqual([{ file, reason }]);
    expect(p.nodes.NODE1).toEqual([]);
  });

  it.each([
    { file: '/CAUHotfix_All/KB1.msu', source: 'an S3 key with a leading /' },
    { file: '\\CAUHotfix_All\\KB1.msu', source: 'a leading \\' },
    { file: 'CAUHotfix_All//KB1.msu', source: 'doubled separators' },
  ])('reads $file as CAUHotfix_All/KB1.msu ($source)', ({ file }) => {
    const p = plan([file], ['NODE1']);
    expect(p.ignored).toEqual([]);
    expect(p.nodes.NODE1?.map((u) => [u.file, u.localPath])).toEqual([
      ['CAUHotfix_All/KB1.msu', '%ProgramData%\\WindowsRollout\\Hotfixes\\CAUHotfix_All\\KB1.msu'],
    ]);
  });

  it('accepts a leading space in a file name (Windows strips only trailing spaces and dots)', () => {
    const p = plan(['CAUHotfix_All/ KB1.msu'], ['NODE1']);
    expect(p.ignored).toEqual([]);
    expect(filesOf(p, 'NODE1')).toEqual(['CAUHotfix_All/ KB1.msu']);
  });

  it('says when the configuration has no extension rules', () => {
    const p = planHotfixRoot({
      files: ['CAUHotfix_All/KB1.msu'],
      nodes: ['NODE1'],
      config: { ...config, extensionRules: [] },
    });
    expect(reasonOf(p, 'CAUHotfix_All/KB1.msu')).toBe(
      'no extension rule for "KB1.msu" (extension rules: none)',
    );
  });

  it('does not warn when the node folder names other files than CAUHotfix_All', () => {
    const p = plan(['CAUHotfix_All/KB1.msu', 'NODE1/KB2.msu']);
    expect(p.warnings).toEqual([]);
  });

  it('trims every trailing separator of the update root', () => {
    const p = plan(['CAUHotfix_All/KB1.msi'], ['N1'], { updateRoot: 'D:\\staging\\/\\' });
    expect(p.nodes.N1?.[0]?.localPath).toBe('D:\\staging\\CAUHotfix_All\\KB1.msi');
  });

  it('names the operation in the error for bad nodes', () => {
    expect(() => plan([], [])).toThrow(/^cannot plan \(1 problem\):/);
  });
});

describe('ordinalIgnoreCase (Windows CompareStringOrdinal with ignoreCase)', () => {
  it.each([
    { a: 'a', b: 'A', expected: 0, source: 'case is ignored' },
    { a: 'KB1', b: 'kb2', expected: -1, source: 'by code unit after upper-casing' },
    { a: 'b', b: 'A', expected: 1, source: 'b after A' },
    { a: '_', b: 'a', expected: 1, source: '_ (0x5F) after A (0x41)' },
    { a: 'ßa', b: 'sz', expected: 1, source: 'simple case mapping: ß (0xDF) stays one character' },
    { a: 'ß', b: 'SS', expected: 1, source: 'ß is not SS' },
  ])('$a vs $b → $expected ($source)', ({ a, b, expected }) => {
    expect(ordinalIgnoreCase(a, b)).toBe(expected);
    expect(ordinalIgnoreCase(b, a)).toBe(-expected || 0);
  });

  it('plans names equal ignoring case in ordinal order (ı and i both upper-case to I)', () => {
    const files = ['CAUHotfix_All/ı.msu', 'CAUHotfix_All/i.msu'];
    expect(filesOf(plan(files, ['NODE1']), 'NODE1')).toEqual([
      'CAUHotfix_All/i.msu',
      'CAUHotfix_All/ı.msu',
    ]);
    expect(filesOf(plan([...files].reverse(), ['NODE1']), 'NODE1')).toEqual([
      'CAUHotfix_All/i.msu',
      'CAUHotfix_All/ı.msu',
    ]);
  });

  it('plans names that tie ignoring case in one order, however they are listed', () => {
    // ı and i upper-case to I, ſ (long s) and s to S: all four are IS, and distinct files.
    const names = ['is', 'iſ', 'ıs', 'ıſ'];
    const permutations = (list: string[]): string[][] =>
      list.length <= 1
        ? [list]
        : list.flatMap((x, i) =>
            permutations([...list.slice(0, i), ...list.slice(i + 1)]).map((rest) => [x, ...rest]),
          );
    for (const order of permutations(names)) {
      const p = plan(
        order.map((n) => `CAUHotfix_All/${n}.msu`),
        ['NODE1'],
      );
      expect(filesOf(p, 'NODE1')).toEqual(names.map((n) => `CAUHotfix_All/${n}.msu`));
    }
  });

  it('plans ß after s and z, as NTFS lists them', () => {
    const p = plan(['CAUHotfix_All/ßa.msu', 'CAUHotfix_All/sz.msu'], ['NODE1']);
    expect(filesOf(p, 'NODE1')).toEqual(['CAUHotfix_All/sz.msu', 'CAUHotfix_All/ßa.msu']);
  });
});
