import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DOCUMENTS,
  type DocumentKey,
  type DrainPayload,
  type InstallHotfixesPayload,
  type InstallResultLine,
  type InventoryPayload,
  type InventoryResult,
  PAYLOAD_ALLOWED_PATTERN,
  PAYLOAD_FIELDS,
  type RemovalResultLine,
  type RemoveUpdatesPayload,
  type RestartPayload,
  type ResumePayload,
  type ScanUpdatesPayload,
  type ScriptPayload,
  type WindowsUpdatePayload,
  type WindowsUpdateResultLine,
} from '../../lambdas/core/contracts.js';
import { DEFAULT_UPDATE_ROOT, substituteUpdate } from '../../lambdas/core/hotfix-plan.js';
import type { StageUpdatesPayload } from '../../lambdas/core/staging.js';
import {
  contractLine,
  DOCUMENT_SPECS,
  PRELUDE_SCRIPT,
  renderDocumentScript,
  SCRIPTS_DIRECTORY,
  shippedLines,
  UPDATE_SELECTION_SCRIPT,
  WindowsDocuments,
} from '../../lib/windows-documents.js';

const KEYS = Object.keys(DOCUMENTS) as DocumentKey[];
const PREFIX = 'WindowsRollout';
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

function synth(props: ConstructorParameters<typeof WindowsDocuments>[2]) {
  const app = new App();
  const stack = new Stack(app, 'DocumentsTest', { env: { account: ACCOUNT, region: REGION } });
  const construct = new WindowsDocuments(stack, 'Documents', props);
  return { stack, construct, template: Template.fromStack(stack) };
}

const { stack, construct, template } = synth({ namePrefix: PREFIX, tags: { Project: 'rollout' } });

interface RenderedDocument {
  readonly Name: string;
  readonly DocumentType: string;
  readonly Content: {
    schemaVersion: string;
    description: string;
    parameters: Record<string, Record<string, unknown>>;
    mainSteps: {
      action: string;
      name: string;
      precondition: unknown;
      inputs: { timeoutSeconds: string; runCommand: string[] };
    }[];
  };
}

/** The synthesized properties of one document, found by its deployed name. */
function rendered(key: DocumentKey): RenderedDocument {
  const name = `${PREFIX}-${DOCUMENTS[key]}`;
  const found = Object.values(template.findResources('AWS::SSM::Document')).filter(
    (resource) => resource.Properties.Name === name,
  );
  expect(found, `one document named ${name}`).toHaveLength(1);
  return found[0]?.Properties as RenderedDocument;
}

/** The script of one document as it ships, one string. */
const shippedScript = (key: DocumentKey) =>
  rendered(key).Content.mainSteps[0]?.inputs.runCommand.join('\n') ?? '';

/** A resolved ARN as text, with the partition CloudFormation would put in. */
function arnText(value: string): string {
  const resolved: unknown = stack.resolve(value);
  if (typeof resolved === 'string') return resolved;
  const join = (resolved as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return join[1]
    .map((part) =>
      typeof part === 'string'
        ? part
        : (part as { Ref?: string }).Ref === 'AWS::Partition'
          ? 'aws'
          : '?',
    )
    .join(join[0]);
}

const globToRegExp = (glob: string) =>
  new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);

// ---------------------------------------------------------------------------------------------
// A small PowerShell tokenizer: enough to find comments, strings and brackets.

interface Scan {
  /** The source with comments blanked out (strings kept), same length and lines. */
  readonly code: string;
  /** Unbalanced brackets and unterminated strings or comments, with their lines. */
  readonly problems: string[];
}

const CLOSERS: Record<string, string> = { ')': '(', '}': '{', ']': '[' };

/**
 * Scans PowerShell: single-quoted strings ('' escapes a quote), double-quoted strings (backtick
 * escapes, "" escapes a quote, $( ... ) subexpressions scanned as code, ${name} variables),
 * here-strings @'...'@ and @"..."@ (closing at the start of a line), # line comments and <# #>
 * block comments. Checks that (), {} and [] balance outside strings and comments.
 */
