/**
 * Cluster-Aware Updating plug-in arguments: the `Name1=Value1;Name2="Value with Spaces"` text
 * (or its PowerShell form `@{Name1=Value1;...}`) and the typed arguments of the two built-in
 * plug-ins.
 *
 * Sources: "How CAU plug-ins work" (seed 003) for the syntax, the plug-ins and their arguments;
 * the `-CauPluginArguments` help of Invoke-CauRun for the argument list and defaults.
 *
 * Syntax accepted (a superset of the documented one, chosen to take what users paste from the
 * documentation and from PowerShell):
 * - pairs separated by `;`, an empty trailing `;` allowed; in the `@{ ... }` form a line break
 *   also separates pairs, as it does in a PowerShell hashtable;
 * - whitespace around names, `=`, values and separators is ignored;
 * - names and values may be quoted with `"` or `'`; a quoted value may hold `;`, `=` and
 *   spaces; a doubled quote inside (`'it''s'`) stands for one quote, as in PowerShell. The
 *   typographic quotes PowerShell treats as quotes (‘ ’ ‚ ‛ and “ ” „) count too: the seed
 *   itself prints `RequireSMBEncryption=’True’`;
 * - an unquoted value may not contain spaces, quotes or `=` (the documentation says a value with
 *   spaces is quoted; `=` in an unquoted value is nearly always a missing `;`).
 */
import { RolloutRuleError, showValue } from './errors.js';

/** The plug-ins installed with CAU (seed 003). Others can be registered but are not known here. */
export const PLUGIN_NAMES = {
  windowsUpdate: 'Microsoft.WindowsUpdatePlugin',
  hotfix: 'Microsoft.HotfixPlugin',
} as const;

/** The name of a plug-in this module knows the arguments of. */
export type KnownPluginName = (typeof PLUGIN_NAMES)[keyof typeof PLUGIN_NAMES];

/** One `name=value` pair, in the order written. */
export interface PluginArgument {
  /** 1-based position among the arguments. */
  readonly index: number;
  /** The name as written, without quotes. */
  readonly name: string;
  /** The value without its quotes; an unquoted value is trimmed, a quoted one kept as is. */
  readonly value: string;
  /** The pair as written, e.g. `HotfixInstallerTimeoutMinutes=120`. */
  readonly raw: string;
}

/** Where a {@link PluginArgumentError} was found, as far as it is known. */
export interface PluginArgumentErrorDetails {
  /** 1-based index of the offending argument. */
  readonly index?: number;
  /** The offending pair as written. */
  readonly raw?: string;
  /** 1-based character position in the text given, for syntax errors. */
  readonly position?: number;
  /** The plug-in whose arguments were being read. */
  readonly pluginName?: string;
}

/**
 * Raised for any problem with plug-in arguments: syntax, unknown or duplicate names, bad values,
 * missing required arguments, unknown plug-ins. Errors about one argument read
 * `plugin argument 3 ("HotfixInstallerTimeoutMinutes=abc"): expected ...`.
 */
export class PluginArgumentError extends RolloutRuleError {
  readonly index: number | undefined;
  readonly raw: string | undefined;
  readonly position: number | undefined;
  readonly pluginName: string | undefined;

  constructor(
    message: string,
    details: PluginArgumentErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.index = details.index;
    this.raw = details.raw;
    this.position = details.position;
    this.pluginName = details.pluginName;
  }
}

function argumentError(
  index: number,
  raw: string,
  detail: string,
  extra: { position?: number; pluginName?: string } = {},
): PluginArgumentError {
  return new PluginArgumentError(`plugin argument ${index} (${JSON.stringify(raw)}): ${detail}`, {
    index,
    raw,
    ...extra,
  });
}

const SINGLE_QUOTES = "'\u2018\u2019\u201A\u201B";
const DOUBLE_QUOTES = '"\u201C\u201D\u201E';
const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;
const NAME_RULE = 'a name starts with a letter and holds only letters, digits and _';

function quoteFamily(ch: string): 'single' | 'double' | undefined {
  if (ch === '') return undefined;
  if (SINGLE_QUOTES.includes(ch)) return 'single';
  if (DOUBLE_QUOTES.includes(ch)) return 'double';
  return undefined;
}

