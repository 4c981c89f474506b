/**
 * Node names as CAU uses them: NetBIOS computer names, which compare case-insensitively.
 */
import type { ValidationProblem } from './errors.js';

/** The longest NetBIOS computer name. */
export const NETBIOS_MAX_LENGTH = 15;

// Characters Windows does not allow in a NetBIOS computer name.
const INVALID = /[\\/:*?"<>|,~!@#$%^&'(){}\s]/;

/** The key under which a node name is compared and stored (NetBIOS names ignore case). */
export function nodeKey(name: string): string {
  return name.toUpperCase();
}

/** True when two node names are the same node. */
export function sameNode(a: string, b: string): boolean {
  return nodeKey(a) === nodeKey(b);
}

/** Why a node name is not a NetBIOS computer name, or undefined when it is one. */
export function nodeNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'expected a computer name';
  if (name.length > NETBIOS_MAX_LENGTH) {
    return `expected a NetBIOS name of at most ${NETBIOS_MAX_LENGTH} characters`;
  }
  if (INVALID.test(name)) {
    return 'expected a NetBIOS name without spaces or \\ / : * ? " < > | , ~ ! @ # $ % ^ & \' ( ) { }';
  }
  if (name.startsWith('.') || /^[0-9]+$/.test(name)) {
    return 'expected a NetBIOS name that does not start with a dot and is not all digits';
  }
  return undefined;
}

/** Problems with a list of node names: invalid names and case-insensitive duplicates. */
export function nodeListProblems(names: readonly unknown[], field: string): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (names.length === 0) problems.push({ field, message: 'expected at least one node' });
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    const problem = nodeNameProblem(name);
    if (problem) {
      problems.push({ field: `${field}[${i}]`, value: name, message: problem });
      return;
    }
    const key = nodeKey(name as string);
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({
        field: `${field}[${i}]`,
        value: name,
        message: `is the same node as ${field}[${first}] (names compare case-insensitively)`,
      });
    } else seen.set(key, i);
  });
  return problems;
}
