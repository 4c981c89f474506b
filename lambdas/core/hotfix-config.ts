/**
 * CAU hotfix plug-in configuration (`DefaultHotfixConfig.xml`): parse and validate the file as
 * CAU users write it, unchanged.
 *
 * Shape (seed 003): `DefaultRules/ExtensionRules/Extension[name]` and `FolderRules/Folder[name]`,
 * each with one `Template path= parameters=` (where `$update$` stands for the update file) and one
 * `ExitConditions` listing codes under `Success` (required), `Success_RebootRequired`,
 * `Fail_RebootRequired`, `AlreadyInstalled` and `NotApplicable`. `alwaysReboot` on a `Folder`
 * turns `Success` into `Success_RebootRequired`.
 *
 * Our accepted form where the documents are silent (DOMAIN.md §2): a code is
 * `<ExitCode Code="3010"/>` or `<ExitCode>3010</ExitCode>`; the root element's name and XML
 * namespaces do not matter; element and attribute names match case-sensitively; extension and
 * folder rule names match case-insensitively, as Windows paths do.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { formatProblems, RolloutRuleError, type ValidationProblem } from './errors.js';
import {
  EXIT_CONDITIONS,
  type ExitCondition,
  type ExitConditions,
  normaliseExitCode,
} from './exit-codes.js';

/** Base of the hotfix configuration errors. */
export class HotfixConfigError extends RolloutRuleError {}

/** The text is not well-formed XML. */
export class HotfixConfigSyntaxError extends HotfixConfigError {
  constructor(
    readonly line: number,
    readonly column: number,
    readonly detail: string,
    source: string,
  ) {
    super(`${source}: malformed XML at line ${line}, column ${column}: ${detail}`);
  }
}

/** The XML is well-formed but breaks the hotfix configuration rules; lists every problem. */
export class HotfixConfigValidationError extends HotfixConfigError {
  constructor(
    readonly problems: readonly ValidationProblem[],
    source: string,
  ) {
    super(formatProblems(`${source}: not a valid hotfix configuration`, problems));
  }
}

/** The installer command of a rule, before `$update$` is substituted. */
export interface HotfixTemplate {
  readonly path: string;
  readonly parameters: string;
}

/** One rule of the configuration: how to install a kind of file, and how to read its exit code. */
export interface HotfixRule {
  readonly kind: 'extension' | 'folder';
  /** The extension without its dot (`MSU`) or the folder rule name, as written. */
  readonly name: string;
  readonly template: HotfixTemplate;
  readonly exitConditions: ExitConditions;
  /** `alwaysReboot` of a `Folder` rule; always false for extension rules. */
  readonly alwaysReboot: boolean;
}

/** A validated hotfix configuration. */
export interface HotfixConfig {
  readonly extensionRules: readonly HotfixRule[];
  readonly folderRules: readonly HotfixRule[];
  /** Things that are allowed but probably a mistake (e.g. a template that never uses `$update$`). */
  readonly warnings: readonly string[];
}

/** The placeholder CAU substitutes with the update file's path (seed 003). */
export const UPDATE_PLACEHOLDER = '$update$';

type XmlNode = { [key: string]: XmlChild[] | string | undefined };
type XmlChild = XmlNode | string;

const ATTR = '@_';
const TEXT = '#text';
const INVALID_NAME_CHARS = /[\\/:*?"<>|]/;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: ATTR,
  textNodeName: TEXT,
  removeNSPrefix: true,
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

/**
 * The text of a hotfix configuration file from its bytes, as Windows writes them: UTF-8 with or
 * without a BOM (PowerShell 7, Notepad), or UTF-16 LE/BE with a BOM (Windows PowerShell 5.1's
 * `Out-File` and `>`). Without a BOM the bytes are read as UTF-8, as CAU's own XML reader does.
 */
export function decodeHotfixConfigBytes(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes);
  // TextDecoder drops a UTF-8 BOM itself.
  return new TextDecoder('utf-8').decode(bytes);
}

/**
 * Parses and validates a hotfix configuration.
 *
 * @param xml the file's text
 * @param source how to name the file in errors (e.g. its path)
 * @throws HotfixConfigSyntaxError for malformed XML (with its line), or
 *   HotfixConfigValidationError listing every rule problem (element, attribute and value).
 */
