import { RebuildProgressBar } from './rebuild-progress-bar.js';

function output(isTTY: boolean) {
  const out = { text: '', isTTY, columns: 120, write: (chunk: string) => ((out.text += chunk), true) };
  return out;
}

describe('RebuildProgressBar (cli-progress)', () => {
  it('on a terminal, redraws one line in place, hides the cursor while it runs, and ends full', () => {
    const out = output(true);
    const bar = new RebuildProgressBar(out);
    bar.start(10);
    bar.update({ read: 4, handled: 4, parked: 0, position: '4', total: 10 });
    // Events written during the rebuild: the estimate grows instead of overflowing.
    bar.update({ read: 12, handled: 11, parked: 1, position: '12', total: 10 });
    bar.stop({ read: 12, handled: 11, parked: 1, position: '12', total: 10 });
    expect(out.text).toContain('\u001b[?25l'); // cursor hidden
    expect(out.text).toContain('\u001b[?25h'); // and shown again
    expect(out.text).toMatch(/100% \| 12\/≈12 events \| 11 handled \| 1 parked/);
  });

  it('elsewhere (a log, a pipe), writes whole lines: the first and the last at least', () => {
    const out = output(false);
    const bar = new RebuildProgressBar(out);
    bar.update({ read: 0, handled: 0, parked: 0, position: null, total: 3 });
    bar.stop({ read: 3, handled: 3, parked: 0, position: '3', total: 3 });
    const lines = out.text.split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/0% \| 0\/≈3 events/);
    expect(lines.at(-1)).toMatch(/100% \| 3\/≈3 events \| 3 handled \| 0 parked/);
    expect(out.text).not.toContain('\u001b');
  });

  it('ends full on an empty journal', () => {
    const out = output(false);
    const bar = new RebuildProgressBar(out);
    bar.start(0);
    bar.stop({ read: 0, handled: 0, parked: 0, position: null, total: 0 });
    expect(out.text).toMatch(/100% \| 0\/≈0 events/);
  });
});
