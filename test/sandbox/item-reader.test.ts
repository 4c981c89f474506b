/**
 * The sandbox's Distributed Map ItemReader (adapt.ts, adaptation 3; sandbox/item-reader.ts): the
 * items are read with GetObject from the sandbox's S3, as JSON, JSONL or CSV, with MaxItems;
 * what it does not simulate is refused by name, and a missing or malformed object is
 * States.ItemReaderFailed, as Step Functions reports it.
 */
import { JSONPath } from 'jsonpath-plus';
import { describe, expect, it } from 'vitest';
import { FakeS3 } from '../../sandbox/aws-fakes.js';
import { type ItemReaderSpec, readItems } from '../../sandbox/item-reader.js';

const input = { scan: { nodeListKey: 'runs/r1/nodes.json' }, max: 2 };
const GET = 'arn:aws:states:::s3:getObject';

/** The reader as the engine calls it: templates and paths against the state input. */
function read(s3: FakeS3, reader: ItemReaderSpec) {
  return readItems(reader, {
    s3,
    parameters: (template) =>
      Object.fromEntries(
        Object.entries(template).map(([k, v]) =>
          k.endsWith('.$')
            ? [k.slice(0, -2), JSONPath({ path: String(v), json: input, wrap: false })]
            : [k, v],
        ),
      ),
    path: (path) => JSONPath({ path, json: input, wrap: false }),
  });
}

const reader = (config?: ItemReaderSpec['ReaderConfig']): ItemReaderSpec => ({
  Resource: GET,
  Parameters: { Bucket: 'artifacts', 'Key.$': '$.scan.nodeListKey' },
  ...(config ? { ReaderConfig: config } : {}),
});

const nodes = [
  { name: 'WEB1', instanceId: 'i-00000000000000001' },
  { name: 'WEB2', instanceId: 'i-00000000000000002' },
  { name: 'WEB3', instanceId: 'i-00000000000000003' },
];

describe('the sandbox ItemReader', () => {
  it('reads a JSON array from the key the Parameters path names (as synthesized: InputType JSON)', async () => {
    const s3 = new FakeS3();
    s3.put('artifacts', 'runs/r1/nodes.json', JSON.stringify(nodes));
    await expect(read(s3, reader({ InputType: 'JSON' }))).resolves.toEqual(nodes);
    await expect(read(s3, reader())).resolves.toEqual(nodes);
    // Each read is one GetObject request, as the cost bench counts S3 (issue 11).
    expect(Object.fromEntries(s3.requests)).toEqual({ GetObject: 2 });
  });

  it('reads JSONL, one item a line, blank lines ignored', async () => {
    const s3 = new FakeS3();
    s3.put(
      'artifacts',
      'runs/r1/nodes.json',
      `${nodes.map((n) => JSON.stringify(n)).join('\n')}\n\n`,
    );
    await expect(read(s3, reader({ InputType: 'JSONL' }))).resolves.toEqual(nodes);
  });

  it('reads CSV with its header row, or with CSVHeaders given; values are strings', async () => {
    const s3 = new FakeS3();
    s3.put('artifacts', 'runs/r1/nodes.json', 'name,instanceId\nWEB1,i-1\r\nWEB2,i-2\n');
    await expect(
      read(s3, reader({ InputType: 'CSV', CSVHeaderLocation: 'FIRST_ROW' })),
    ).resolves.toEqual([
      { name: 'WEB1', instanceId: 'i-1' },
      { name: 'WEB2', instanceId: 'i-2' },
    ]);
    s3.put('artifacts', 'runs/r1/nodes.json', 'WEB1,7\nWEB2,8\n');
    await expect(
      read(s3, reader({ InputType: 'CSV', CSVHeaderLocation: 'GIVEN', CSVHeaders: ['name', 'n'] })),
    ).resolves.toEqual([
      { name: 'WEB1', n: '7' },
      { name: 'WEB2', n: '8' },
    ]);
  });

  it('stops at MaxItems, or at MaxItemsPath read from the input', async () => {
    const s3 = new FakeS3();
    s3.put('artifacts', 'runs/r1/nodes.json', JSON.stringify(nodes));
    await expect(read(s3, reader({ MaxItems: 1 }))).resolves.toEqual(nodes.slice(0, 1));
    await expect(read(s3, reader({ MaxItemsPath: '$.max' }))).resolves.toEqual(nodes.slice(0, 2));
  });

  it('a missing or malformed object is States.ItemReaderFailed naming it', async () => {
    const s3 = new FakeS3();
    await expect(read(s3, reader())).rejects.toMatchObject({
      name: 'States.ItemReaderFailed',
      message: expect.stringContaining('s3://artifacts/runs/r1/nodes.json'),
    });
    s3.put('artifacts', 'runs/r1/nodes.json', '{"not":"an array"}');
    await expect(read(s3, reader())).rejects.toMatchObject({
      name: 'States.ItemReaderFailed',
      message: 's3://artifacts/runs/r1/nodes.json is JSON but not an array of items',
    });
    s3.put('artifacts', 'runs/r1/nodes.json', '{"a":1}\nnot json\n');
    await expect(read(s3, reader({ InputType: 'JSONL' }))).rejects.toMatchObject({
      name: 'States.ItemReaderFailed',
      message: 's3://artifacts/runs/r1/nodes.json line 2 is not JSON',
    });
    s3.put('artifacts', 'runs/r1/nodes.json', 'name,instanceId\nWEB1\n');
    await expect(read(s3, reader({ InputType: 'CSV' }))).rejects.toMatchObject({
      name: 'States.ItemReaderFailed',
      message: 's3://artifacts/runs/r1/nodes.json row 2 has 1 fields, the header 2',
    });
  });

  it('refuses, by name, a reader it does not simulate', async () => {
    const s3 = new FakeS3();
    s3.put('artifacts', 'runs/r1/nodes.json', JSON.stringify(nodes));
    await expect(
      read(s3, { ...reader(), Resource: 'arn:aws:states:::s3:listObjectsV2' }),
    ).rejects.toThrow(
      /reads s3:getObject objects only; this map uses arn:aws:states:::s3:listObjectsV2/,
    );
    await expect(read(s3, reader({ InputType: 'MANIFEST' }))).rejects.toThrow(
      /reads JSON, JSONL or CSV; this map reads MANIFEST/,
    );
  });

  it('reads what the synthesized rollout workflow declares for its fleet maps', async () => {
    const { synthesize } = await import('../../sandbox/engine.js');
    const states = synthesize().rollout.definition.States as Record<
      string,
      { ItemReader?: ItemReaderSpec }
    >;
    const readers = Object.values(states).flatMap((s) => (s.ItemReader ? [s.ItemReader] : []));
    expect(readers.length).toBeGreaterThanOrEqual(3);
    for (const r of readers) {
      expect(r.Resource).toBe(GET);
      expect(r.ReaderConfig?.InputType ?? 'JSON').toBe('JSON');
    }
  });
});
