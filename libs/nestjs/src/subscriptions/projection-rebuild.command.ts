import type { INestApplicationContext } from '@nestjs/common';
import type { JournalFeed, RebuildProgress } from '@chronicle/core';
import { CHRONICLE_JOURNAL } from '../constants/chronicle.constants.js';
import { SubscriptionAdmin } from './subscription-admin.service.js';

const BAR_WIDTH = 30;

function bar(done: number, total: number): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%`;
}

/**
 * The body of a `projection:rebuild` command: rebuilds projection `name` of a booted application
 * context (start it with `subscriptions: { run: false }`) and draws a progress bar on `out`
 * (redrawn in place on a terminal, a line per tenth otherwise). Resolves with the final progress.
 */
export async function runProjectionRebuild(
  app: INestApplicationContext,
  name: string,
  out: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
): Promise<RebuildProgress> {
  const admin = app.get(SubscriptionAdmin);
  const total = await app.get<JournalFeed>(CHRONICLE_JOURNAL).headPosition();
  const started = Date.now();
  let lastTenth = -1;
  const draw = (progress: RebuildProgress, final = false): void => {
    const seconds = Math.max((Date.now() - started) / 1_000, 0.001);
    const line =
      `${bar(progress.read, total)} ${progress.read.toLocaleString('en')}/≈${total.toLocaleString('en')} events, ` +
      `${progress.handled.toLocaleString('en')} handled, ${progress.parked} parked, ${Math.round(progress.read / seconds).toLocaleString('en')} events/s`;
    if (out.isTTY) {
      out.write(`\r${line}${final ? '\n' : ''}`);
      return;
    }
    const tenth = total > 0 ? Math.floor((progress.read / total) * 10) : 10;
    if (final || tenth > lastTenth) {
      lastTenth = tenth;
      out.write(`${line}\n`);
    }
  };
  out.write(`Rebuilding projection "${name}" from the start of the journal (one transaction; readers see the old model until it commits).\n`);
  const result = await admin.rebuildProjection(name, (progress) => draw(progress));
  draw(result, true);
  out.write(`Projection "${name}" rebuilt in ${((Date.now() - started) / 1_000).toFixed(1)} s; it now stands at ${result.position ?? 'the start'}.\n`);
  return result;
}
