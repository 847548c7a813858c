import type { Request } from 'express';
import { InvalidArgumentError } from '@chronicle/core';
import { consoleStateOf } from './console-request-state.js';

/** Most bytes of a form body the console reads (its forms carry a few ids). */
const MAX_FORM_BYTES = 16 * 1024;

/** The fields of a form post, whatever body parsers the application installed (or none). */
export async function formOf(request: Request): Promise<Record<string, string>> {
  const state = consoleStateOf(request);
  state.form ??= readForm(request);
  return state.form;
}

async function readForm(request: Request): Promise<Record<string, string>> {
  const parsed = request.body as unknown;
  if (parsed && typeof parsed === 'object' && Object.keys(parsed).length > 0) {
    return Object.fromEntries(Object.entries(parsed as Record<string, unknown>).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  }
  if (!request.readable || request.readableEnded) return {};
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new InvalidArgumentError('body', `${size} bytes`, `a form of at most ${MAX_FORM_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (request.is('application/json')) {
    try {
      const value = JSON.parse(text) as unknown;
      return value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string')) : {};
    } catch {
      throw new InvalidArgumentError('body', 'unparsable JSON', 'a JSON object or an URL-encoded form');
    }
  }
  return Object.fromEntries(new URLSearchParams(text));
}

