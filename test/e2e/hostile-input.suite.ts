import { parse as parseQuery } from 'node:querystring';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import type { Journal } from '@chronicle/core';
import { CHRONICLE_JOURNAL } from '@chronicle/nestjs';
import { startDemo, type RunningDemo } from '../support/demo-app.js';
import type { DemoDatabase } from './accounts.suite.js';
import { sendRaw, utf8Header, type RawRequest, type RawResponse } from './raw-http.client.js';
import { settledTransfer } from './transfers.suite.js';

/*
 * A seeded fuzzer of the demo's HTTP API. Every generated request is invalid (the generators
 * check their own output against a model of the API's rules and draw again when it came out
 * valid), so every answer must be a 4xx with the uniform JSON error naming the problem, and
 * the journal must be unchanged afterwards.
 *
 * Replay: FUZZ_SEED=<seed> [FUZZ_CASES=<n>] [FUZZ_CASE=<index>] — each case has its own
 * generator seeded from (seed, index), so one case replays alone.
 */

/** The seed used when FUZZ_SEED is not set. */
const DEFAULT_SEED = 20261122;
/** Cases per database when FUZZ_CASES is not set. */
const DEFAULT_CASES = 300;

// ---------------------------------------------------------------------------------------------
// Randomness

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** The seed of case `index`: cases are independent, so one can be replayed alone. */
function caseSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Hostile text

const UNICODE = ['😀', '👩‍👩‍👧', '🇺🇳', 'مرحبا', 'שלום', '\u202e', '\u200f', '\u200b', '\u200d', '\ufeff', 'e\u0301', '漢字', '\u00a0', '𝔘', 'ß', 'İ', 'Ω'];
const SQL = [
  `'; DROP TABLE chronicle_events; --`,
  '1 OR 1=1',
  `" OR ""="`,
  `' UNION SELECT * FROM chronicle_commands --`,
  `') OR ('1'='1`,
  `admin'--`,
  '%',
  '_',
  '*',
  '\\',
  '$1',
  '?',
  ':id',
  'NULL',
  `' || pg_sleep(5) --`,
  '; DELETE FROM chronicle_streams',
];
const ASCII = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~';
/** C0 and C1 controls and DEL: PostgreSQL refuses NUL; the API refuses them all in text. */
const CONTROL = ['\u0000', '\n', '\r', '\t', '\u0007', '\u001b', '\u007f', '\u0085', '\u0001'];
const LONE_SURROGATES = ['\ud800', '\udfff', '\ud83d'];

/** The API's own rules, as a model the generators check their output against. */
const PLAIN_TEXT = /^[^\p{Cc}\p{Cs}]*$/u;
const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;
const IF_MATCH_PATTERN = /^"(0|[1-9]\d{0,14})"$/;
const AFTER_PATTERN = /^\d{1,20}(:\d{1,20})?$/;
const MAX_AMOUNT = 1_000_000_000;

/** class-validator's `Length` (validator.js `isLength`): surrogate pairs and presentation selectors count once. */
function validatorLength(text: string): number {
  const presentation = text.match(/[^\uFE0F\uFE0E][\uFE0F\uFE0E]/g) ?? [];
  const pairs = text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g) ?? [];
  return text.length - presentation.length - pairs.length;
}

/** Keys the validation pipe would drop silently (see json-shape.middleware.ts): refused by name instead. */
const isDroppedKey = (key: string): boolean => key === 'prototype' || key in Object.prototype;

const isValidOwner = (value: unknown): boolean => typeof value === 'string' && PLAIN_TEXT.test(value) && validatorLength(value) >= 1 && validatorLength(value) <= 100;
const isValidId = (value: unknown): boolean => typeof value === 'string' && PLAIN_TEXT.test(value) && validatorLength(value) >= 1 && validatorLength(value) <= 64;
const isValidAmount = (value: unknown): boolean => typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_AMOUNT;

/** Plain text (no controls, no lone surrogates) of `count` pieces, mixing unicode, SQL and ASCII. */
function plainText(r: Rng, count: number): string {
  let text = '';
  for (let i = 0; i < count; i++) {
    const kind = r.int(0, 9);
    text += kind < 2 ? r.pick(UNICODE) : kind < 3 ? r.pick(SQL) : r.pick([...ASCII]);
  }
  return text;
}

/** Plain text of exactly `length` characters as class-validator counts them. */
function plainTextOfLength(r: Rng, length: number): string {
  const pieces = ['😀', 'ש', '漢', '\u200b', 'é', ...ASCII];
  let text = '';
  for (let i = 0; i < length; i++) text += r.pick(pieces);
  return text;
}

/** The first `count` code points (never half a surrogate pair). */
function truncate(text: string, count: number): string {
  return [...text].slice(0, count).join('');
}