const isSpace = (ch: string): boolean => ch !== '' && /\s/.test(ch);
const isLineBreak = (ch: string): boolean => ch === '\n' || ch === '\r';

/**
 * Splits plug-in argument text into its pairs. Empty text (or `@{}`) gives no arguments.
 * Names must be unique, compared case-insensitively as PowerShell hashtable keys are.
 *
 * @throws PluginArgumentError naming the argument, its text and the character position.
 */
export function parsePluginArguments(text: string): PluginArgument[] {
  if (typeof text !== 'string') {
    throw new PluginArgumentError(
      `plugin arguments ${showValue(text)}: expected text like Name1=Value1;Name2="Value with Spaces"`,
    );
  }
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(text.charAt(start))) start++;
  while (end > start && isSpace(text.charAt(end - 1))) end--;

  let hashtable = false;
  if (text.startsWith('@{', start)) {
    if (end - start < 3 || text.charAt(end - 1) !== '}') {
      throw new PluginArgumentError(
        `plugin arguments: the "@{" at character ${start + 1} has no closing "}"`,
        { position: start + 1 },
      );
    }
    hashtable = true;
    start += 2;
    end -= 1;
  }

  const args: PluginArgument[] = [];
  const rawFrom = (from: number): string => {
    const stop = text.indexOf(';', from);
    return text.slice(from, stop === -1 || stop > end ? end : stop).trim();
  };
  // A line break ends a pair only in the hashtable form; elsewhere it is whitespace.
  const skipSpace = (pos: number, acrossLines: boolean): number => {
    let p = pos;
    while (p < end && isSpace(text.charAt(p)) && (acrossLines || !isLineBreak(text.charAt(p)))) {
      p++;
    }
    return p;
  };
  const readQuoted = (open: number, index: number, argStart: number) => {
    const family = quoteFamily(text.charAt(open));
    let value = '';
    let p = open + 1;
    while (p < end) {
      const ch = text.charAt(p);
      if (quoteFamily(ch) === family) {
        if (p + 1 < end && quoteFamily(text.charAt(p + 1)) === family) {
          value += ch;
          p += 2;
          continue;
        }
        return { value, next: p + 1 };
      }
      value += ch;
      p++;
    }
    throw argumentError(
      index,
      text.slice(argStart, end).trim(),
      `unterminated quote: the ${text.charAt(open)} at character ${open + 1} is never closed`,
      { position: open + 1 },
    );
  };

  const seen = new Map<string, PluginArgument>();
  let pos = start;
  for (;;) {
    pos = skipSpace(pos, true);
    if (pos >= end) break;
    const index = args.length + 1;
    const argStart = pos;
    const fail = (detail: string, at: number): never => {
      throw argumentError(index, rawFrom(argStart), `${detail} at character ${at + 1}`, {
        position: at + 1,
      });
    };
    if (text.charAt(pos) === ';') fail('empty argument: nothing before the ";"', pos);

    let name: string;
    if (quoteFamily(text.charAt(pos))) {
      const quoted = readQuoted(pos, index, argStart);
      name = quoted.value;
      pos = quoted.next;
    } else {
      const nameStart = pos;
      while (pos < end) {
        const ch = text.charAt(pos);
        if (ch === '=' || ch === ';' || isSpace(ch) || quoteFamily(ch)) break;
        pos++;
      }
      name = text.slice(nameStart, pos);
    }
    const nameEnd = pos;
    pos = skipSpace(pos, !hashtable);
    if (text.charAt(pos) !== '=' || pos >= end) {
      if (pos >= end || text.charAt(pos) === ';' || isLineBreak(text.charAt(pos))) {
        fail('missing "=" after the name', nameEnd);
      }
      fail(`expected "=" but found ${JSON.stringify(text.charAt(pos))}`, pos);
    }
    if (name === '') fail('empty name before the "="', pos);
    if (!NAME_PATTERN.test(name)) {
      fail(`invalid name ${JSON.stringify(name)} (${NAME_RULE})`, argStart);
    }
    pos = skipSpace(pos + 1, !hashtable);

    let value: string;
    let valueEnd: number;
    if (quoteFamily(text.charAt(pos)) && pos < end) {
      const quoted = readQuoted(pos, index, argStart);
      value = quoted.value;
      valueEnd = quoted.next;
      pos = skipSpace(quoted.next, !hashtable);
      const ch = text.charAt(pos);
      if (pos < end && ch !== ';' && !(hashtable && isLineBreak(ch))) {
        fail(`text after the closing quote (${JSON.stringify(ch)})`, pos);
      }
    } else {
      const valueStart = pos;
      while (pos < end) {
        const ch = text.charAt(pos);
        if (ch === ';' || (hashtable && isLineBreak(ch))) break;
        pos++;
      }
      value = text.slice(valueStart, pos).trimEnd();
      valueEnd = valueStart + value.length;
      for (let i = valueStart; i < valueEnd; i++) {
        const ch = text.charAt(i);
        if (quoteFamily(ch)) {
          fail(`quote ${ch} inside an unquoted value; quote the whole value: ${name}="..."`, i);
        }
        if (hashtable && (ch === '{' || ch === '}')) {
          fail(
            `"${ch}" inside @{...}; quote the value (each plug-in's arguments go in their own @{...})`,
            i,
          );
        }
        if (ch === '=') {
          fail('"=" inside an unquoted value; quote the value, or put ";" between arguments', i);
        }
        if (isSpace(ch)) {
          fail(`a value with spaces must be quoted: ${name}="..."`, i);
        }
      }
    }

    const argument: PluginArgument = { index, name, value, raw: text.slice(argStart, valueEnd) };
    const key = name.toUpperCase();
    const first = seen.get(key);
    if (first) {
      throw argumentError(
        index,
        argument.raw,
        `duplicate of argument ${first.index} (${first.name}); names are case-insensitive`,
      );
    }
    seen.set(key, argument);
    args.push(argument);
    if (pos < end) pos++; // the separator
  }
  return args;
}

