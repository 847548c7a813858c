import { createCipheriv, createSecretKey, randomBytes } from 'node:crypto';
import {
  CreatePersonalProfile,
  CreatePlainProfile,
  PersonalProfile,
  PlainProfile,
  RenamePersonalProfile,
  RenamePlainProfile,
} from '../domain/bench-profile.aggregate.js';
import { bootBenchApp } from '../support/bench-app.js';
import { closedLoop, forEachConcurrent } from '../support/load.js';
import { freshSchema } from '../support/postgres.js';

/*
 * What sealing a personal value costs: `node dist/bench/profiling/personal-data-cost.js`.
 * Not a scenario (no target, no result file): the breakdown behind the `personal-data-postgres`
 * figures. First the floor: CPU per AES-256-GCM encryption of one 20-character value through
 * node:crypto, as the cipher makes it (median of 7 runs of 100,000). Then one variant of the
 * scenario in a process of its own, for a CPU profile:
 * `VARIANT=personal node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/profiling/personal-data-cost.js`
 * (and VARIANT=plain). Options: VARIANT=plain|personal, CALLERS (64), MS (8000 measured after 2000
 * of warm-up), AGGREGATES (1000).
 */

const VARIANT = process.env.VARIANT === 'plain' ? 'plain' : 'personal';
const CALLERS = Number(process.env.CALLERS ?? 64);
const MS = Number(process.env.MS ?? 8_000);
const AGGREGATES = Number(process.env.AGGREGATES ?? 1_000);

const floorKey = createSecretKey(randomBytes(32));
const floorNonce = randomBytes(12);

/** Median CPU nanoseconds of `op` over 7 runs of 100,000. */
function cpuPerCall(op: () => void): number {
  const samples: number[] = [];
  for (let run = 0; run < 7; run++) {
    const before = process.cpuUsage();
    for (let i = 0; i < 100_000; i++) op();
    const used = process.cpuUsage(before);
    samples.push(((used.user + used.system) * 1000) / 100_000);
  }
  return samples.sort((a, b) => a - b)[3]!;
}

/** One AES-256-GCM encryption of a 20-character value, as `PersonalDataCipher` makes it. */
function encryptOnce(): void {
  const cipher = createCipheriv('aes-256-gcm', floorKey, floorNonce);
  cipher.setAAD(Buffer.from('0190abcd-0000-7000-8000-000000000000|name'));
  cipher.update(JSON.stringify('Name 0001 Of Caller'), 'utf8').toString('base64');
  cipher.final();
  cipher.getAuthTag().toString('base64');
}

async function main(): Promise<void> {
  console.log(`AES-256-GCM of one 20-character value (createCipheriv, setAAD, update, final, getAuthTag, base64): ${Math.round(cpuPerCall(encryptOnce))} ns of CPU`);
  console.log(`of which createCipheriv alone: ${Math.round(cpuPerCall(() => void createCipheriv('aes-256-gcm', floorKey, floorNonce)))} ns`);
  const personal = VARIANT === 'personal';
  const schema = await freshSchema(`probe_pd_${VARIANT}`);
  const app = await bootBenchApp({
    storage: { kind: 'postgres', schema: schema.schema, poolSize: 10 },
    aggregates: [personal ? PersonalProfile : PlainProfile],
    ...(personal ? { personalData: { masterKeys: { current: { id: 'probe', key: randomBytes(32).toString('base64') } } } } : {}),
  });
  try {
    const ids = Array.from({ length: AGGREGATES }, (_, i) => `p-${String(i).padStart(6, '0')}`);
    await forEachConcurrent(ids, 32, (id) => app.commandBus.execute(personal ? new CreatePersonalProfile(id) : new CreatePlainProfile(id)));
    await forEachConcurrent(ids, 32, (id) => app.commandBus.execute(personal ? new RenamePersonalProfile(id, 'Initial Name Of Prof') : new RenamePlainProfile(id, 'Initial Name Of Prof')));
    const perCaller = Math.max(1, Math.floor(AGGREGATES / CALLERS));
    const r = await closedLoop({
      label: VARIANT,
      callers: CALLERS,
      warmupMs: 2_000,
      durationMs: MS,
      measureDbCpu: true,
      op: (caller, iteration) => {
        const id = ids[caller + CALLERS * (iteration % perCaller)]!;
        const name = `Name ${String(iteration % 10_000).padStart(4, '0')} Of Caller ${String(caller).padStart(2, '0')}`.slice(0, 20);
        return app.commandBus.execute(personal ? new RenamePersonalProfile(id, name) : new RenamePlainProfile(id, name));
      },
    });
    console.log(
      `${VARIANT} callers=${CALLERS}: ${Math.round(r.opsPerSec)} cmd/s, p50 ${r.p50Ms.toFixed(2)} ms, Node CPU ${Math.round(r.cpuUsPerOp)} µs/cmd, ` +
        `db CPU ${r.dbCpuPct === undefined ? 'n/a' : Math.round(r.dbCpuPct)} %, errors ${r.errors}`,
    );
  } finally {
    await app.close();
    await schema.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
