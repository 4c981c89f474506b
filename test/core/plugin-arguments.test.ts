import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RolloutRuleError } from '../../lambdas/core/errors.js';
import {
  DEFAULT_WINDOWS_UPDATE_QUERY,
  PLUGIN_NAMES,
  PluginArgumentError,
  parseHotfixPluginArguments,
  parsePluginArguments,
  parsePluginArgumentsFor,
  parseWindowsUpdatePluginArguments,
} from '../../lambdas/core/plugin-arguments.js';
import { propertyRuns } from './property-runs.js';

/** Runs `fn` and returns the PluginArgumentError it throws; fails the test if it does not. */
function pluginError(fn: () => unknown): PluginArgumentError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PluginArgumentError);
    return error as PluginArgumentError;
  }
  throw new Error('expected a PluginArgumentError, nothing was thrown');
}

const pairs = (text: string) => parsePluginArguments(text).map(({ name, value }) => [name, value]);

describe('parsePluginArguments: accepted syntax', () => {
  it.each([
    {
      source: 'seed 003: plug-in argument syntax Name1=Value1;Name2=Value2;Name3=Value3',
      text: 'Name1=Value1;Name2=Value2;Name3=Value3',
      expected: [
        ['Name1', 'Value1'],
        ['Name2', 'Value2'],
        ['Name3', 'Value3'],
      ],
    },
    {
      source: 'seed 003: a value with spaces is quoted',
      text: 'Name1="Value with Spaces"',
      expected: [['Name1', 'Value with Spaces']],
    },
    {
      source: 'seed 003: PowerShell form -CauPluginArguments @{...}',
      text: '@{Name1=Value1;Name2=Value2;Name3=Value3}',
      expected: [
        ['Name1', 'Value1'],
        ['Name2', 'Value2'],
        ['Name3', 'Value3'],
      ],
    },
    {
      source: "seed 003: DisableAclChecks='True' (single quotes)",
      text: "DisableAclChecks='True'",
      expected: [['DisableAclChecks', 'True']],
    },
    {
      source: "seed 003: quoted key 'IncludeRecommendedUpdates'='True'",
      text: "'IncludeRecommendedUpdates'='True'",
      expected: [['IncludeRecommendedUpdates', 'True']],
    },
    {
      source: 'seed 003: QueryString example 1, quotes and = inside a quoted value',
      text: `QueryString="UpdateID='f6ce46c1-971c-43f9-a2aa-783df125f003' and IsInstalled=0"`,
      expected: [
        ['QueryString', "UpdateID='f6ce46c1-971c-43f9-a2aa-783df125f003' and IsInstalled=0"],
      ],
    },
    {
      source: 'seed 003: HotfixConfigFileName = <name> (spaces around =)',
      text: 'HotfixConfigFileName = MyConfig.xml',
      expected: [['HotfixConfigFileName', 'MyConfig.xml']],
    },
    {
      source:
        'seed 003: RequireSMBEncryption=’True’ as printed (typographic quotes, PowerShell reads them)',
      text: 'RequireSMBEncryption=’True’',
      expected: [['RequireSMBEncryption', 'True']],
    },
    {
      source: 'Invoke-CauRun help example 2: hashtable with spaces and a quoted UNC path',
      text: "@{ 'HotfixRootFolderPath' = '\\\\CauHotfixSrv\\shareName' }",
      expected: [['HotfixRootFolderPath', '\\\\CauHotfixSrv\\shareName']],
    },
    {
      source: 'brief: empty trailing ;',
      text: 'A=1;B=2;',
      expected: [
        ['A', '1'],
        ['B', '2'],
      ],
    },
    {
      source: 'brief: whitespace around names, values and separators',
      text: '  A = 1 ;\tB = "x y" ;  ',
      expected: [
        ['A', '1'],
        ['B', 'x y'],
      ],
    },
    {
      source: 'brief: quoted values may contain ; and =',
      text: "Q='a=1;b=2';R=3",
      expected: [
        ['Q', 'a=1;b=2'],
        ['R', '3'],
      ],
    },
    {
      source: 'PowerShell: a doubled quote inside a quoted string is one quote',
      text: `A='it''s';B="say ""hi"""`,
      expected: [
        ['A', "it's"],
        ['B', 'say "hi"'],
      ],
    },
    {
      source: 'PowerShell: a line break separates hashtable entries',
      text: "@{\n  A = 1\r\n  B = 'two'\n}",
      expected: [
        ['A', '1'],
        ['B', 'two'],
      ],
    },
    {
      source: 'seed 003: arguments are optional for some plug-ins (empty text)',
      text: '',
      expected: [],
    },
    { source: 'Invoke-CauRun help example 2: @{ } is no arguments', text: '@{ }', expected: [] },
    { source: 'brief: whitespace only is no arguments', text: ' \t\n', expected: [] },
    { source: 'syntax: an empty unquoted value', text: 'A=', expected: [['A', '']] },
    {
      source: 'syntax: a quoted value keeps its inner spaces',
      text: 'A="  x  "',
      expected: [['A', '  x  ']],
    },
  ])('$source', ({ text, expected }) => {
    expect(pairs(text)).toEqual(expected);
  });

  it('numbers arguments from 1 and keeps each pair as written (seed 003)', () => {
    expect(parsePluginArguments(' A=1 ; B = "x;y" ;C=3')).toEqual([
      { index: 1, name: 'A', value: '1', raw: 'A=1' },
      { index: 2, name: 'B', value: 'x;y', raw: 'B = "x;y"' },
      { index: 3, name: 'C', value: '3', raw: 'C=3' },
    ]);
  });
});

