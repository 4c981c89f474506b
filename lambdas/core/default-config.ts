/**
 * Our default hotfix configuration, shipped as `default-hotfix-config.xml` beside this module.
 * Lambda bundles copy the file next to the handler, so the same relative URL works in both.
 */
import { readFileSync } from 'node:fs';
import { type HotfixConfig, parseHotfixConfig } from './hotfix-config.js';

/** The file name of our default configuration. */
export const DEFAULT_HOTFIX_CONFIG_FILE = 'default-hotfix-config.xml';

let cached: HotfixConfig | undefined;

/** The text of our default hotfix configuration. */
export function defaultHotfixConfigXml(): string {
  return readFileSync(new URL(`./${DEFAULT_HOTFIX_CONFIG_FILE}`, import.meta.url), 'utf8');
}

/** Our default hotfix configuration, parsed once. */
export function defaultHotfixConfig(): HotfixConfig {
  cached ??= parseHotfixConfig(defaultHotfixConfigXml(), DEFAULT_HOTFIX_CONFIG_FILE);
  return cached;
}
