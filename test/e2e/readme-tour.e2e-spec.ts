import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDemo, launchDemo, type DemoProcess } from '../support/demo-process.js';

/** The bash blocks of the README marked `<!-- tour -->`, in order. */
function tourBlocks(readme: string): string[] {
  return [...readme.matchAll(/<!-- tour -->\s*\n```bash\n([\s\S]*?)\n```/g)].map((match) => match[1]!);
}

/**
 * The answers a block says to expect: the comment lines right under a command (a comment after a
 * blank line explains, it does not answer), as patterns where `…` stands for anything.
 */
function expectedAnswers(block: string): Array<{ shown: string; pattern: RegExp }> {
  const answers: Array<{ shown: string; pattern: RegExp }> = [];
  let underCommand = false;
  for (const line of block.split('\n')) {
    if (line.trim() === '') underCommand = false;
    else if (!line.startsWith('#')) underCommand = true;
    else if (underCommand) {
      const shown = line.replace(/^# ?/, '');
      const pattern = new RegExp(`^${shown.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*?')}$`);
      answers.push({ shown, pattern });
    }
  }
  return answers;
}

/** The status an answer line shows: curl's `-w ' %{http_code}'` at its end, or an HTTP status line. */
const statusOf = (line: string): string | undefined => /^HTTP\/[\d.]+ (\d{3})\b/.exec(line)?.[1] ?? / (\d{3})$/.exec(line)?.[1];

function runBash(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-eu', '-o', 'pipefail', '-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The README's tour works when pasted: its bash blocks run against the compiled demo, started as
 * `npm start` starts it (on a fresh SQLite file and a free port), exit 0, and every answer has the
 * status and the shape the README shows under its command.
 */
describe("the README's tour", () => {
  const blocks = tourBlocks(readFileSync('README.md', 'utf8'));
  let dir: string;
  let demo: DemoProcess;

  beforeAll(async () => {
    await buildDemo();
    dir = mkdtempSync(join(tmpdir(), 'chronicle-tour-'));
    demo = await launchDemo({ SQLITE_PATH: join(dir, 'bank.sqlite'), DATABASE_URL: '' });
  }, 300_000);
  afterAll(async () => {
    if (demo) {
      demo.child.kill('SIGTERM');
      await demo.exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is marked in the README, and shows an answer under its commands', () => {
    expect(blocks).toHaveLength(1);
    expect(expectedAnswers(blocks[0]!).length).toBeGreaterThan(10);
  });

  it('runs in bash against the demo: exit 0, every answer as the README shows it', async () => {
    const script = blocks.join('\n');
    const run = await runBash(script, { CHRONICLE_URL: demo.url });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    // Header lines end in CR (HTTP's line ends), which a terminal does not show.
    const answers = run.stdout.trimEnd().split(/\r?\n/);
    const expected = expectedAnswers(script);
    // Statuses first, so a failure names the step that went wrong.
    expect(answers.map(statusOf)).toEqual(expected.map(({ shown }) => statusOf(shown)));
    expect(expected.filter(({ shown }) => statusOf(shown) !== undefined).length).toBeGreaterThan(10);
    expect(answers.map((line, i) => (expected[i]?.pattern.test(line) ? 'as shown' : line))).toEqual(expected.map(() => 'as shown'));
  }, 120_000);
});