describe('parsePluginArguments: syntax errors name the argument, its text and the position', () => {
  it.each([
    {
      source: 'brief: unterminated quote',
      text: 'A=1;B="open',
      message:
        'plugin argument 2 ("B=\\"open"): unterminated quote: the " at character 7 is never closed',
      raw: 'B="open',
      index: 2,
      position: 7,
    },
    {
      source: 'brief: missing =',
      text: 'A=1;Flag;C=2',
      message: 'plugin argument 2 ("Flag"): missing "=" after the name at character 9',
      raw: 'Flag',
      index: 2,
      position: 9,
    },
    {
      source: 'brief: empty name',
      text: '=value',
      message: 'plugin argument 1 ("=value"): empty name before the "=" at character 1',
      raw: '=value',
      index: 1,
      position: 1,
    },
    {
      source: "brief: empty quoted name ''=1",
      text: "A=1;''=1",
      message: `plugin argument 2 ("''=1"): empty name before the "=" at character 7`,
      raw: "''=1",
      index: 2,
      position: 7,
    },
    {
      source: 'brief: text after a closing quote',
      text: 'A="x" y;B=2',
      message:
        'plugin argument 1 ("A=\\"x\\" y"): text after the closing quote ("y") at character 7',
      raw: 'A="x" y',
      index: 1,
      position: 7,
    },
    {
      source: 'brief: names start with a letter',
      text: '1A=2',
      message:
        'plugin argument 1 ("1A=2"): invalid name "1A" (a name starts with a letter and holds only letters, digits and _) at character 1',
      raw: '1A=2',
      index: 1,
      position: 1,
    },
    {
      source: 'brief: names hold only letters, digits and _',
      text: 'A=1; Max-Nodes=2',
      message:
        'plugin argument 2 ("Max-Nodes=2"): invalid name "Max-Nodes" (a name starts with a letter and holds only letters, digits and _) at character 6',
      raw: 'Max-Nodes=2',
      index: 2,
      position: 6,
    },
    {
      source: 'seed 003: a value with spaces must be quoted',
      text: 'HotfixRootFolderPath=\\\\srv\\my share',
      message:
        'plugin argument 1 ("HotfixRootFolderPath=\\\\\\\\srv\\\\my share"): a value with spaces must be quoted: HotfixRootFolderPath="..." at character 30',
      raw: 'HotfixRootFolderPath=\\\\srv\\my share',
      index: 1,
      position: 30,
    },
    {
      source: 'syntax: = in an unquoted value is a missing ; or missing quotes',
      text: 'QueryString=IsInstalled=0',
      message:
        'plugin argument 1 ("QueryString=IsInstalled=0"): "=" inside an unquoted value; quote the value, or put ";" between arguments at character 24',
      raw: 'QueryString=IsInstalled=0',
      index: 1,
      position: 24,
    },
    {
      source: 'seed 003: one hashtable per plug-in, not several in one text',
      text: '@{A=1},@{B=2}',
      message:
        'plugin argument 1 ("A=1},@{B=2"): "}" inside @{...}; quote the value (each plug-in\'s arguments go in their own @{...}) at character 6',
      raw: 'A=1},@{B=2',
      index: 1,
      position: 6,
    },
    {
      source: 'syntax: a quote inside an unquoted value',
      text: 'A=it"s',
      message:
        'plugin argument 1 ("A=it\\"s"): quote " inside an unquoted value; quote the whole value: A="..." at character 5',
      raw: 'A=it"s',
      index: 1,
      position: 5,
    },
    {
      source: 'syntax: nothing between two separators',
      text: 'A=1;;B=2',
      message: 'plugin argument 2 (""): empty argument: nothing before the ";" at character 5',
      raw: '',
      index: 2,
      position: 5,
    },
    {
      source: 'syntax: a name with something other than = after it',
      text: 'A B=1',
      message: 'plugin argument 1 ("A B=1"): expected "=" but found "B" at character 3',
      raw: 'A B=1',
      index: 1,
      position: 3,
    },
    {
      source: 'PowerShell form: a line break ends the hashtable entry before its =',
      text: '@{A\n=1}',
      message: 'plugin argument 1 ("A\\n=1"): missing "=" after the name at character 4',
      raw: 'A\n=1',
      index: 1,
      position: 4,
    },
  ])('$source', ({ text, message, raw, index, position }) => {
    const error = pluginError(() => parsePluginArguments(text));
    expect(error.message).toBe(message);
    expect(error.index).toBe(index);
    expect(error.position).toBe(position);
    expect(error.raw).toBe(raw);
  });

  it('reports an "@{" without its "}" (seed 003 PowerShell form)', () => {
    const error = pluginError(() => parsePluginArguments('  @{A=1'));
    expect(error.message).toBe('plugin arguments: the "@{" at character 3 has no closing "}"');
    expect(error.position).toBe(3);
    expect(error.index).toBeUndefined();
  });

  it.each([
    {
      source: 'PowerShell: hashtable keys are case-insensitive',
      text: 'Name=1;NAME=2',
      first: 'Name',
    },
    {
      source: 'brief: case-insensitive duplicates, quoted key',
      text: "'QueryString'='a';querystring='b'",
      first: 'QueryString',
    },
  ])('$source', ({ text, first }) => {
    const error = pluginError(() => parsePluginArguments(text));
    expect(error.index).toBe(2);
    expect(error.message).toBe(
      `plugin argument 2 (${JSON.stringify(text.slice(text.indexOf(';') + 1))}): duplicate of argument 1 (${first}); names are case-insensitive`,
    );
  });

  it('is a RolloutRuleError named PluginArgumentError (house error convention)', () => {
    const error = pluginError(() => parsePluginArguments('A'));
    expect(error).toBeInstanceOf(RolloutRuleError);
    expect(error.name).toBe('PluginArgumentError');
  });
});

