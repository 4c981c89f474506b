/**
 * A Distributed Map's ItemReader, as the sandbox runs it (adapt.ts, adaptation 3): the items
 * come from the sandbox's S3 (aws-fakes.ts FakeS3), read with GetObject as Step Functions reads
 * them, so the request counts of the cost bench see them too.
 *
 * Supported, as AWS documents them ("ItemReader (Map)", Step Functions developer guide):
 * - `Resource: arn:aws:states:::s3:getObject` with `Parameters` `{ Bucket, Key }` (paths allowed);
 * - `ReaderConfig.InputType`: `JSON` (an array), `JSONL` (one JSON value a line), `CSV` (the
 *   first row is the header unless `CSVHeaderLocation: GIVEN` with `CSVHeaders`; every value a
 *   string, as AWS gives them);
 * - `ReaderConfig.MaxItems` / `MaxItemsPath`: only the first N items.
 * Anything else (another resource or input type, a manifest) is refused by name rather than
 * run differently from AWS.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';

type Json = unknown;

/** The ItemReader field of a Distributed Map state, as synthesized. */
export interface ItemReaderSpec {
  readonly Resource: string;
  readonly Parameters: Record<string, Json>;
  readonly ReaderConfig?: {
    readonly InputType?: string;
    readonly CSVHeaderLocation?: string;
    readonly CSVHeaders?: readonly string[];
    readonly MaxItems?: number;
    readonly MaxItemsPath?: string;
  };
}

/** What the reader needs: S3 GetObject, and the engine's path evaluation and templates. */
export interface ItemReaderContext {
  readonly s3: { send(command: unknown): Promise<unknown> };
  readonly parameters: (template: Record<string, Json>) => Json;
  readonly path: (path: string) => Json;
}

/** Step Functions' error for an ItemReader that cannot read its items. */
export function itemReaderFailed(message: string): Error {
  const error = new Error(message);
  error.name = 'States.ItemReaderFailed';
  return error;
}

/**
 * The items of a Distributed Map from its ItemReader.
 *
 * @throws an error named `States.ItemReaderFailed` when the object is missing or not the
 *   declared type, naming the object; a plain Error for a reader the sandbox does not support.
 */
export async function readItems(
  reader: ItemReaderSpec,
  context: ItemReaderContext,
): Promise<Json[]> {
  if (reader.Resource !== 'arn:aws:states:::s3:getObject') {
    throw new Error(
      `the sandbox's ItemReader reads s3:getObject objects only; this map uses ${reader.Resource}`,
    );
  }
  const where = context.parameters(reader.Parameters) as { Bucket?: unknown; Key?: unknown };
  const uri = `s3://${String(where.Bucket)}/${String(where.Key)}`;
  let text: string;
  try {
    const object = (await context.s3.send(
      new GetObjectCommand({ Bucket: String(where.Bucket), Key: String(where.Key) }),
    )) as { Body?: { transformToString(): Promise<string> } };
    text = (await object.Body?.transformToString()) ?? '';
  } catch (error) {
    throw itemReaderFailed(
      `cannot read ${uri}: ${(error as Error).name}: ${(error as Error).message}`,
    );
  }
  const config = reader.ReaderConfig ?? {};
  const type = config.InputType ?? 'JSON';
  let items: Json[];
  if (type === 'JSON') {
    items = parseJson(text, uri);
  } else if (type === 'JSONL') {
    items = text
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '')
      .map((line, i) => {
        try {
          return JSON.parse(line) as Json;
        } catch {
          throw itemReaderFailed(`${uri} line ${i + 1} is not JSON`);
        }
      });
  } else if (type === 'CSV') {
    items = parseCsv(text, uri, config);
  } else {
    throw new Error(`the sandbox's ItemReader reads JSON, JSONL or CSV; this map reads ${type}`);
  }
  const max =
    typeof config.MaxItemsPath === 'string'
      ? Number(context.path(config.MaxItemsPath))
      : config.MaxItems;
  return max !== undefined && max > 0 ? items.slice(0, max) : items;
}

function parseJson(text: string, uri: string): Json[] {
  let value: Json;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw itemReaderFailed(`${uri} is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(value)) throw itemReaderFailed(`${uri} is JSON but not an array of items`);
  return value;
}

/** CSV rows as objects of strings (no quoting in our lists: a quoted field is refused). */
function parseCsv(
  text: string,
  uri: string,
  config: NonNullable<ItemReaderSpec['ReaderConfig']>,
): Json[] {
  const lines = text.split(/\r?\n/).filter((line) => line !== '');
  if (lines.some((line) => line.includes('"'))) {
    throw new Error(`the sandbox's ItemReader does not read quoted CSV fields (${uri})`);
  }
  const given = config.CSVHeaderLocation === 'GIVEN';
  const headers = given ? [...(config.CSVHeaders ?? [])] : (lines.shift() ?? '').split(',');
  if (headers.length === 0 || headers.some((h) => h === '')) {
    throw itemReaderFailed(`${uri} has no CSV header`);
  }
  return lines.map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== headers.length) {
      throw itemReaderFailed(
        `${uri} row ${i + (given ? 1 : 2)} has ${cells.length} fields, the header ${headers.length}`,
      );
    }
    return Object.fromEntries(headers.map((h, j) => [h, cells[j]]));
  });
}