export function parseHotfixConfig(xml: string, source = 'hotfix configuration'): HotfixConfig {
  const text = xml.replace(/^\uFEFF/, '');
  // A DTD can expand entities without bound; the CAU schema never needs one.
  const doctype = /<!DOCTYPE/i.exec(text);
  if (doctype) {
    const line = text.slice(0, doctype.index).split('\n').length;
    throw new HotfixConfigSyntaxError(line, 1, 'a DOCTYPE is not allowed', source);
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    // fast-xml-parser gives no column for some errors (an empty document): say column 1.
    throw new HotfixConfigSyntaxError(valid.err.line, valid.err.col ?? 1, valid.err.msg, source);
  }
  const problems: ValidationProblem[] = [];
  const warnings: string[] = [];
  const document = parser.parse(text) as XmlNode;
  const roots = elementNames(document);
  if (roots.length !== 1) {
    throw new HotfixConfigSyntaxError(1, 1, 'expected exactly one root element', source);
  }
  const rootName = roots[0] as string;
  const root = children(document, rootName)[0] as XmlNode;
  const where = new Walker(problems);

  where.onlyElements(root, rootName, ['DefaultRules', 'FolderRules']);
  const defaultRules = where.atMostOne(root, rootName, 'DefaultRules');
  const extensionRules: HotfixRule[] = [];
  if (defaultRules) {
    const path = `${rootName}/DefaultRules`;
    where.noAttributes(defaultRules, path);
    where.onlyElements(defaultRules, path, ['ExtensionRules']);
    const list = where.atMostOne(defaultRules, path, 'ExtensionRules');
    if (list) {
      where.noAttributes(list, `${path}/ExtensionRules`);
      where.onlyElements(list, `${path}/ExtensionRules`, ['Extension']);
      for (const [i, node] of children(list, 'Extension').entries()) {
        const rule = readRule(
          where,
          node,
          `${path}/ExtensionRules/Extension[${i + 1}]`,
          'extension',
        );
        if (rule) extensionRules.push(rule);
      }
    }
  }
  const folderRules: HotfixRule[] = [];
  const folders = where.atMostOne(root, rootName, 'FolderRules');
  if (folders) {
    const path = `${rootName}/FolderRules`;
    where.noAttributes(folders, path);
    where.onlyElements(folders, path, ['Folder']);
    for (const [i, node] of children(folders, 'Folder').entries()) {
      const rule = readRule(where, node, `${path}/Folder[${i + 1}]`, 'folder');
      if (rule) folderRules.push(rule);
    }
  }
  if (!defaultRules && !folders) {
    problems.push({
      field: rootName,
      message: 'has neither <DefaultRules> nor <FolderRules>; a hotfix configuration needs rules',
    });
  } else if (problems.length === 0 && extensionRules.length === 0 && folderRules.length === 0) {
    // `<DefaultRules/>` alone would plan no file at all: as empty as no rules.
    problems.push({
      field: rootName,
      message: 'has no <Extension> or <Folder> rule; a hotfix configuration needs rules',
    });
  }
  reportDuplicateNames(
    problems,
    extensionRules,
    `${rootName}/DefaultRules/ExtensionRules/Extension`,
  );
  reportDuplicateNames(problems, folderRules, `${rootName}/FolderRules/Folder`);
  for (const rule of [...extensionRules, ...folderRules]) {
    const { path, parameters } = rule.template;
    const uses = (s: string) => s.toLowerCase().includes(UPDATE_PLACEHOLDER);
    if (!uses(path) && !uses(parameters)) {
      warnings.push(
        `${rule.kind} rule ${JSON.stringify(rule.name)}: neither Template path nor parameters uses ${UPDATE_PLACEHOLDER}, so the installer is not told which file to install`,
      );
    }
  }
  if (problems.length > 0) throw new HotfixConfigValidationError(problems, source);
  return { extensionRules, folderRules, warnings };
}

function readRule(
  where: Walker,
  node: XmlChild,
  path: string,
  kind: HotfixRule['kind'],
): HotfixRule | undefined {
  if (typeof node === 'string') {
    where.problem(path, 'is empty; it needs a name, a <Template> and <ExitConditions>');
    return undefined;
  }
  const allowed = kind === 'folder' ? ['name', 'alwaysReboot'] : ['name'];
  where.onlyAttributes(node, path, allowed);
  where.onlyElements(node, path, ['Template', 'ExitConditions']);
  const name = attribute(node, 'name');
  let ok = true;
  if (name === undefined || name.trim() === '') {
    where.problem(`${path}@name`, 'is missing or empty', name);
    ok = false;
  } else if (kind === 'extension' && !/^[A-Za-z0-9_]+$/.test(name)) {
    where.problem(`${path}@name`, 'expected an extension without the dot, e.g. "MSU"', name);
    ok = false;
  } else if (kind === 'folder' && (INVALID_NAME_CHARS.test(name) || name !== name.trim())) {
    where.problem(
      `${path}@name`,
      'expected a folder name without \\ / : * ? " < > | or surrounding spaces',
      name,
    );
    ok = false;
  }
  const label = name ? `${path}[@name=${JSON.stringify(name)}]` : path;
  let alwaysReboot = false;
  const alwaysRebootText = attribute(node, 'alwaysReboot');
  if (alwaysRebootText !== undefined) {
    const parsed = parseXmlBoolean(alwaysRebootText);
    if (parsed === undefined) {
      where.problem(`${label}@alwaysReboot`, 'expected true or false', alwaysRebootText);
      ok = false;
    } else alwaysReboot = parsed;
  }
  const template = readTemplate(where, node, label);
  const exitConditions = readExitConditions(where, node, label);
  if (!ok || !template || !exitConditions || name === undefined) return undefined;
  return { kind, name, template, exitConditions, alwaysReboot };
}