describe('parseHotfixPluginArguments (seed 003: Microsoft.HotfixPlugin)', () => {
  const root = 'HotfixRootFolderPath=\\\\MyFileServer\\Hotfixes\\Root\\';

  it('applies every default (seed 003: DefaultHotfixConfig.xml, 30 minutes, checks on)', () => {
    expect(parseHotfixPluginArguments(root)).toEqual({
      hotfixRootFolderPath: '\\\\MyFileServer\\Hotfixes\\Root\\',
      hotfixConfigFileName: 'DefaultHotfixConfig.xml',
      hotfixInstallerTimeoutMinutes: 30,
      disableAclChecks: false,
      requireSmbEncryption: false,
    });
  });

  it.each([
    {
      source: 'seed 003: HotfixInstallerTimeoutMinutes=120 is two hours',
      text: `${root};HotfixInstallerTimeoutMinutes=120`,
      expected: { hotfixInstallerTimeoutMinutes: 120 },
    },
    {
      source: 'brief: HotfixInstallerTimeoutMinutes lower bound 1',
      text: `${root};HotfixInstallerTimeoutMinutes=1`,
      expected: { hotfixInstallerTimeoutMinutes: 1 },
    },
    {
      source: 'brief: HotfixInstallerTimeoutMinutes upper bound 1440',
      text: `${root};HotfixInstallerTimeoutMinutes="1440"`,
      expected: { hotfixInstallerTimeoutMinutes: 1440 },
    },
    {
      source: 'seed 003: HotfixConfigFileName = <name>',
      text: `${root};HotfixConfigFileName = "Contoso Hotfix Config.xml"`,
      expected: { hotfixConfigFileName: 'Contoso Hotfix Config.xml' },
    },
    {
      source: "seed 003: DisableAclChecks='True'",
      text: `${root};DisableAclChecks='True'`,
      expected: { disableAclChecks: true },
    },
    {
      source: "seed 003: RequireSMBEncryption='True' (seed spelling)",
      text: `${root};RequireSMBEncryption='True'`,
      expected: { requireSmbEncryption: true },
    },
    {
      source: 'Invoke-CauRun help: RequireSmbEncryption=<Value> (help spelling)',
      text: `${root};RequireSmbEncryption=True`,
      expected: { requireSmbEncryption: true },
    },
    {
      source: 'PowerShell: hashtable keys match case-insensitively',
      text: `${root.toLowerCase()};hotfixinstallertimeoutminutes=45;DISABLEACLCHECKS=1`,
      expected: {
        hotfixRootFolderPath: '\\\\myfileserver\\hotfixes\\root\\',
        hotfixInstallerTimeoutMinutes: 45,
        disableAclChecks: true,
      },
    },
  ])('$source', ({ text, expected }) => {
    expect(parseHotfixPluginArguments(text)).toMatchObject(expected);
  });

  it.each([
    { source: 'seed 003: True', value: 'True', expected: true },
    { source: 'brief: booleans are case-insensitive (true)', value: 'true', expected: true },
    { source: 'brief: PowerShell $true', value: '$true', expected: true },
    { source: 'brief: PowerShell $TRUE', value: '$TRUE', expected: true },
    { source: 'brief: 1', value: '1', expected: true },
    { source: 'Invoke-CauRun help: default False', value: 'False', expected: false },
    { source: 'brief: booleans are case-insensitive (fAlSe)', value: 'fAlSe', expected: false },
    { source: 'brief: PowerShell $false', value: '$false', expected: false },
    { source: 'brief: 0', value: '0', expected: false },
  ])('DisableAclChecks=$value reads as $expected ($source)', ({ value, expected }) => {
    expect(parseHotfixPluginArguments(`${root};DisableAclChecks=${value}`).disableAclChecks).toBe(
      expected,
    );
    expect(
      parseHotfixPluginArguments(`${root};RequireSmbEncryption='${value}'`).requireSmbEncryption,
    ).toBe(expected);
  });

  it('names the argument, its text and the accepted form (house style example)', () => {
    const error = pluginError(() =>
      parseHotfixPluginArguments(`${root};DisableAclChecks=True;HotfixInstallerTimeoutMinutes=abc`),
    );
    expect(error.message).toBe(
      'plugin argument 3 ("HotfixInstallerTimeoutMinutes=abc"): expected a whole number of minutes from 1 to 1440',
    );
    expect(error.index).toBe(3);
    expect(error.raw).toBe('HotfixInstallerTimeoutMinutes=abc');
    expect(error.pluginName).toBe(PLUGIN_NAMES.hotfix);
  });

  it.each([
    {
      source: 'brief: HotfixInstallerTimeoutMinutes below 1',
      arg: 'HotfixInstallerTimeoutMinutes=0',
      message: 'expected a whole number of minutes from 1 to 1440',
    },
    {
      source: 'brief: HotfixInstallerTimeoutMinutes above 1440',
      arg: 'HotfixInstallerTimeoutMinutes=1441',
      message: 'expected a whole number of minutes from 1 to 1440',
    },
    {
      source: 'brief: HotfixInstallerTimeoutMinutes not whole',
      arg: 'HotfixInstallerTimeoutMinutes=1.5',
      message: 'expected a whole number of minutes from 1 to 1440',
    },
    {
      source: 'brief: HotfixInstallerTimeoutMinutes negative',
      arg: 'HotfixInstallerTimeoutMinutes=-5',
      message: 'expected a whole number of minutes from 1 to 1440',
    },
    {
      source: 'brief: booleans are True/False/$true/$false/1/0 only',
      arg: 'DisableAclChecks=yes',
      message: 'expected True or False ($true, $false, 1 and 0 are also accepted)',
    },
    {
      source: 'brief: an empty boolean is not False',
      arg: 'RequireSmbEncryption=',
      message: 'expected True or False ($true, $false, 1 and 0 are also accepted)',
    },
    ...['sub\\Config.xml', 'sub/Config.xml', 'C:Config.xml', 'a*.xml', '..', 'Config.xml.', ''].map(
      (name) => ({
        source: `brief: HotfixConfigFileName must be a plain file name (${JSON.stringify(name)})`,
        arg: `HotfixConfigFileName="${name}"`,
        message:
          'expected a plain file name in the hotfix root folder (no folder, none of \\ / : * ? " < > |), e.g. DefaultHotfixConfig.xml',
      }),
    ),
    {
      source: 'brief: unknown names list the accepted ones',
      arg: 'HotfixRoot=x',
      message:
        'unknown argument for Microsoft.HotfixPlugin; accepted: HotfixRootFolderPath, HotfixConfigFileName, HotfixInstallerTimeoutMinutes, DisableAclChecks, RequireSmbEncryption',
    },
  ])('$source', ({ arg, message }) => {
    const error = pluginError(() => parseHotfixPluginArguments(`${root};${arg}`));
    expect(error.message).toBe(`plugin argument 2 (${JSON.stringify(arg)}): ${message}`);
    expect(error.index).toBe(2);
  });

  it.each([
    { source: 'seed 003: HotfixRootFolderPath is required (no arguments)', text: '' },
    {
      source: 'seed 003: HotfixRootFolderPath is required (other arguments only)',
      text: 'DisableAclChecks=True',
    },
  ])('$source', ({ text }) => {
    const error = pluginError(() => parseHotfixPluginArguments(text));
    expect(error.message).toBe(
      'plugin arguments of Microsoft.HotfixPlugin: HotfixRootFolderPath is required, e.g. HotfixRootFolderPath="\\\\MyFileServer\\Hotfixes\\Root"',
    );
    expect(error.index).toBeUndefined();
  });

  it('refuses an empty HotfixRootFolderPath (seed 003)', () => {
    const error = pluginError(() => parseHotfixPluginArguments('HotfixRootFolderPath="  "'));
    expect(error.message).toBe(
      'plugin argument 1 ("HotfixRootFolderPath=\\"  \\""): expected the path of the hotfix root folder',
    );
  });

  it('accepts arguments already split by parsePluginArguments (brief)', () => {
    const args = parsePluginArguments(`${root};HotfixInstallerTimeoutMinutes=60`);
    expect(parseHotfixPluginArguments(args).hotfixInstallerTimeoutMinutes).toBe(60);
  });

  it('refuses duplicates in a hand-built argument list (brief)', () => {
    const error = pluginError(() =>
      parseHotfixPluginArguments([
        { index: 1, name: 'HotfixRootFolderPath', value: 'a', raw: 'HotfixRootFolderPath=a' },
        { index: 2, name: 'hotfixrootfolderpath', value: 'b', raw: 'hotfixrootfolderpath=b' },
      ]),
    );
    expect(error.message).toBe(
      'plugin argument 2 ("hotfixrootfolderpath=b"): duplicate of argument 1 (HotfixRootFolderPath); names are case-insensitive',
    );
  });
});