/** The default Windows Update Agent query of Microsoft.WindowsUpdatePlugin (seed 003). */
export const DEFAULT_WINDOWS_UPDATE_QUERY =
  "IsInstalled=0 and Type='Software' and IsHidden=0 and IsAssigned=1";

/** The hotfix configuration file CAU looks for in the hotfix root folder (seed 003). */
export const DEFAULT_HOTFIX_CONFIG_FILE_NAME = 'DefaultHotfixConfig.xml';

/** How long the hotfix plug-in waits for an installer by default, in minutes (seed 003). */
export const DEFAULT_HOTFIX_INSTALLER_TIMEOUT_MINUTES = 30;

/** Arguments of Microsoft.HotfixPlugin, defaults applied. */
export interface HotfixPluginArguments {
  /** `HotfixRootFolderPath`: holds `CAUHotfix_All\`, the node folders and the config. Required. */
  readonly hotfixRootFolderPath: string;
  /** `HotfixConfigFileName`: a file name in the root folder. @default 'DefaultHotfixConfig.xml' */
  readonly hotfixConfigFileName: string;
  /** `HotfixInstallerTimeoutMinutes`: 1 to 1440. @default 30 */
  readonly hotfixInstallerTimeoutMinutes: number;
  /** `DisableAclChecks`: skip the permission checks on the root and config. @default false */
  readonly disableAclChecks: boolean;
  /** `RequireSmbEncryption`: fail the run unless the share encrypts. @default false */
  readonly requireSmbEncryption: boolean;
}

/** Arguments of Microsoft.WindowsUpdatePlugin, defaults applied. */
export interface WindowsUpdatePluginArguments {
  /** `IncludeRecommendedUpdates`: recommended updates as well as important ones. @default false */
  readonly includeRecommendedUpdates: boolean;
  /**
   * `QueryString`: the WUA search criteria; a given one replaces the default.
   * @default DEFAULT_WINDOWS_UPDATE_QUERY
   */
  readonly queryString: string;
  /** Whether `QueryString` was given (false: {@link DEFAULT_WINDOWS_UPDATE_QUERY} is in effect). */
  readonly queryStringGiven: boolean;
}

/** The typed arguments of a known plug-in, tagged with the plug-in's canonical name. */
export type PluginArgumentsFor =
  | {
      readonly pluginName: typeof PLUGIN_NAMES.windowsUpdate;
      readonly arguments: WindowsUpdatePluginArguments;
    }
  | { readonly pluginName: typeof PLUGIN_NAMES.hotfix; readonly arguments: HotfixPluginArguments };