function readTemplate(where: Walker, rule: XmlNode, path: string): HotfixTemplate | undefined {
  const node = where.exactlyOne(rule, path, 'Template');
  // An empty <Template/> parses as '': it is there, without a path (not a rule to drop silently).
  if (node === undefined) return undefined;
  const here = `${path}/Template`;
  if (typeof node === 'string') {
    where.problem(`${here}@path`, 'is missing; expected the installer path, e.g. wusa.exe');
    return undefined;
  }
  where.onlyAttributes(node, here, ['path', 'parameters']);
  where.onlyElements(node, here, []);
  const installer = attribute(node, 'path');
  if (installer === undefined || installer.trim() === '') {
    where.problem(`${here}@path`, 'is missing or empty; expected the installer path', installer);
    return undefined;
  }
  return { path: installer.trim(), parameters: (attribute(node, 'parameters') ?? '').trim() };
}

function readExitConditions(
  where: Walker,
  rule: XmlNode,
  path: string,
): ExitConditions | undefined {
  const node = where.exactlyOne(rule, path, 'ExitConditions');
  if (node === undefined) return undefined;
  const here = `${path}/ExitConditions`;
  const result = Object.fromEntries(EXIT_CONDITIONS.map((c) => [c, [] as number[]])) as Record<
    ExitCondition,
    number[]
  >;
  if (typeof node === 'string') {
    where.problem(here, 'has no <Success> element; it is required');
    return undefined;
  }
  where.noAttributes(node, here);
  where.onlyElements(node, here, EXIT_CONDITIONS);
  const seen = new Map<number, ExitCondition>();
  let ok = true;
  for (const condition of EXIT_CONDITIONS) {
    const list = where.atMostOne(node, here, condition, true);
    if (list === undefined) continue;
    const conditionPath = `${here}/${condition}`;
    if (typeof list === 'string') {
      where.problem(conditionPath, 'expected <ExitCode Code="..."/> children, not text', list);
      ok = false;
      continue;
    }
    where.noAttributes(list, conditionPath);
    where.onlyElements(list, conditionPath, ['ExitCode']);
    for (const [i, codeNode] of children(list, 'ExitCode').entries()) {
      const codePath = `${conditionPath}/ExitCode[${i + 1}]`;
      const raw = readCodeText(where, codeNode, codePath);
      if (raw === undefined) {
        ok = false;
        continue;
      }
      let code: number;
      try {
        code = normaliseExitCode(raw);
      } catch {
        where.problem(
          codePath,
          'expected an integer exit code (decimal, or hex such as 0x80240017)',
          raw,
        );
        ok = false;
        continue;
      }
      const earlier = seen.get(code);
      if (earlier === undefined) {
        seen.set(code, condition);
        result[condition].push(code);
      } else if (earlier !== condition) {
        where.problem(
          codePath,
          `code ${code} is also listed under <${earlier}>; a code may have only one meaning`,
          raw,
        );
        ok = false;
      }
    }
  }
  if (children(node, 'Success').length === 0) {
    where.problem(here, 'has no <Success> element; it is required');
    ok = false;
  }
  return ok ? result : undefined;
}

function readCodeText(where: Walker, node: XmlChild, path: string): string | undefined {
  if (typeof node === 'string') return node;
  where.onlyAttributes(node, path, ['Code']);
  where.onlyElements(node, path, []);
  const attr = attribute(node, 'Code');
  const text = typeof node[TEXT] === 'string' ? node[TEXT] : undefined;
  if (attr !== undefined && text !== undefined && text !== '') {
    where.problem(
      path,
      'give the code either as Code="..." or as text, not both',
      `${attr} / ${text}`,
    );
    return undefined;
  }
  const value = attr ?? text;
  if (value === undefined || value.trim() === '') {
    where.problem(`${path}@Code`, 'is missing; expected an integer exit code', value);
    return undefined;
  }
  return value;
}