describe('parseWindowsUpdatePluginArguments (seed 003: Microsoft.WindowsUpdatePlugin)', () => {
  it.each([
    {
      source: 'seed 003: no arguments needed; important updates by the default query',
      text: '',
      expected: {
        includeRecommendedUpdates: false,
        queryString: "IsInstalled=0 and Type='Software' and IsHidden=0 and IsAssigned=1",
        queryStringGiven: false,
      },
    },
    {
      source: "seed 003: 'IncludeRecommendedUpdates'='True'",
      text: "'IncludeRecommendedUpdates'='True'",
      expected: {
        includeRecommendedUpdates: true,
        queryString: DEFAULT_WINDOWS_UPDATE_QUERY,
        queryStringGiven: false,
      },
    },
    {
      source: 'seed 003: a given QueryString replaces the default (example 2, drivers only)',
      text: `QueryString="IsInstalled=0 and Type='Driver' and IsHidden=0"`,
      expected: {
        includeRecommendedUpdates: false,
        queryString: "IsInstalled=0 and Type='Driver' and IsHidden=0",
        queryStringGiven: true,
      },
    },
    {
      source: 'seed 003: example 1, one update by ID, with IncludeRecommendedUpdates',
      text: `@{IncludeRecommendedUpdates=$false; QueryString="UpdateID='f6ce46c1-971c-43f9-a2aa-783df125f003' and IsInstalled=0"}`,
      expected: {
        includeRecommendedUpdates: false,
        queryString: "UpdateID='f6ce46c1-971c-43f9-a2aa-783df125f003' and IsInstalled=0",
        queryStringGiven: true,
      },
    },
  ])('$source', ({ text, expected }) => {
    expect(parseWindowsUpdatePluginArguments(text)).toEqual(expected);
  });

  it.each([
    {
      source: 'brief: an empty QueryString is an error',
      text: 'QueryString=""',
      message: `plugin argument 1 ("QueryString=\\"\\""): expected a Windows Update Agent query, e.g. QueryString="${DEFAULT_WINDOWS_UPDATE_QUERY}"`,
    },
    {
      source: 'brief: a blank QueryString is an error',
      text: 'IncludeRecommendedUpdates=True;QueryString=',
      message: `plugin argument 2 ("QueryString="): expected a Windows Update Agent query, e.g. QueryString="${DEFAULT_WINDOWS_UPDATE_QUERY}"`,
    },
    {
      source: 'brief: unknown names list the accepted ones',
      text: 'HotfixRootFolderPath=x',
      message:
        'plugin argument 1 ("HotfixRootFolderPath=x"): unknown argument for Microsoft.WindowsUpdatePlugin; accepted: IncludeRecommendedUpdates, QueryString',
    },
    {
      source: 'Invoke-CauRun help: IncludeRecommendedUpdates is a Boolean',
      text: 'IncludeRecommendedUpdates=maybe',
      message:
        'plugin argument 1 ("IncludeRecommendedUpdates=maybe"): expected True or False ($true, $false, 1 and 0 are also accepted)',
    },
  ])('$source', ({ text, message }) => {
    expect(pluginError(() => parseWindowsUpdatePluginArguments(text)).message).toBe(message);
  });
});

