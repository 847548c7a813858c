import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigurationError } from '../errors/configuration.error.js';
import { resolveChronicleOptions } from './chronicle-options.js';

const source = readFileSync(fileURLToPath(new URL('./chronicle-options.ts', import.meta.url)), 'utf8');

/** The `@default` of each property of one interface of chronicle-options.ts, as written (first word). */
function documentedDefaults(interfaceName: string): Record<string, string> {
  const start = source.indexOf(`export interface ${interfaceName} {`);
  if (start < 0) throw new Error(`chronicle-options.ts declares no interface ${interfaceName}`);
  const body = source.slice(start, source.indexOf('\n}', start));
  const found: Record<string, string> = {};
  for (const match of body.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(\w+)\??:/g)) {
    const value = /@default\s+(\S+)/.exec(match[1]!)?.[1];
    if (value !== undefined) found[match[2]!] = value;
  }
  return found;
}

function asDocumented(values: object): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => typeof value !== 'object').map(([key, value]) => [key, String(value)]));
}

describe('ChronicleOptions: documented defaults', () => {
  it('documents exactly the defaults resolveChronicleOptions applies, property by property', () => {
    const resolved = resolveChronicleOptions();
    expect(documentedDefaults('ChronicleOptions')).toEqual(asDocumented(resolved));
    expect(documentedDefaults('ChronicleOutboxOptions')).toEqual(asDocumented(resolved.outbox));
    expect(documentedDefaults('ChronicleSubscriptionOptions')).toEqual(asDocumented(resolved.subscriptions));
  });

  it('refuses a value that cannot work, naming the option', () => {
    expect(() => resolveChronicleOptions({ subscriptions: { leaseMs: 0 } })).toThrow(ConfigurationError);
    expect(() => resolveChronicleOptions({ pruneIntervalMs: -1 })).toThrow(/pruneIntervalMs/);
    expect(() => resolveChronicleOptions({ outbox: { retentionMs: 1.5 } })).toThrow(/outbox\.retentionMs/);
  });
});
