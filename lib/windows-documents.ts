import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack, Tags, Token } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import {
  DOCUMENTS,
  type DocumentKey,
  NODE_CONTRACT,
  PAYLOAD_ALLOWED_PATTERN,
  PAYLOAD_PARAMETER,
  RESULT_LINE_PREFIX,
} from '../lambdas/core/contracts.js';
import { formatProblems, type ValidationProblem } from '../lambdas/core/errors.js';

/** The folder of the PowerShell sources, `ssm/` at the repository root. */
export const SCRIPTS_DIRECTORY = fileURLToPath(new URL('../ssm/', import.meta.url));

/** The shared prelude, inlined ahead of every document's own script. */
export const PRELUDE_SCRIPT = '_common.ps1';

/** How one document is built. */
export interface DocumentSpec {
  /** Its script in {@link SCRIPTS_DIRECTORY}. */
  readonly script: string;
  /**
   * The step's `timeoutSeconds`: SSM stops the script after it. The workflow's own deadline
   * (`deadline` in the payload) should not exceed it.
   */
  readonly timeoutSeconds: number;
  readonly description: string;
  /** Shared scripts of {@link SCRIPTS_DIRECTORY} inlined between the prelude and its own script. */
  readonly includes?: readonly string[];
}

/** The update selection rules (Get-UpdateExclusion), shared by the WUA documents. */
export const UPDATE_SELECTION_SCRIPT = '_update-selection.ps1';

const HOUR = 3600;

/**
 * Every document: script, step time-out and description. The time-outs are hard caps sized for
 * the longest legitimate run; the scripts stop earlier on the payload's own time limits.
 */
export const DOCUMENT_SPECS: { readonly [K in DocumentKey]: DocumentSpec } = {
  inventory: {
    script: 'inventory.ps1',
    // The rescan after the final restart searches Windows Update with the run's selection.
    includes: [UPDATE_SELECTION_SCRIPT],
    // Room for that search (a WUA search cannot be stopped midway), inside the workflow's
    // 30-minute wait for a command: a slow search must not end the Verify command early.
    timeoutSeconds: 1500,
    description:
      'Reports OS version and build, file versions of given binaries, pending restart, last boot, failover cluster membership, hotpatch enrolment facts and installed updates. Changes nothing.',
  },
  drain: {
    script: 'drain.ps1',
    // The payload's timeoutMinutes goes up to 1440.
    timeoutSeconds: 25 * HOUR,
    description:
      'Drains a failover cluster node (Suspend-ClusterNode -Drain) and checks it is Paused with DrainStatus Completed within the payload timeout. No-op on a standalone server.',
  },
  resume: {
    script: 'resume.ps1',
    // The payload's storageRepairTimeoutMinutes goes up to 1440, after the join and resume.
    timeoutSeconds: 26 * HOUR,
    description:
      'Resumes a paused failover cluster node (Resume-ClusterNode -Failback NoFailback|Immediate|Policy), then with storageRepairTimeoutMinutes waits for its Storage Spaces Direct repair jobs (Get-StorageJob). A node already Up is success; no-op on a standalone server.',
  },
  installHotfixes: {
    script: 'install-hotfixes.ps1',
    // Many updates, each allowed up to HotfixInstallerTimeoutMinutes (at most 1440): SSM's maximum.
    timeoutSeconds: 48 * HOUR,
    description:
      'Microsoft.HotfixPlugin on AWS: for each planned update, downloads it from S3, verifies its SHA-256 and runs its installer with the rule parameters and a per-installer timeout. One result line per update.',
  },
  windowsUpdate: {
    script: 'windows-update.ps1',
    includes: [UPDATE_SELECTION_SCRIPT],
    timeoutSeconds: 48 * HOUR,
    description:
      'Microsoft.WindowsUpdatePlugin: searches the Windows Update Agent with the query, keeps important (and optionally recommended) updates without licence or user-input needs, downloads and installs each. One result line per update.',
  },
  runScript: {
    script: 'run-script.ps1',
    timeoutSeconds: 24 * HOUR,
    description:
      'Runs the PreUpdateScript or PostUpdateScript (.ps1 on the node) in a child Windows PowerShell; a non-zero exit code fails the command.',
  },
  restart: {
    script: 'restart.ps1',
    timeoutSeconds: 2 * HOUR,
    description:
      'Restarts the node through SSM Agent (exit 3010) and, when the agent runs the script again after the restart, reports the new boot time.',
  },
  removeUpdates: {
    script: 'remove-updates.ps1',
    // Several updates, each allowed up to timeoutMinutes (at most 1440): SSM's maximum.
    timeoutSeconds: 48 * HOUR,
    description:
      'Removes installed updates in the given (safe, reverse) order with wusa.exe /uninstall /kb:<n> /quiet /norestart, or DISM /Online /Remove-Package /PackageName:<name> for combined SSU+LCU packages, with a per-update timeout; never restarts. One result line per update.',
  },
  scan: {
    script: 'scan-updates.ps1',
    includes: [UPDATE_SELECTION_SCRIPT],
    // One Windows Update search: WUA searches can take many minutes on a slow WSUS.
    timeoutSeconds: 2 * HOUR,
    description:
      "Invoke-CauScan for Microsoft.WindowsUpdatePlugin: searches the Windows Update Agent with the run's query and options and applies updateSelection; downloads and installs nothing. One result line per update (KB, title, classification, restart expected, the rule that excludes it) and one for the node (pending restart).",
  },
  stageUpdates: {
    script: 'stage-updates.ps1',
    includes: [UPDATE_SELECTION_SCRIPT],
    // Downloads only: a large cumulative update over a slow link, per file, well under a day.
    timeoutSeconds: 24 * HOUR,
    description:
      "ConfigMgr's pre-download (issue 13 item 5): copies each planned hotfix from the hotfix root into a cache only SYSTEM and Administrators may write, verifying its SHA-256, and downloads the selected Windows updates (IUpdateDownloader) without installing. Drains, installs and restarts nothing. One result line per file or update.",
  },
};