describe('parsePluginArgumentsFor', () => {
  it.each([
    {
      source: 'seed 003: default plug-in name',
      name: 'Microsoft.WindowsUpdatePlugin',
      plugin: PLUGIN_NAMES.windowsUpdate,
    },
    {
      source: 'brief: plug-in names match case-insensitively',
      name: 'microsoft.windowsupdateplugin',
      plugin: PLUGIN_NAMES.windowsUpdate,
    },
    {
      source: 'seed 003: hotfix plug-in name',
      name: 'Microsoft.HotfixPlugin',
      plugin: PLUGIN_NAMES.hotfix,
    },
    {
      source: 'brief: plug-in names match case-insensitively',
      name: 'MICROSOFT.HOTFIXPLUGIN',
      plugin: PLUGIN_NAMES.hotfix,
    },
  ])('$source: $name', ({ name, plugin }) => {
    const text =
      plugin === PLUGIN_NAMES.hotfix
        ? 'HotfixRootFolderPath=\\\\s\\r'
        : 'QueryString="IsInstalled=0"';
    const result = parsePluginArgumentsFor(name, text);
    expect(result.pluginName).toBe(plugin);
    expect(result.arguments).toEqual(
      plugin === PLUGIN_NAMES.hotfix
        ? parseHotfixPluginArguments(text)
        : parseWindowsUpdatePluginArguments(text),
    );
  });

  it('refuses an unknown plug-in and lists the known ones (seed 003: others must be registered)', () => {
    const error = pluginError(() => parsePluginArgumentsFor('Contoso.FirmwarePlugin', 'A=1'));
    expect(error.message).toBe(
      'plug-in "Contoso.FirmwarePlugin": unknown plug-in; known plug-ins: Microsoft.WindowsUpdatePlugin, Microsoft.HotfixPlugin',
    );
  });

  it('checks the arguments against the plug-in named (brief)', () => {
    expect(() =>
      parsePluginArgumentsFor('Microsoft.WindowsUpdatePlugin', 'DisableAclChecks=True'),
    ).toThrow('unknown argument for Microsoft.WindowsUpdatePlugin');
  });
});

