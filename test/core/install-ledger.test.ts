import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RolloutRuleError } from '../../lambdas/core/errors.js';
import {
  createLedger,
  type InstallLedger,
  type InstallRecord,
  installedUpdates,
  isSameFile,
  LedgerError,
  normaliseFilePath,
  planRemoval,
  type RemovalPlan,
  recordInstall,
  recordRemoval,
  removalFor,
  safeRemovalOrder,
  validateLedger,
} from '../../lambdas/core/install-ledger.js';

const NODE = 'web-01';
const AUTHZ = '%windir%\\system32\\Authz.dll';
const NTDLL = 'C:\\Windows\\system32\\ntdll.dll';
const WIN32K = 'C:\\Windows\\system32\\win32k.sys';
const TCPIP = 'C:\\Windows\\system32\\drivers\\tcpip.sys';

const A = 'KB890923';
const B = 'KB893066';
const C = 'KB896358';
const D = 'KB899591';

/** Minute `n` of a fixed day, so installs recorded in a row are in time order. */
const minute = (n: number) => new Date(Date.UTC(2024, 4, 1, 10, n)).toISOString();

function install(ledger: InstallLedger, updateId: string, files: readonly string[]): InstallLedger {
  return recordInstall(ledger, {
    updateId,
    installedAt: minute(ledger.entries.length),
    hotpatched: true,
    replacedFiles: files.map((path) => ({ path })),
  });
}

function ledgerOf(installs: ReadonlyArray<readonly [string, readonly string[]]>): InstallLedger {
  return installs.reduce((ledger, [id, files]) => install(ledger, id, files), createLedger(NODE));
}

/** Runs `act` and returns the LedgerError it throws; fails the test when it throws nothing. */
function ledgerErrorOf(act: () => unknown): LedgerError {
  try {
    act();
  } catch (error) {
    expect(error).toBeInstanceOf(LedgerError);
    expect(error).toBeInstanceOf(RolloutRuleError);
    return error as LedgerError;
  }
  throw new Error('expected a LedgerError, nothing was thrown');
}

const CBA = ledgerOf([
  [A, [AUTHZ]],
  [B, [AUTHZ]],
  [C, [AUTHZ]],
]);

describe('recordInstall', () => {
  it('appends entries with per-node sequences from 1, in install order', () => {
    // Arrange
    const start = createLedger(NODE);
    // Act
    const ledger = recordInstall(install(start, A, [AUTHZ]), {
      updateId: 'kb893066',
      installedAt: '2024-05-01T12:00:00+02:00',
      runId: 'run-7',
      hotpatched: false,
      replacedFiles: [
        { path: NTDLL, versionBefore: '5.2.3790.1830', versionAfter: '5.2.3790.2453' },
      ],
    });
    // Assert
    expect(ledger).toEqual({
      node: NODE,
      entries: [
        {
          node: NODE,
          sequence: 1,
          updateId: A,
          installedAt: minute(0),
          hotpatched: true,
          replacedFiles: [{ path: AUTHZ }],
        },
        {
          node: NODE,
          sequence: 2,
          updateId: 'KB893066',
          installedAt: '2024-05-01T12:00:00+02:00',
          runId: 'run-7',
          hotpatched: false,
          replacedFiles: [
            { path: NTDLL, versionBefore: '5.2.3790.1830', versionAfter: '5.2.3790.2453' },
          ],
        },
      ],
    });
  });

  it('accepts an install at the same instant as the previous one, written in another zone', () => {
    const ledger = recordInstall(install(createLedger(NODE), A, [AUTHZ]), {
      updateId: B,
      installedAt: '2024-05-01T12:00:00+02:00', // = minute(0) in UTC
      hotpatched: true,
      replacedFiles: [],
    });
    expect(ledger.entries.map((e) => e.sequence)).toEqual([1, 2]);
  });

  it('writes plain JSON: no undefined values, round-trips through JSON and validateLedger', () => {
    const ledger = recordRemoval(install(CBA, D, [TCPIP]), C, minute(30));
    const json = JSON.parse(JSON.stringify(ledger));
    expect(json).toEqual(ledger);
    for (const entry of ledger.entries) {
      expect(Object.values(entry)).not.toContain(undefined);
      for (const file of entry.replacedFiles) expect(Object.values(file)).not.toContain(undefined);
    }
    expect(validateLedger(json)).toEqual(ledger);
  });
});

describe('recordRemoval and reinstall', () => {
  it('marks the entry removed and keeps the history', () => {
    const ledger = recordRemoval(CBA, 'kb896358', minute(10), 'run-9');
    expect(ledger.entries).toHaveLength(3);
    expect(ledger.entries[2]).toEqual({
      ...CBA.entries[2],
      removedAt: minute(10),
      removedByRunId: 'run-9',
    });
    expect(installedUpdates(ledger).map((e) => e.updateId)).toEqual([A, B]);
  });

  it('records an out-of-order removal (it happened) and a later reinstall as a new entry', () => {
    // Arrange: A then B replace authz.dll; A was removed out of order, then reinstalled.
    const removed = recordRemoval(CBA, A, minute(10));
    // Act
    const reinstalled = recordInstall(removed, {
      updateId: A,
      installedAt: minute(20),
      hotpatched: false,
      replacedFiles: [{ path: AUTHZ }],
    });
    // Assert
    expect(reinstalled.entries.map((e) => [e.sequence, e.updateId, e.removedAt])).toEqual([
      [1, A, minute(10)],
      [2, B, undefined],
      [3, C, undefined],
      [4, A, undefined],
    ]);
    expect(installedUpdates(reinstalled).map((e) => e.updateId)).toEqual([B, C, A]);
    expect(safeRemovalOrder(reinstalled)).toEqual([A, C, B]);
    // The reinstalled A is now the latest owner of authz.dll: removing C first is out of order.
    const plan = planRemoval(reinstalled, [C]);
    expect(plan.safe).toBe(false);
    expect(plan.warnings).toEqual([
      {
        updateId: C,
        laterUpdatesSharingFiles: [{ updateId: A, files: [AUTHZ] }],
        installedSince: [A],
      },
    ]);
    // A removal then refers to the reinstalled entry, not the old one.
    const again = recordRemoval(reinstalled, A, minute(25));
    expect(again.entries[3]?.removedAt).toBe(minute(25));
    expect(again.entries[0]?.removedAt).toBe(minute(10));
  });
});

