import { createHash } from 'node:crypto';

/**
 * A hash of a command's class and payload, stored with its outcome so that an idempotency key
 * reused for a different command is refused instead of silently answered with another outcome.
 * Object keys are sorted, so property order does not matter.
 */
export function commandFingerprint(command: object): string {
  return createHash('sha256')
    .update(command.constructor.name)
    .update('\0')
    .update(stableStringify(command))
    .digest('base64url');
}

function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) sorted[key] = (v as Record<string, unknown>)[key];
    return sorted;
  });
}