/** The step time-out of each document, in seconds: the cap on a command's execution time. */
export const DOCUMENT_TIMEOUT_SECONDS: { readonly [K in DocumentKey]: number } = Object.fromEntries(
  Object.entries(DOCUMENT_SPECS).map(([key, spec]) => [key, spec.timeoutSeconds]),
) as { readonly [K in DocumentKey]: number };

const DOCUMENT_KEYS = Object.keys(DOCUMENTS) as DocumentKey[];
const LONGEST_NAME = Math.max(...Object.values(DOCUMENTS).map((name) => name.length));
/** SSM's document name rule: 3 to 128 of these characters. */
const NAME_CHARACTERS = /^[A-Za-z0-9_.-]+$/;
/** Document name prefixes SSM reserves for AWS. */
const RESERVED_PREFIX = /^(aws|amazon|amzn)/i;

/**
 * A script's lines as they ship: without its whole-line comments. They are for the reader of
 * `ssm/`, cost about 100 KB of a template that must stay under CloudFormation's 1 MB, and are
 * safe to drop: the scripts hold no here-strings, block comments or `#requires` (a test keeps
 * it so), and a line whose first character is `#` is then a comment and nothing else.
 */
export function shippedLines(text: string): string[] {
  return text
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .replace(/\n+$/, '')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line));
}

function readScriptLines(directory: string, file: string): string[] {
  return shippedLines(readFileSync(join(directory, file), 'utf8'));
}

/**
 * The first line of every shipped script: `lambdas/core/node-contract.json` as a PowerShell
 * string, which the prelude parses into `$script:RolloutContract`.
 */
export function contractLine(): string {
  return `$script:RolloutContractJson = '${JSON.stringify(NODE_CONTRACT).replaceAll("'", "''")}'`;
}

/**
 * The script of one document as it ships: the contract line, the prelude, then the document's
 * own script, one array element per line (the `runCommand` of the step).
 *
 * @throws Error when a script holds `{{` (SSM would substitute parameters into it) or a
 *   character outside ASCII (the agent's code page would change it).
 */
export function renderDocumentScript(
  key: DocumentKey,
  directory: string = SCRIPTS_DIRECTORY,
): string[] {
  const spec = DOCUMENT_SPECS[key];
  const lines = [
    contractLine(),
    ...readScriptLines(directory, PRELUDE_SCRIPT),
    ...(spec.includes ?? []).flatMap((file) => [
      '',
      `# --- ${file} ---`,
      '',
      ...readScriptLines(directory, file),
    ]),
    '',
    `# --- ${spec.script} (document ${DOCUMENTS[key]}) ---`,
    '',
    ...readScriptLines(directory, spec.script),
  ];
  lines.forEach((line, i) => {
    if (line.includes('{{')) {
      throw new Error(
        `${spec.script} (document ${DOCUMENTS[key]}) line ${i + 1} holds "{{", which SSM would treat as a parameter reference; scripts read the payload from $env:SSM_Payload only`,
      );
    }
    if (/[^\t\x20-\x7e]/.test(line)) {
      throw new Error(
        `${spec.script} (document ${DOCUMENTS[key]}) line ${i + 1}: only printable ASCII is allowed in scripts`,
      );
    }
  });
  return lines;
}

/** The JSON content (schema 2.2) of one document. */
export function documentContent(key: DocumentKey, directory: string = SCRIPTS_DIRECTORY) {
  const spec = DOCUMENT_SPECS[key];
  return {
    schemaVersion: '2.2',
    description: `${spec.description} Results are printed as "${RESULT_LINE_PREFIX} <json>" lines.`,
    parameters: {
      [PAYLOAD_PARAMETER]: {
        type: 'String',
        description:
          'Base64 of the UTF-8 JSON payload (lambdas/core/contracts.ts). Reaches the script as environment variable SSM_Payload only; never part of the script text.',
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
          // A string, as in AWS's own documents; the agent reads a number as a float.
          timeoutSeconds: String(spec.timeoutSeconds),
          // One element holding the whole script, lines joined with newlines (as a YAML
          // document's `- |` block gives): one JSON string per line cost about 10 bytes of
          // template per line, and the template must stay under CloudFormation's 1 MB.
          runCommand: [renderDocumentScript(key, directory).join('\n')],
        },
      },
    ],
  };
}

