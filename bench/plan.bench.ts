/**
 * How long planning takes for a 64-node cluster with a 2,000-file hotfix root, and its memory.
 */
import { defaultHotfixConfigXml } from '../lambdas/core/default-config.js';
import { parseHotfixConfig } from '../lambdas/core/hotfix-config.js';
import { planHotfixRoot } from '../lambdas/core/hotfix-plan.js';
import { heapUsedMiB, peakRssMiB, time } from './measure.js';

/** A realistic hotfix root listing: mostly shared updates, some per-node, some folder rules. */
export function syntheticRoot(nodeCount: number, fileCount: number) {
  const nodes = Array.from(
    { length: nodeCount },
    (_, i) => `NODE${String(i + 1).padStart(2, '0')}`,
  );
  const extensions = ['msu', 'msi', 'msp'];
  const files: string[] = ['DefaultHotfixConfig.xml'];
  for (let i = 0; files.length < fileCount; i++) {
    const kind = i % 20;
    const ext = extensions[i % 3];
    if (kind < 12) files.push(`CAUHotfix_All/windows10.0-kb${5_000_000 + i}-x64.${ext}`);
    else if (kind < 14)
      files.push(`CAUHotfix_All/HotpatchExe/WindowsServer2003-KB${900_000 + i}-x86-ENU.exe`);
    else if (kind < 19) files.push(`${nodes[i % nodeCount]}/vendor-fix-${i}.${ext}`);
    else files.push(`CAUHotfix_All/docs/readme-${i}.txt`);
  }
  return { nodes, files };
}

const CONFIG_XML = defaultHotfixConfigXml().replace(
  '</HotfixConfig>',
  `<FolderRules><Folder name="HotpatchExe"><Template path="$update$" parameters="/quiet /hotpatch:enable"/>
   <ExitConditions><Success><ExitCode Code="0"/></Success></ExitConditions></Folder></FolderRules></HotfixConfig>`,
);

export function benchPlan() {
  const { nodes, files } = syntheticRoot(64, 2000);
  const parse = time(() => parseHotfixConfig(CONFIG_XML), 200);
  const config = parseHotfixConfig(CONFIG_XML);
  const heapBefore = heapUsedMiB();
  const plan = planHotfixRoot({ files, nodes, config });
  const heapWithPlan = heapUsedMiB();
  const planTiming = time(() => planHotfixRoot({ files, nodes, config }), 30);
  const planned = Object.values(plan.nodes).reduce((n, updates) => n + updates.length, 0);
  return {
    name: 'plan: 64-node cluster, 2,000-file hotfix root',
    nodes: nodes.length,
    files: files.length,
    plannedUpdates: planned,
    ignored: plan.ignored.length,
    configParse: parse,
    plan: planTiming,
    planHeapMiB: Math.max(0, heapWithPlan - heapBefore),
    jsonMiB: Math.round((JSON.stringify(plan).length / 1024 / 1024) * 100) / 100,
    peakRssMiB: peakRssMiB(),
  };
}
