import { describe, expect, it } from 'vitest';
import { defaultHotfixConfig, defaultHotfixConfigXml } from '../../lambdas/core/default-config.js';
import {
  describeRule,
  findExtensionRule,
  findFolderRule,
  HotfixConfigError,
  HotfixConfigSyntaxError,
  HotfixConfigValidationError,
  parseHotfixConfig,
} from '../../lambdas/core/hotfix-config.js';

/** A configuration in the shape seed 003 shows, with a folder rule that always reboots. */
const SAMPLE = `<?xml version="1.0" encoding="utf-8"?>
<HotfixConfig xmlns="http://schemas.microsoft.com/clusterawareupdating/hotfixconfig">
  <DefaultRules>
    <ExtensionRules>
      <Extension name="MSU">
        <Template path="%systemroot%\\System32\\wusa.exe" parameters="$update$ /quiet /norestart"/>
        <ExitConditions>
          <Success><ExitCode Code="0"/></Success>
          <Success_RebootRequired><ExitCode Code="3010"/></Success_RebootRequired>
          <NotApplicable><ExitCode Code="0x80240017"/></NotApplicable>
        </ExitConditions>
      </Extension>
    </ExtensionRules>
  </DefaultRules>
  <FolderRules>
    <Folder name="FolderRule1" alwaysReboot="true">
      <Template path="$update$" parameters="/q"/>
      <ExitConditions>
        <Success><ExitCode>0</ExitCode></Success>
        <Fail_RebootRequired><ExitCode>1</ExitCode></Fail_RebootRequired>
        <AlreadyInstalled><ExitCode Code="2"/></AlreadyInstalled>
      </ExitConditions>
    </Folder>
  </FolderRules>
</HotfixConfig>`;

/** Wraps one extension rule's inner XML in a complete configuration. */
function withExtension(inner: string, attrs = 'name="MSU"'): string {
  return `<Cfg><DefaultRules><ExtensionRules><Extension ${attrs}>${inner}</Extension></ExtensionRules></DefaultRules></Cfg>`;
}
const TEMPLATE = '<Template path="wusa.exe" parameters="$update$"/>';

function problemsOf(xml: string): string[] {
  try {
    parseHotfixConfig(xml, 'test.xml');
  } catch (error) {
    if (error instanceof HotfixConfigValidationError) {
      return error.problems.map((p) =>
        p.value === undefined
          ? `${p.field}: ${p.message}`
          : `${p.field} = ${String(p.value)}: ${p.message}`,
      );
    }
    throw error;
  }
  throw new Error('expected a validation error');
}

describe('parseHotfixConfig: the documented shape (seed 003)', () => {
  const config = parseHotfixConfig(SAMPLE);

  it('reads extension rules with template and exit conditions', () => {
    const msu = findExtensionRule(config, 'Windows6.1-KB123-x64.MSU');
    expect(msu).toMatchObject({
      kind: 'extension',
      name: 'MSU',
      template: {
        path: '%systemroot%\\System32\\wusa.exe',
        parameters: '$update$ /quiet /norestart',
      },
      alwaysReboot: false,
      exitConditions: {
        Success: [0],
        Success_RebootRequired: [3010],
        Fail_RebootRequired: [],
        AlreadyInstalled: [],
        NotApplicable: [-2145124329],
      },
    });
  });

  it('reads folder rules, alwaysReboot, and both ExitCode forms (DOMAIN.md §2 accepted form)', () => {
    const folder = findFolderRule(config, 'folderrule1');
    expect(folder).toMatchObject({
      kind: 'folder',
      name: 'FolderRule1',
      alwaysReboot: true,
      exitConditions: { Success: [0], Fail_RebootRequired: [1], AlreadyInstalled: [2] },
    });
  });

  it('does not depend on the root element name or namespaces (DOMAIN.md §2)', () => {
    const renamed = SAMPLE.replace(/HotfixConfig/g, 'x:Whatever').replace(
      'xmlns=',
      'xmlns:x="urn:x" xmlns:y=',
    );
    const other = parseHotfixConfig(renamed);
    expect(other.extensionRules.map((r) => r.name)).toEqual(['MSU']);
    expect(other.folderRules.map((r) => r.name)).toEqual(['FolderRule1']);
  });

  it('matches extension names case-insensitively, as Windows paths do', () => {
    expect(findExtensionRule(config, 'a.msu')?.name).toBe('MSU');
    expect(findExtensionRule(config, 'a.MsU')?.name).toBe('MSU');
    expect(findExtensionRule(config, 'a.msi')).toBeUndefined();
    expect(findExtensionRule(config, 'msu')).toBeUndefined();
    expect(findExtensionRule(config, 'a.')).toBeUndefined();
  });

  it('accepts a byte-order mark and comments', () => {
    expect(() =>
      parseHotfixConfig(`\uFEFF<!-- hi -->${SAMPLE.replace(/^<\?xml[^>]*\?>/, '')}`),
    ).not.toThrow();
  });

  it('warns when a template never uses $update$', () => {
    const config = parseHotfixConfig(
      withExtension(
        '<Template path="setup.exe" parameters="/q"/><ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions>',
      ),
    );
    expect(config.warnings).toEqual([
      expect.stringContaining('neither Template path nor parameters uses $update$'),
    ]);
  });
});