describe('properties', () => {
  const biased = fc.string({ unit: fc.constantFrom(...'=;"\' @{}aA1 '.split('')), maxLength: 40 });
  const texts = fc.oneof(fc.string(), biased, fc.string({ unit: 'binary' }));
  const pluginNames = fc.oneof(fc.constantFrom(...Object.values(PLUGIN_NAMES)), fc.string());

  /** Calls `fn`; passes if it returns or throws a PluginArgumentError, rethrows anything else. */
  const onlyPluginArgumentErrors = (fn: () => unknown): void => {
    try {
      fn();
    } catch (error) {
      if (!(error instanceof PluginArgumentError)) throw error;
    }
  };

  it('parsePluginArguments throws nothing but PluginArgumentError (brief)', () => {
    fc.assert(
      fc.property(texts, (text) => onlyPluginArgumentErrors(() => parsePluginArguments(text))),
      { numRuns: propertyRuns(2000) },
    );
  });

  it('parsePluginArgumentsFor throws nothing but PluginArgumentError (brief)', () => {
    fc.assert(
      fc.property(pluginNames, texts, (name, text) =>
        onlyPluginArgumentErrors(() => parsePluginArgumentsFor(name, text)),
      ),
      { numRuns: propertyRuns(2000) },
    );
  });

  it('the biased generator does reach both outcomes, so the property above is not vacuous', () => {
    const outcomes = new Set<string>();
    fc.assert(
      fc.property(biased, (text) => {
        try {
          parsePluginArguments(text);
          outcomes.add('parsed');
        } catch {
          outcomes.add('error');
        }
      }),
      { numRuns: propertyRuns(500) },
    );
    expect(outcomes).toEqual(new Set(['parsed', 'error']));
  });

  it('reads back any names and values written in the documented syntax (seed 003)', () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,11}$/);
    const entries = fc.uniqueArray(fc.tuple(name, fc.string({ maxLength: 20 })), {
      selector: ([n]) => n.toUpperCase(),
      maxLength: 6,
    });
    const space = fc.constantFrom('', ' ', '  ', '\t');
    fc.assert(
      fc.property(entries, fc.boolean(), space, fc.boolean(), (list, hashtable, ws, trailing) => {
        const body = list
          .map(([n, v], i) =>
            i % 2 === 0
              ? `${ws}${n}${ws}=${ws}"${v.replaceAll('"', '""')}"${ws}`
              : `${n}='${v.replaceAll("'", "''")}'`,
          )
          .join(';');
        const end = trailing && list.length > 0 ? ';' : '';
        const text = hashtable ? `@{${body}${end}}` : `${body}${end}`;
        expect(pairs(text)).toEqual(list);
      }),
      { numRuns: propertyRuns(500) },
    );
  });
});

