/** File access for the CLI, with errors that name the flag and the path. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { decodeHotfixConfigBytes } from '../lambdas/core/hotfix-config.js';
import { UsageError } from './args.js';

/**
 * Reads a text file named by a flag: UTF-8 with or without a BOM, or UTF-16 with a BOM (what
 * Windows PowerShell 5.1's `Out-File` and `>` write).
 */
export function readTextFile(cwd: string, path: string, flag: string): string {
  try {
    return decodeHotfixConfigBytes(readFileSync(resolve(cwd, path)));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code;
    throw new UsageError(`--${flag} ${JSON.stringify(path)}: cannot read the file (${why})`, {
      cause: error,
    });
  }
}

/** Reads and parses a JSON file named by a flag. */
export function readJsonFile(cwd: string, path: string, flag: string): unknown {
  const text = readTextFile(cwd, path, flag);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `--${flag} ${JSON.stringify(path)}: not valid JSON (${(error as Error).message})`,
      { cause: error },
    );
  }
}

/**
 * Lists every file under a folder, as paths relative to it with `/` separators, sorted.
 * Folders themselves are not listed (S3 has no folders either).
 */
export function listFiles(cwd: string, root: string, flag: string): string[] {
  const absolute = resolve(cwd, root);
  let isDirectory = false;
  try {
    isDirectory = statSync(absolute).isDirectory();
  } catch {
    throw new UsageError(`--${flag} ${JSON.stringify(root)}: no such folder`);
  }
  if (!isDirectory) throw new UsageError(`--${flag} ${JSON.stringify(root)}: not a folder`);
  return readdirSync(absolute, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(absolute, resolve(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}