function reportDuplicateNames(
  problems: ValidationProblem[],
  rules: readonly HotfixRule[],
  path: string,
): void {
  const seen = new Set<string>();
  for (const rule of rules) {
    const key = rule.name.toLowerCase();
    if (seen.has(key)) {
      problems.push({
        field: `${path}@name`,
        value: rule.name,
        message: 'is defined twice (names compare case-insensitively)',
      });
    }
    seen.add(key);
  }
}

function parseXmlBoolean(value: string): boolean | undefined {
  const v = value.trim();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return undefined;
}

function elementNames(node: XmlNode): string[] {
  return Object.keys(node).filter((k) => !k.startsWith(ATTR) && k !== TEXT);
}

function children(node: XmlNode, name: string): XmlChild[] {
  const value = node[name];
  return Array.isArray(value) ? value : [];
}

function attribute(node: XmlNode, name: string): string | undefined {
  const value = node[`${ATTR}${name}`];
  return typeof value === 'string' ? value : undefined;
}

/** Collects problems while walking the tree, so one error can list them all. */
class Walker {
  constructor(private readonly problems: ValidationProblem[]) {}

  problem(field: string, message: string, value?: unknown): void {
    this.problems.push(value === undefined ? { field, message } : { field, value, message });
  }

  onlyElements(node: XmlNode, path: string, allowed: readonly string[]): void {
    for (const name of elementNames(node)) {
      if (!allowed.includes(name)) {
        const expected =
          allowed.length === 0
            ? 'no child elements are allowed here'
            : `expected ${allowed.map((a) => `<${a}>`).join(', ')} (names are case-sensitive)`;
        this.problem(`${path}/${name}`, `unknown element; ${expected}`);
      }
    }
    const text = node[TEXT];
    if (typeof text === 'string' && text.trim() !== '' && allowed.length > 0) {
      this.problem(path, 'unexpected text; expected only child elements', text);
    }
  }

  onlyAttributes(node: XmlNode, path: string, allowed: readonly string[]): void {
    for (const key of Object.keys(node)) {
      if (!key.startsWith(ATTR)) continue;
      const name = key.slice(ATTR.length);
      if (!allowed.includes(name)) {
        const expected =
          allowed.length === 0
            ? 'no attributes are allowed here'
            : `expected ${allowed.join(', ')} (names are case-sensitive)`;
        this.problem(`${path}@${name}`, `unknown attribute; ${expected}`, node[key]);
      }
    }
  }

  noAttributes(node: XmlChild, path: string): void {
    if (typeof node !== 'string') this.onlyAttributes(node, path, []);
  }

  /** The one child element `name`, if present; text content is reported unless `allowText`. */
  atMostOne(node: XmlNode, path: string, name: string, allowText: true): XmlChild | undefined;
  atMostOne(node: XmlNode, path: string, name: string): XmlNode | undefined;
  atMostOne(node: XmlNode, path: string, name: string, allowText = false): XmlChild | undefined {
    const list = children(node, name);
    if (list.length > 1)
      this.problem(`${path}/${name}`, `appears ${list.length} times; expected once`);
    const first = list[0];
    // An empty element (`<FolderRules/>`) parses as an empty string: it has no children.
    if (first === '') return {};
    if (typeof first === 'string' && !allowText) {
      this.problem(`${path}/${name}`, 'unexpected text; expected only child elements', first);
      return undefined;
    }
    return first;
  }

  exactlyOne(node: XmlNode, path: string, name: string): XmlChild | undefined {
    const list = children(node, name);
    if (list.length === 0) {
      this.problem(`${path}/${name}`, `is missing; each rule needs one <${name}>`);
      return undefined;
    }
    if (list.length > 1) {
      this.problem(`${path}/${name}`, `appears ${list.length} times; expected once`);
      return undefined;
    }
    return list[0];
  }
}

/** Finds the extension rule for a file name's extension (case-insensitive), if any. */
export function findExtensionRule(config: HotfixConfig, fileName: string): HotfixRule | undefined {
  const dot = fileName.lastIndexOf('.');
  if (dot <= 0 || dot === fileName.length - 1) return undefined;
  const extension = fileName.slice(dot + 1).toLowerCase();
  return config.extensionRules.find((r) => r.name.toLowerCase() === extension);
}

/** Finds the folder rule with this name (case-insensitive), if any. */
export function findFolderRule(config: HotfixConfig, folder: string): HotfixRule | undefined {
  const key = folder.toLowerCase();
  return config.folderRules.find((r) => r.name.toLowerCase() === key);
}

/** A short description of a rule for reports: `extension MSU` or `folder FolderRule1`. */
export function describeRule(rule: Pick<HotfixRule, 'kind' | 'name'>): string {
  return `${rule.kind} ${rule.name}`;
}