describe('our shipped default configuration', () => {
  it('parses without warnings and covers .msu, .msi and .msp (seed 003 default extensions)', () => {
    const config = defaultHotfixConfig();
    expect(config.warnings).toEqual([]);
    expect(config.extensionRules.map((r) => r.name)).toEqual(['MSU', 'MSI', 'MSP']);
    expect(config.folderRules).toEqual([]);
  });

  it('comments every exit code with its source', () => {
    const xml = defaultHotfixConfigXml();
    const codes = [...xml.matchAll(/^\s*<ExitCode Code="[^"]+"\/>/gm)];
    expect(codes.length).toBeGreaterThanOrEqual(9);
    for (const match of codes) {
      const before = xml.slice(0, match.index).trimEnd();
      expect(before.endsWith('-->'), `no source comment before ${match[0].trim()}`).toBe(true);
    }
  });
});

describe('parseHotfixConfig: validation errors name element, attribute and value', () => {
  it.each([
    {
      name: 'missing <Success>',
      xml: withExtension(
        `${TEMPLATE}<ExitConditions><NotApplicable><ExitCode Code="1"/></NotApplicable></ExitConditions>`,
      ),
      expected:
        'Cfg/DefaultRules/ExtensionRules/Extension[1][@name="MSU"]/ExitConditions: has no <Success> element; it is required',
    },
    {
      name: 'a code under two conditions (same code, different forms)',
      xml: withExtension(
        `${TEMPLATE}<ExitConditions><Success><ExitCode Code="0"/><ExitCode Code="3010"/></Success><Success_RebootRequired><ExitCode Code="0xBC2"/></Success_RebootRequired></ExitConditions>`,
      ),
      expected:
        'Cfg/DefaultRules/ExtensionRules/Extension[1][@name="MSU"]/ExitConditions/Success_RebootRequired/ExitCode[1] = 0xBC2: code 3010 is also listed under <Success>; a code may have only one meaning',
    },
    {
      name: 'a non-integer code',
      xml: withExtension(
        `${TEMPLATE}<ExitConditions><Success><ExitCode Code="zero"/></Success></ExitConditions>`,
      ),
      expected:
        'Cfg/DefaultRules/ExtensionRules/Extension[1][@name="MSU"]/ExitConditions/Success/ExitCode[1] = zero: expected an integer exit code (decimal, or hex such as 0x80240017)',
    },
    {
      name: 'a fractional code',
      xml: withExtension(
        `${TEMPLATE}<ExitConditions><Success><ExitCode>1.5</ExitCode></Success></ExitConditions>`,
      ),
      expected:
        'Cfg/DefaultRules/ExtensionRules/Extension[1][@name="MSU"]/ExitConditions/Success/ExitCode[1] = 1.5: expected an integer exit code (decimal, or hex such as 0x80240017)',
    },
    {
      name: 'an unknown element (names are case-sensitive)',
      xml: withExtension(
        `${TEMPLATE}<ExitConditions><Success><ExitCode Code="0"/></Success><success_rebootrequired/></ExitConditions>`,
      ),
      expected:
        'Cfg/DefaultRules/ExtensionRules/Extension[1][@name="MSU"]/ExitConditions/success_rebootrequired: unknown element; expected <Success>, <Success_RebootRequired>, <Fail_RebootRequired>, <AlreadyInstalled>, <NotApplicable> (names are case-sensitive)',
    },
    {
      name: 'an empty template path',
      xml: withExtension(
        '<Template path=" " parameters="$update$"/><ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions>',
      ),
      expected:
        'Cfg/DefaultRules/ExtensionRules/Extension[1][@name="MSU"]/Template@path = : is missing or empty; expected the installer path',
    },
    {
      name: 'a missing template',
      xml: withExtension(
        '<ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions>',
      ),
      expected:
        'Cfg/DefaultRules/ExtensionRules/Extension[1][@name="MSU"]/Template: is missing; each rule needs one <Template>',
    },
    {
      name: 'an unknown attribute (a typo that would otherwise be ignored)',
      xml: withExtension(
        `${TEMPLATE}<ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions>`,
        'name="MSU" alwaysreboot="true"',
      ),
      expected:
        'Cfg/DefaultRules/ExtensionRules/Extension[1]@alwaysreboot = true: unknown attribute; expected name (names are case-sensitive)',
    },
    {
      name: 'an extension written with its dot',
      xml: withExtension(
        `${TEMPLATE}<ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions>`,
        'name=".msu"',
      ),
      expected:
        'Cfg/DefaultRules/ExtensionRules/Extension[1]@name = .msu: expected an extension without the dot, e.g. "MSU"',
    },
    {
      name: 'a code given as text directly in the condition',
      xml: withExtension(`${TEMPLATE}<ExitConditions><Success>0</Success></ExitConditions>`),
      expected:
        'Cfg/DefaultRules/ExtensionRules/Extension[1][@name="MSU"]/ExitConditions/Success = 0: expected <ExitCode Code="..."/> children, not text',
    },
    {
      name: 'a bad alwaysReboot value',
      xml: '<C><FolderRules><Folder name="F" alwaysReboot="yes"><Template path="$update$"/><ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions></Folder></FolderRules></C>',
      expected: 'C/FolderRules/Folder[1][@name="F"]@alwaysReboot = yes: expected true or false',
    },
    {
      name: 'a folder rule name that is not a folder name',
      xml: '<C><FolderRules><Folder name="a\\b"><Template path="$update$"/><ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions></Folder></FolderRules></C>',
      expected:
        'C/FolderRules/Folder[1]@name = a\\b: expected a folder name without \\ / : * ? " < > | or surrounding spaces',
    },
    {
      name: 'no rules at all',
      xml: '<C/>',
      expected:
        'C: has neither <DefaultRules> nor <FolderRules>; a hotfix configuration needs rules',
    },
    {
      name: 'an unknown element at the top',
      xml: '<C><DefaultRule/></C>',
      expected:
        'C/DefaultRule: unknown element; expected <DefaultRules>, <FolderRules> (names are case-sensitive)',
    },
  ])('$name', ({ xml, expected }) => {
    expect(problemsOf(xml)).toContain(expected);
  });

  it('reports duplicate rule names case-insensitively', () => {
    const rule = `${TEMPLATE}<ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions>`;
    const xml = `<C><DefaultRules><ExtensionRules><Extension name="MSU">${rule}</Extension><Extension name="msu">${rule}</Extension></ExtensionRules></DefaultRules></C>`;
    expect(problemsOf(xml)).toEqual([
      'C/DefaultRules/ExtensionRules/Extension@name = msu: is defined twice (names compare case-insensitively)',
    ]);
  });

  it('lists every problem in one error, not just the first', () => {
    const xml = withExtension(
      '<Template path=""/><ExitConditions><Bogus/></ExitConditions>',
      'name="MSU" extra="1"',
    );
    const problems = problemsOf(xml);
    expect(problems).toHaveLength(4);
    const error = (() => {
      try {
        parseHotfixConfig(xml, 'root/DefaultHotfixConfig.xml');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(HotfixConfigError);
    expect(error?.message).toMatch(
      /^root\/DefaultHotfixConfig\.xml: not a valid hotfix configuration \(4 problems\):/,
    );
  });

  it.each([
    { xml: '<C>\n<DefaultRules>\n</C>', line: 3 },
    { xml: '<C>\n<A x="1" x="2"/></C>', line: 2 },
    { xml: 'not xml at all', line: 1 },
    { xml: '<C></C><D></D>', line: 1 },
  ])('malformed XML reports its line ($line)', ({ xml, line }) => {
    try {
      parseHotfixConfig(xml, 'f.xml');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(HotfixConfigSyntaxError);
      expect((error as HotfixConfigSyntaxError).line).toBe(line);
      expect((error as Error).message).toContain(`f.xml: malformed XML at line ${line}`);
    }
  });

  it('refuses a DOCTYPE (entity expansion is never needed)', () => {
    const xml = '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaa">]>\n<C/>';
    expect(() => parseHotfixConfig(xml)).toThrow(/line 2.*DOCTYPE is not allowed/);
  });
});

describe('parseHotfixConfig: every problem a user can meet, with its element path', () => {
  const SUCCESS = '<ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions>';
  const EXT = 'Cfg/DefaultRules/ExtensionRules/Extension[1][@name="MSU"]';
  const folder = (attrs: string, inner = `<Template path="$update$"/>${SUCCESS}`) =>
    `<C><FolderRules><Folder ${attrs}>${inner}</Folder></FolderRules></C>`;
  it.each([
    [
      'an empty rule',
      '<Cfg><DefaultRules><ExtensionRules><Extension/></ExtensionRules></DefaultRules></Cfg>',
      'Cfg/DefaultRules/ExtensionRules/Extension[1]: is empty; it needs a name, a <Template> and <ExitConditions>',
    ],
    [
      'an empty name',
      withExtension(`${TEMPLATE}${SUCCESS}`, 'name=""'),
      'Cfg/DefaultRules/ExtensionRules/Extension[1]@name = : is missing or empty',
    ],
    [
      'no name',
      withExtension(`${TEMPLATE}${SUCCESS}`, ''),
      'Cfg/DefaultRules/ExtensionRules/Extension[1]@name: is missing or empty',
    ],
    [
      'an empty Template',
      withExtension(`<Template/>${SUCCESS}`),
      `${EXT}/Template@path: is missing; expected the installer path, e.g. wusa.exe`,
    ],
    [
      'a Template with a child element',
      withExtension(`<Template path="wusa.exe"><Arg/></Template>${SUCCESS}`),
      `${EXT}/Template/Arg: unknown element; no child elements are allowed here`,
    ],
    [
      'two Templates',
      withExtension(`${TEMPLATE}${TEMPLATE}${SUCCESS}`),
      `${EXT}/Template: appears 2 times; expected once`,
    ],
    [
      'an empty ExitConditions',
      withExtension(`${TEMPLATE}<ExitConditions/>`),
      `${EXT}/ExitConditions: has no <Success> element; it is required`,
    ],
    [
      'an attribute on ExitConditions',
      withExtension(
        `${TEMPLATE}<ExitConditions x="1"><Success><ExitCode Code="0"/></Success></ExitConditions>`,
      ),
      `${EXT}/ExitConditions@x = 1: unknown attribute; no attributes are allowed here`,
    ],
    [
      'a code given both ways',
      withExtension(
        `${TEMPLATE}<ExitConditions><Success><ExitCode Code="0">1</ExitCode></Success></ExitConditions>`,
      ),
      `${EXT}/ExitConditions/Success/ExitCode[1] = 0 / 1: give the code either as Code="..." or as text, not both`,
    ],
    [
      'a blank Code',
      withExtension(
        `${TEMPLATE}<ExitConditions><Success><ExitCode Code=" "/></Success></ExitConditions>`,
      ),
      `${EXT}/ExitConditions/Success/ExitCode[1]@Code = : is missing; expected an integer exit code`,
    ],
    [
      'an ExitCode with neither Code nor text',
      withExtension(
        `${TEMPLATE}<ExitConditions><Success><ExitCode Kode="0"/></Success></ExitConditions>`,
      ),
      `${EXT}/ExitConditions/Success/ExitCode[1]@Code: is missing; expected an integer exit code`,
    ],
    [
      'an unknown attribute on ExitCode',
      withExtension(
        `${TEMPLATE}<ExitConditions><Success><ExitCode Code="0" Kode="1"/></Success></ExitConditions>`,
      ),
      `${EXT}/ExitConditions/Success/ExitCode[1]@Kode = 1: unknown attribute; expected Code (names are case-sensitive)`,
    ],
    [
      'two Success lists',
      withExtension(
        `${TEMPLATE}<ExitConditions><Success><ExitCode Code="0"/></Success><Success><ExitCode Code="1"/></Success></ExitConditions>`,
      ),
      `${EXT}/ExitConditions/Success: appears 2 times; expected once`,
    ],
    [
      'DefaultRules twice',
      `<Cfg><DefaultRules/><DefaultRules/><FolderRules/></Cfg>`,
      'Cfg/DefaultRules: appears 2 times; expected once',
    ],
    [
      'text in DefaultRules',
      '<Cfg><DefaultRules>MSU</DefaultRules></Cfg>',
      'Cfg/DefaultRules = MSU: unexpected text; expected only child elements',
    ],
    [
      'text beside the rules',
      '<Cfg>rules<FolderRules/></Cfg>',
      'Cfg = rules: unexpected text; expected only child elements',
    ],
    [
      'an attribute on FolderRules',
      '<Cfg><FolderRules order="1"/></Cfg>',
      'Cfg/FolderRules@order = 1: unknown attribute; no attributes are allowed here',
    ],
    [
      'an unknown attribute on a Folder',
      folder('name="F" reboot="true"'),
      'C/FolderRules/Folder[1]@reboot = true: unknown attribute; expected name, alwaysReboot (names are case-sensitive)',
    ],
  ])('%s', (_what, xml, expected) => {
    expect(problemsOf(xml)).toContain(expected);
  });

  it.each([
    ['true', true],
    ['1', true],
    [' false ', false],
    ['0', false],
  ])('alwaysReboot="%s" is %s', (text, always) => {
    const config = parseHotfixConfig(folder(`name="F" alwaysReboot="${text}"`));
    expect(config.folderRules[0]?.alwaysReboot).toBe(always);
  });

  it('keeps a code listed twice under one condition once; trims the template', () => {
    const config = parseHotfixConfig(
      withExtension(
        '<Template path=" wusa.exe "/><ExitConditions><Success><ExitCode Code="0"/><ExitCode>0x0</ExitCode></Success></ExitConditions>',
      ),
    );
    expect(config.extensionRules[0]).toMatchObject({
      template: { path: 'wusa.exe', parameters: '' },
      exitConditions: { Success: [0] },
    });
    expect(config.warnings).toEqual([
      'extension rule "MSU": neither Template path nor parameters uses $update$, so the installer is not told which file to install',
    ]);
  });

  it('reads a folder name without the spaces around it (attribute values are trimmed)', () => {
    expect(parseHotfixConfig(folder('name=" F "')).folderRules.map((r) => r.name)).toEqual(['F']);
  });

  it('an empty FolderRules beside rules is no rule, and no problem', () => {
    const config = parseHotfixConfig(
      withExtension(`${TEMPLATE}${SUCCESS}`).replace('</Cfg>', '<FolderRules/></Cfg>'),
    );
    expect(config.folderRules).toEqual([]);
    expect(config.extensionRules.map((r) => r.name)).toEqual(['MSU']);
  });
});

describe('parseHotfixConfig: the rest of the shape (mutation testing, issue 14)', () => {
  const SUCCESS = '<ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions>';
  const EXT = 'Cfg/DefaultRules/ExtensionRules/Extension[1][@name="MSU"]';
  const rule = (name: string, inner = `${TEMPLATE}${SUCCESS}`) =>
    `<Extension name="${name}">${inner}</Extension>`;
  const extensions = (...rules: string[]) =>
    `<Cfg><DefaultRules><ExtensionRules>${rules.join('')}</ExtensionRules></DefaultRules></Cfg>`;

  it.each([
    [
      'an attribute on DefaultRules',
      '<Cfg><DefaultRules x="1"><ExtensionRules/></DefaultRules></Cfg>',
      'Cfg/DefaultRules@x = 1: unknown attribute; no attributes are allowed here',
    ],
    [
      'an attribute on ExtensionRules',
      `<Cfg><DefaultRules><ExtensionRules x="1">${rule('MSU')}</ExtensionRules></DefaultRules></Cfg>`,
      'Cfg/DefaultRules/ExtensionRules@x = 1: unknown attribute; no attributes are allowed here',
    ],
    [
      'an unknown element in ExtensionRules',
      `<Cfg><DefaultRules><ExtensionRules><Ext/>${rule('MSU')}</ExtensionRules></DefaultRules></Cfg>`,
      'Cfg/DefaultRules/ExtensionRules/Ext: unknown element; expected <Extension> (names are case-sensitive)',
    ],
    [
      'an extension name with a dot inside',
      extensions(rule('MS.U')),
      'Cfg/DefaultRules/ExtensionRules/Extension[1]@name = MS.U: expected an extension without the dot, e.g. "MSU"',
    ],
    [
      'an unknown attribute on Template',
      withExtension(`<Template path="wusa.exe" args="/q"/>${SUCCESS}`),
      `${EXT}/Template@args = /q: unknown attribute; expected path, parameters (names are case-sensitive)`,
    ],
    [
      'no ExitConditions',
      withExtension(TEMPLATE),
      `${EXT}/ExitConditions: is missing; each rule needs one <ExitConditions>`,
    ],
    [
      'an attribute on a condition',
      withExtension(
        `${TEMPLATE}<ExitConditions><Success x="1"><ExitCode Code="0"/></Success></ExitConditions>`,
      ),
      `${EXT}/ExitConditions/Success@x = 1: unknown attribute; no attributes are allowed here`,
    ],
    [
      'an element inside an ExitCode',
      withExtension(
        `${TEMPLATE}<ExitConditions><Success><ExitCode Code="0"><Hex/></ExitCode></Success></ExitConditions>`,
      ),
      `${EXT}/ExitConditions/Success/ExitCode[1]/Hex: unknown element; no child elements are allowed here`,
    ],
    [
      'duplicate folder rules, case-insensitively',
      `<C><FolderRules>${['Drivers', 'drivers'].map((n) => `<Folder name="${n}"><Template path="$update$"/>${SUCCESS}</Folder>`).join('')}</FolderRules></C>`,
      'C/FolderRules/Folder@name = drivers: is defined twice (names compare case-insensitively)',
    ],
  ])('%s', (_what, xml, expected) => {
    expect(problemsOf(xml)).toContain(expected);
  });

  it.each([
    ['an empty rule', '<Extension/>'],
    ['a bad name', rule('.msu')],
    ['an empty name', rule('')],
    [
      'a folder name with a forbidden character',
      '<Folder name="a*b"><Template path="$update$"/><ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions></Folder>',
    ],
    [
      'a bad alwaysReboot',
      '<Folder name="F" alwaysReboot="yes"><Template path="$update$"/><ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions></Folder>',
    ],
    [
      'text for codes',
      rule('MSU', `${TEMPLATE}<ExitConditions><Success>0</Success></ExitConditions>`),
    ],
    [
      'a code given both ways',
      rule(
        'MSU',
        `${TEMPLATE}<ExitConditions><Success><ExitCode Code="0">0</ExitCode></Success></ExitConditions>`,
      ),
    ],
    [
      'a code that is no number',
      rule(
        'MSU',
        `${TEMPLATE}<ExitConditions><Success><ExitCode Code="x"/></Success></ExitConditions>`,
      ),
    ],
    [
      'a code with two meanings',
      rule(
        'MSU',
        `${TEMPLATE}<ExitConditions><Success><ExitCode Code="0"/></Success><NotApplicable><ExitCode Code="0"/></NotApplicable></ExitConditions>`,
      ),
    ],
    [
      'no Success',
      rule(
        'MSU',
        `${TEMPLATE}<ExitConditions><NotApplicable><ExitCode Code="1"/></NotApplicable></ExitConditions>`,
      ),
    ],
  ])(
    'a broken rule (%s) is reported once, each time it is written, and never kept',
    (_what, broken) => {
      const twice = broken.startsWith('<Folder')
        ? `<C><FolderRules>${broken}${broken}</FolderRules></C>`
        : extensions(broken, broken);
      const problems = problemsOf(twice);
      expect(problems).toHaveLength(2);
      expect(problems.join('\n')).not.toContain('is defined twice');
    },
  );

  it('a code given both ways is one problem, with both values', () => {
    expect(
      problemsOf(
        withExtension(
          `${TEMPLATE}<ExitConditions><Success><ExitCode Code="0">1</ExitCode></Success></ExitConditions>`,
        ),
      ),
    ).toEqual([
      `${EXT}/ExitConditions/Success/ExitCode[1] = 0 / 1: give the code either as Code="..." or as text, not both`,
    ]);
  });

  it('a code given as text beside an unknown attribute is one problem: the attribute', () => {
    expect(
      problemsOf(
        withExtension(
          `${TEMPLATE}<ExitConditions><Success><ExitCode x="1">0</ExitCode></Success></ExitConditions>`,
        ),
      ),
    ).toEqual([
      `${EXT}/ExitConditions/Success/ExitCode[1]@x = 1: unknown attribute; expected Code (names are case-sensitive)`,
    ]);
  });

  it('text beside the rules is one problem, not also an unknown element', () => {
    expect(problemsOf('<Cfg>rules<FolderRules/></Cfg>')).toEqual([
      'Cfg = rules: unexpected text; expected only child elements',
    ]);
  });

  it.each([
    ['an empty DefaultRules', '<Cfg><DefaultRules/></Cfg>'],
    ['empty rule lists', '<Cfg><DefaultRules><ExtensionRules/></DefaultRules><FolderRules/></Cfg>'],
  ])('%s has no rule: refused, as no rules at all are', (_what, xml) => {
    expect(problemsOf(xml)).toEqual([
      'Cfg: has no <Extension> or <Folder> rule; a hotfix configuration needs rules',
    ]);
  });

  it('keeps Straße and STRASSE apart: Windows folder names compare one character at a time', () => {
    const folders = ['Straße', 'STRASSE']
      .map((n) => `<Folder name="${n}"><Template path="$update$"/>${SUCCESS}</Folder>`)
      .join('');
    const config = parseHotfixConfig(`<C><FolderRules>${folders}</FolderRules></C>`);
    expect(config.folderRules.map((r) => r.name)).toEqual(['Straße', 'STRASSE']);
  });

  it('reads elements under any namespace prefix', () => {
    const xml = `<h:C xmlns:h="urn:h"><h:DefaultRules><h:ExtensionRules><h:Extension name="MSU"><h:Template path="wusa.exe" parameters="$update$"/><h:ExitConditions><h:Success><h:ExitCode Code="0"/></h:Success></h:ExitConditions></h:Extension></h:ExtensionRules></h:DefaultRules></h:C>`;
    expect(parseHotfixConfig(xml).extensionRules.map((r) => r.name)).toEqual(['MSU']);
  });

  it('drops only a leading byte-order mark; one inside a value stays', () => {
    const config = parseHotfixConfig(
      `\uFEFF${withExtension(`<Template path="wusa.exe" parameters="$update$ \uFEFF/q"/>${SUCCESS}`)}`,
    );
    expect(config.extensionRules[0]?.template.parameters).toBe('$update$ \uFEFF/q');
  });

  it.each([
    ['', 'hotfix configuration: malformed XML at line 1, column 1: '],
    [
      '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaa">]>\n<C/>',
      'hotfix configuration: malformed XML at line 2, column 1: a DOCTYPE is not allowed',
    ],
  ])(
    'names the file (by default "hotfix configuration"), the line and the column: %j',
    (xml, message) => {
      expect(() => parseHotfixConfig(xml)).toThrow(HotfixConfigSyntaxError);
      expect(() => parseHotfixConfig(xml)).toThrow(message);
    },
  );

  it('names a file without a source as "hotfix configuration" in a validation error too', () => {
    expect(() => parseHotfixConfig('<C/>')).toThrow(
      /^hotfix configuration: not a valid hotfix configuration \(1 problem\):/,
    );
  });

  it('finds no extension rule for a name that is only an extension, and describes rules', () => {
    const config = parseHotfixConfig(SAMPLE);
    expect(findExtensionRule(config, '.msu')).toBeUndefined();
    expect(findExtensionRule(config, 'KB1.msu')?.name).toBe('MSU');
    expect(describeRule({ kind: 'extension', name: 'MSU' })).toBe('extension MSU');
    expect(describeRule({ kind: 'folder', name: 'FolderRule1' })).toBe('folder FolderRule1');
  });
});
