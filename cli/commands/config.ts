/** Loading a hotfix configuration for a command: a given file, the root's own, or our default. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  DEFAULT_HOTFIX_CONFIG_FILE,
  defaultHotfixConfig,
} from '../../lambdas/core/default-config.js';
import { type HotfixConfig, parseHotfixConfig } from '../../lambdas/core/hotfix-config.js';
import { readTextFile } from '../files.js';

/** A configuration and where it came from. */
export interface LoadedConfig {
  readonly config: HotfixConfig;
  /** The file it was read from, or `built-in default-hotfix-config.xml`. */
  readonly source: string;
}

/**
 * Loads `--config` when given; else `<root>/<configFileName>` when a root has one (as CAU reads
 * its configuration from the hotfix root); else our shipped default.
 */
export function loadConfig(
  cwd: string,
  configPath: string | undefined,
  root?: { folder: string; configFileName: string },
): LoadedConfig {
  if (configPath !== undefined) {
    return {
      config: parseHotfixConfig(readTextFile(cwd, configPath, 'config'), configPath),
      source: configPath,
    };
  }
  if (root) {
    const inRoot = resolve(cwd, root.folder, root.configFileName);
    if (existsSync(inRoot)) {
      const shown = `${root.folder.replace(/[\\/]+$/, '')}/${root.configFileName}`;
      return { config: parseHotfixConfig(readTextFile(cwd, inRoot, 'root'), shown), source: shown };
    }
  }
  return { config: defaultHotfixConfig(), source: `built-in ${DEFAULT_HOTFIX_CONFIG_FILE}` };
}
