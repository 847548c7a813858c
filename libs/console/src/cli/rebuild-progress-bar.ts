import cliProgress from 'cli-progress';
import type { OperationsRebuildProgress } from '../operations/chronicle-operations.service.js';
import type { CliOutput } from './cli-io.js';

/** The rebuild's progress bar (cli-progress): redrawn in place on a terminal, a line a second otherwise. */
export class RebuildProgressBar {
  private readonly bar: cliProgress.SingleBar;
  private readonly started = Date.now();
  private running = false;

  constructor(out: CliOutput) {
    this.bar = new cliProgress.SingleBar(
      {
        // cli-progress writes to any stream with write(); its terminal helpers check isTTY themselves.
        stream: out as unknown as NodeJS.WritableStream,
        format: '{bar} {percentage}% | {value}/≈{total} events | {handled} handled | {parked} parked | {rate} events/s',
        hideCursor: out.isTTY === true,
        noTTYOutput: true,
        notTTYSchedule: 1_000,
        gracefulExit: false,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  /** Draws the bar at 0 of `total` (the head position when the rebuild starts). */
  start(total: number): void {
    this.bar.start(Math.max(total, 0), 0, { handled: 0, parked: 0, rate: 0 });
    this.running = true;
  }

  /** Moves the bar to what the rebuild has read so far. */
  update(progress: OperationsRebuildProgress): void {
    if (!this.running) this.start(progress.total);
    // Positions can skip (rolled-back units), and events may be written during the rebuild.
    if (progress.read > this.bar.getTotal()) this.bar.setTotal(progress.read);
    const seconds = Math.max((Date.now() - this.started) / 1_000, 0.001);
    this.bar.update(progress.read, { handled: progress.handled, parked: progress.parked, rate: Math.round(progress.read / seconds) });
  }

  /** Draws the final state and lets go of the terminal. */
  stop(progress?: OperationsRebuildProgress): void {
    if (!this.running) return;
    if (progress) {
      // The head when it started was an estimate: the bar ends full.
      this.bar.setTotal(progress.read);
      this.update(progress);
    }
    this.bar.stop();
    this.running = false;
  }
}