/** Props of {@link WindowsDocuments}. */
export interface WindowsDocumentsProps {
  /**
   * Prefix of the document names: `<namePrefix>-<name>`, e.g. `WindowsRollout-Inventory`, so
   * IAM can allow `ssm:SendCommand` on `document/<namePrefix>-*`. Letters, digits, `_`, `.` and
   * `-`; it may not start with `aws`, `amazon` or `amzn` (reserved by SSM).
   */
  readonly namePrefix: string;
  /**
   * Tags added to every document.
   * @default - no tags beyond those inherited from the scope
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The SSM Command documents the control plane runs on Windows nodes (`DOCUMENTS` in
 * `lambdas/core/contracts.ts`): one `aws:runPowerShellScript` step each, from the scripts in
 * `ssm/` with the shared prelude `ssm/_common.ps1` inlined at synth time. Each takes one
 * parameter, `Payload` (base64 of UTF-8 JSON), which reaches the script only as the environment
 * variable `SSM_Payload` (interpolationType ENV_VAR): no request value ever becomes script text.
 *
 * Names are deterministic (`<namePrefix>-<name>`). Updates create a new document version and make
 * it the default (`updateMethod: NewVersion`), since a named document cannot be replaced in place.
 */
export class WindowsDocuments extends Construct {
  /** The documents, by key. */
  public readonly documents: Readonly<Record<DocumentKey, ssm.CfnDocument>>;
  /** The deployed document names, by key: what `SendCommand` takes as `DocumentName`. */
  public readonly documentNames: Readonly<Record<DocumentKey, string>>;
  /** The document ARNs, by key. */
  public readonly documentArns: Readonly<Record<DocumentKey, string>>;
  /**
   * `arn:<partition>:ssm:<region>:<account>:document/<namePrefix>-*`: every document of this
   * construct, for IAM. It also matches other documents whose names start with the same
   * prefix and a dash, so give each deployment a distinct prefix.
   */
  public readonly allDocumentsArnPattern: string;
  /** The prefix the names were built with. */
  public readonly namePrefix: string;

  constructor(scope: Construct, id: string, props: WindowsDocumentsProps) {
    super(scope, id);
    validateProps(props);
    this.namePrefix = props.namePrefix;
    const stack = Stack.of(this);
    const arn = (resourceName: string) =>
      stack.formatArn({ service: 'ssm', resource: 'document', resourceName });

    const documents = {} as Record<DocumentKey, ssm.CfnDocument>;
    const names = {} as Record<DocumentKey, string>;
    const arns = {} as Record<DocumentKey, string>;
    for (const key of DOCUMENT_KEYS) {
      const name = `${props.namePrefix}-${DOCUMENTS[key]}`;
      const document = new ssm.CfnDocument(this, DOCUMENTS[key], {
        name,
        documentType: 'Command',
        documentFormat: 'JSON',
        updateMethod: 'NewVersion',
        content: documentContent(key),
      });
      for (const [tagKey, value] of Object.entries(props.tags ?? {})) {
        Tags.of(document).add(tagKey, value);
      }
      documents[key] = document;
      names[key] = name;
      arns[key] = arn(name);
    }
    this.documents = documents;
    this.documentNames = names;
    this.documentArns = arns;
    this.allDocumentsArnPattern = arn(`${props.namePrefix}-*`);
  }

  /** The ARN of one document, for IAM policies. */
  public arnFor(key: DocumentKey): string {
    return this.documentArns[key];
  }
}

function validateProps(props: WindowsDocumentsProps): void {
  const problems: ValidationProblem[] = [];
  const prefix: unknown = props.namePrefix;
  if (typeof prefix !== 'string') {
    problems.push({
      field: 'namePrefix',
      value: prefix,
      message: 'expected a string such as "WindowsRollout"',
    });
  } else if (!Token.isUnresolved(prefix)) {
    const maxLength = 128 - 1 - LONGEST_NAME;
    if (prefix.length < 1 || prefix.length > maxLength || !NAME_CHARACTERS.test(prefix)) {
      problems.push({
        field: 'namePrefix',
        value: prefix,
        message: `expected 1 to ${maxLength} of A-Z a-z 0-9 _ . - (document names are at most 128 characters)`,
      });
    }
    if (RESERVED_PREFIX.test(prefix)) {
      problems.push({
        field: 'namePrefix',
        value: prefix,
        message: 'SSM reserves document names starting with aws, amazon or amzn',
      });
    }
  }
  for (const [key, value] of Object.entries(props.tags ?? {})) {
    if (key.length === 0 || key.length > 128 || typeof value !== 'string' || value.length > 256) {
      problems.push({
        field: `tags.${key}`,
        value,
        message: 'expected a key of 1 to 128 characters and a value of at most 256',
      });
    }
  }
  if (problems.length > 0) {
    throw new Error(formatProblems('WindowsDocuments: invalid props', problems));
  }
}