/** `text` with `insert` put between two of its code points. */
function withInserted(r: Rng, text: string, insert: string): string {
  const points = [...text];
  points.splice(r.int(0, points.length), 0, insert);
  return points.join('');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------
// Cases

/** What a case must get back: one of these statuses, and a message matching every pattern. */
interface Expectation {
  status: number[];
  /** Each must match the message (or one line of a message list). */
  message: RegExp[];
}

interface FuzzCase {
  family: string;
  what: string;
  request: RawRequest;
  expect: Expectation;
}

/** The data the fuzz runs against: made before it, and unchanged by it. */
interface World {
  dialect: 'postgres' | 'sqlite';
  a: { id: string; version: number; balance: number };
  b: { id: string; version: number; balance: number };
  closed: { id: string };
  transferId: string;
  /** Idempotency keys already used, and the request each was used for. */
  keys: Array<{ key: string; used: CommandRequest }>;
  /** The newest position in the journal, and a real Chronicle-Position. */
  head: number;
  cursor: string;
}

/** A command as the generators build it, before it becomes bytes. */
type CommandRequest =
  | { kind: 'open'; body: Record<string, unknown> }
  | { kind: 'deposit' | 'withdraw'; id: string; body: Record<string, unknown> }
  | { kind: 'close'; id: string; body: Record<string, unknown> }
  | { kind: 'transfer'; body: Record<string, unknown> };

const JSON_TYPE: [string, string] = ['Content-Type', 'application/json'];

function commandPath(command: CommandRequest): string {
  switch (command.kind) {
    case 'open':
      return '/accounts';
    case 'deposit':
      return `/accounts/${encodeURIComponent(command.id)}/deposits`;
    case 'withdraw':
      return `/accounts/${encodeURIComponent(command.id)}/withdrawals`;
    case 'close':
      return `/accounts/${encodeURIComponent(command.id)}/close`;
    case 'transfer':
      return '/transfers';
  }
}

function post(path: string, body: string | Buffer | undefined, headers: Array<[string, string]> = [JSON_TYPE]): RawRequest {
  return { method: 'POST', path, headers, ...(body === undefined ? {} : { body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8') }) };
}

/** A valid command to an open account (or a new one): the base the mutations spoil. */
function validCommand(r: Rng, w: World, kinds: ReadonlyArray<CommandRequest['kind']> = ['open', 'deposit', 'withdraw', 'close', 'transfer']): CommandRequest {
  const account = r.pick([w.a, w.b]);
  switch (r.pick(kinds)) {
    case 'open':
      return { kind: 'open', body: { owner: truncate(plainText(r, r.int(1, 12)), 60) } };
    case 'deposit':
      return { kind: 'deposit', id: account.id, body: { amount: r.int(1, MAX_AMOUNT) } };
    case 'withdraw':
      return { kind: 'withdraw', id: account.id, body: { amount: r.int(1, account.balance) } };
    case 'close':
      return { kind: 'close', id: account.id, body: {} };
    case 'transfer':
      return { kind: 'transfer', body: { from: w.a.id, to: w.b.id, amount: r.int(1, 100) } };
  }
}

const FIELDS: Record<CommandRequest['kind'], string[]> = {
  open: ['owner'],
  deposit: ['amount'],
  withdraw: ['amount'],
  close: [],
  transfer: ['from', 'to', 'amount'],
};

/** The fields of a parsed body that break the command's rules (a missing field counts). */
function invalidFields(kind: CommandRequest['kind'], body: Record<string, unknown>): string[] {
  const rules: Record<string, (value: unknown) => boolean> = { owner: isValidOwner, amount: isValidAmount, from: isValidId, to: isValidId };
  return FIELDS[kind].filter((field) => !rules[field]!(body[field]));
}

/** Draws until `make` returns a case (it returns undefined when its draw came out valid). */
function until(make: () => FuzzCase | undefined): FuzzCase {
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const made = make();
    if (made) return made;
  }
  throw new Error('a generator kept drawing valid requests');
}

/** The expectation for a body JSON.parse cannot read, or that is JSON but not an object. */
function unparsable(text: string): Expectation | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { status: [400], message: [/^The request body is not valid JSON\.$/] };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { status: [400], message: [/^The request body must be a JSON object/] };
  }
  return undefined;
}

const families: Record<string, (r: Rng, w: World) => FuzzCase> = {
  /** Truncated bodies, trailing commas, single quotes, bare words, comments, garbage. */
  malformedJson: (r, w) =>
    until(() => {
      const command = validCommand(r, w);
      const base = JSON.stringify(command.body);
      const field = FIELDS[command.kind][0] ?? 'x';
      const text = r.pick<() => string>([
        () => base.slice(0, r.int(1, Math.max(1, base.length - 1))),
        () => base.replace(/}$/, ',}'),
        () => base.replace(/"/g, "'"),
        () => base.replace(/"(\w+)":/, '$1:'),
        () => `{"${field}": ${r.pick(['NaN', 'Infinity', '-Infinity', '0x10', '01', '+1', '.5', '1.', 'undefined', "'x'", '--1', '1_000', 'True', 'nul'])}}`,
        () => base.replace(/}$/, '/* note */}'),
        () => base + r.pick(['}', ']', ',', ' x', '{}', '\u0000', '\n{']),
        () => `{${plainText(r, r.int(1, 20))}`,
        () => `{"${field}": "a${r.pick(CONTROL.filter((c) => c !== '\u007f' && c !== '\u0085'))}b"}`,
        () => `{"${field}": "\\x41"}`,
        () => r.pick(['{', '}', '{"a"', '{"a":}', '{:1}', '{"a" 1}', '{"a":1 "b":2}', '[1,]', '{"a":[1,2}', ' ', '\t\n', '{"a":"\\u12"}', '{"a":"\\ud800\\u"}']),
      ])();
      const expect = unparsable(text);
      if (!expect) return undefined;
      return { family: 'malformedJson', what: `${command.kind} with a malformed body`, request: post(commandPath(command), text), expect };
    }),

  /** JSON that is not an object: null, scalars, arrays (the parser lets arrays through). */
  notAnObject: (r, w) => {
    const command = validCommand(r, w);
    const text = r.pick(['null', 'true', 'false', '0', '-1.5', '"x"', JSON.stringify(JSON.stringify(command.body)), '[]', '[1]', `[${JSON.stringify(command.body)}]`, '[null]', '[[[]]]']);
    return { family: 'notAnObject', what: `${command.kind} with the body ${text}`, request: post(commandPath(command), text), expect: unparsable(text)! };
  },

  /** Bodies nested past 32 levels (a stack overflow in the transformer before the fix), and exactly at it. */
  deepNesting: (r, w) => {
    const command = validCommand(r, w, ['open', 'deposit', 'transfer']);
    const field = FIELDS[command.kind][0]!;
    const boundary = r.chance(0.2);
    // Containers in all: the body itself, then the nested ones.
    const levels = boundary ? 32 : r.int(33, 9_000);
    const arrays = r.chance(0.5);
    const inner = arrays ? `${'['.repeat(levels - 1)}1${']'.repeat(levels - 1)}` : `${'{"a":'.repeat(levels - 1)}1${'}'.repeat(levels - 1)}`;
    return {
      family: 'deepNesting',
      what: `${command.kind} with ${field} nested ${levels} levels deep in ${arrays ? 'arrays' : 'objects'}`,
      request: post(commandPath(command), `{"${field}":${inner}}`),
      expect: boundary ? { status: [400], message: [new RegExp(`^${field} `)] } : { status: [400], message: [/^The request nests more than 32 levels deep\.$/] },
    };
  },

  /** Wrong types, out-of-range and odd numbers, bad strings, missing fields; each bad field must be named. */
  wrongTypes: (r, w) =>
    until(() => {
      const command = validCommand(r, w, ['open', 'deposit', 'withdraw', 'transfer']);
      const amountTokens = [
        '0', '-0', '-1', '1.5', '0.1', '1e-7', '1000000001', '1e10', '1e309', '-1e309', '9007199254740992', '9007199254740993', '1e21',
        '123456789012345678901234567890', '-2147483648', '2147483648', '"10"', '"1e3"', '" 5"', '"NaN"', '"Infinity"', '"-Infinity"',
        '"0x10"', JSON.stringify('１０'), JSON.stringify('10\u200b'), 'true', 'false', 'null', '{}', '{"$gt":0}', '[]', '[10]', '[1,2]',
        JSON.stringify('💰'), String(-r.int(1, 1e9)), String(r.int(1, 1e6) + 0.5), String(r.int(MAX_AMOUNT + 1, Number.MAX_SAFE_INTEGER)),
      ];
      const textTokens = (max: number) => [
        '0', '42', '-1.5', 'true', 'false', 'null', '{}', '{"first":"Ada"}', '["Ada"]', '""', '[]',
        JSON.stringify(plainTextOfLength(r, r.int(max + 1, max === 100 ? 10_000 : 200))),
        JSON.stringify(withInserted(r, plainText(r, r.int(1, 10)), r.pick(CONTROL))),
        JSON.stringify(withInserted(r, plainText(r, r.int(1, 10)), r.pick(LONE_SURROGATES))),
        JSON.stringify(plainText(r, r.int(1, 8))),
      ];
      const token = (field: string): string => {
        if (field === 'amount') return r.chance(0.15) ? String(r.int(1, 1_000)) : r.pick(amountTokens);
        if (field === 'owner') return r.pick(textTokens(100));
        // from / to: often a real account, so that the other fields are the problem.
        return r.chance(0.4) ? JSON.stringify(r.pick([w.a.id, w.b.id, w.closed.id])) : r.pick(textTokens(64));
      };
      const entries = FIELDS[command.kind].filter(() => r.chance(0.85)).map((field) => `${JSON.stringify(field)}:${token(field)}`);
      // Sometimes a duplicate key: the last one counts.
      if (entries.length > 0 && r.chance(0.1)) entries.unshift(entries[0]!.replace(/:.*$/, ':1'));
      const empty = entries.length === 0 && r.chance(0.5);
      const text = empty ? '' : `{${entries.join(',')}}`;
      const body = (empty ? {} : JSON.parse(text)) as Record<string, unknown>;
      const bad = invalidFields(command.kind, body);
      if (bad.length === 0) return undefined;
      // An empty body is sent once with a JSON Content-Type, once with none at all.
      const request = empty && r.chance(0.5) ? post(commandPath(command), undefined, []) : post(commandPath(command), text);
      return {
        family: 'wrongTypes',
        what: `${command.kind} with ${bad.join(', ')} invalid: ${text.slice(0, 200) || '(empty body)'}`,
        request,
        expect: { status: [400], message: bad.map((field) => new RegExp(`^${field} `)) },
      };
    }),

  /** Unknown properties, prototype-polluting ones included: each must be named, none silently dropped. */
  unknownFields: (r, w) => {
    const command = validCommand(r, w);
    const names = [
      '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'Owner', 'AMOUNT', 'owner ', ' amount', 'amount\u0000',
      '😀', '$where', '', '0', 'a.b', 'a[b]', 'admin', 'isAdmin', 'balance', 'version', 'id', 'closed', plainText(r, r.int(1, 6)),
    ].filter((name) => !FIELDS[command.kind].includes(name));
    const extras = [...new Set(Array.from({ length: r.int(1, 3) }, () => r.pick(names)))];
    const values = ['1', 'true', 'null', '"x"', '{"admin":true}', '[1]', '{"polluted":"yes"}'];
    const entries = [...Object.entries(command.body).map(([key, value]) => [key, JSON.stringify(value)] as const), ...extras.map((name) => [name, r.pick(values)] as const)];
    for (let i = entries.length - 1; i > 0; i--) {
      const j = r.int(0, i);
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    const text = `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;
    // Keys the pipe would drop are refused before validation, so only they are named then.
    const dropped = extras.filter(isDroppedKey);
    const message = (dropped.length > 0 ? dropped : extras).map((name) => new RegExp(`^property ${escapeRegExp(name)} should not exist$`));
    return { family: 'unknownFields', what: `${command.kind} with unknown ${extras.map((e) => JSON.stringify(e)).join(', ')}`, request: post(commandPath(command), text), expect: { status: [400], message } };
  },

  /** A valid body under a Content-Type that is not JSON (or none). */
  contentType: (r, w) => {
    const command = validCommand(r, w);
    const type = r.pick([
      'text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/xml',
      'text/json', 'application/jsonp', 'application/json-seq', 'application/problem+json', 'application/octet-stream', '*/*', 'application',
      'json', ';;;', '', 'text/html', 'application/javascript', 'application/x-json', undefined,
    ]);
    const form = type === 'application/x-www-form-urlencoded';
    const text = form ? new URLSearchParams(Object.entries(command.body).map(([k, v]): [string, string] => [k, String(v)])).toString() || 'a=1' : JSON.stringify(command.body);
    return {
      family: 'contentType',
      what: `${command.kind} sent as ${type === undefined ? 'no Content-Type' : JSON.stringify(type)}`,
      request: post(commandPath(command), text, type === undefined ? [] : [['Content-Type', type]]),
      expect: { status: [415], message: [/^Content-Type must be application\/json/] },
    };
  },

  /** Content-Encoding the body does not match or that is unknown, unsupported charsets. */
  encoding: (r, w) => {
    const command = validCommand(r, w);
    const text = JSON.stringify(command.body);
    const path = commandPath(command);
    return r.pick<() => FuzzCase>([
      () => {
        const encoding = r.pick(['gzip', 'deflate', 'br']);
        return {
          family: 'encoding', what: `${command.kind} claiming ${encoding} but sent plain`,
          request: post(path, text, [JSON_TYPE, ['Content-Encoding', encoding]]),
          expect: { status: [400], message: [/^The request body could not be decompressed/] },
        };
      },
      () => {
        const encoding = r.pick(['compress', 'bogus', 'gzip, gzip', 'zip', 'utf-8', 'chunked']);
        return {
          family: 'encoding', what: `${command.kind} with Content-Encoding ${encoding}`,
          request: post(path, text, [JSON_TYPE, ['Content-Encoding', encoding]]),
          expect: { status: [415], message: [/^The request body encoding is not supported/] },
        };
      },
      () => {
        const charset = r.pick(['latin1', 'iso-8859-1', 'us-ascii', 'windows-1252', 'koi8-r', 'foo', 'binary']);
        return {
          family: 'encoding', what: `${command.kind} in charset ${charset}`,
          request: post(path, text, [['Content-Type', `application/json; charset=${charset}`]]),
          expect: { status: [415], message: [/^The request body charset is not supported/] },
        };
      },
      () => {
        const broken = text.slice(0, Math.max(1, text.length - 1));
        return {
          family: 'encoding', what: `${command.kind} gzipped, of a truncated body`,
          request: post(path, gzipSync(broken), [JSON_TYPE, ['Content-Encoding', 'gzip']]),
          expect: unparsable(broken)!,
        };
      },
    ])();
  },

  /** Bodies over 64 KiB, also a small gzip body that inflates past it. */
  oversized: (r, w) => {
    const command = validCommand(r, w);
    const size = r.int(64 * 1024 + 1, 200 * 1024);
    const field = FIELDS[command.kind][0] ?? 'note';
    const variant = r.int(0, 3);
    const text =
      variant === 0
        ? `{"${field}":${JSON.stringify('x'.repeat(size))}}`
        : variant === 1
          ? `${JSON.stringify(command.body)}${' '.repeat(size)}`
          : variant === 2
            ? `{${Array.from({ length: Math.ceil(size / 12) }, (_, i) => `"k${i}":${i}`).join(',')}}`
            : `{"${field}":${JSON.stringify(plainTextOfLength(r, Math.ceil(size / 3)))}}`;
    const padded = text.replace(/}$/, `${' '.repeat(Math.max(0, 64 * 1024 + 1 - Buffer.byteLength(text)))}}`);
    const zipped = r.chance(0.2);
    return {
      family: 'oversized',
      what: `${command.kind} with a ${zipped ? 'gzipped ' : ''}body of ${Buffer.byteLength(padded)} bytes`,
      request: post(commandPath(command), zipped ? gzipSync(padded) : padded, zipped ? [JSON_TYPE, ['Content-Encoding', 'gzip']] : [JSON_TYPE]),
      expect: { status: [413], message: [/^The request body is larger than 64 KiB\.$/] },
    };
  },

  /** Ids in the path: unknown (unicode, SQL, look-alikes), with controls, too long, far too long, badly percent-encoded, closed. */
  pathIds: (r, w) => {
    const route = r.pick(['get', 'events', 'deposit', 'withdraw', 'close', 'transfer'] as const);
    const kind = route === 'transfer' ? 'Transfer' : 'Account';
    const path = (encoded: string): string =>
      route === 'get' ? `/accounts/${encoded}` : route === 'events' ? `/accounts/${encoded}/events` : route === 'transfer' ? `/transfers/${encoded}`
        : `/accounts/${encoded}/${route === 'deposit' ? 'deposits' : route === 'withdraw' ? 'withdrawals' : 'close'}`;
    const writes = route === 'deposit' || route === 'withdraw' || route === 'close';
    const send = (encoded: string): RawRequest =>
      writes ? post(path(encoded), route === 'close' ? undefined : '{"amount":1}') : { method: 'GET', path: path(encoded), headers: [] };
    const existing = route === 'transfer' ? [w.transferId] : [w.a.id, w.b.id, w.closed.id];
    return r.pick<() => FuzzCase>([
      () => {
        const id = r.pick([
          () => truncate(plainText(r, r.int(1, 12)), 64),
          () => r.pick(SQL),
          () => (route === 'transfer' ? w.a.id : w.transferId),
          () => w.a.id.toUpperCase(),
          () => `${w.b.id}${r.pick([' ', '\u200b', '\u00a0', '/', '%'])}`,
          () => `${r.pick([' ', '\ufeff'])}${w.a.id}`,
          () => r.pick(['..', '.', '-', '~', 'null', 'undefined', '0', '-1', '1e309', 'NaN']),
        ])();
        if (existing.includes(id) || id.length === 0 || validatorLength(id) > 64) return families.pathIds!(r, w);
        return {
          family: 'pathIds', what: `${route} of unknown id ${JSON.stringify(id)}`, request: send(encodeURIComponent(id)),
          expect: { status: [404], message: [new RegExp(`^${kind} ${escapeRegExp(id)} does not exist\\.$`, 'u')] },
        };
      },
      () => {
        const id = withInserted(r, truncate(plainText(r, r.int(0, 8)), 60), r.pick(CONTROL));
        return {
          family: 'pathIds', what: `${route} of an id with a control character ${JSON.stringify(id)}`, request: send(encodeURIComponent(id)),
          expect: { status: [400], message: [new RegExp(`^The ${kind.toLowerCase()} id in the path must not contain control characters`)] },
        };
      },
      () => {
        const length = r.int(65, 1_200);
        const id = plainTextOfLength(r, length);
        return {
          family: 'pathIds', what: `${route} of an id of ${length} characters`, request: send(encodeURIComponent(id)),
          expect: { status: [400], message: [new RegExp(`^The ${kind.toLowerCase()} id in the path must be at most 64 characters\\.$`)] },
        };
      },
      () => {
        const id = 'x'.repeat(r.int(20_000, 100_000));
        return {
          family: 'pathIds', what: `${route} of an id of ${id.length} characters (past the header limit)`, request: send(id),
          expect: { status: [431], message: [/^The request line and headers are larger than \d+ KiB/] },
        };
      },
      () => {
        const encoded = r.pick(['%', '%G1', '%E0%A4%A', '%ED%A0%80', '%C0%AF', '%FF', 'a%', '%%', '%F0%9F%98']);
        return {
          family: 'pathIds', what: `${route} of the badly encoded id ${encoded}`, request: send(encoded),
          expect: { status: [400], message: [/^Failed to decode param/] },
        };
      },
      () => {
        if (!writes) return families.pathIds!(r, w);
        return {
          family: 'pathIds', what: `${route} on the closed account`, request: send(encodeURIComponent(w.closed.id)),
          expect: { status: [422], message: [/is closed/] },
        };
      },
    ])();
  },

  /** Malformed If-Match values, and well-formed stale ones. */
  ifMatch: (r, w) =>
    until(() => {
      const command = validCommand(r, w, ['deposit', 'withdraw', 'close']) as Extract<CommandRequest, { id: string }>;
      const account = command.id === w.a.id ? w.a : w.b;
      const value = r.pick<() => string>([
        () => String(r.int(0, 20)),
        () => `"-${r.int(1, 20)}"`,
        () => `"${r.int(1, 9)}.${r.int(0, 9)}"`,
        () => utf8Header(`"${plainText(r, r.int(1, 4))}"`),
        () => `W/"${account.version}"`,
        () => r.pick(['*', '""', '"01"', `"${account.version}`, `${account.version}"`, `'${account.version}'`, `"1", "2"`, '"1" "2"', '"0x1"', '"1e3"', '" 1"', '"1 "', '"+1"', '', 'null']),
        () => `"${'9'.repeat(r.int(16, 30))}"`,
        () => utf8Header(`"${r.pick(['１', '٣', '𝟙', '²'])}"`),
        () => `"${r.pick([0, account.version - 1, account.version + 1, account.version + r.int(2, 1_000), 999_999_999_999_999].filter((v) => v >= 0 && v !== account.version))}"`,
      ])();
      const wellFormed = IF_MATCH_PATTERN.exec(value.trim());
      if (wellFormed && Number(wellFormed[1]) === account.version) return undefined;
      return {
        family: 'ifMatch',
        what: `${command.kind} on version ${account.version} with If-Match ${JSON.stringify(value)}`,
        request: post(commandPath(command), command.kind === 'close' ? undefined : JSON.stringify(command.body), [JSON_TYPE, ['If-Match', value]]),
        expect: wellFormed
          ? { status: [409], message: [new RegExp(`^The account is at version ${account.version}, not ${Number(wellFormed[1])}:`)] }
          : { status: [400], message: [/^If-Match must be a quoted version number/] },
      };
    }),

  /** Malformed Idempotency-Key values, and keys reused for another request. */
  idempotencyKey: (r, w) =>
    until(() => {
      const reuse = r.chance(0.35);
      const command = validCommand(r, w);
      if (reuse) {
        const { key, used } = r.pick(w.keys);
        if (JSON.stringify(used) === JSON.stringify(command)) return undefined;
        return {
          family: 'idempotencyKey', what: `${command.kind} reusing the key ${key} of an earlier ${used.kind}`,
          request: post(commandPath(command), JSON.stringify(command.body), [JSON_TYPE, ['Idempotency-Key', key]]),
          expect: { status: [422], message: [/^This Idempotency-Key was already used with a different request/] },
        };
      }
      const values = r.pick<() => string[]>([
        () => [withInserted(r, 'key-' + r.int(0, 1e6), ' ')],
        () => ['k'.repeat(r.int(201, 400))],
        () => [utf8Header(r.pick(['clé', '🔑', 'ключ', 'مفتاح', 'キー', `key\u200b`]))],
        () => ['\u00e9t\u00e9'],
        () => [''],
        () => [`a\tb`],
        () => [`key-${r.int(0, 1e6)}`, `key-${r.int(0, 1e6)}`],
      ])();
      const seen = values.join(', ').trim();
      if (KEY_PATTERN.test(seen)) return undefined;
      return {
        family: 'idempotencyKey', what: `${command.kind} with Idempotency-Key ${values.map((v) => JSON.stringify(v.slice(0, 40))).join(' and ')}`,
        request: post(commandPath(command), JSON.stringify(command.body), [JSON_TYPE, ...values.map((v): [string, string] => ['Idempotency-Key', v])]),
        expect: { status: [400], message: [/^Idempotency-Key must be 1–200 visible ASCII characters/] },
      };
    }),

  /** GET /accounts with bad limit, offset, owner, after, or unknown parameters. */
  query: (r, w) =>
    until(() => {
      const parts: string[] = [];
      const count = r.int(1, 3);
      for (let i = 0; i < count; i++) {
        const name = r.pick(['limit', 'offset', 'owner', 'after', 'limit', 'after', 'unknown']);
        const value = (() => {
          switch (name) {
            case 'limit':
              return r.pick(['0', '-1', '1e9', 'abc', '1.5', '', '101', 'NaN', 'Infinity', String(r.int(1, 100)), String(r.int(101, 1e9))]);
            case 'offset':
              return r.pick(['-1', 'abc', '1.5', '1e7', '1000001', '', String(r.int(0, 50))]);
            case 'owner':
              return r.pick(['', plainTextOfLength(r, r.int(101, 300)), withInserted(r, 'Ada', r.pick(CONTROL)), plainText(r, r.int(1, 5))]);
            case 'after':
              return r.pick(['abc', '-1', '1:2:3', ' 1', '1 ', 'x:1', '', '😀', r.pick(SQL), '1'.repeat(25), `${w.head}:`, `:${w.head}`]);
            default:
              return plainText(r, r.int(1, 4));
          }
        })();
        const key = name === 'unknown' ? r.pick(['foo', 'LIMIT', 'limit ', 'owner[]', 'a[b]', '__proto__', 'constructor', 'toString', 'prototype', 'sort', plainText(r, r.int(1, 3))]) : name;
        parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
      }
      // Sometimes a raw, badly encoded value: Express keeps it as it came.
      if (r.chance(0.1)) parts.push(`after=${r.pick(['%E0%A4%A', '%', '%ZZ'])}`);
      const query = parts.join('&');
      const parsed = parseQuery(query);
      const expected = queryProblems(parsed);
      if (expected.length === 0) return undefined;
      return {
        family: 'query', what: `GET /accounts?${query.slice(0, 200)}`,
        request: { method: 'GET', path: `/accounts?${query}`, headers: [] },
        expect: { status: [400], message: expected },
      };
    }),

  /** after= well formed, but in the other database's format or past the journal's end. */
  position: (r, w) => {
    const [tx] = w.cursor.split(':');
    const ahead = w.head + r.int(1, 1_000_000);
    const nines = '9'.repeat(20);
    // PostgreSQL's cursors are <transaction id>:<position>, SQLite's a bare position.
    const postgres = w.dialect === 'postgres';
    const otherFormat = r.chance(0.5);
    const after = otherFormat
      ? r.pick(postgres ? [String(r.int(1, w.head)), nines] : [`${r.int(1, 1e6)}:${r.int(1, w.head)}`, `${nines}:${nines}`])
      : r.pick(postgres ? [`${tx}:${ahead}`, `${nines}:${nines}`] : [String(ahead), nines]);
    return {
      family: 'position', what: `GET /accounts?after=${after} (${otherFormat ? "the other database's format" : 'ahead of the journal'})`,
      request: { method: 'GET', path: `/accounts?after=${after}`, headers: [] },
      // Twenty nines on PostgreSQL are past what an xid8 or a bigint holds: no journal made them.
      expect: {
        status: [400],
        message: [otherFormat || (postgres && after === `${nines}:${nines}`) ? /^after=\S+ is not a Chronicle-Position of this service/ : /^after=\S+ is ahead of the journal/],
      },
    };
  },

  /** Commands the domain refuses: overdrafts, a transfer to the same account, a closed account. */
  domainRefusal: (r, w) => {
    const account = r.pick([w.a, w.b]);
    return r.pick<() => FuzzCase>([
      () => {
        const amount = r.int(account.balance + 1, MAX_AMOUNT);
        return {
          family: 'domainRefusal', what: `withdraw ${amount} of ${account.balance}`,
          request: post(`/accounts/${account.id}/withdrawals`, JSON.stringify({ amount })),
          expect: { status: [422], message: [new RegExp(`^Insufficient funds: account ${account.id} holds ${account.balance}, the withdrawal is ${amount}`)] },
        };
      },
      () => {
        const id = r.pick([account.id, r.pick(SQL), truncate(plainText(r, r.int(1, 6)), 64)]);
        return {
          family: 'domainRefusal', what: `transfer from ${JSON.stringify(id)} to itself`,
          request: post('/transfers', JSON.stringify({ from: id, to: id, amount: r.int(1, 10) })),
          expect: { status: [422], message: [/^A transfer needs two different accounts/] },
        };
      },
    ])();
  },

  /** Requests Node's HTTP parser refuses before the app sees them. */
  protocol: (r, w) => {
    const path = `/accounts/${w.a.id}/deposits`;
    const body = Buffer.from('{"amount":1}');
    const variants: Array<() => RawRequest> = [
      () => ({ method: 'POST', path, headers: [JSON_TYPE, ['X-Note', withInserted(r, 'note', r.pick(['\u0000', '\u0001', '\u0008', '\u000b', '\u001f', '\u007f']))]], body }),
      () => ({ method: 'POST', path, headers: [JSON_TYPE, ['Idempotency-Key', withInserted(r, 'key', r.pick(['\u0000', '\u0002', '\u001b']))]], body }),
      () => ({ method: 'POST', path, headers: [JSON_TYPE, [r.pick(['Bad Header', 'X(y)', 'X@y', 'Idempotency Key', '']), 'x']], body }),
      () => ({ method: 'POST', path, headers: [JSON_TYPE, ['Content-Length', r.pick(['abc', '-1', '1, 2', '0x10', '1e3'])]], body }),
      () => ({ method: 'POST', path, headers: [JSON_TYPE, ['Content-Length', String(body.length)], ['Content-Length', String(body.length + 1)]], body }),
      () => ({ method: 'POST', path, headers: [JSON_TYPE, ['Content-Length', String(body.length)], ['Transfer-Encoding', 'chunked']], body }),
      () => ({ method: 'POST', path, headers: [JSON_TYPE, ['Transfer-Encoding', 'chunked']], body: Buffer.from(`zz\r\n${body.toString()}\r\n0\r\n\r\n`) }),
      () => ({ method: 'POST', path, headers: [JSON_TYPE, ['Transfer-Encoding', r.pick(['gzip', 'chunked, gzip', 'bogus'])]], body }),
      () => ({ method: 'POST', path: `${path} extra`, headers: [JSON_TYPE], body }),
      () => ({ method: 'POST', path: `/accounts/a\u0000b/deposits`, headers: [JSON_TYPE], body }),
      () => ({ method: 'G\u0000T', path: '/accounts', headers: [] }),
      () => ({ method: 'GET', path: '/accounts', headers: [['Idempotency-Key', 'k'.repeat(r.int(17 * 1024, 40 * 1024))]] }),
    ];
    const index = r.int(0, variants.length - 1);
    const request = variants[index]!();
    const overflow = index === variants.length - 1;
    return {
      family: 'protocol', what: `unparsable HTTP (variant ${index}): ${request.method} ${request.path.slice(0, 80)} ${JSON.stringify(request.headers.map(([n, v]) => `${n}: ${v.slice(0, 20)}`))}`,
      request,
      expect: overflow ? { status: [431], message: [/^The request line and headers are larger than/] } : { status: [400], message: [/^The request is not valid HTTP\/1\.1/] },
    };
  },
};

/** The messages GET /accounts must give for a parsed query (none when it is valid). */
function queryProblems(query: Record<string, string | string[] | undefined>): RegExp[] {
  const keys = Object.keys(query);
  const dropped = keys.filter(isDroppedKey);
  if (dropped.length > 0) return dropped.map((key) => new RegExp(`^property ${escapeRegExp(key)} should not exist$`));
  const problems: RegExp[] = [];
  for (const key of keys) {
    const value = query[key];
    const number = typeof value === 'string' ? Number(value) : NaN;
    const bad =
      key === 'limit' ? !(Number.isInteger(number) && number >= 1 && number <= 100)
      : key === 'offset' ? !(Number.isInteger(number) && number >= 0 && number <= 1_000_000)
      : key === 'owner' ? !isValidOwner(value)
      : key === 'after' ? !(typeof value === 'string' && AFTER_PATTERN.test(value))
      : true;
    if (!bad) continue;
    problems.push(['limit', 'offset', 'owner', 'after'].includes(key) ? new RegExp(`^${key} `) : new RegExp(`^property ${escapeRegExp(key)} should not exist$`));
  }
  return problems;
}

/** The case of a seed and an index. */
function generate(seed: number, index: number, world: World): FuzzCase {
  const r = new Rng(caseSeed(seed, index));
  const names = Object.keys(families);
  const family = r.pick(names);
  return families[family]!(r, world);
}

// ---------------------------------------------------------------------------------------------
// Checks

/** What an error answer must never carry: stacks, file paths, driver and SQL errors. */
const LEAKS = /QueryFailedError|node_modules|\bat [\w.<>$]+ \(|driverError|SQLITE_[A-Z]|syntax error at or near|invalid byte sequence|unsupported Unicode escape|violates .* constraint|\.[jt]s:\d+:\d+/;

/** Everything wrong with an answer, against the uniform error shape and an expectation. */
function problemsWith(response: RawResponse, expected: Expectation): string[] {
  const problems: string[] = [];
  if (response.status < 400 || response.status > 499) problems.push(`status ${response.status} is not a 4xx`);
  if (!expected.status.includes(response.status)) problems.push(`status ${response.status}, expected ${expected.status.join(' or ')}`);
  if (!/^application\/json\b/.test(response.headers['content-type'] ?? '')) problems.push(`Content-Type ${response.headers['content-type'] ?? '(none)'} is not JSON`);
  let body: unknown;
  try {
    body = JSON.parse(response.text);
  } catch {
    return [...problems, 'the body is not JSON'];
  }
  const shaped = body as { statusCode?: unknown; error?: unknown; message?: unknown };
  const keys = body !== null && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body).sort() : [];
  if (keys.join() !== 'error,message,statusCode') return [...problems, `the body is not exactly {statusCode, error, message}: keys ${JSON.stringify(keys)}`];
  if (shaped.statusCode !== response.status) problems.push(`statusCode ${String(shaped.statusCode)} differs from the status`);
  if (typeof shaped.error !== 'string' || shaped.error.length === 0) problems.push('error is not a non-empty string');
  const lines = typeof shaped.message === 'string' ? [shaped.message] : Array.isArray(shaped.message) && shaped.message.every((m) => typeof m === 'string') ? (shaped.message as string[]) : undefined;
  if (!lines || lines.length === 0) return [...problems, 'message is not a string or a list of strings'];
  for (const pattern of expected.message) if (!lines.some((line) => pattern.test(line))) problems.push(`no message line matches ${pattern}`);
  if (LEAKS.test(response.text)) problems.push(`the answer leaks internals: ${LEAKS.exec(response.text)?.[0]}`);
  return problems;
}

function describeRequest(request: RawRequest): string {
  const body = request.body ? JSON.stringify(request.body.subarray(0, 240).toString('latin1')) + (request.body.length > 240 ? `… (${request.body.length} bytes)` : '') : '(none)';
  const path = request.path.length > 160 ? `${request.path.slice(0, 160)}… (${request.path.length} chars)` : request.path;
  return `${JSON.stringify(request.method)} ${JSON.stringify(path)} headers ${JSON.stringify(request.headers.map(([n, v]) => [n, v.length > 60 ? `${v.slice(0, 60)}…` : v]))} body ${body}`;
}

// ---------------------------------------------------------------------------------------------
// The suite

/** Asserts one refusal: the uniform JSON error with this status and a message matching `message`. */
function expectRefusal(response: RawResponse, status: number, ...message: RegExp[]): void {
  expect({ problems: problemsWith(response, { status: [status], message }), answer: `${response.status} ${response.text.slice(0, 500)}` }).toEqual({
    problems: [],
    answer: expect.any(String),
  });
}

interface Snapshot {
  streams: string[];
  events: Record<string, unknown[]>;
  head: number;
  list: unknown;
  accountEvents: unknown[];
  transfer: unknown;
}

/**
 * Floods the demo with generated hostile requests over a real HTTP server, then checks that the
 * journal, the read model and the transfer are exactly as before. Also holds one named
 * regression test per bug the fuzzer found.
 */
export function hostileInputSuite(name: string, openDatabase: () => Promise<DemoDatabase>, dialect: 'postgres' | 'sqlite'): void {
  describe(`hostile input over HTTP on ${name}`, () => {
    const seed = Number(process.env.FUZZ_SEED ?? DEFAULT_SEED) >>> 0;
    const count = Number(process.env.FUZZ_CASES ?? DEFAULT_CASES);
    const only = process.env.FUZZ_CASE === undefined ? undefined : Number(process.env.FUZZ_CASE);
    let database: DemoDatabase;
    let demo: RunningDemo;
    let world: World;
    let before: Snapshot;

    async function snapshot(): Promise<Snapshot> {
      const journal = demo.app.get<Journal>(CHRONICLE_JOURNAL);
      const streams: string[] = [];
      for (let page = await journal.listStreams({ limit: 100 }); page.length > 0; page = await journal.listStreams({ limit: 100, after: page[page.length - 1] })) {
        streams.push(...page);
      }
      const events: Record<string, unknown[]> = {};
      for (const stream of streams) events[stream] = await journal.readStream(stream);
      const http = request(demo.url);
      return {
        streams,
        events,
        head: await journal.headPosition(),
        list: (await http.get('/accounts').query({ limit: 100 }).expect(200)).body,
        accountEvents: await Promise.all([world.a.id, world.b.id, world.closed.id].map(async (id) => (await http.get(`/accounts/${id}/events`).expect(200)).body)),
        transfer: (await http.get(`/transfers/${world.transferId}`).expect(200)).body,
      };
    }

    beforeAll(async () => {
      console.log(`hostile input on ${name}: FUZZ_SEED=${seed} FUZZ_CASES=${count}${only === undefined ? '' : ` FUZZ_CASE=${only}`} (set these to replay)`);
      database = await openDatabase();
      demo = await startDemo({ ...database.config, subscriptions: { pollIntervalMs: 100 } });
      const http = request(demo.url);
      const keys: World['keys'] = [];
      const command = async (used: CommandRequest, key: string, status: number): Promise<request.Response> => {
        keys.push({ key, used });
        const response = await http.post(commandPath(used)).set('Idempotency-Key', key).send(used.body).expect(status);
        return response;
      };
      const a = (await command({ kind: 'open', body: { owner: 'Ada ✓' } }, 'fuzz-open-a', 201)).body.id as string;
      const b = (await command({ kind: 'open', body: { owner: 'Bob' } }, 'fuzz-open-b', 201)).body.id as string;
      const closed = (await command({ kind: 'open', body: { owner: 'Carl' } }, 'fuzz-open-c', 201)).body.id as string;
      await command({ kind: 'close', id: closed, body: {} }, 'fuzz-close-c', 200);
      await command({ kind: 'deposit', id: a, body: { amount: 1000 } }, 'fuzz-dep-a', 200);
      await command({ kind: 'deposit', id: b, body: { amount: 300 } }, 'fuzz-dep-b', 200);
      const transferId = (await command({ kind: 'transfer', body: { from: a, to: b, amount: 50 } }, 'fuzz-tr-1', 202)).body.id as string;
      expect(await settledTransfer(http, transferId)).toMatchObject({ status: 'completed' });
      const last = await command({ kind: 'deposit', id: b, body: { amount: 1 } }, 'fuzz-dep-b2', 200);
      const cursor = last.headers['chronicle-position'] as string;
      await http.get('/accounts').query({ after: cursor }).expect(200);
      const view = async (id: string) => (await http.get(`/accounts/${id}`).expect(200)).body as { version: number; balance: number };
      const [va, vb] = [await view(a), await view(b)];
      world = {
        dialect,
        a: { id: a, version: va.version, balance: va.balance },
        b: { id: b, version: vb.version, balance: vb.balance },
        closed: { id: closed },
        transferId,
        keys,
        head: await demo.app.get<Journal>(CHRONICLE_JOURNAL).headPosition(),
        cursor,
      };
      expect([va.balance, vb.balance]).toEqual([950, 351]);
      before = await snapshot();
    }, 30_000);

    afterAll(async () => {
      await demo?.close();
      await database?.cleanup();
    });

    it(`refuses ${only === undefined ? count : 1} generated hostile requests, each with a 4xx naming the problem`, async () => {
      const failures: string[] = [];
      const tally: Record<string, number> = {};
      for (let index = only ?? 0; index < (only === undefined ? count : only + 1); index++) {
        let fuzz: FuzzCase;
        try {
          fuzz = generate(seed, index, world);
        } catch (error) {
          failures.push(`FUZZ_SEED=${seed} FUZZ_CASE=${index}: the generator failed: ${(error as Error).stack}`);
          continue;
        }
        tally[fuzz.family] = (tally[fuzz.family] ?? 0) + 1;
        let problems: string[];
        let answer = '';
        try {
          const response = await sendRaw(demo.url, fuzz.request);
          problems = problemsWith(response, fuzz.expect);
          answer = `${response.status} ${response.text.slice(0, 400)}`;
        } catch (error) {
          problems = [`no answer: ${(error as Error).message}`];
        }
        if (problems.length > 0) {
          failures.push(
            `FUZZ_SEED=${seed} FUZZ_CASE=${index} [${fuzz.family}] ${fuzz.what}\n` +
              `  request:  ${describeRequest(fuzz.request)}\n` +
              `  expected: ${fuzz.expect.status.join(' or ')} with ${fuzz.expect.message.join(', ')}\n` +
              `  answer:   ${answer}\n` +
              `  problems: ${problems.join('; ')}`,
          );
        }
      }
      // Every family must have been exercised, or the run proves less than it claims.
      if (only === undefined && count >= 200) expect(Object.keys(tally).sort()).toEqual(Object.keys(families).sort());
      expect(failures).toEqual([]);
    }, 120_000);

    describe('regressions the fuzzer found', () => {
      const post = (path: string, body: string, headers: Array<[string, string]> = [JSON_TYPE]): Promise<RawResponse> =>
        sendRaw(demo.url, { method: 'POST', path, headers, body: Buffer.from(body, 'utf8') });
      const get = (path: string, headers: Array<[string, string]> = []): Promise<RawResponse> => sendRaw(demo.url, { method: 'GET', path, headers });

      it('a body nested deeper than 32 levels is 400, not a 500 from a stack overflow in class-transformer', async () => {
        expectRefusal(await post('/accounts', `{"owner":${'['.repeat(5_000)}${']'.repeat(5_000)}}`), 400, /^The request nests more than 32 levels deep\.$/);
        expectRefusal(await post('/accounts', `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`), 400, /^The request nests more than 32 levels deep\.$/);
        expectRefusal(await post('/accounts', `[${'['.repeat(10_000)}${']'.repeat(10_000)}]`), 400, /^The request body must be a JSON object, not an array\.$/);
      });

      it('__proto__, prototype, constructor, toString… are refused like any unknown property, not silently dropped (the command ran)', async () => {
        expectRefusal(await post('/accounts', '{"owner":"Eve","__proto__":{"admin":true}}'), 400, /^property __proto__ should not exist$/);
        expectRefusal(await post('/accounts', '{"owner":"Eve","constructor":{"prototype":{"admin":true}}}'), 400, /^property constructor should not exist$/, /^property prototype should not exist$/);
        expectRefusal(await post('/accounts', '{"owner":"Eve","prototype":"x"}'), 400, /^property prototype should not exist$/);
        expectRefusal(
          await post(`/accounts/${world.b.id}/deposits`, '{"amount":5,"toString":1,"valueOf":true,"hasOwnProperty":{}}'),
          400,
          /^property toString should not exist$/,
          /^property valueOf should not exist$/,
          /^property hasOwnProperty should not exist$/,
        );
        expectRefusal(await post(`/accounts/${world.a.id}/deposits`, '{"amount":1,"__proto__":{}}'), 400, /^property __proto__ should not exist$/);
        expectRefusal(await get('/accounts?__proto__=1&toString=2'), 400, /^property __proto__ should not exist$/, /^property toString should not exist$/);
      });

      it('NUL and unpaired surrogates in text fields are 400 on every database (PostgreSQL answered 500, SQLite stored them)', async () => {
        const problem = /must not contain control characters \(such as NUL\) or unpaired surrogates$/;
        expectRefusal(await post('/accounts', '{"owner":"a\\u0000b"}'), 400, new RegExp(`^owner ${problem.source}`));
        expectRefusal(await post('/accounts', '{"owner":"\\ud800"}'), 400, new RegExp(`^owner ${problem.source}`));
        expectRefusal(await post('/transfers', JSON.stringify({ from: 'a\u0000', to: world.b.id, amount: 1 })), 400, new RegExp(`^from ${problem.source}`));
        expectRefusal(await post('/transfers', JSON.stringify({ from: world.a.id, to: '\udfff', amount: 1 })), 400, new RegExp(`^to ${problem.source}`));
        expectRefusal(await get('/accounts?owner=%00'), 400, new RegExp(`^owner ${problem.source}`));
      });

      it('a NUL in a path id is 400 on every route (PostgreSQL answered 500), an id over 64 characters is 400', async () => {
        for (const path of ['/accounts/%00', '/accounts/a%00b/events', '/transfers/%00']) {
          expectRefusal(await get(path), 400, /^The (account|transfer) id in the path must not contain control characters/);
        }
        expectRefusal(await post('/accounts/%00/deposits', '{"amount":1}'), 400, /^The account id in the path must not contain control characters/);
        expectRefusal(await post('/accounts/%00/close', ''), 400, /^The account id in the path must not contain control characters/);
        expectRefusal(await get(`/accounts/${'x'.repeat(10_000)}`), 400, /^The account id in the path must be at most 64 characters\.$/);
        expectRefusal(await get(`/transfers/${encodeURIComponent('😀'.repeat(65))}`), 400, /^The transfer id in the path must be at most 64 characters\.$/);
        expectRefusal(await get(`/accounts/${encodeURIComponent('😀'.repeat(64))}`), 404, /^Account (😀){64} does not exist\.$/u);
      });

      it("requests Node's parser refuses get the JSON error too (a bare 431 or 400 before)", async () => {
        expectRefusal(await get(`/accounts/${'x'.repeat(100_000)}`), 431, /^The request line and headers are larger than \d+ KiB/);
        expectRefusal(await get('/accounts', [['X-Note', 'a\u0001b']]), 400, /^The request is not valid HTTP\/1\.1 \(HPE_INVALID_HEADER_TOKEN\)/);
      });

      it('a body that is not application/json is 415 naming the Content-Type (it was "owner must be a string")', async () => {
        expectRefusal(await post('/accounts', '{"owner":"Eve"}', [['Content-Type', 'text/plain']]), 415, /^Content-Type must be application\/json, not text\/plain\.$/);
        expectRefusal(await post('/accounts', 'owner=Eve', [['Content-Type', 'application/x-www-form-urlencoded']]), 415, /^Content-Type must be application\/json, not application\/x-www-form-urlencoded\.$/);
        expectRefusal(await post('/accounts', '{"owner":"Eve"}', []), 415, /^Content-Type must be application\/json \(none was sent\)\.$/);
      });

      it('a body that does not match its Content-Encoding is 400 naming it (it was "Bad Request"); an unknown charset is named', async () => {
        for (const encoding of ['gzip', 'deflate', 'br']) {
          expectRefusal(await post('/accounts', '{"owner":"Eve"}', [JSON_TYPE, ['Content-Encoding', encoding]]), 400, /^The request body could not be decompressed/);
        }
        expectRefusal(await post('/accounts', '{"owner":"Eve"}', [['Content-Type', 'application/json; charset=latin1']]), 415, /^The request body charset is not supported: send UTF-8\.$/);
        const bomb = gzipSync(`{"owner":"Eve"${' '.repeat(1024 * 1024)}}`);
        expectRefusal(await sendRaw(demo.url, { method: 'POST', path: '/accounts', headers: [JSON_TYPE, ['Content-Encoding', 'gzip']], body: bomb }), 413, /^The request body is larger than 64 KiB\.$/);
      });

      it('JSON that is not an object is 400 "must be a JSON object" (null was "not valid JSON", [] was "owner must be a string")', async () => {
        for (const body of ['null', '"Eve"', '42', 'true']) expectRefusal(await post('/accounts', body), 400, /^The request body must be a JSON object\.$/);
        for (const body of ['[]', '[{"owner":"Eve"}]']) expectRefusal(await post('/accounts', body), 400, /^The request body must be a JSON object, not an array\.$/);
      });

      it("after= in the other database's format or past the journal's end is 400 at once (it was a 500, or a 503 after 5 s)", async () => {
        const started = Date.now();
        const other = dialect === 'postgres' ? '5' : '1:2';
        expectRefusal(await get(`/accounts?after=${other}`), 400, new RegExp(`^after=${other} is not a Chronicle-Position of this service`));
        const ahead = dialect === 'postgres' ? `${world.cursor.split(':')[0]}:${world.head + 1}` : String(world.head + 1);
        expectRefusal(await get(`/accounts?after=${ahead}`), 400, new RegExp(`^after=${ahead} is ahead of the journal, whose newest position is ${world.head}`));
        expectRefusal(await get(`/accounts?after=${'9'.repeat(20)}`), 400, /is ahead of the journal|is not a Chronicle-Position/);
        expect(Date.now() - started).toBeLessThan(2_000);
        await request(demo.url).get('/accounts').query({ after: world.cursor }).expect(200);
      });

      it('close refuses a body with properties instead of ignoring them (the account was closed)', async () => {
        expectRefusal(await post(`/accounts/${world.a.id}/close`, '{"reason":"fraud","force":true}'), 400, /^property reason should not exist$/, /^property force should not exist$/);
        expectRefusal(await post(`/accounts/${world.a.id}/close`, '[]'), 400, /^The request body must be a JSON object, not an array\.$/);
      });
    });

    it('changed nothing: the journal, the read model and the transfer are as before', async () => {
      const after = await snapshot();
      expect(after).toEqual(before);
      const health = await request(demo.url).get('/health').expect(200);
      expect(health.body.details.subscriptions.subscriptions['projection:balances']).toMatchObject({ parked: 0, lastError: null });
      expect(health.body.details.outbox.handlers.log).toMatchObject({ deadLettered: 0 });
    });

    it('still takes the unicode the rules allow: emoji, RTL, zero-width and combining text round-trip exactly', async () => {
      const http = request(demo.url);
      for (const owner of ['👩‍👩‍👧 Ada', 'مرحبا بالعالم', '\u202eevE', 'Zoë\u200b', 'e\u0301', '𝔘𝔫𝔦', `'; DROP TABLE chronicle_events; --`]) {
        const opened = await http.post('/accounts').send({ owner }).expect(201);
        expect(opened.body.owner).toBe(owner);
        const listed = await http.get('/accounts').query({ owner, after: opened.headers['chronicle-position'] as string }).expect(200);
        expect(listed.body).toEqual([{ id: opened.body.id, owner, balance: 0, closed: false }]);
      }
    });
  });
}