interface PlanRow {
  readonly source: string;
  readonly installs: ReadonlyArray<readonly [string, readonly string[]]>;
  readonly request: readonly string[];
  readonly includeDependents?: boolean;
  readonly expected: RemovalPlan;
}

const SAME_FILE = [
  [A, [AUTHZ]],
  [B, [AUTHZ]],
  [C, [AUTHZ]],
] as const;

const planRows: PlanRow[] = [
  {
    source: 'seed 002 (KB897341 ja): A, B, C replace the same file: remove C, then B, then A',
    installs: SAME_FILE,
    request: [A, B, C],
    expected: {
      order: [C, B, A],
      safe: true,
      warnings: [],
      restartRequired: true,
      addedDependents: [],
    },
  },
  {
    source: 'seed 000 (KB897341 fr): the order does not depend on the order of the request',
    installs: SAME_FILE,
    request: [B, A, C],
    expected: {
      order: [C, B, A],
      safe: true,
      warnings: [],
      restartRequired: true,
      addedDependents: [],
    },
  },
  {
    source: 'seed 001 (KB897341 de): removing the latest of the three is in order',
    installs: SAME_FILE,
    request: [C],
    expected: { order: [C], safe: true, warnings: [], restartRequired: true, addedDependents: [] },
  },
  {
    source: 'KB823836: removing A before B and C warns; B and C may break',
    installs: SAME_FILE,
    request: [A],
    expected: {
      order: [A],
      safe: false,
      warnings: [
        {
          updateId: A,
          laterUpdatesSharingFiles: [
            { updateId: B, files: [AUTHZ] },
            { updateId: C, files: [AUTHZ] },
          ],
          installedSince: [B, C],
        },
      ],
      restartRequired: true,
      addedDependents: [],
    },
  },
  {
    source: 'KB823836: removing A and C but not B: A is still out of order because of B',
    installs: SAME_FILE,
    request: [A, C],
    expected: {
      order: [C, A],
      safe: false,
      warnings: [
        {
          updateId: A,
          laterUpdatesSharingFiles: [{ updateId: B, files: [AUTHZ] }],
          installedSince: [B],
        },
      ],
      restartRequired: true,
      addedDependents: [],
    },
  },
  {
    source: 'KB823836: the warning lists every update installed since, sharing files or not',
    installs: [
      [A, [AUTHZ, NTDLL]],
      [B, [WIN32K]],
      [C, [NTDLL]],
      [D, [TCPIP]],
    ],
    request: [A],
    expected: {
      order: [A],
      safe: false,
      warnings: [
        {
          updateId: A,
          laterUpdatesSharingFiles: [{ updateId: C, files: [NTDLL] }],
          installedSince: [B, C, D],
        },
      ],
      restartRequired: true,
      addedDependents: [],
    },
  },
  {
    source: 'KB897341: the rule is about updates that replace the same file; none here, no warning',
    installs: [
      [A, [AUTHZ]],
      [B, [NTDLL]],
      [C, [WIN32K]],
    ],
    request: [A],
    expected: { order: [A], safe: true, warnings: [], restartRequired: true, addedDependents: [] },
  },
  {
    source: 'KB897341: an update that replaced no files conflicts with nothing',
    installs: [
      [A, [AUTHZ]],
      [B, []],
    ],
    request: [A],
    expected: { order: [A], safe: true, warnings: [], restartRequired: true, addedDependents: [] },
  },
  {
    source:
      'KB897341 (DOMAIN.md §1): removing a regular (not hotpatched) update needs a restart too',
    installs: [[A, [AUTHZ]]],
    request: ['kb890923'],
    expected: { order: [A], safe: true, warnings: [], restartRequired: true, addedDependents: [] },
  },
  {
    source: 'includeDependents: A shares with B, B with C (not A): C and B are removed first',
    installs: [
      [A, [AUTHZ]],
      [B, [AUTHZ, NTDLL]],
      [C, [NTDLL]],
      [D, [TCPIP]],
    ],
    request: [A],
    includeDependents: true,
    expected: {
      order: [C, B, A],
      safe: true,
      warnings: [],
      restartRequired: true,
      addedDependents: [C, B],
    },
  },
  {
    source: 'includeDependents off, same ledger: only B shares a file with A; all three are listed',
    installs: [
      [A, [AUTHZ]],
      [B, [AUTHZ, NTDLL]],
      [C, [NTDLL]],
      [D, [TCPIP]],
    ],
    request: [A],
    expected: {
      order: [A],
      safe: false,
      warnings: [
        {
          updateId: A,
          laterUpdatesSharingFiles: [{ updateId: B, files: [AUTHZ] }],
          installedSince: [B, C, D],
        },
      ],
      restartRequired: true,
      addedDependents: [],
    },
  },
  {
    source: 'includeDependents: an earlier update sharing the file is not a dependent',
    installs: [
      [A, [AUTHZ]],
      [B, [AUTHZ]],
      [C, [AUTHZ]],
    ],
    request: [B],
    includeDependents: true,
    expected: {
      order: [C, B],
      safe: true,
      warnings: [],
      restartRequired: true,
      addedDependents: [C],
    },
  },
  {
    source: 'path identity: %windir%, C:\\WINDOWS, slashes, case and a trailing separator match',
    installs: [
      [A, ['%windir%\\system32\\authz.dll']],
      [B, ['c:/WINDOWS//System32/AUTHZ.DLL/']],
      [C, ['%SystemRoot%\\SYSTEM32\\Authz.dll']],
    ],
    request: [A],
    expected: {
      order: [A],
      safe: false,
      warnings: [
        {
          updateId: A,
          laterUpdatesSharingFiles: [
            { updateId: B, files: ['c:/WINDOWS//System32/AUTHZ.DLL/'] },
            { updateId: C, files: ['%SystemRoot%\\SYSTEM32\\Authz.dll'] },
          ],
          installedSince: [B, C],
        },
      ],
      restartRequired: true,
      addedDependents: [],
    },
  },
  {
    source: 'path identity: %ProgramFiles% is not expanded, so it is another file',
    installs: [
      [A, ['%ProgramFiles%\\Common Files\\x.dll']],
      [B, ['C:\\Program Files\\Common Files\\x.dll']],
    ],
    request: [A],
    expected: { order: [A], safe: true, warnings: [], restartRequired: true, addedDependents: [] },
  },
];