describe('plug-in arguments: line breaks, spaces and braces (mutation testing, issue 14)', () => {
  it.each([
    ['a line break is whitespace outside @{...}', 'A=\n1', [['A', '1']]],
    [
      'a line break separates pairs in @{...}',
      '@{A=\nB=2}',
      [
        ['A', ''],
        ['B', '2'],
      ],
    ],
    [
      'a lone CR separates pairs in @{...} too',
      '@{A=1\rB=2}',
      [
        ['A', '1'],
        ['B', '2'],
      ],
    ],
    [
      'a quoted value, then a line break, in @{...}',
      '@{A="x"\nB=2}',
      [
        ['A', 'x'],
        ['B', '2'],
      ],
    ],
    ['spaces after the closing "}"', '@{A=1} ', [['A', '1']]],
  ])('%s', (_what, text, pairs) => {
    expect(parsePluginArguments(text).map((a) => [a.name, a.value])).toEqual(pairs);
  });

  it.each([
    [
      'A=1\nB=2',
      'plugin argument 1 ("A=1\\nB=2"): a value with spaces must be quoted: A="..." at character 4',
      4,
    ],
    ['@{Name}', 'plugin argument 1 ("Name"): missing "=" after the name at character 7', 7],
    [
      'A="x"\nB=2',
      'plugin argument 1 ("A=\\"x\\"\\nB=2"): text after the closing quote ("B") at character 7',
      7,
    ],
    [
      '@{A=x{y}',
      'plugin argument 1 ("A=x{y"): "{" inside @{...}; quote the value (each plug-in\'s arguments go in their own @{...}) at character 6',
      6,
    ],
  ])('refuses %j', (text, message, position) => {
    let error: unknown;
    try {
      parsePluginArguments(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PluginArgumentError);
    expect((error as Error).message).toBe(message);
    expect((error as PluginArgumentError).position).toBe(position);
  });
});

describe('plug-in arguments: values read trimmed, names and errors (mutation testing, issue 14)', () => {
  const errorOf = (f: () => unknown): PluginArgumentError => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(PluginArgumentError);
      return e as PluginArgumentError;
    }
    throw new Error('expected a PluginArgumentError');
  };

  it('trims quoted values of booleans, file names, minutes and the query', () => {
    expect(
      parsePluginArgumentsFor(
        ' Microsoft.HotfixPlugin ',
        'HotfixRootFolderPath=r;DisableAclChecks=" True ";HotfixConfigFileName=" My.xml ";HotfixInstallerTimeoutMinutes=" 60 "',
      ),
    ).toEqual({
      pluginName: 'Microsoft.HotfixPlugin',
      arguments: {
        hotfixRootFolderPath: 'r',
        hotfixConfigFileName: 'My.xml',
        hotfixInstallerTimeoutMinutes: 60,
        disableAclChecks: true,
        requireSmbEncryption: false,
      },
    });
    expect(parseWindowsUpdatePluginArguments('QueryString=" IsInstalled=0 "').queryString).toBe(
      'IsInstalled=0',
    );
  });

  it.each([
    ['.', false],
    ['..', false],
    ['a\tb.xml', false],
    [`${'x'.repeat(251)}.xml`, true],
    [`${'x'.repeat(252)}.xml`, false],
  ])('HotfixConfigFileName %j accepted: %s', (name, accepted) => {
    const parse = () =>
      parseHotfixPluginArguments(`HotfixRootFolderPath=r;HotfixConfigFileName="${name}"`);
    if (accepted) expect(parse().hotfixConfigFileName).toBe(name);
    else
      expect(errorOf(parse).message).toContain(
        'expected a plain file name in the hotfix root folder',
      );
  });

  it.each([
    ['an unknown argument', () => parseHotfixPluginArguments('HotfixRootFolderPath=r;Foo=1')],
    [
      'a bad boolean',
      () => parseHotfixPluginArguments('HotfixRootFolderPath=r;DisableAclChecks=maybe'),
    ],
    ['no root folder', () => parseHotfixPluginArguments('DisableAclChecks=1')],
    ['an empty root folder', () => parseHotfixPluginArguments('HotfixRootFolderPath=" "')],
    [
      'a bad config file name',
      () => parseHotfixPluginArguments('HotfixRootFolderPath=r;HotfixConfigFileName=".."'),
    ],
  ])('names Microsoft.HotfixPlugin in the error for %s', (_what, parse) => {
    expect(errorOf(parse).pluginName).toBe('Microsoft.HotfixPlugin');
  });

  it('names Microsoft.WindowsUpdatePlugin for an empty query, and the plug-in asked for when unknown', () => {
    expect(errorOf(() => parseWindowsUpdatePluginArguments('QueryString="  "')).pluginName).toBe(
      'Microsoft.WindowsUpdatePlugin',
    );
    expect(errorOf(() => parsePluginArgumentsFor('Contoso.Plugin', '')).pluginName).toBe(
      'Contoso.Plugin',
    );
    const notText = errorOf(() => parsePluginArgumentsFor(5 as never, ''));
    expect(notText.pluginName).toBeUndefined();
    expect(notText.message).toBe(
      'plug-in 5: unknown plug-in; known plug-ins: Microsoft.WindowsUpdatePlugin, Microsoft.HotfixPlugin',
    );
  });

  it.each([
    [5, 'plugin arguments 5: expected text like Name1=Value1;Name2="Value with Spaces"'],
    [null, 'plugin arguments null: expected text like Name1=Value1;Name2="Value with Spaces"'],
  ])('refuses arguments %j that are not text', (input, message) => {
    expect(errorOf(() => parsePluginArguments(input as never)).message).toBe(message);
  });

  it.each([
    [[null], 'plugin argument null: expected { index, name, value, raw } with text name and value'],
    [
      [{ index: 1, name: 5, value: 'r', raw: '5=r' }],
      'plugin argument {"index":1,"name":5,"value":"r","raw":"5=r"}: expected { index, name, value, raw } with text name and value',
    ],
    [
      [{ index: 1, name: 'X', value: 5, raw: 'X=5' }],
      'plugin argument {"index":1,"name":"X","value":5,"raw":"X=5"}: expected { index, name, value, raw } with text name and value',
    ],
  ])('refuses a hand-built argument list %j', (list, message) => {
    expect(errorOf(() => parseHotfixPluginArguments(list as never)).message).toBe(message);
  });
});