const HOTFIX_ARGUMENTS = [
  'HotfixRootFolderPath',
  'HotfixConfigFileName',
  'HotfixInstallerTimeoutMinutes',
  'DisableAclChecks',
  'RequireSmbEncryption',
] as const;

const WINDOWS_UPDATE_ARGUMENTS = ['IncludeRecommendedUpdates', 'QueryString'] as const;

function toArguments(input: string | readonly PluginArgument[]): readonly PluginArgument[] {
  if (!Array.isArray(input)) return parsePluginArguments(input as string);
  const seen = new Map<string, PluginArgument>();
  for (const arg of input as readonly PluginArgument[]) {
    if (typeof arg?.name !== 'string' || typeof arg.value !== 'string') {
      throw new PluginArgumentError(
        `plugin argument ${showValue(arg)}: expected { index, name, value, raw } with text name and value`,
      );
    }
    const first = seen.get(arg.name.toUpperCase());
    if (first) {
      throw argumentError(
        arg.index,
        arg.raw,
        `duplicate of argument ${first.index} (${first.name}); names are case-insensitive`,
      );
    }
    seen.set(arg.name.toUpperCase(), arg);
  }
  return input;
}

/** Matches each argument to an accepted name, case-insensitively; unknown names are errors. */
function byName<N extends string>(
  args: readonly PluginArgument[],
  accepted: readonly N[],
  pluginName: string,
): Map<N, PluginArgument> {
  const found = new Map<N, PluginArgument>();
  for (const arg of args) {
    const canonical = accepted.find((n) => n.toUpperCase() === arg.name.toUpperCase());
    if (canonical === undefined) {
      throw argumentError(
        arg.index,
        arg.raw,
        `unknown argument for ${pluginName}; accepted: ${accepted.join(', ')}`,
        { pluginName },
      );
    }
    found.set(canonical, arg);
  }
  return found;
}

const BOOLEAN_VALUES = new Map([
  ['TRUE', true],
  ['$TRUE', true],
  ['1', true],
  ['FALSE', false],
  ['$FALSE', false],
  ['0', false],
]);

function readBoolean(arg: PluginArgument | undefined, pluginName: string): boolean {
  if (arg === undefined) return false;
  const value = BOOLEAN_VALUES.get(arg.value.trim().toUpperCase());
  if (value === undefined) {
    throw argumentError(
      arg.index,
      arg.raw,
      'expected True or False ($true, $false, 1 and 0 are also accepted)',
      { pluginName },
    );
  }
  return value;
}