describe('planRemoval', () => {
  it.each(planRows)('$source', ({ installs, request, includeDependents, expected }) => {
    const ledger = ledgerOf(installs);
    const plan = planRemoval(
      ledger,
      request,
      includeDependents === undefined ? {} : { includeDependents },
    );
    expect(plan).toEqual(expected);
  });

  it('ignores removed updates: after C and B are removed, removing A is in order', () => {
    const ledger = recordRemoval(recordRemoval(CBA, C, minute(10)), B, minute(11));
    expect(planRemoval(ledger, [A])).toEqual({
      order: [A],
      safe: true,
      warnings: [],
      restartRequired: true,
      addedDependents: [],
    });
  });
});

describe('safeRemovalOrder and installedUpdates', () => {
  it('seed 002 (KB897341 ja): everything, C then B then A', () => {
    expect(safeRemovalOrder(CBA)).toEqual([C, B, A]);
    expect(installedUpdates(CBA).map((e) => e.updateId)).toEqual([A, B, C]);
  });

  it('leaves out removed updates and an empty ledger has nothing to remove', () => {
    expect(safeRemovalOrder(recordRemoval(CBA, B, minute(9)))).toEqual([C, A]);
    expect(safeRemovalOrder(createLedger(NODE))).toEqual([]);
  });
});

describe('file identity', () => {
  const same: ReadonlyArray<readonly [string, string, string]> = [
    [
      'KB897341 example path vs C:\\Windows',
      '%windir%\\system32\\Authz.dll',
      'C:\\Windows\\System32\\authz.dll',
    ],
    [
      '%systemroot% is %windir%',
      '%SYSTEMROOT%\\system32\\authz.dll',
      '%windir%\\SYSTEM32\\AUTHZ.DLL',
    ],
    ['forward slashes', 'C:/Windows/system32/authz.dll', 'c:\\windows\\system32\\authz.dll'],
    [
      'doubled separators',
      'C:\\\\Windows\\\\system32\\authz.dll',
      'C:\\Windows\\system32\\authz.dll',
    ],
    ['trailing separator', 'C:\\Windows\\system32\\', 'c:\\windows\\system32'],
    [
      'long-path prefix',
      '\\\\?\\C:\\Windows\\system32\\authz.dll',
      '%windir%\\system32\\authz.dll',
    ],
    ['UNC path, case', '\\\\srv\\share\\a.dll', '//SRV/Share/A.DLL'],
    ['the Windows folder itself', '%windir%', 'c:\\windows\\'],
  ];
  it.each(same)('same file: %s', (_source, a, b) => {
    expect(isSameFile(a, b)).toBe(true);
    expect(normaliseFilePath(a)).toBe(normaliseFilePath(b));
  });

  const different: ReadonlyArray<readonly [string, string, string]> = [
    ['another file', '%windir%\\system32\\authz.dll', '%windir%\\system32\\ntdll.dll'],
    ['%windir% is a prefix only at the start', 'D:\\%windir%\\a.dll', 'C:\\Windows\\a.dll'],
    ['Windows on another drive is another folder', 'D:\\Windows\\a.dll', '%windir%\\a.dll'],
    ['C:\\WindowsApps is not C:\\Windows', 'C:\\WindowsApps\\a.dll', '%windir%Apps\\a.dll'],
    ['%SystemDrive% is not expanded', '%SystemDrive%\\Windows\\a.dll', 'C:\\Windows\\a.dll'],
    ['a UNC path is not a rooted path', '\\\\srv\\share\\a.dll', '\\srv\\share\\a.dll'],
  ];
  it.each(different)('different file: %s', (_source, a, b) => {
    expect(isSameFile(a, b)).toBe(false);
  });

  it('upper-cases one character at a time, as NTFS compares (ß is not SS)', () => {
    expect(isSameFile('C:\\Straße\\a.dll', 'C:\\STRASSE\\a.dll')).toBe(false);
    expect(isSameFile('C:\\Straße\\a.dll', 'c:\\STRAßE\\A.DLL')).toBe(true);
  });
});

interface ErrorRow {
  readonly source: string;
  readonly act: () => unknown;
  /** Field and value each problem must name. */
  readonly problems: ReadonlyArray<{ field: string; value?: unknown; message?: RegExp }>;
}

const good: InstallRecord = {
  updateId: D,
  installedAt: minute(10),
  hotpatched: true,
  replacedFiles: [{ path: TCPIP }],
};
const withInstall = (change: Record<string, unknown>) => () =>
  recordInstall(CBA, { ...good, ...change } as InstallRecord);

