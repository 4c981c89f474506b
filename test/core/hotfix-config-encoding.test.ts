import { describe, expect, it } from 'vitest';
import { defaultHotfixConfigXml } from '../../lambdas/core/default-config.js';
import { decodeHotfixConfigBytes, parseHotfixConfig } from '../../lambdas/core/hotfix-config.js';

// A small configuration with a 3010 rule, declared as Windows PowerShell 5.1 leaves it.
const XML = `<?xml version="1.0" encoding="utf-16"?>
<HotfixConfig><DefaultRules><ExtensionRules>
  <Extension name="MSU">
    <Template path="%systemroot%\\System32\\wusa.exe" parameters="&quot;$update$&quot; /quiet /norestart"/>
    <ExitConditions><Success><ExitCode Code="0"/></Success>
      <Success_RebootRequired><ExitCode Code="3010"/></Success_RebootRequired></ExitConditions>
  </Extension>
</ExtensionRules></DefaultRules></HotfixConfig>`;

const utf16be = (text: string) => {
  const le = Buffer.from(text, 'utf16le');
  for (let i = 0; i + 1 < le.length; i += 2)
    [le[i], le[i + 1]] = [le[i + 1] as number, le[i] as number];
  return le;
};

describe('decodeHotfixConfigBytes: the encodings Windows writes (issue 12 §5)', () => {
  it.each([
    { name: 'UTF-8 without BOM (PowerShell 7 Out-File)', bytes: Buffer.from(XML, 'utf8') },
    {
      name: 'UTF-8 with BOM (Notepad, Set-Content -Encoding UTF8 on 5.1)',
      bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(XML, 'utf8')]),
    },
    {
      name: 'UTF-16 LE with BOM (Windows PowerShell 5.1 Out-File and >)',
      bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(XML, 'utf16le')]),
    },
    {
      name: 'UTF-16 BE with BOM (Out-File -Encoding BigEndianUnicode)',
      bytes: Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(XML)]),
    },
  ])('$name decodes to the same text and parses', ({ bytes }) => {
    const text = decodeHotfixConfigBytes(bytes);
    expect(text).toBe(XML);
    const config = parseHotfixConfig(text, 'DefaultHotfixConfig.xml');
    expect(config.extensionRules.map((r) => r.name)).toEqual(['MSU']);
    expect(config.extensionRules[0]?.exitConditions.Success_RebootRequired).toEqual([3010]);
  });

  it('the shipped default survives a UTF-16 LE round trip unchanged', () => {
    const xml = defaultHotfixConfigXml();
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml, 'utf16le')]);
    expect(parseHotfixConfig(decodeHotfixConfigBytes(bytes))).toEqual(parseHotfixConfig(xml));
  });

  it('UTF-16 bytes read as UTF-8 (the old behaviour) are refused, so the BOM matters', () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(XML, 'utf16le')]);
    expect(() => parseHotfixConfig(bytes.toString('utf8'))).toThrow(/malformed XML/);
  });
});
