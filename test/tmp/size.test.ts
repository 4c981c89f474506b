import { it } from 'vitest';
import { synth } from '../lib/synth.js';
it('size', () => {
  const { template } = synth({});
  const t = template.toJSON() as { Resources: Record<string, { Type: string }> };
  const total = JSON.stringify(t, null, 1).length;
  const byType = new Map<string, number>();
  const rows: [string, string, number][] = [];
  for (const [id, r] of Object.entries(t.Resources)) {
    const n = JSON.stringify(r, null, 1).length;
    byType.set(r.Type, (byType.get(r.Type) ?? 0) + n);
    rows.push([id, r.Type, n]);
  }
  console.log('total', total, 'minified', JSON.stringify(t).length);
  console.log([...byType].sort((a, b) => b[1] - a[1]).slice(0, 12));
  console.log(rows.sort((a, b) => b[2] - a[2]).slice(0, 15));
});