const errorRows: ErrorRow[] = [
  {
    source: 'recordInstall: the update is installed and not removed (case-insensitive id)',
    act: withInstall({ updateId: 'kb896358' }),
    problems: [{ field: 'updateId', value: 'kb896358', message: /already installed .*sequence 3/ }],
  },
  {
    source: 'recordInstall: a calendar date that does not exist',
    act: withInstall({ installedAt: '2024-02-30T10:00:00Z' }),
    problems: [{ field: 'installedAt', value: '2024-02-30T10:00:00Z', message: /ISO 8601/ }],
  },
  {
    source: 'recordInstall: not a timestamp',
    act: withInstall({ installedAt: 'yesterday' }),
    problems: [{ field: 'installedAt', value: 'yesterday', message: /ISO 8601/ }],
  },
  {
    source: 'recordInstall: a timestamp without a time zone is ambiguous',
    act: withInstall({ installedAt: '2024-05-01T10:30:00' }),
    problems: [{ field: 'installedAt', value: '2024-05-01T10:30:00', message: /time zone/ }],
  },
  {
    source: 'recordInstall: earlier than the previous entry (offsets are compared as instants)',
    act: withInstall({ installedAt: '2024-05-01T12:01:00+02:00' }),
    problems: [
      {
        field: 'installedAt',
        value: '2024-05-01T12:01:00+02:00',
        message: /earlier than the previous install \(KB896358/,
      },
    ],
  },
  {
    source: 'recordInstall: an update id without KB',
    act: withInstall({ updateId: '890923' }),
    problems: [{ field: 'updateId', value: '890923', message: /"KB" followed by/ }],
  },
  {
    source: 'issue 14: an update id with junk before KB',
    act: withInstall({ updateId: 'XKB1234' }),
    problems: [{ field: 'updateId', value: 'XKB1234', message: /"KB" followed by 4 to 8 digits/ }],
  },
  {
    source: 'issue 14: an update id with junk after the digits',
    act: withInstall({ updateId: 'KB1234X' }),
    problems: [{ field: 'updateId', value: 'KB1234X', message: /"KB" followed by 4 to 8 digits/ }],
  },
  {
    source: 'issue 14: an update id of 3 digits',
    act: withInstall({ updateId: 'KB123' }),
    problems: [{ field: 'updateId', value: 'KB123' }],
  },
  {
    source: 'issue 14: an update id of 9 digits',
    act: withInstall({ updateId: 'KB123456789' }),
    problems: [{ field: 'updateId', value: 'KB123456789' }],
  },
  {
    source: 'issue 14: a whitespace-only run id',
    act: withInstall({ runId: '   ' }),
    problems: [{ field: 'runId', value: '   ', message: /expected a run id, got an empty string/ }],
  },
  {
    source: 'issue 14: recordRemoval: a whitespace-only run id',
    act: () => recordRemoval(CBA, C, minute(10), ' \t'),
    problems: [{ field: 'runId', value: ' \t', message: /expected a run id, got an empty string/ }],
  },
  {
    source: 'issue 14: recordRemoval: a malformed removedAt later than the install is not stored',
    act: () => recordRemoval(CBA, C, '2099-01-01 10:00'),
    problems: [
      {
        field: 'removedAt',
        value: '2099-01-01 10:00',
        message: /ISO 8601 timestamp with seconds and a time zone/,
      },
    ],
  },
  {
    source: 'recordInstall: an update id with a space',
    act: withInstall({ updateId: 'KB 890923' }),
    problems: [{ field: 'updateId', value: 'KB 890923' }],
  },
  {
    source: 'recordInstall: an empty file path',
    act: withInstall({ replacedFiles: [{ path: TCPIP }, { path: '' }] }),
    problems: [{ field: 'replacedFiles[1].path', value: '', message: /empty/ }],
  },
  {
    source: 'recordInstall: a blank file path',
    act: withInstall({ replacedFiles: [{ path: '   ' }] }),
    problems: [{ field: 'replacedFiles[0].path', value: '   ' }],
  },
  {
    source: 'recordInstall: a path of separators only',
    act: withInstall({ replacedFiles: [{ path: '\\\\' }] }),
    problems: [{ field: 'replacedFiles[0].path', value: '\\\\', message: /separators/ }],
  },
  {
    source: 'recordInstall: the same file twice in one install, spelt differently',
    act: withInstall({
      replacedFiles: [{ path: AUTHZ }, { path: 'C:/windows/system32/authz.dll' }],
    }),
    problems: [
      {
        field: 'replacedFiles[1].path',
        value: 'C:/windows/system32/authz.dll',
        message: /replacedFiles\[0\]/,
      },
    ],
  },
  {
    source: 'recordInstall: every problem of one install in one error',
    act: withInstall({ updateId: 'KB', installedAt: 'now', runId: '', hotpatched: 'yes' }),
    problems: [
      { field: 'updateId', value: 'KB' },
      { field: 'installedAt', value: 'now' },
      { field: 'runId', value: '' },
      { field: 'hotpatched', value: 'yes' },
    ],
  },
  {
    source: 'recordInstall: a misspelt field is not dropped silently',
    act: withInstall({ runid: 'run-1' }),
    problems: [{ field: 'runid', value: 'run-1', message: /unknown field/ }],
  },
  {
    source: 'recordRemoval: an update never installed',
    act: () => recordRemoval(CBA, D, minute(10)),
    problems: [{ field: 'updateId', value: D, message: /never installed on node "web-01"/ }],
  },
  {
    source: 'recordRemoval: an update already removed',
    act: () => recordRemoval(recordRemoval(CBA, C, minute(10)), 'kb896358', minute(11)),
    problems: [{ field: 'updateId', value: 'kb896358', message: /already removed/ }],
  },
  {
    source: 'recordRemoval: removedAt not a timestamp',
    act: () => recordRemoval(CBA, C, '2024-05-01'),
    problems: [{ field: 'removedAt', value: '2024-05-01' }],
  },
  {
    source: 'recordRemoval: removedAt before the install',
    act: () => recordRemoval(CBA, C, minute(1)),
    problems: [{ field: 'removedAt', value: minute(1), message: /earlier than installedAt/ }],
  },
  {
    source: 'planRemoval: an empty request',
    act: () => planRemoval(CBA, []),
    problems: [{ field: 'requested', value: [], message: /at least one/ }],
  },
  {
    source: 'planRemoval: unknown, repeated, removed and malformed ids, all named in one error',
    act: () => planRemoval(recordRemoval(CBA, C, minute(10)), [A, D, 'kb890923', C, 'Q123']),
    problems: [
      { field: 'requested[1]', value: D, message: /never installed/ },
      { field: 'requested[2]', value: 'kb890923', message: /repeats requested\[0\]/ },
      { field: 'requested[3]', value: C, message: /already removed/ },
      { field: 'requested[4]', value: 'Q123', message: /"KB" followed by/ },
    ],
  },
  {
    source: 'createLedger: an empty node name',
    act: () => createLedger(''),
    problems: [{ field: 'node', value: '' }],
  },
];

describe('issue 14: boundaries of recordInstall and recordRemoval', () => {
  it.each([
    ['KB1000', 'KB1000'],
    ['KB99999999', 'KB99999999'],
    ['kb890923', 'KB890923'],
  ])('accepts the update id %s, stored as %s (4 to 8 digits, any case)', (updateId, stored) => {
    const ledger = recordInstall(createLedger(NODE), { ...good, updateId });
    expect(ledger.entries.map((e) => e.updateId)).toEqual([stored]);
  });

  it('records a removal at the exact instant of the install (not earlier, so allowed)', () => {
    const ledger = recordRemoval(CBA, C, minute(2), 'run-7');
    const removed = ledger.entries.find((e) => e.updateId === C);
    expect(removed).toMatchObject({ removedAt: minute(2), removedByRunId: 'run-7' });
    expect(installedUpdates(ledger).map((e) => e.updateId)).toEqual([A, B]);
  });

  it('records a removal one millisecond before the install as an error naming removedAt', () => {
    const justBefore = new Date(Date.parse(minute(2)) - 1).toISOString();
    const error = ledgerErrorOf(() => recordRemoval(CBA, C, justBefore));
    expect(error.problems.map((p) => [p.field, p.value])).toEqual([['removedAt', justBefore]]);
  });
});

describe('errors name the field and the value', () => {
  it.each(errorRows)('$source', ({ act, problems }) => {
    const error = ledgerErrorOf(act);
    expect(error.problems).toHaveLength(problems.length);
    problems.forEach((want, index) => {
      const got = error.problems[index];
      expect(got?.field).toBe(want.field);
      expect(got?.value).toEqual(want.value);
      if (want.message) expect(got?.message).toMatch(want.message);
      expect(error.message).toContain(want.field);
      expect(error.message).toContain(JSON.stringify(want.value));
    });
  });
});

describe('validateLedger', () => {
  it('returns a stored ledger unchanged when it is valid', () => {
    const stored = JSON.parse(JSON.stringify(recordRemoval(CBA, C, minute(10), 'run-2')));
    expect(validateLedger(stored)).toEqual(stored);
  });

  it('lists every problem with its field path and value', () => {
    const entry = (sequence: number, change: Record<string, unknown> = {}) => ({
      node: NODE,
      sequence,
      updateId: `KB10000${sequence}`,
      installedAt: minute(sequence),
      hotpatched: true,
      replacedFiles: [{ path: AUTHZ }],
      ...change,
    });
    const error = ledgerErrorOf(() =>
      validateLedger({
        node: NODE,
        entries: [
          entry(1, { updateId: 'KB-1', replacedFiles: [{ path: '' }] }),
          entry(2, { removedat: minute(5), sequence: 0, hotpatched: undefined }),
        ],
      }),
    );
    expect(error.problems.map((p) => [p.field, p.value])).toEqual([
      ['entries[0].updateId', 'KB-1'],
      ['entries[0].replacedFiles[0].path', ''],
      ['entries[1].sequence', 0],
      ['entries[1].hotpatched', undefined],
      ['entries[1].removedat', minute(5)],
    ]);
    expect(error.message).toMatch(/^Invalid install ledger \(5 problems\):/);
    expect(error.message).toContain(
      'entries[1].removedat ("2024-05-01T10:05:00.000Z"): unknown field',
    );
  });

  it('checks the entries against each other', () => {
    const base = JSON.parse(JSON.stringify(CBA)) as { entries: Record<string, unknown>[] };
    const [first, second, third] = base.entries;
    const error = ledgerErrorOf(() =>
      validateLedger({
        node: NODE,
        entries: [
          { ...first, removedByRunId: 'run-3' },
          {
            ...second,
            node: 'web-02',
            sequence: 1,
            replacedFiles: [{ path: AUTHZ }, { path: 'c:/windows/system32/AUTHZ.dll' }],
          },
          {
            ...third,
            updateId: 'kb890923',
            installedAt: minute(0),
            removedAt: '2024-05-01T09:00:00Z',
          },
          { ...first, sequence: 4, installedAt: minute(3), updateId: 'KB890923' },
          { ...first, sequence: 5, installedAt: minute(4), updateId: 'kb890923' },
        ],
      }),
    );
    expect(error.problems.map((p) => [p.field, p.value])).toEqual([
      ['entries[0].removedByRunId', 'run-3'],
      ['entries[1].node', 'web-02'],
      ['entries[1].sequence', 1],
      ['entries[1].replacedFiles[1].path', 'c:/windows/system32/AUTHZ.dll'],
      ['entries[2].installedAt', minute(0)],
      ['entries[2].removedAt', '2024-05-01T09:00:00Z'],
      ['entries[3].updateId', 'KB890923'],
      ['entries[4].updateId', 'kb890923'],
    ]);
  });

  it.each([
    ['null', null, 'ledger'],
    ['an array', [], 'ledger'],
    ['no entries', { node: NODE }, 'entries'],
  ])('rejects %s', (_source, input, field) => {
    expect(ledgerErrorOf(() => validateLedger(input)).problems.map((p) => p.field)).toContain(
      field,
    );
  });
});

describe('immutability', () => {
  function deepFreeze<T>(value: T): T {
    if (value && typeof value === 'object') {
      for (const inner of Object.values(value)) deepFreeze(inner);
      Object.freeze(value);
    }
    return value;
  }

  it('never changes the ledger it is given', () => {
    const ledger = deepFreeze(structuredClone(CBA));
    const before = structuredClone(ledger);
    const installed = install(ledger, D, [AUTHZ]);
    const removed = recordRemoval(ledger, A, minute(9));
    planRemoval(ledger, [A], { includeDependents: true });
    safeRemovalOrder(ledger);
    installedUpdates(ledger).reverse();
    expect(ledger).toEqual(before);
    expect(installed).not.toBe(ledger);
    expect(installed.entries).toHaveLength(4);
    expect(removed.entries[0]?.removedAt).toBe(minute(9));
  });

  it('copies the files it records, so later changes to the input do not reach the ledger', () => {
    const files = [{ path: TCPIP, versionAfter: '5.2.3790.2453' }];
    const ledger = recordInstall(CBA, { ...good, replacedFiles: files });
    files[0] = { path: AUTHZ, versionAfter: 'changed' };
    expect(ledger.entries[3]?.replacedFiles).toEqual([
      { path: TCPIP, versionAfter: '5.2.3790.2453' },
    ]);
  });
});

describe('property: a plan with dependents removes nothing while a later update shares its file', () => {
  // Each file has several spellings that name it; the model tracks files by index, so it does
  // not share the code under test's idea of path identity.
  const SPELLINGS: readonly (readonly string[])[] = [
    [
      '%windir%\\system32\\authz.dll',
      'C:/WINDOWS/System32/AUTHZ.DLL',
      '%SystemRoot%\\system32\\Authz.dll',
    ],
    [
      'C:\\Windows\\system32\\ntdll.dll',
      'c:\\windows\\\\system32\\NTDLL.dll',
      '%WINDIR%/system32/ntdll.dll/',
    ],
    ['C:\\Windows\\system32\\win32k.sys', 'c:/windows/system32/win32k.SYS'],
    ['C:\\Program Files\\App\\app.dll', 'c:\\program files\\app\\APP.DLL'],
  ];
  const UPDATES = 6;
  const updateId = (u: number) => `KB10000${u}`;

  const op = fc.oneof(
    fc.record({
      kind: fc.constant('install' as const),
      update: fc.integer({ min: 0, max: UPDATES - 1 }),
      files: fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: SPELLINGS.length - 1 }), fc.nat()), {
        selector: ([file]) => file,
        maxLength: 3,
      }),
    }),
    fc.record({
      kind: fc.constant('remove' as const),
      update: fc.integer({ min: 0, max: UPDATES - 1 }),
    }),
  );

  interface Model {
    readonly id: string;
    readonly files: ReadonlySet<number>;
  }

  /** Applies the ops to a ledger and to a model (installed updates, in install order). */
  function replay(ops: ReadonlyArray<typeof op extends fc.Arbitrary<infer T> ? T : never>) {
    let ledger = createLedger(NODE);
    let model: Model[] = [];
    ops.forEach((step, index) => {
      const id = updateId(step.update);
      const active = model.some((m) => m.id === id);
      if (step.kind === 'install' && !active) {
        ledger = recordInstall(ledger, {
          updateId: id,
          installedAt: minute(index),
          hotpatched: index % 2 === 0,
          replacedFiles: step.files.map(([file, spelling]) => {
            const names = SPELLINGS[file] ?? [];
            return { path: names[spelling % names.length] ?? '' };
          }),
        });
        model = [...model, { id, files: new Set(step.files.map(([file]) => file)) }];
      } else if (step.kind === 'remove' && active) {
        ledger = recordRemoval(ledger, id, minute(index));
        model = model.filter((m) => m.id !== id);
      }
    });
    return { ledger, model };
  }

  /** Removes `order` one by one from the model; true when no step breaks a later sharer. */
  function removesInOrder(model: readonly Model[], order: readonly string[]): boolean {
    let remaining = [...model];
    for (const id of order) {
      const at = remaining.findIndex((m) => m.id === id);
      const target = remaining[at];
      if (target === undefined) return false;
      const later = remaining.slice(at + 1);
      if (later.some((m) => [...m.files].some((file) => target.files.has(file)))) return false;
      remaining = remaining.filter((m) => m.id !== id);
    }
    return true;
  }

  it('holds for random install and removal histories', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 25 }),
        fc.array(fc.boolean(), { minLength: UPDATES, maxLength: UPDATES }),
        (ops, mask) => {
          const { ledger, model } = replay(ops);
          fc.pre(model.length > 0);
          const picked = model.filter((_, i) => mask[i]);
          const requested = (picked.length > 0 ? picked : [model[0] as Model]).map((m) => m.id);

          const withDependents = planRemoval(ledger, requested, { includeDependents: true });
          expect(withDependents.safe).toBe(true);
          expect(withDependents.warnings).toEqual([]);
          expect(removesInOrder(model, withDependents.order)).toBe(true);
          expect(withDependents.order).toEqual(expect.arrayContaining(requested));
          expect([...withDependents.order].sort()).toEqual(
            [...requested, ...withDependents.addedDependents].sort(),
          );

          // Without dependents the plan is safe exactly when the model says the removal is.
          const plain = planRemoval(ledger, requested);
          expect(plain.safe).toBe(removesInOrder(model, plain.order));
          expect([...plain.order].sort()).toEqual([...requested].sort());
          // Reverse install order.
          const position = (id: string) => model.findIndex((m) => m.id === id);
          const positions = withDependents.order.map(position);
          expect(positions).toEqual([...positions].sort((a, b) => b - a));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('issue 14: removalFor (how an install is removed)', () => {
  it.each([
    { packageNames: undefined, expected: { method: 'wusa' }, source: 'nothing reported: wusa' },
    { packageNames: [], expected: { method: 'wusa' }, source: 'no package: wusa' },
    {
      packageNames: ['Package_for_KB5000001~31bf3856ad364e35~amd64~~10.0.1.0'],
      expected: { method: 'wusa' },
      source: 'an ordinary package: wusa',
    },
    {
      packageNames: [
        'Package_for_KB5000001~31bf',
        'Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.1',
      ],
      expected: {
        method: 'dism',
        packageName: 'Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.1',
      },
      source: 'a combined SSU + LCU package: DISM with its name',
    },
    {
      packageNames: ['package_for_rollupfix~31bf'],
      expected: { method: 'dism', packageName: 'package_for_rollupfix~31bf' },
      source: 'DISM names compare case-insensitively',
    },
    {
      packageNames: ['Other_Package_for_RollupFix~31bf'],
      expected: { method: 'wusa' },
      source: 'the combined prefix must start the name',
    },
  ])('$source', ({ packageNames, expected }) => {
    expect(removalFor(packageNames === undefined ? {} : { packageNames })).toEqual(expected);
  });
});

describe('issue 14: normaliseFilePath, one row per rule', () => {
  it.each([
    {
      path: '%windir%\\system32\\Authz.dll',
      key: 'C:\\WINDOWS\\SYSTEM32\\AUTHZ.DLL',
      source: '%windir% is C:\\Windows',
    },
    { path: '%SystemRoot%', key: 'C:\\WINDOWS', source: '%systemroot% alone' },
    {
      path: 'C:\\Windows2\\x.dll',
      key: 'C:\\WINDOWS2\\X.DLL',
      source: 'the prefix ends at a separator',
    },
    {
      path: 'D:\\%windir%\\x.dll',
      key: 'D:\\%WINDIR%\\X.DLL',
      source: 'the prefix only at the start',
    },
    { path: '  C:/Windows/x.dll  ', key: 'C:\\WINDOWS\\X.DLL', source: 'spaces around, / as \\' },
    {
      path: '\\\\?\\C:\\Windows\\x.dll',
      key: 'C:\\WINDOWS\\X.DLL',
      source: 'long-path prefix dropped',
    },
    { path: '\\\\?\\C:', key: 'C:', source: 'long-path prefix before a bare drive' },
    { path: 'x\\\\?\\C:\\f', key: 'X\\?\\C:\\F', source: 'a long-path prefix only at the start' },
    {
      path: '\\\\server\\share\\\\f.dll',
      key: '\\\\SERVER\\SHARE\\F.DLL',
      source: 'a UNC path keeps its leading \\\\',
    },
    { path: 'C:\\x\\\\', key: 'C:\\X', source: 'trailing separators dropped' },
  ])('$path -> $key ($source)', ({ path, key }) => {
    expect(normaliseFilePath(path)).toBe(key);
  });
});

describe('issue 14: the messages a user reads', () => {
  const entry = (change: Record<string, unknown> = {}) => ({
    node: NODE,
    sequence: 1,
    updateId: A,
    installedAt: minute(1),
    hotpatched: true,
    replacedFiles: [{ path: AUTHZ }],
    ...change,
  });
  const stored = (change: Record<string, unknown>) => ({ node: NODE, entries: [entry(change)] });
  const TIME =
    'expected an ISO 8601 timestamp with seconds and a time zone, e.g. "2024-05-01T10:00:00Z"';
  it.each([
    { input: undefined, field: 'ledger', message: 'expected an object { node, entries }' },
    {
      input: { node: NODE, entries: 'x' },
      field: 'entries',
      message: 'expected an array of entries',
    },
    { input: { node: 5, entries: [] }, field: 'node', message: 'expected a node name as a string' },
    {
      input: { node: ' ', entries: [] },
      field: 'node',
      message: 'expected a node name, got an empty string',
    },
    {
      input: { node: NODE, entries: ['x'] },
      field: 'entries[0]',
      message: 'expected a ledger entry object',
    },
    {
      input: stored({ sequence: 0 }),
      field: 'entries[0].sequence',
      message: 'expected a whole number from 1',
    },
    {
      input: stored({ sequence: 1.5 }),
      field: 'entries[0].sequence',
      message: 'expected a whole number from 1',
    },
    {
      input: stored({ sequence: '1' }),
      field: 'entries[0].sequence',
      message: 'expected a whole number from 1',
    },
    {
      input: stored({ updateId: 5 }),
      field: 'entries[0].updateId',
      message: 'expected "KB" followed by 4 to 8 digits, e.g. "KB890923"',
    },
    { input: stored({ installedAt: 'x' }), field: 'entries[0].installedAt', message: TIME },
    {
      input: stored({ installedAt: undefined }),
      field: 'entries[0].installedAt',
      message: `missing; ${TIME}`,
    },
    { input: stored({ removedAt: 'x' }), field: 'entries[0].removedAt', message: TIME },
    {
      input: stored({ runId: 5 }),
      field: 'entries[0].runId',
      message: 'expected a run id as a string',
    },
    {
      input: stored({ removedAt: minute(2), removedByRunId: '' }),
      field: 'entries[0].removedByRunId',
      message: 'expected a run id, got an empty string',
    },
    {
      input: stored({ hotpatched: 'yes' }),
      field: 'entries[0].hotpatched',
      message: 'expected true or false',
    },
    {
      input: stored({ replacedFiles: 'x' }),
      field: 'entries[0].replacedFiles',
      message: 'expected an array of replaced files',
    },
    {
      input: stored({ replacedFiles: ['x'] }),
      field: 'entries[0].replacedFiles[0]',
      message: 'expected an object { path, versionBefore?, versionAfter? }',
    },
    {
      input: stored({ replacedFiles: [{ path: 5 }] }),
      field: 'entries[0].replacedFiles[0].path',
      message: 'expected a file path as a string',
    },
    {
      input: stored({ replacedFiles: [{ path: ' ' }] }),
      field: 'entries[0].replacedFiles[0].path',
      message: 'expected a file path, got an empty string',
    },
    {
      input: stored({ replacedFiles: [{ path: '//' }] }),
      field: 'entries[0].replacedFiles[0].path',
      message: 'expected a file path, got only separators',
    },
    {
      input: stored({ replacedFiles: [{ path: AUTHZ, versionBefore: '' }] }),
      field: 'entries[0].replacedFiles[0].versionBefore',
      message: 'expected a file version, got an empty string',
    },
    {
      input: stored({ replacedFiles: [{ path: AUTHZ, versionAfter: 5 }] }),
      field: 'entries[0].replacedFiles[0].versionAfter',
      message: 'expected a file version as a string',
    },
    {
      input: stored({ removal: { method: 'msiexec' } }),
      field: 'entries[0].removal.method',
      message: 'expected { method: "wusa" } or { method: "dism", packageName }',
    },
    {
      input: stored({ removal: { method: 'dism', packageName: 'a b' } }),
      field: 'entries[0].removal.packageName',
      message: 'expected a DISM package name',
    },
    {
      input: stored({ removal: { method: 'dism', packageName: 'x'.repeat(201) } }),
      field: 'entries[0].removal.packageName',
      message: 'expected a DISM package name',
    },
    {
      input: stored({ removal: { method: 'dism', packageName: '' } }),
      field: 'entries[0].removal.packageName',
      message: 'expected a DISM package name',
    },
    {
      input: stored({ removedByRunId: 'run-1' }),
      field: 'entries[0].removedByRunId',
      message: 'set on an entry without removedAt; expected removedAt too, or neither',
    },
    {
      input: stored({ removedAt: minute(0) }),
      field: 'entries[0].removedAt',
      message: `earlier than installedAt (${JSON.stringify(minute(1))}); expected a time at or after the install`,
    },
    {
      input: stored({
        replacedFiles: [{ path: AUTHZ }, { path: 'c:/windows/system32/authz.dll' }],
      }),
      field: 'entries[0].replacedFiles[1].path',
      message: `the same file as replacedFiles[0] (${JSON.stringify(AUTHZ)}); list each file once`,
    },
    {
      input: stored({ node: 'web-02' }),
      field: 'entries[0].node',
      message: 'expected the ledger\'s node "web-01"',
    },
  ])('$field: $message', ({ input, field, message }) => {
    const error = ledgerErrorOf(() => validateLedger(input));
    expect(error.problems.map((p) => [p.field, p.message])).toEqual([[field, message]]);
    expect(error.message).toMatch(/^Invalid install ledger/);
  });

  it('a missing field has no value in its problem; a present one has', () => {
    const missing = ledgerErrorOf(() => validateLedger(stored({ installedAt: undefined })))
      .problems[0];
    expect(missing).not.toHaveProperty('value');
    const present = ledgerErrorOf(() => validateLedger(stored({ installedAt: 'x' }))).problems[0];
    expect(present).toHaveProperty('value', 'x');
    const root = ledgerErrorOf(() => validateLedger(undefined)).problems[0];
    expect(root).toEqual({ field: 'ledger', message: 'expected an object { node, entries }' });
  });

  it('validateLedger: an equal sequence is refused, an equal install time is not', () => {
    const two = (second: Record<string, unknown>) => ({
      node: NODE,
      entries: [entry(), entry({ updateId: B, sequence: 2, ...second })],
    });
    expect(validateLedger(two({ installedAt: minute(1) })).entries).toHaveLength(2);
    const error = ledgerErrorOf(() => validateLedger(two({ sequence: 1 })));
    expect(error.problems.map((p) => [p.field, p.message])).toEqual([
      ['entries[1].sequence', "expected more than the previous entry's sequence (1)"],
    ]);
    const earlier = ledgerErrorOf(() => validateLedger(two({ installedAt: minute(0) })));
    expect(earlier.problems.map((p) => [p.field, p.message])).toEqual([
      [
        'entries[1].installedAt',
        `earlier than the previous entry's installedAt (${JSON.stringify(minute(1))}); expected install order`,
      ],
    ]);
    const twice = ledgerErrorOf(() => validateLedger(two({ updateId: 'kb890923' })));
    expect(twice.problems.map((p) => [p.field, p.message])).toEqual([
      [
        'entries[1].updateId',
        'also installed and not removed in entries[0]; expected one installed entry per update',
      ],
    ]);
  });

  it('recordInstall and recordRemoval headings name the node and the update', () => {
    expect(ledgerErrorOf(() => recordInstall(CBA, null as never)).message).toMatch(
      /^Cannot record an install on node "web-01"/,
    );
    expect(ledgerErrorOf(() => recordInstall(CBA, null as never)).problems).toEqual([
      {
        field: 'install',
        value: null,
        message:
          'expected an object { updateId, installedAt, runId?, hotpatched, replacedFiles, removal? }',
      },
    ]);
    expect(ledgerErrorOf(() => recordRemoval(CBA, D, minute(10))).message).toMatch(
      /^Cannot record the removal of "KB899591" on node "web-01"/,
    );
    expect(ledgerErrorOf(() => planRemoval(CBA, [])).message).toMatch(
      /^Cannot plan a removal on node "web-01"/,
    );
    expect(ledgerErrorOf(() => createLedger('')).message).toMatch(/^Invalid node/);
  });

  it('never installed: lists what is installed, or says none is', () => {
    expect(ledgerErrorOf(() => recordRemoval(CBA, D, minute(10))).problems[0]?.message).toBe(
      'never installed on node "web-01"; expected an installed update (KB890923, KB893066, KB896358)',
    );
    expect(
      ledgerErrorOf(() => recordRemoval(createLedger(NODE), D, minute(10))).problems[0]?.message,
    ).toBe('never installed on node "web-01"; expected an installed update (none is installed)');
    expect(
      ledgerErrorOf(() => recordRemoval(recordRemoval(CBA, C, minute(10)), C, minute(11)))
        .problems[0]?.message,
    ).toBe(`already removed from node "web-01" (at ${minute(10)}); expected an installed update`);
  });

  it('planRemoval: a requested id that is not a string is named, and the others still checked', () => {
    const error = ledgerErrorOf(() => planRemoval(CBA, [5, { toString: () => A }, A] as never));
    expect(error.problems.map((p) => p.field)).toEqual(['requested[0]', 'requested[1]']);
    expect(error.problems[0]?.message).toBe(
      'expected "KB" followed by 4 to 8 digits, e.g. "KB890923"',
    );
  });
});

describe('issue 14: ledgers whose entries arrive out of order, and the removal method kept', () => {
  const shuffled: InstallLedger = { node: NODE, entries: [...CBA.entries].reverse() };

  it('installedUpdates and safeRemovalOrder go by sequence, not by storage order', () => {
    expect(installedUpdates(shuffled).map((e) => e.updateId)).toEqual([A, B, C]);
    expect(safeRemovalOrder(shuffled)).toEqual([C, B, A]);
  });

  it('recordInstall and recordRemoval return the entries in sequence order', () => {
    expect(recordInstall(shuffled, good).entries.map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
    expect(recordRemoval(shuffled, B, minute(10)).entries.map((e) => e.sequence)).toEqual([
      1, 2, 3,
    ]);
  });

  it('planRemoval warns in removal order, whatever order the updates were requested in', () => {
    const plan = planRemoval(CBA, [A, B]);
    expect(plan.order).toEqual([B, A]);
    expect(plan.warnings.map((w) => w.updateId)).toEqual([B, A]);
  });

  it('recordInstall accepts and keeps a wusa removal', () => {
    const ledger = recordInstall(CBA, { ...good, removal: { method: 'wusa' } });
    expect(ledger.entries.at(-1)?.removal).toEqual({ method: 'wusa' });
    expect(validateLedger(JSON.parse(JSON.stringify(ledger)))).toEqual(ledger);
  });

  it('recordInstall keeps how the update is removed', () => {
    const removal = {
      method: 'dism' as const,
      packageName: 'Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.1',
    };
    const ledger = recordInstall(CBA, { ...good, removal });
    expect(ledger.entries.at(-1)?.removal).toEqual(removal);
  });
});