function scanPowerShell(source: string): Scan {
  const out = source.split('');
  const problems: string[] = [];
  const lineAt = (pos: number) => source.slice(0, pos).split('\n').length;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to && k < out.length; k++) if (out[k] !== '\n') out[k] = ' ';
  };

  const skipSingle = (start: number): number => {
    let j = start + 1;
    while (j < source.length) {
      if (source[j] === "'") {
        if (source[j + 1] === "'") {
          j += 2;
          continue;
        }
        return j + 1;
      }
      j++;
    }
    problems.push(`unterminated '...' string from line ${lineAt(start)}`);
    return source.length;
  };
  const skipBracedVariable = (start: number): number => {
    const end = source.indexOf('}', start);
    if (end === -1) {
      problems.push(`unterminated \${...} variable from line ${lineAt(start)}`);
      return source.length;
    }
    return end + 1;
  };
  const skipDouble = (start: number): number => {
    let j = start + 1;
    while (j < source.length) {
      const c = source[j];
      if (c === '`') j += 2;
      else if (c === '"') {
        if (source[j + 1] === '"') j += 2;
        else return j + 1;
      } else if (c === '$' && source[j + 1] === '(') j = scanCode(j + 2, ')');
      else if (c === '$' && source[j + 1] === '{') j = skipBracedVariable(j + 1);
      else j++;
    }
    problems.push(`unterminated "..." string from line ${lineAt(start)}`);
    return source.length;
  };
  const skipHereString = (start: number, quote: string): number => {
    const end = source.indexOf(`\n${quote}@`, start + 2);
    if (end === -1) {
      problems.push(`unterminated here-string from line ${lineAt(start)}`);
      return source.length;
    }
    return end + 3;
  };
  const startsComment = (j: number) => j === 0 || /[\s;(){}|&,=]/.test(source[j - 1] ?? '');

  /** Scans code from `start`; with a closer, returns just past the closer that ends it. */
  function scanCode(start: number, closer?: string): number {
    const open: { ch: string; at: number }[] = [];
    let j = start;
    while (j < source.length) {
      const c = source[j] as string;
      const next = source[j + 1];
      if (c === '`') j += 2;
      else if (c === '<' && next === '#') {
        const end = source.indexOf('#>', j + 2);
        const stop = end === -1 ? source.length : end + 2;
        if (end === -1) problems.push(`unterminated <# comment from line ${lineAt(j)}`);
        blank(j, stop);
        j = stop;
      } else if (c === '#' && startsComment(j)) {
        const end = source.indexOf('\n', j);
        const stop = end === -1 ? source.length : end;
        blank(j, stop);
        j = stop;
      } else if (
        c === '@' &&
        (next === "'" || next === '"') &&
        /^[ \t]*\r?\n/.test(source.slice(j + 2))
      ) {
        j = skipHereString(j, next);
      } else if (c === "'") j = skipSingle(j);
      else if (c === '"') j = skipDouble(j);
      else if (c === '$' && next === '{') j = skipBracedVariable(j + 1);
      else if (c === '(' || c === '{' || c === '[') {
        open.push({ ch: c, at: j });
        j++;
      } else if (c in CLOSERS) {
        if (open.length === 0 && c === closer) return j + 1;
        const top = open.pop();
        if (top?.ch !== CLOSERS[c]) {
          problems.push(
            `"${c}" on line ${lineAt(j)} closes ${top ? `"${top.ch}" from line ${lineAt(top.at)}` : 'nothing'}`,
          );
        }
        j++;
      } else j++;
    }
    for (const unclosed of open)
      problems.push(`"${unclosed.ch}" on line ${lineAt(unclosed.at)} is never closed`);
    if (closer)
      problems.push(`"${closer}" expected before the end (opened before ${lineAt(start)})`);
    return source.length;
  }

  scanCode(0);
  return { code: out.join(''), problems };
}