const FILE_NAME_FORBIDDEN = /[\\/:*?"<>|]/;
const hasControlCharacter = (text: string): boolean =>
  [...text].some((ch) => ch.charCodeAt(0) < 0x20);

/**
 * Reads Microsoft.HotfixPlugin's arguments: `HotfixRootFolderPath` (required),
 * `HotfixConfigFileName`, `HotfixInstallerTimeoutMinutes`, `DisableAclChecks`,
 * `RequireSmbEncryption`. Names match case-insensitively; booleans accept True/False,
 * `$true`/`$false` and 1/0 in any case.
 *
 * @throws PluginArgumentError for syntax errors, unknown names, bad values or a missing root.
 */
export function parseHotfixPluginArguments(
  input: string | readonly PluginArgument[],
): HotfixPluginArguments {
  const pluginName = PLUGIN_NAMES.hotfix;
  const found = byName(toArguments(input), HOTFIX_ARGUMENTS, pluginName);

  const root = found.get('HotfixRootFolderPath');
  if (root === undefined) {
    throw new PluginArgumentError(
      `plugin arguments of ${pluginName}: HotfixRootFolderPath is required, e.g. HotfixRootFolderPath="\\\\MyFileServer\\Hotfixes\\Root"`,
      { pluginName },
    );
  }
  const hotfixRootFolderPath = root.value.trim();
  if (hotfixRootFolderPath === '') {
    throw argumentError(root.index, root.raw, 'expected the path of the hotfix root folder', {
      pluginName,
    });
  }

  let hotfixConfigFileName = DEFAULT_HOTFIX_CONFIG_FILE_NAME;
  const configFile = found.get('HotfixConfigFileName');
  if (configFile !== undefined) {
    const name = configFile.value.trim();
    if (
      name === '' ||
      name === '.' ||
      name === '..' ||
      name.length > 255 ||
      FILE_NAME_FORBIDDEN.test(name) ||
      hasControlCharacter(name) ||
      name.endsWith('.')
    ) {
      throw argumentError(
        configFile.index,
        configFile.raw,
        'expected a plain file name in the hotfix root folder (no folder, none of \\ / : * ? " < > |), e.g. DefaultHotfixConfig.xml',
        { pluginName },
      );
    }
    hotfixConfigFileName = name;
  }

  let hotfixInstallerTimeoutMinutes = DEFAULT_HOTFIX_INSTALLER_TIMEOUT_MINUTES;
  const timeout = found.get('HotfixInstallerTimeoutMinutes');
  if (timeout !== undefined) {
    const text = timeout.value.trim();
    const minutes = /^[0-9]{1,4}$/.test(text) ? Number(text) : Number.NaN;
    if (!(minutes >= 1 && minutes <= 1440)) {
      throw argumentError(
        timeout.index,
        timeout.raw,
        'expected a whole number of minutes from 1 to 1440',
        { pluginName },
      );
    }
    hotfixInstallerTimeoutMinutes = minutes;
  }

  return {
    hotfixRootFolderPath,
    hotfixConfigFileName,
    hotfixInstallerTimeoutMinutes,
    disableAclChecks: readBoolean(found.get('DisableAclChecks'), pluginName),
    requireSmbEncryption: readBoolean(found.get('RequireSmbEncryption'), pluginName),
  };
}

/**
 * Reads Microsoft.WindowsUpdatePlugin's arguments: `IncludeRecommendedUpdates` and
 * `QueryString`. A given QueryString replaces the default query whole (seed 003); it is not
 * combined with it.
 *
 * @throws PluginArgumentError for syntax errors, unknown names, bad values or an empty query.
 */
export function parseWindowsUpdatePluginArguments(
  input: string | readonly PluginArgument[],
): WindowsUpdatePluginArguments {
  const pluginName = PLUGIN_NAMES.windowsUpdate;
  const found = byName(toArguments(input), WINDOWS_UPDATE_ARGUMENTS, pluginName);
  const query = found.get('QueryString');
  if (query !== undefined && query.value.trim() === '') {
    throw argumentError(
      query.index,
      query.raw,
      `expected a Windows Update Agent query, e.g. QueryString="${DEFAULT_WINDOWS_UPDATE_QUERY}"`,
      { pluginName },
    );
  }
  return {
    includeRecommendedUpdates: readBoolean(found.get('IncludeRecommendedUpdates'), pluginName),
    queryString: query === undefined ? DEFAULT_WINDOWS_UPDATE_QUERY : query.value.trim(),
    queryStringGiven: query !== undefined,
  };
}

/**
 * Reads the arguments of a known plug-in, named case-insensitively.
 *
 * @throws PluginArgumentError for an unknown plug-in (listing the known ones) or bad arguments.
 */
export function parsePluginArgumentsFor(
  pluginName: string,
  input: string | readonly PluginArgument[],
): PluginArgumentsFor {
  const wanted = typeof pluginName === 'string' ? pluginName.trim().toUpperCase() : undefined;
  if (wanted === PLUGIN_NAMES.windowsUpdate.toUpperCase()) {
    return {
      pluginName: PLUGIN_NAMES.windowsUpdate,
      arguments: parseWindowsUpdatePluginArguments(input),
    };
  }
  if (wanted === PLUGIN_NAMES.hotfix.toUpperCase()) {
    return { pluginName: PLUGIN_NAMES.hotfix, arguments: parseHotfixPluginArguments(input) };
  }
  throw new PluginArgumentError(
    `plug-in ${showValue(pluginName)}: unknown plug-in; known plug-ins: ${Object.values(PLUGIN_NAMES).join(', ')}`,
    { pluginName: typeof pluginName === 'string' ? pluginName : undefined },
  );
}