describe('scanPowerShell (the structural check used below)', () => {
  it.each([
    ["'{' + \"}\" + '('", 'brackets inside strings'],
    ['$a = "x $( "}" + (1) ) y"', 'a subexpression holding a string with a brace'],
    ["$b = 'it''s {'", "a doubled quote in a '...' string"],
    ['$c = "a `" {"', 'a backtick-escaped quote'],
    ['# } ) ]\n$d = 1', 'a line comment'],
    ['<# { ( [\n #>\n$e = @{ f = 1 }', 'a block comment'],
    ["$g = @'\n} ) '@ not the end\n'@\n$h = 1", 'a here-string'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: PowerShell's ${name}, not a template
    ['$i = "${env:PATH} {"', 'a braced variable in a string'],
    ['Write-Output a#b', 'a # inside a word is not a comment'],
  ])('balanced: %s (%s)', (source) => {
    expect(scanPowerShell(source).problems).toEqual([]);
  });

  it.each([
    ['if ($a) { $b = 1', 'an unclosed brace'],
    ['$a = (1 + 2]', 'a mismatched closer'],
    ["$a = 'open", "an unterminated '...' string"],
    ['$a = "x $( 1 "', 'an unclosed subexpression'],
    ["$a = @'\nno end", 'an unterminated here-string'],
    ['<# never closed', 'an unterminated block comment'],
  ])('unbalanced: %s (%s)', (source) => {
    expect(scanPowerShell(source).problems).not.toEqual([]);
  });

  it('blanks comments out of the code but keeps strings', () => {
    const { code } = scanPowerShell("# Invoke-Expression\n$a = 'kept' <# gone #>");
    expect(code).not.toContain('Invoke-Expression');
    expect(code).not.toContain('gone');
    expect(code).toContain("'kept'");
    expect(code.split('\n')).toHaveLength(2);
  });
});

// ---------------------------------------------------------------------------------------------

describe('WindowsDocuments: the documents', () => {
  it('creates the ten documents of DOCUMENTS, and nothing else', () => {
    template.resourceCountIs('AWS::SSM::Document', KEYS.length);
    expect(KEYS).toHaveLength(10);
    expect(Object.keys(template.toJSON().Resources)).toHaveLength(KEYS.length);
  });

  it.each(KEYS)('%s: Command, schema 2.2, Windows only, one Payload parameter', (key) => {
    template.hasResourceProperties('AWS::SSM::Document', {
      Name: `${PREFIX}-${DOCUMENTS[key]}`,
      DocumentType: 'Command',
      DocumentFormat: 'JSON',
      UpdateMethod: 'NewVersion',
      Tags: [{ Key: 'Project', Value: 'rollout' }],
      Content: {
        schemaVersion: '2.2',
        description: Match.stringLikeRegexp('ROLLOUT-RESULT'),
        parameters: {
          Payload: {
            type: 'String',
            description: Match.stringLikeRegexp('SSM_Payload'),
            allowedPattern: PAYLOAD_ALLOWED_PATTERN,
            interpolationType: 'ENV_VAR',
          },
        },
        mainSteps: [
          {
            action: 'aws:runPowerShellScript',
            name: DOCUMENTS[key],
            precondition: { StringEquals: ['platformType', 'Windows'] },
            inputs: {
              timeoutSeconds: String(DOCUMENT_SPECS[key].timeoutSeconds),
              runCommand: Match.anyValue(),
            },
          },
        ],
      },
    });
    const content = rendered(key).Content;
    expect(Object.keys(content.parameters)).toEqual(['Payload']);
    expect(Object.keys(content.parameters.Payload ?? {}).sort()).toEqual(
      ['allowedPattern', 'description', 'interpolationType', 'type'].sort(),
    );
    expect(content.mainSteps).toHaveLength(1);
  });

  it.each(KEYS)('%s: a valid SSM name with the prefix, under the 64 KB content limit', (key) => {
    const document = rendered(key);
    expect(document.Name).toBe(`${PREFIX}-${DOCUMENTS[key]}`);
    expect(document.Name).toMatch(/^[a-zA-Z0-9_.-]{3,128}$/);
    expect(Buffer.byteLength(JSON.stringify(document.Content), 'utf8')).toBeLessThan(64 * 1024);
  });

  it.each(KEYS)('%s: a step timeout within what SSM Agent accepts (up to 48 hours)', (key) => {
    const seconds = Number(rendered(key).Content.mainSteps[0]?.inputs.timeoutSeconds);
    expect(Number.isInteger(seconds)).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(300);
    expect(seconds).toBeLessThanOrEqual(172_800);
  });

  it('gives installs room for many updates and the drain its longest payload timeout', () => {
    // Each installer may take up to HotfixInstallerTimeoutMinutes (at most 1440 minutes).
    expect(DOCUMENT_SPECS.installHotfixes.timeoutSeconds).toBeGreaterThanOrEqual(24 * 3600);
    expect(DOCUMENT_SPECS.windowsUpdate.timeoutSeconds).toBeGreaterThanOrEqual(24 * 3600);
    expect(DOCUMENT_SPECS.drain.timeoutSeconds).toBeGreaterThan(1440 * 60);
    // The Verify inventory's Windows Update search (issue 13 item 6) gets more than 15 minutes,
    // and ends before the node workflow's default 30-minute wait for a command.
    expect(DOCUMENT_SPECS.inventory.timeoutSeconds).toBeGreaterThan(900);
    expect(DOCUMENT_SPECS.inventory.timeoutSeconds).toBeLessThan(30 * 60);
  });

  it('ships scripts without whole-line comments, which is safe only with no here-string, block comment or #requires', () => {
    for (const file of readdirSync(SCRIPTS_DIRECTORY).filter((f) => f.endsWith('.ps1'))) {
      const text = readFileSync(join(SCRIPTS_DIRECTORY, file), 'utf8');
      expect(text, file).not.toMatch(/@['"]\s*$|^['"]@|<#|#>|^\s*#requires/im);
    }
    expect(shippedLines('a\n  # note\n#x\nb # tail\n\nc\n')).toEqual(['a', 'b # tail', '', 'c']);
    for (const key of KEYS) {
      expect(shippedScript(key)).not.toMatch(/^\s*#(?! --- )/m);
    }
  });

  it('inlines the prelude: the shipped script is _common.ps1 then the document script', () => {
    for (const key of KEYS) {
      const commands = rendered(key).Content.mainSteps[0]?.inputs.runCommand ?? [];
      // One element, the whole script (lib/windows-documents.ts: the template's size).
      expect(commands).toHaveLength(1);
      const lines = commands.join('\n').split('\n');
      const prelude = shippedLines(
        readFileSync(join(SCRIPTS_DIRECTORY, PRELUDE_SCRIPT), 'utf8'),
      ).join('\n');
      const own = shippedLines(
        readFileSync(join(SCRIPTS_DIRECTORY, DOCUMENT_SPECS[key].script), 'utf8'),
      ).join('\n');
      const text = lines.join('\n');
      expect(lines[0]).toBe(contractLine());
      expect(text.startsWith(`${contractLine()}\n${prelude}`)).toBe(true);
      expect(text.endsWith(own)).toBe(true);
      expect(text).not.toMatch(/\.\s+\S*_common\.ps1|PSScriptRoot/);
    }
  });
});

describe('WindowsDocuments: names and ARNs for IAM', () => {
  it('exposes deterministic names', () => {
    for (const key of KEYS)
      expect(construct.documentNames[key]).toBe(`${PREFIX}-${DOCUMENTS[key]}`);
    expect(construct.documentNames.inventory).toBe('WindowsRollout-Inventory');
    expect(Object.keys(construct.documents).sort()).toEqual([...KEYS].sort());
  });

  it('gives each ARN, and a pattern that covers them all and nothing of another prefix', () => {
    const pattern = arnText(construct.allDocumentsArnPattern);
    expect(pattern).toBe(`arn:aws:ssm:${REGION}:${ACCOUNT}:document/${PREFIX}-*`);
    for (const key of KEYS) {
      const arn = arnText(construct.arnFor(key));
      expect(arn).toBe(`arn:aws:ssm:${REGION}:${ACCOUNT}:document/${PREFIX}-${DOCUMENTS[key]}`);
      expect(arn).toBe(arnText(construct.documentArns[key]));
      expect(arn).toMatch(globToRegExp(pattern));
    }
    expect(`arn:aws:ssm:${REGION}:${ACCOUNT}:document/AWS-RunPowerShellScript`).not.toMatch(
      globToRegExp(pattern),
    );
  });

  it('uses the prefix it is given', () => {
    const other = synth({ namePrefix: 'Blue.Team_2' });
    other.template.hasResourceProperties('AWS::SSM::Document', { Name: 'Blue.Team_2-RestartNode' });
    expect(other.construct.documentNames.windowsUpdate).toBe('Blue.Team_2-InstallWindowsUpdates');
  });

  it('rejects bad props with every problem in one error', () => {
    expect(() => synth({ namePrefix: 'aws bad', tags: { '': 'x' } })).toThrowError(
      /namePrefix \("aws bad"\): expected 1 to \d+ of A-Z[\s\S]*namePrefix \("aws bad"\): SSM reserves[\s\S]*tags\./,
    );
    expect(() => synth({ namePrefix: '' })).toThrowError(/namePrefix/);
    expect(() => synth({ namePrefix: 'x'.repeat(120) })).toThrowError(/at most 128/);
    expect(() => synth({ namePrefix: 'Amazon-Rollout' })).toThrowError(/reserves/);
  });
});

// ---------------------------------------------------------------------------------------------
// Injection: no byte of a payload can become script text.

/** Hostile file names: each would run code if pasted into PowerShell or cmd. */
const HOSTILE_FILES = [
  "x'; Remove-Item C:\\ -Recurse #.msu",
  '$(calc).msu',
  'a"; calc; ".msu',
] as const;

function hostileInstallPayload(): InstallHotfixesPayload {
  return {
    bucket: 'rollout-hotfix-root',
    timeoutMinutes: 30,
    updates: HOSTILE_FILES.map((name, index) => {
      const localPath = `${DEFAULT_UPDATE_ROOT}\\CAUHotfix_All\\${name}`;
      return {
        index,
        file: `CAUHotfix_All/${name}`,
        key: `hotfixes/CAUHotfix_All/${name}`,
        sha256: 'ab'.repeat(32),
        localPath,
        path: '%systemroot%\\System32\\wusa.exe',
        parameters: substituteUpdate('"$update$" /quiet /norestart', localPath),
      };
    }),
  };
}

/** As the send-command Lambda encodes it. */
const encodePayload = (payload: unknown) =>
  Buffer.from(JSON.stringify(payload), 'utf8').toString('base64');

/** What SSM does with a document's text: every {{ name }} becomes that parameter's value. */
const interpolate = (text: string, parameters: Record<string, string>) =>
  text.replace(/\{\{\s*([A-Za-z0-9_.:/-]+)\s*\}\}/g, (whole, name: string) =>
    name in parameters ? (parameters[name] as string) : whole,
  );

describe('WindowsDocuments: injection', () => {
  const payload = hostileInstallPayload();
  const encoded = encodePayload({ ...payload, deadline: '2026-01-31T23:59:00.000Z' });

  it('the payload of hostile file names is plain base64, accepted by allowedPattern', () => {
    expect(payload.updates.map((u) => u.parameters)).toContain(
      `"%ProgramData%\\WindowsRollout\\Hotfixes\\CAUHotfix_All\\${HOSTILE_FILES[0]}" /quiet /norestart`,
    );
    expect(encoded).toMatch(new RegExp(PAYLOAD_ALLOWED_PATTERN));
    expect(encoded).not.toMatch(/[\s'"$;`{}()]/);
  });

  it.each([
    ['raw JSON', JSON.stringify({ script: 'C:\\x.ps1' })],
    ['a quote', "abc'"],
    ['a subexpression', '$(calc)'],
    ['a parameter reference', '{{ Payload }}'],
    ['a line break', 'YWJj\nZGVm'],
    ['a space', 'YWJj ZGVm'],
    ['padding in the middle', 'YQ==YQ=='],
  ])('allowedPattern refuses %s', (_what, value) => {
    expect(value).not.toMatch(new RegExp(PAYLOAD_ALLOWED_PATTERN));
  });

  it.each(KEYS)('%s: the shipped script has no {{ at all, in the script or anywhere', (key) => {
    expect(shippedScript(key)).not.toContain('{{');
    expect(JSON.stringify(rendered(key).Content)).not.toContain('{{');
  });

  it('synth refuses a script holding {{ or a non-ASCII character', () => {
    const directory = mkdtempSync(join(tmpdir(), 'windows-documents-guard-'));
    try {
      for (const file of readdirSync(SCRIPTS_DIRECTORY)) {
        writeFileSync(join(directory, file), readFileSync(join(SCRIPTS_DIRECTORY, file)));
      }
      expect(renderDocumentScript('inventory', directory).length).toBeGreaterThan(10);
      const inventory = join(directory, DOCUMENT_SPECS.inventory.script);
      const original = readFileSync(inventory, 'utf8');
      writeFileSync(inventory, `${original}\n$x = '{{ Payload }}'\n`);
      expect(() => renderDocumentScript('inventory', directory)).toThrowError(/holds "\{\{"/);
      writeFileSync(inventory, `${original}\n$note = 'Mise \u00e0 jour'\n`);
      expect(() => renderDocumentScript('inventory', directory)).toThrowError(/printable ASCII/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it.each(KEYS)('%s: SSM substitution leaves the script unchanged', (key) => {
    const script = shippedScript(key);
    const substituted = interpolate(script, { Payload: encoded });
    expect(substituted).toBe(script);
    expect(substituted).not.toContain(encoded);
    for (const name of HOSTILE_FILES) expect(substituted).not.toContain(name);
    // The check would see a reference if there were one.
    expect(interpolate(`${script}\n{{ Payload }}`, { Payload: encoded })).toContain(encoded);
  });

  it('the payload reaches the script intact: SSM_Payload decodes to the same object', () => {
    // The agent sets SSM_Payload to the parameter value; the prelude base64-decodes it, reads it
    // as strict UTF-8 and parses the JSON.
    const environment = { SSM_Payload: encoded };
    const bytes = Buffer.from(environment.SSM_Payload, 'base64');
    expect(bytes.toString('base64')).toBe(encoded);
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    expect(JSON.parse(text)).toEqual({ ...payload, deadline: '2026-01-31T23:59:00.000Z' });
    const names = (JSON.parse(text) as InstallHotfixesPayload).updates.map((u) => u.file);
    expect(names).toEqual(HOSTILE_FILES.map((name) => `CAUHotfix_All/${name}`));
  });

  it('non-ASCII file names survive the round trip too', () => {
    const local = {
      ...payload,
      bucket: 'b',
      updates: [{ ...payload.updates[0], file: 'Mise à jour—KB1.msu' }],
    };
    const text = new TextDecoder('utf-8', { fatal: true }).decode(
      Buffer.from(encodePayload(local), 'base64'),
    );
    expect(JSON.parse(text)).toEqual(local);
  });
});

// ---------------------------------------------------------------------------------------------
// Lint of the PowerShell sources.

const SOURCES = readdirSync(SCRIPTS_DIRECTORY)
  .filter((file) => file.endsWith('.ps1'))
  .sort();
const readSource = (file: string) =>
  readFileSync(join(SCRIPTS_DIRECTORY, file), 'utf8').replace(/\r\n?/g, '\n');

/** Code (comments removed, strings kept) of a source file. */
const codeOf = (file: string) => scanPowerShell(readSource(file)).code;

const FORBIDDEN: readonly [RegExp, string][] = [
  [/Invoke-Expression/i, 'Invoke-Expression'],
  [/(^|[^\w-])iex\b/im, 'iex'],
  [/\bcmd(\.exe)?\s+\/[ck]\b/i, 'cmd /c'],
  [/\[scriptblock\]::Create/i, '[scriptblock]::Create'],
  [/InvokeScript|NewScriptBlock/i, 'InvokeScript / NewScriptBlock'],
  [/-EncodedCommand|-enc\b/i, '-EncodedCommand'],
  [/Add-Type/i, 'Add-Type (compiles code)'],
  [
    /Start-Process[^\n]*-ArgumentList\s+(\(?\s*"[^"]*\$|[^\n]*\+)/i,
    'Start-Process -ArgumentList built from strings',
  ],
  [/\{\{/, '{{ (an SSM parameter reference)'],
  [/\bexit\s+\$/i, 'exit with a variable (a 3010 would restart the node)'],
];

describe('PowerShell sources: lint', () => {
  it('finds the prelude, the shared update selection and one script per document', () => {
    expect(SOURCES).toEqual(
      [
        PRELUDE_SCRIPT,
        UPDATE_SELECTION_SCRIPT,
        ...KEYS.map((key) => DOCUMENT_SPECS[key].script),
      ].sort(),
    );
  });

  it('inlines the shared update selection into the WUA documents and the inventory (its rescan) only, after the prelude', () => {
    const shared = shippedLines(readSource(UPDATE_SELECTION_SCRIPT)).join('\n');
    for (const key of KEYS) {
      const text = shippedScript(key);
      const own = shippedLines(readSource(DOCUMENT_SPECS[key].script)).join('\n');
      if (
        key === 'windowsUpdate' ||
        key === 'scan' ||
        key === 'stageUpdates' ||
        key === 'inventory'
      ) {
        expect(text).toContain(shared);
        expect(text.indexOf(shared)).toBeLessThan(text.lastIndexOf(own));
      } else {
        expect(text).not.toContain('function Get-UpdateExclusion');
      }
    }
  });

  it('ScanUpdates never creates a downloader or an installer', () => {
    const code = codeOf(DOCUMENT_SPECS.scan.script);
    expect(code).toContain('CreateUpdateSearcher');
    expect(code).not.toMatch(
      /CreateUpdateDownloader|CreateUpdateInstaller|New-WindowsUpdateCollection/,
    );
  });

  it('StageUpdates downloads but never creates an installer, drains or restarts (issue 13 item 5)', () => {
    const code = codeOf(DOCUMENT_SPECS.stageUpdates.script);
    expect(code).toContain('CreateUpdateDownloader');
    expect(code).toContain('Initialize-UpdateFolder');
    expect(code).not.toMatch(
      /CreateUpdateInstaller|Invoke-Installer|Suspend-ClusterNode|Restart-Computer|exit 3010/,
    );
  });

  it.each(SOURCES)('%s: no dynamic code, no shell, no {{', (file) => {
    const code = codeOf(file);
    for (const [pattern, what] of FORBIDDEN) {
      expect(code, `${file} uses ${what}`).not.toMatch(pattern);
    }
  });

  it('the lint would catch each forbidden construct', () => {
    // [sample, index of the rule in FORBIDDEN that must catch it]
    const samples: [string, number][] = [
      ['Invoke-Expression $x', 0],
      ['$x | iex', 1],
      ['cmd /c $x', 2],
      ['cmd.exe /C "del x"', 2],
      ['[scriptblock]::Create($x)', 3],
      ['$ExecutionContext.InvokeCommand.InvokeScript($x)', 4],
      ['powershell -EncodedCommand $x', 5],
      ['Add-Type -TypeDefinition $x', 6],
      ['Start-Process wusa.exe -ArgumentList "$file /quiet"', 7],
      ["Start-Process wusa.exe -ArgumentList ('/quiet ' + $file)", 7],
      ['Write-Output "{{ Payload }}"', 8],
      ['exit $LASTEXITCODE', 9],
    ];
    expect(new Set(samples.map(([, rule]) => rule)).size).toBe(FORBIDDEN.length);
    for (const [sample, rule] of samples) {
      expect(FORBIDDEN[rule]?.[0].test(sample), `${FORBIDDEN[rule]?.[1]} on ${sample}`).toBe(true);
    }
  });

  it.each(SOURCES)('%s: printable ASCII only, no BOM', (file) => {
    const bytes = readFileSync(join(SCRIPTS_DIRECTORY, file));
    const bad = [...bytes].findIndex(
      (b) => !(b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127)),
    );
    expect(bad, `${file}: byte ${bad}`).toBe(-1);
  });

  it.each(SOURCES)('%s: brackets balance outside strings and comments', (file) => {
    expect(scanPowerShell(readSource(file)).problems).toEqual([]);
  });

  it.each(KEYS)('%s: the shipped script balances too', (key) => {
    expect(scanPowerShell(shippedScript(key)).problems).toEqual([]);
  });

  it.each(KEYS)('%s: strict, stops on errors, reads the payload from SSM_Payload only', (key) => {
    const code = scanPowerShell(shippedScript(key)).code;
    const stop = code.indexOf("$ErrorActionPreference = 'Stop'");
    expect(stop).toBeGreaterThan(-1);
    expect(code).toContain('Set-StrictMode -Version Latest');
    // Nothing runs before the error preference is set but the contract's assignment.
    expect(code.slice(0, stop).trim()).toBe(scanPowerShell(contractLine()).code.trim());
    expect(code).toContain('$env:SSM_Payload');
    expect(code).toMatch(/-Compress -Depth 6/);
    expect(contractLine()).toContain('"resultLinePrefix":"ROLLOUT-RESULT"');
    // The document's own script reads the payload through the prelude.
    expect(codeOf(DOCUMENT_SPECS[key].script)).toMatch(/^\$payload = Read-RolloutPayload$/m);
    expect(codeOf(DOCUMENT_SPECS[key].script)).not.toContain('SSM_Payload');
  });

  it.each(KEYS)('%s: ends with an explicit exit code', (key) => {
    const lines = codeOf(DOCUMENT_SPECS[key].script)
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    expect(lines.at(-1)).toMatch(/^(Exit-RolloutSuccess|exit 3010|Exit-RolloutFailure \$\w+)$/);
  });

  it.each(KEYS)('%s: leaves only through the exits that write the end marker (or 3010)', (key) => {
    // Exit-RolloutSuccess / Exit-RolloutFailure write ROLLOUT-END; a bare exit would not.
    const exits = (
      codeOf(DOCUMENT_SPECS[key].script).match(/(?:^|[;{}])\s*exit(?![\w-])[^\n;}]*/gim) ?? []
    ).map((exit) => exit.replace(/^[;{}]?\s*/, '').trim());
    expect(exits.filter((exit) => exit !== 'exit 3010')).toEqual([]);
    // Not vacuous: RestartNode's 3010 is found.
    if (key === 'restart') expect(exits).toEqual(['exit 3010']);
  });

  it('only RestartNode asks SSM Agent for a restart (exit 3010)', () => {
    for (const file of SOURCES) {
      const asks = /\bexit\s+3010\b/.test(codeOf(file));
      expect(asks, file).toBe(file === DOCUMENT_SPECS.restart.script);
    }
  });

  it('every result goes through Write-RolloutResult, which prints one prefixed line', () => {
    for (const file of SOURCES) {
      const code = codeOf(file);
      expect(code, file).not.toMatch(/Write-Host|Write-Output\s+["']ROLLOUT-RESULT/);
    }
    expect(codeOf(PRELUDE_SCRIPT)).toMatch(
      /\[Console\]::Out\.WriteLine\(\$script:RolloutResultPrefix \+ ' ' \+ \(ConvertTo-RolloutJson \$Result\)\)/,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The scripts read and print what contracts.ts says.

/** The payload fields a script reads with the prelude's Get-Payload* helpers. */
function payloadFieldsRead(file: string): Set<string> {
  const fields = new Set<string>();
  for (const match of codeOf(file).matchAll(
    /Get-Payload(?:String|Integer|Boolean|Array|Property)\s+\$\w+\s+'(\w+)'/g,
  )) {
    fields.add(match[1] as string);
  }
  return fields;
}

/** StageUpdates' Windows Update search: its fields are read from payload.windowsUpdate. */
const STAGE_WINDOWS_UPDATE = {
  queryString: 'IsInstalled=0',
  includeRecommendedUpdates: false,
  selection: null,
};

/** A planned hotfix the Verify inventory's rescan checks (issue 13 item 6). */
const RESCAN_HOTFIX = { kb: 'KB5034441', file: 'CAUHotfix_All/windows10.0-kb5034441-x64.msu' };
/** The rescan's own fields, under payload.rescan (not in node-contract.json's list). */
const RESCAN_FIELDS = ['windowsUpdate', 'hotfixes', ...Object.keys(RESCAN_HOTFIX)];

const SAMPLE_PAYLOADS: { readonly [K in DocumentKey]: object } = {
  inventory: {
    binaries: ['%windir%\\system32\\authz.dll'],
    rescan: { windowsUpdate: STAGE_WINDOWS_UPDATE, hotfixes: [RESCAN_HOTFIX] },
  } satisfies InventoryPayload,
  drain: { timeoutMinutes: 30 } satisfies DrainPayload,
  resume: {
    failbackMode: 'Immediate',
    storageRepairTimeoutMinutes: 20,
    failbackGroups: ['SQL Server (MSSQLSERVER)'],
    failbackTimeoutMinutes: 10,
  } satisfies ResumePayload,
  installHotfixes: hostileInstallPayload(),
  stageUpdates: {
    bucket: 'hotfix-root',
    updates: [
      {
        index: 0,
        file: 'CAUHotfix_All/KB1.msu',
        key: 'p/CAUHotfix_All/KB1.msu',
        sha256: 'a'.repeat(64),
      },
    ],
    windowsUpdate: STAGE_WINDOWS_UPDATE,
  } satisfies StageUpdatesPayload,
  windowsUpdate: {
    queryString: "IsInstalled=0 and Type='Software' and IsHidden=0 and IsAssigned=1",
    includeRecommendedUpdates: false,
    timeoutMinutes: 120,
    selection: { classifications: ['Security Updates'], excludeKbs: ['KB5034439'] },
  } satisfies WindowsUpdatePayload,
  runScript: { phase: 'pre', script: 'C:\\Scripts\\PreUpdate.ps1' } satisfies ScriptPayload,
  scan: {
    queryString: "IsInstalled=0 and Type='Software' and IsHidden=0 and IsAssigned=1",
    includeRecommendedUpdates: true,
    selection: { excludeKbs: ['KB5034439'] },
  } satisfies ScanUpdatesPayload,
  restart: { runId: 'run-2024-01', reason: 'updates need a restart' } satisfies RestartPayload,
  removeUpdates: {
    timeoutMinutes: 30,
    updates: [
      {
        index: 0,
        updateId: 'KB5034439',
        method: 'dism',
        packageName: 'Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.2340.1.7',
      },
    ],
  } satisfies RemoveUpdatesPayload,
};

describe('PowerShell sources: contracts', () => {
  it.each(KEYS)('%s: reads exactly the payload fields of its contract', (key) => {
    const sample = SAMPLE_PAYLOADS[key] as Record<string, unknown>;
    const expected = new Set(Object.keys(sample));
    if (key === 'installHotfixes' || key === 'removeUpdates' || key === 'stageUpdates') {
      for (const field of Object.keys(
        (sample as unknown as { updates: readonly object[] }).updates[0] ?? {},
      )) {
        expected.add(field);
      }
    }
    if (key === 'stageUpdates') {
      for (const field of Object.keys(STAGE_WINDOWS_UPDATE)) expected.add(field);
    }
    if (key === 'inventory') {
      for (const field of [...RESCAN_FIELDS, ...Object.keys(STAGE_WINDOWS_UPDATE)]) {
        expected.add(field);
      }
    }
    const read = payloadFieldsRead(DOCUMENT_SPECS[key].script);
    expect([...read].sort()).toEqual([...expected].sort());
    // Every sample payload is valid base64 for the parameter.
    expect(encodePayload(sample)).toMatch(new RegExp(PAYLOAD_ALLOWED_PATTERN));
  });

  it('the prelude reads deadline, which send-command adds to every payload', () => {
    expect(payloadFieldsRead(PRELUDE_SCRIPT)).toEqual(new Set(['deadline']));
  });

  it.each(KEYS)('%s: node-contract.json lists exactly the fields it reads, and deadline', (key) => {
    const read = new Set([...payloadFieldsRead(DOCUMENT_SPECS[key].script), 'deadline']);
    const itemFields = ['index', 'file', 'key', 'sha256', 'localPath', 'path', 'parameters'];
    const removalFields = ['index', 'updateId', 'method', 'packageName'];
    const stageFields = Object.keys(STAGE_WINDOWS_UPDATE);
    for (const field of [...itemFields, ...removalFields, ...stageFields, ...RESCAN_FIELDS]) {
      if (!(PAYLOAD_FIELDS[key] as readonly string[]).includes(field)) read.delete(field);
    }
    expect([...read].sort()).toEqual([...PAYLOAD_FIELDS[key]].sort());
  });

  /** Keys written as `name = ` or `['name']` in a script's code. */
  const keysWritten = (file: string) => {
    const code = codeOf(file);
    return new Set([
      ...[...code.matchAll(/(?:^|[{;])\s*(\w+) = /gm)].map((m) => m[1] as string),
      ...[...code.matchAll(/\$\w+\['(\w+)'\]/g)].map((m) => m[1] as string),
    ]);
  };

  it('inventory writes every field of InventoryResult', () => {
    const sample: InventoryResult = {
      computerName: '',
      os: { caption: '', version: '', build: '', servicePack: 0, architecture: '', editionId: '' },
      binaries: [{ path: '', fileVersion: null }],
      pendingReboot: false,
      lastBootTime: '',
      cluster: { name: '', nodeState: '' },
      hotpatch: { enrolled: false, vbsEnabled: false, secureBoot: false, azureArcConnected: false },
      installedUpdates: [],
      rescan: {
        stillApplicable: [{ kb: null, title: '', source: 'Hotfix', restartPending: false }],
        searchError: null,
      },
    };
    const fields = [
      ...Object.keys(sample),
      ...Object.keys(sample.os),
      ...Object.keys(sample.hotpatch),
      ...Object.keys(sample.cluster ?? {}),
      ...Object.keys(sample.rescan ?? {}),
      ...Object.keys(sample.rescan?.stillApplicable[0] ?? {}),
    ];
    const written = keysWritten('inventory.ps1');
    for (const field of fields) expect(written, field).toContain(field);
    expect(codeOf('inventory.ps1')).toMatch(/path = \$entry; fileVersion = \$fileVersion/);
  });

  it('install writes every field of InstallResultLine, windowsUpdate of WindowsUpdateResultLine', () => {
    const install: Required<InstallResultLine> = {
      index: 0,
      file: '',
      exitCode: null,
      checksumOk: false,
      timedOut: false,
      durationSeconds: 0,
      logTail: '',
      error: '',
      notStarted: true,
      servicingBusy: false,
      expectedSha256: '',
      actualSha256: '',
      packageNames: [],
      alreadyInstalled: true,
      earlierExitCode: 0,
      fromCache: true,
      cacheNote: '',
    };
    const update: Required<WindowsUpdateResultLine> = {
      updateId: '',
      title: '',
      kb: null,
      resultCode: 0,
      hResult: 0,
      rebootRequired: false,
      skipped: true,
      skipReason: 'eula',
      excludedBy: 'classifications',
      excludedReason: '',
    };
    const installWritten = keysWritten(DOCUMENT_SPECS.installHotfixes.script);
    for (const field of Object.keys(install)) expect(installWritten, field).toContain(field);
    const updateWritten = keysWritten(DOCUMENT_SPECS.windowsUpdate.script);
    for (const field of Object.keys(update)) expect(updateWritten, field).toContain(field);
  });

  it('removeUpdates writes every field of RemovalResultLine, checks the KB, runs wusa or DISM', () => {
    const removal: Required<RemovalResultLine> = {
      index: 0,
      updateId: '',
      method: 'wusa',
      packageName: '',
      exitCode: null,
      timedOut: false,
      durationSeconds: 0,
      logTail: '',
      error: '',
      servicingBusy: false,
    };
    const written = keysWritten(DOCUMENT_SPECS.removeUpdates.script);
    for (const field of Object.keys(removal)) expect(written, field).toContain(field);
    const code = codeOf(DOCUMENT_SPECS.removeUpdates.script);
    expect(code).toContain("-cnotmatch '^KB[1-9][0-9]{3,7}\\z'");
    expect(code).toContain("'\\wusa.exe'");
    expect(code).toContain("'/uninstall /kb:' + $updateId.Substring(2) + ' /quiet /norestart'");
    expect(code).toContain(
      "'/Online /Remove-Package /PackageName:' + $packageName + ' /Quiet /NoRestart'",
    );
    // Installers start only through the prelude's seam, which uses Process.Start (no shell).
    expect(code).toContain('Invoke-Installer -FilePath $executable');
    expect(codeOf(PRELUDE_SCRIPT)).toContain('[System.Diagnostics.Process]::Start($startInfo)');
  });

  it('resume maps each FailbackMode to the Resume-ClusterNode -Failback value of the same name', () => {
    const code = codeOf(DOCUMENT_SPECS.resume.script);
    for (const mode of ['NoFailback', 'Immediate', 'Policy']) {
      expect(code).toContain(`'${mode}' { '${mode}' }`);
    }
    expect(code).toMatch(/Resume-ClusterNode -Name \$name -Failback \$failback/);
  });
});

// ---------------------------------------------------------------------------------------------
// The real parser: pwsh on the PATH, or the pinned one (`dotnet pwsh`, npm run pwsh:restore).

const PWSH: readonly string[] | undefined = [['pwsh'], ['dotnet', 'pwsh']].find(
  ([command, ...args]) =>
    spawnSync(command as string, [...args, '-NoProfile', '-Command', 'exit 0']).status === 0,
);

describe('PowerShell sources: the PowerShell parser', () => {
  const directory = mkdtempSync(join(tmpdir(), 'windows-documents-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  /** Parse errors of every shipped script, from one pwsh process: `<key>: line n: message`. */
  const parseErrors = (() => {
    let errors: string[] | undefined;
    return () => {
      if (errors) return errors;
      for (const key of KEYS) {
        writeFileSync(
          join(directory, `${key}.ps1`),
          renderDocumentScript(key).join('\r\n'),
          'utf8',
        );
      }
      const parse = [
        'Get-ChildItem -LiteralPath $env:SCRIPT_DIRECTORY -Filter *.ps1 | ForEach-Object {',
        '$file = $_; $tokens = $null; $errors = $null',
        '$null = [System.Management.Automation.Language.Parser]::ParseFile($file.FullName, [ref]$tokens, [ref]$errors)',
        "$errors | ForEach-Object { $file.BaseName + ': line ' + $_.Extent.StartLineNumber + ': ' + $_.Message } }",
      ].join('\n');
      const [command, ...args] = PWSH as readonly string[];
      const result = spawnSync(
        command as string,
        [...args, '-NoProfile', '-NonInteractive', '-Command', parse],
        { env: { ...process.env, SCRIPT_DIRECTORY: directory }, encoding: 'utf8' },
      );
      expect(result.status, result.stderr).toBe(0);
      errors = result.stdout.split('\n').filter(Boolean);
      return errors;
    };
  })();

  it.skipIf(PWSH === undefined).each(KEYS)('%s: parses without errors', (key) => {
    expect(parseErrors().filter((line) => line.startsWith(`${key}: `))).toEqual([]);
  });
});
