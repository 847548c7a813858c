import { InMemoryJournal } from '../adapters/in-memory-journal.js';
import { InMemorySnapshotStore } from '../adapters/in-memory-snapshot-store.js';
import { AggregateCatalog } from '../aggregates/aggregate-catalog.js';
import { Aggregate } from '../aggregates/aggregate.decorator.js';
import { Applies } from '../aggregates/applies.decorator.js';
import { Handles } from '../aggregates/handles.decorator.js';
import { Event } from '../events/event.decorator.js';
import { AggregateAlreadyExistsError } from '../errors/aggregate-already-exists.error.js';
import { AggregateNotFoundError } from '../errors/aggregate-not-found.error.js';
import { ConcurrencyError } from '../errors/concurrency.error.js';
import { DomainRuleViolation } from '../errors/domain-rule-violation.error.js';
import { GatewayOverloadedError } from '../errors/gateway-overloaded.error.js';
import { IdempotencyKeyReusedError } from '../errors/idempotency-key-reused.error.js';
import { InvalidCommandError } from '../errors/invalid-command.error.js';
import { UnknownCommandError } from '../errors/unknown-command.error.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import type { AppendRequest, AppendResult, Journal } from '../ports/journal.port.js';
import type { Snapshot, SnapshotStore } from '../ports/snapshot-store.port.js';
import { CommandGateway } from './command-gateway.js';
import type { CommandGatewayOptions } from './command-gateway-options.js';
import type { PostCommitListener } from './post-commit-listener.js';
import {
  Credit,
  CreditInParts,
  Debit,
  ForceDebit,
  OpenWallet,
  SlowCredit,
  Touch,
  Wallet,
  WalletCredited,
  WalletOpened,
  concurrency,
  gates,
} from './fixtures/wallet.fixture.js';

const silent: ChronicleLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

function gatewayOver(
  journal: Journal,
  options: CommandGatewayOptions = {},
  extra: { snapshots?: SnapshotStore; logger?: ChronicleLogger } = {},
): CommandGateway {
  return new CommandGateway(
    { catalog: new AggregateCatalog([Wallet]), journal, snapshots: extra.snapshots, logger: extra.logger ?? silent },
    options,
  );
}

/** A gateway over `journal` with these post-commit listeners, whose logged errors go to `errors`. */
function gatewayWithListeners(journal: Journal, listeners: PostCommitListener[], errors: string[]): CommandGateway {
  return new CommandGateway({ catalog: new AggregateCatalog([Wallet]), journal, logger: { ...silent, error: (m) => errors.push(m) }, listeners });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function countEvents(journal: Journal): Promise<number> {
  return (await journal.readAll(null, 100_000)).events.length;
}

describe('CommandGateway', () => {
  let journal: InMemoryJournal;
  let gateway: CommandGateway;

  beforeEach(() => {
    journal = new InMemoryJournal();
    gateway = gatewayOver(journal);
  });

  describe('deciding and appending', () => {
    it('creates an aggregate and returns its events and version', async () => {
      const result = await gateway.execute(new OpenWallet('w1', 'ann'));
      expect(result).toMatchObject({ aggregateType: 'wallet', aggregateId: 'w1', streamId: 'wallet-w1', version: 1, replayed: false });
      expect(result.events).toEqual([new WalletOpened('w1', 'ann')]);
      const stored = await journal.readStream('wallet-w1');
      expect(stored.map((e) => [e.type, e.version, e.payload])).toEqual([['wallet.opened', 1, { walletId: 'w1', owner: 'ann' }]]);
    });

    it('fails a non-creating command to a missing aggregate with AggregateNotFoundError and writes nothing', async () => {
      await expect(gateway.execute(new Credit('nope', 5))).rejects.toThrow(AggregateNotFoundError);
      await expect(gateway.execute(new Credit('nope', 5))).rejects.toThrow(/wallet "nope" does not exist/);
      expect(await countEvents(journal)).toBe(0);
    });

    it('gives the missing and the existing aggregate a fixed code with its type and id, also when replayed, so an application can word them', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const missing = { code: 'AggregateNotFoundError', aggregateType: 'wallet', aggregateId: 'nope' };
      const existing = { code: 'AggregateAlreadyExistsError', aggregateType: 'wallet', aggregateId: 'w1' };
      expect([AggregateNotFoundError.CODE, AggregateAlreadyExistsError.CODE]).toEqual([missing.code, existing.code]);
      await expect(gateway.execute(new Credit('nope', 5), { commandId: 'k1' })).rejects.toMatchObject(missing);
      await expect(gateway.execute(new Credit('nope', 5), { commandId: 'k1' })).rejects.toMatchObject({ ...missing, replayed: true });
      await expect(gateway.execute(new OpenWallet('w1', 'bob'), { commandId: 'k2' })).rejects.toMatchObject(existing);
      await expect(gateway.execute(new OpenWallet('w1', 'bob'), { commandId: 'k2' })).rejects.toMatchObject({ ...existing, replayed: true });
      // The code does not come from the class name, which a bundler may rename.
      class Renamed extends AggregateNotFoundError {}
      expect(new Renamed('wallet', 'x').code).toBe(missing.code);
    });

    it('fails a creating command to an existing aggregate with AggregateAlreadyExistsError', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await expect(gateway.execute(new OpenWallet('w1', 'bob'))).rejects.toThrow(AggregateAlreadyExistsError);
      expect(await journal.streamVersion('wallet-w1')).toBe(1);
    });

    it('reads nothing before appending a creating command; for an aggregate that exists after all it loads it, fails with AggregateAlreadyExistsError or replays the recorded outcome, and writes nothing', async () => {
      const reads: string[] = [];
      class ReadCountingJournal extends InMemoryJournal {
        override async streamInfo(streamId: string) {
          reads.push(`info ${streamId}`);
          return super.streamInfo(streamId);
        }
        override async streamVersion(streamId: string) {
          reads.push(`version ${streamId}`);
          return super.streamVersion(streamId);
        }
      }
      const store = new ReadCountingJournal();
      await expect(gatewayOver(store).execute(new OpenWallet('w1', 'ann'), { commandId: 'open-w1' })).resolves.toMatchObject({ version: 1 });
      expect(reads).toEqual([]);

      // Other instances (gateways that have not cached it), with no conflict retries to spend: the
      // stream found after the assumption is not a conflict.
      const other = (): CommandGateway => gatewayOver(store, { conflictRetries: 0 });
      await expect(other().execute(new OpenWallet('w1', 'bob'))).rejects.toThrow(AggregateAlreadyExistsError);
      expect(reads).toContain('info wallet-w1');
      // A refusal is recorded only once the stream is known to be new: here the aggregate existed.
      await expect(other().execute(new OpenWallet('w1', ''), { commandId: 'open-w1-empty' })).rejects.toThrow(AggregateAlreadyExistsError);
      expect((await store.findCommand('open-w1-empty'))?.outcome).toMatchObject({ kind: 'rejected', error: { name: 'AggregateAlreadyExistsError' } });
      await expect(other().execute(new OpenWallet('w1', 'ann'), { commandId: 'open-w1' })).resolves.toMatchObject({ replayed: true, version: 1 });
      expect(await store.streamVersion('wallet-w1')).toBe(1);
      expect((await store.readStream('wallet-w1')).map((event) => event.payload)).toEqual([{ walletId: 'w1', owner: 'ann' }]);
    });

    it('fails a creating command whose handler throws for an aggregate that exists after all with AggregateAlreadyExistsError, not the error of a handler run on an assumed new one', async () => {
      class OpenProbe {
        constructor(readonly probeId: string, readonly failing: boolean) {}
      }
      @Event('probe.opened')
      class ProbeOpened {
        constructor(readonly probeId: string) {}
      }
      @Aggregate({ name: 'probe', id: 'probeId' })
      class Probe {
        opened = false;
        @Handles(OpenProbe, { creates: true })
        open(command: OpenProbe) {
          if (command.failing) throw new Error('the directory service is down');
          return new ProbeOpened(command.probeId);
        }
        @Applies(ProbeOpened)
        onOpened() {
          this.opened = true;
        }
      }
      const catalog = new AggregateCatalog([Probe]);
      await new CommandGateway({ catalog, journal, logger: silent }).execute(new OpenProbe('p1', false));
      const other = new CommandGateway({ catalog, journal, logger: silent }, { conflictRetries: 0 });
      await expect(other.execute(new OpenProbe('p1', true))).rejects.toThrow(AggregateAlreadyExistsError);
      // On a new id the handler's own error stands.
      await expect(other.execute(new OpenProbe('p2', true))).rejects.toThrow('the directory service is down');
      expect(await journal.streamInfo('probe-p2')).toBeUndefined();
    });

    it('tells onUnsettledAppend of an append that failed otherwise than by a refusal (its unit may have committed), and not of a conflict', async () => {
      const unsettled: unknown[] = [];
      const flaky = new InMemoryJournal();
      const catalog = new AggregateCatalog([Wallet]);
      const watched = new CommandGateway({ catalog, journal: flaky, logger: silent, onUnsettledAppend: (error) => unsettled.push(error) });
      await watched.execute(new OpenWallet('w1', 'ann'));
      await gatewayOver(flaky).execute(new Credit('w1', 1));
      // A conflict (another instance moved the aggregate) is a refusal, retried as ever.
      await watched.execute(new Credit('w1', 2));
      expect(unsettled).toEqual([]);
      const append = flaky.append.bind(flaky);
      flaky.append = async (request) => {
        await append(request);
        throw new Error('Connection terminated unexpectedly');
      };
      await expect(watched.execute(new Credit('w1', 3))).rejects.toThrow('Connection terminated unexpectedly');
      expect(unsettled).toEqual([expect.objectContaining({ message: 'Connection terminated unexpectedly' })]);
    });

    it('writes nothing for a domain rule violation and keeps the state intact', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await gateway.execute(new Credit('w1', 10));
      await expect(gateway.execute(new Debit('w1', 11))).rejects.toThrow(/insufficient funds: balance 10, debit 11/);
      expect(await journal.streamVersion('wallet-w1')).toBe(2);
      expect((await gateway.read(Wallet, 'w1'))?.state.balance).toBe(10);
    });

    it('checks invariants on the new state before writing, and forgets the tentative state', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await gateway.execute(new Credit('w1', 10));
      await expect(gateway.execute(new ForceDebit('w1', 25))).rejects.toThrow(/balance would be -15/);
      expect(await journal.streamVersion('wallet-w1')).toBe(2);
      expect((await gateway.read(Wallet, 'w1'))?.state.balance).toBe(10);
      const ok = await gateway.execute(new Debit('w1', 10));
      expect(ok.version).toBe(3);
    });

    it('appends a multi-event decision atomically with contiguous versions', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const result = await gateway.execute(new CreditInParts('w1', 9, 3));
      expect(result.version).toBe(4);
      expect((await journal.readStream('wallet-w1')).map((e) => e.version)).toEqual([1, 2, 3, 4]);
    });

    it('records nothing for a command that decides nothing happens', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const result = await gateway.execute(new Touch('w1'));
      expect(result).toMatchObject({ version: 1, events: [] });
      expect(await countEvents(journal)).toBe(1);
    });

    it('names what is wrong with an unusable command', async () => {
      await expect(gateway.execute(new Credit('', 1))).rejects.toThrow(InvalidCommandError);
      await expect(gateway.execute(new Credit('', 1))).rejects.toThrow(/property "walletId"\) is empty/);
      class Stray {}
      await expect(gateway.execute(new Stray())).rejects.toThrow(UnknownCommandError);
      await expect(gateway.execute(new OpenWallet('w', 'a'), { expectedVersion: -1 })).rejects.toThrow(/expected version/);
    });

    it('refuses through a rejected promise, never a synchronous throw, with or without interceptors', async () => {
      class Stray {}
      const refusals = (): Array<Promise<unknown>> => [
        gateway.execute(null as unknown as object),
        gateway.execute(new Stray()),
        gateway.execute(new Credit('', 1)),
      ];
      await expect(Promise.allSettled(refusals())).resolves.toMatchObject([{ status: 'rejected' }, { status: 'rejected' }, { status: 'rejected' }]);
      const seen: string[] = [];
      gateway.addInterceptor({ intercept: async (command) => void seen.push(command.constructor.name) });
      gateway.addInterceptor({
        intercept: (command) => {
          if (command instanceof Debit) throw new InvalidCommandError('Debit', 'debits are closed today');
        },
      });
      const [notObject, stray, malformed] = await Promise.allSettled(refusals());
      expect([notObject, stray, malformed].map((outcome) => outcome!.status)).toEqual(['rejected', 'rejected', 'rejected']);
      expect((stray as PromiseRejectedResult).reason).toBeInstanceOf(UnknownCommandError);
      // An unknown command is refused before any interceptor sees it; a known one goes through them.
      expect(seen).toEqual(['Credit']);
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await expect(gateway.execute(new Debit('w1', 1))).rejects.toThrow(/debits are closed today/);
      expect(await countEvents(journal)).toBe(1);
    });

    it('stores command id, correlation id, causation id and expected version in the events metadata, and tags', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'), { commandId: 'c-1', correlationId: 'corr', causationId: 'cause' });
      await gateway.execute(new Credit('w1', 5), { expectedVersion: 1, commandId: 'c-2', tags: ['vip'] });
      const [opened, credited] = await journal.readStream('wallet-w1');
      expect(opened?.metadata).toEqual({ commandId: 'c-1', correlationId: 'corr', causationId: 'cause' });
      expect(credited?.metadata).toEqual({ commandId: 'c-2', correlationId: 'c-2', causationId: 'c-2', expectedVersion: 1 });
      expect(credited?.tags).toEqual(['wallet:w1', 'vip']);
    });
  });

  describe('the origin of its units', () => {
    /** A journal that keeps the origin of each unit it writes. */
    class OriginJournal extends InMemoryJournal {
      origins: Array<string | undefined> = [];
      override async append(request: AppendRequest) {
        this.origins.push(request.origin);
        return super.append(request);
      }
    }

    it('tags every unit it appends (events, a refusal recorded for its command id) with its origin, and none without one', async () => {
      const tagged = new OriginJournal();
      const catalog = new AggregateCatalog([Wallet]);
      const withOrigin = new CommandGateway({ catalog, journal: tagged, logger: silent, origin: 'rt-9' });
      await withOrigin.execute(new OpenWallet('w1', 'ann'), { commandId: 'c-1' });
      await withOrigin.execute(new Credit('w1', 5), { commandId: 'c-2' });
      await expect(withOrigin.execute(new Debit('w1', 50), { commandId: 'c-3' })).rejects.toThrow(/insufficient funds/);
      expect((await tagged.findCommand('c-3'))?.outcome.kind).toBe('rejected');
      expect(tagged.origins).toEqual(['rt-9', 'rt-9', 'rt-9']);

      const plain = new OriginJournal();
      await new CommandGateway({ catalog, journal: plain, logger: silent }).execute(new OpenWallet('w2', 'bob'));
      expect(plain.origins).toEqual([undefined]);
    });

    it('refuses a malformed origin when it is built, by name', () => {
      expect(() => new CommandGateway({ catalog: new AggregateCatalog([Wallet]), journal, origin: 'two words' })).toThrow(
        expect.objectContaining({ name: 'InvalidArgumentError', argument: 'origin' }),
      );
    });
  });

  describe('the state a result carries', () => {
    it('carries the aggregate as the command left it, as an instance of its class', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const result = await gateway.execute<object, Wallet>(new Credit('w1', 5));
      expect(result.state).toBeInstanceOf(Wallet);
      expect(result.state).toMatchObject({ owner: 'ann', balance: 5 });
    });

    it('carries the unchanged state after a command that decides nothing happens', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await gateway.execute(new Credit('w1', 4));
      const result = await gateway.execute<object, Wallet>(new Touch('w1'));
      expect(result).toMatchObject({ version: 2, events: [], state: { owner: 'ann', balance: 4 } });
      expect(result.state).toBeInstanceOf(Wallet);
    });

    it('hands out a copy: changing it changes neither reads nor later decisions', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const result = await gateway.execute<object, Wallet>(new Credit('w1', 10));
      result.state!.balance = 1_000;
      expect((await gateway.read(Wallet, 'w1'))?.state.balance).toBe(10);
      await expect(gateway.execute(new Debit('w1', 20))).rejects.toThrow(/insufficient funds: balance 10/);
      expect(result.state!.balance).toBe(1_000);
    });

    it('keeps each result at its own version when later commands change the cached aggregate before it is read', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const first = await gateway.execute<object, Wallet>(new Credit('w1', 5));
      const touched = await gateway.execute<object, Wallet>(new Touch('w1'));
      const second = await gateway.execute<object, Wallet>(new Credit('w1', 7));
      const [third] = await Promise.all([gateway.execute<object, Wallet>(new Credit('w1', 1)), gateway.execute(new Credit('w1', 2))]);
      expect(first.state?.balance).toBe(5);
      expect(touched.state?.balance).toBe(5);
      expect(second.state?.balance).toBe(12);
      expect(third?.state?.balance).toBe(13);
    });

    it('carries no state for a replayed outcome; readAt rebuilds it at the recorded version', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await gateway.execute(new Credit('w1', 5), { commandId: 'k1' });
      await gateway.execute(new Credit('w1', 3));
      const again = await gateway.execute<object, Wallet>(new Credit('w1', 5), { commandId: 'k1' });
      expect(again).toMatchObject({ replayed: true, version: 2, state: undefined });
      expect((await gateway.readAt(Wallet, 'w1', again.version))?.state).toMatchObject({ balance: 5 });
      const restarted = await gatewayOver(journal).execute(new Credit('w1', 5), { commandId: 'k1' });
      expect(restarted).toMatchObject({ replayed: true, state: undefined });
    });
  });

  describe('ordering and bounds', () => {
    afterEach(() => gates.clear());

    it('never interleaves commands to one aggregate', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      concurrency.max = 0;
      const gate = deferred();
      gates.set('g', gate.promise);
      const running = Array.from({ length: 5 }, () => gateway.execute(new SlowCredit('w1', 1, 'g')));
      await new Promise((r) => setTimeout(r, 20));
      gate.resolve();
      const results = await Promise.all(running);
      expect(concurrency.max).toBe(1);
      expect(results.map((r) => r.version).sort()).toEqual([2, 3, 4, 5, 6]);
    });

    it('runs commands to different aggregates concurrently', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await gateway.execute(new OpenWallet('w2', 'bob'));
      concurrency.max = 0;
      const gate = deferred();
      gates.set('g', gate.promise);
      const running = [gateway.execute(new SlowCredit('w1', 1, 'g')), gateway.execute(new SlowCredit('w2', 1, 'g'))];
      await new Promise((r) => setTimeout(r, 20));
      expect(concurrency.inside).toBe(2);
      gate.resolve();
      await Promise.all(running);
      expect(concurrency.max).toBe(2);
    });

    it('refuses a command beyond the per-aggregate queue bound with GatewayOverloadedError', async () => {
      gateway = gatewayOver(journal, { maxQueuePerAggregate: 2 });
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const gate = deferred();
      gates.set('g', gate.promise);
      const admitted = [gateway.execute(new SlowCredit('w1', 1, 'g')), gateway.execute(new SlowCredit('w1', 1, 'g'))];
      await expect(gateway.execute(new Credit('w1', 1))).rejects.toMatchObject({ name: 'GatewayOverloadedError', reason: 'aggregate-queue-full' });
      gate.resolve();
      await Promise.all(admitted);
      expect(await journal.streamVersion('wallet-w1')).toBe(3);
    });

    it('refuses a command beyond the gateway-wide pending bound, and frees its places when commands succeed or fail', async () => {
      gateway = gatewayOver(journal, { maxPendingCommands: 2 });
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await gateway.execute(new OpenWallet('w2', 'bob'));
      const gate = deferred();
      gates.set('g', gate.promise);
      const admitted = [gateway.execute(new SlowCredit('w1', 1, 'g')), gateway.execute(new SlowCredit('w2', 1, 'g'))];
      await expect(gateway.execute(new Credit('w3', 1))).rejects.toMatchObject({ name: 'GatewayOverloadedError', reason: 'gateway-queue-full' });
      gate.resolve();
      await Promise.all(admitted);
      // Failed commands give their places back too: more failures in a row than places, then a success.
      for (let i = 0; i < 3; i++) await expect(gateway.execute(new Credit('missing', 1))).rejects.toMatchObject({ name: 'AggregateNotFoundError' });
      await Promise.all([gateway.execute(new Credit('w1', 1)), gateway.execute(new Credit('w2', 1))]);
      expect([await journal.streamVersion('wallet-w1'), await journal.streamVersion('wallet-w2')]).toEqual([3, 3]);
    });

    it('refuses a command when no recovery permit frees up in time', async () => {
      const slowJournal = new InMemoryJournal();
      // Existing aggregates, not in the new gateway's cache: each command recovers its own.
      const setup = gatewayOver(slowJournal);
      await setup.execute(new OpenWallet('a', 'ann'));
      await setup.execute(new OpenWallet('b', 'bob'));
      const hold = deferred();
      const originalInfo = slowJournal.streamInfo.bind(slowJournal);
      slowJournal.streamInfo = async (id) => {
        await hold.promise;
        return originalInfo(id);
      };
      gateway = gatewayOver(slowJournal, { maxConcurrentRecoveries: 1, recoveryPermitTimeoutMs: 30 });
      const first = gateway.execute(new Credit('a', 1));
      const second = gateway.execute(new Credit('b', 1));
      await expect(second).rejects.toThrow(GatewayOverloadedError);
      await expect(second).rejects.toMatchObject({ reason: 'recovery-permit-timeout' });
      hold.resolve();
      await expect(first).resolves.toMatchObject({ version: 2 });
    });

    it('after close, refuses new commands as shutting down, having finished the queued ones', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const queued = gateway.execute(new Credit('w1', 1));
      await gateway.close();
      await expect(queued).resolves.toMatchObject({ version: 2 });
      await expect(gateway.execute(new Credit('w1', 1))).rejects.toMatchObject({ name: 'GatewayOverloadedError', reason: 'shutting-down' });
      expect(await journal.streamVersion('wallet-w1')).toBe(2);
    });

    it('keeps at most cacheSize hydrated aggregates', async () => {
      gateway = gatewayOver(journal, { cacheSize: 50 });
      for (let i = 0; i < 300; i++) await gateway.execute(new OpenWallet(`w${i}`, 'x'));
      expect(gateway.cachedAggregates).toBe(50);
      // An evicted aggregate is recovered from the journal on next use.
      await gateway.execute(new Credit('w0', 3));
      expect((await gateway.read(Wallet, 'w0'))?.state).toMatchObject({ owner: 'x', balance: 3 });
    });
  });

  describe('idempotency', () => {
    it('returns the first outcome for a repeated command id and writes nothing', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const first = await gateway.execute(new Credit('w1', 5), { commandId: 'k1' });
      const again = await gateway.execute(new Credit('w1', 5), { commandId: 'k1' });
      expect(again).toMatchObject({ version: first.version, replayed: true, commandId: 'k1' });
      expect(again.events).toEqual([new WalletCredited('w1', 5)]);
      expect(await journal.streamVersion('wallet-w1')).toBe(2);
    });

    it('replays a recorded rejection, even after the state would now allow the command', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await expect(gateway.execute(new Debit('w1', 5), { commandId: 'k1' })).rejects.toThrow(/insufficient funds/);
      await gateway.execute(new Credit('w1', 100));
      const replay = gateway.execute(new Debit('w1', 5), { commandId: 'k1' });
      await expect(replay).rejects.toThrow(DomainRuleViolation);
      await expect(replay).rejects.toMatchObject({ code: 'wallet.insufficient-funds', replayed: true });
      expect(await journal.streamVersion('wallet-w1')).toBe(2);
    });

    it('answers from the durable record after a restart (a new gateway on the same journal)', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'), { commandId: 'open' });
      await gateway.execute(new Credit('w1', 5), { commandId: 'k1' });
      const restarted = gatewayOver(journal);
      await expect(restarted.execute(new Credit('w1', 5), { commandId: 'k1' })).resolves.toMatchObject({ version: 2, replayed: true });
      await expect(restarted.execute(new OpenWallet('w1', 'ann'), { commandId: 'open' })).resolves.toMatchObject({ version: 1, replayed: true });
      expect(await journal.streamVersion('wallet-w1')).toBe(2);
    });

    it('checks idempotency before the expected version', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await gateway.execute(new Credit('w1', 5), { commandId: 'k1', expectedVersion: 1 });
      const other = gatewayOver(journal);
      await expect(other.execute(new Credit('w1', 5), { commandId: 'k1', expectedVersion: 1 })).resolves.toMatchObject({ replayed: true, version: 2 });
    });

    it('makes a duplicate that arrives while the first is running wait for it and share its outcome', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const gate = deferred();
      gates.set('dup', gate.promise);
      concurrency.calls = 0;
      const first = gateway.execute(new SlowCredit('w1', 7, 'dup'), { commandId: 'k' });
      const second = gateway.execute(new SlowCredit('w1', 7, 'dup'), { commandId: 'k' });
      gate.resolve();
      const [a, b] = await Promise.all([first, second]);
      expect(a).toMatchObject({ version: 2, replayed: false });
      expect(b).toMatchObject({ version: 2, replayed: true });
      expect(concurrency.calls).toBe(1);
      expect(await journal.streamVersion('wallet-w1')).toBe(2);
      gates.clear();
    });

    it('lets one waiting duplicate take over when the first fails unrecorded, and the others wait for it', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const append = journal.append.bind(journal);
      let failures = 1;
      journal.append = async (request) => {
        if (failures-- > 0) throw new Error('connection reset by peer');
        return append(request);
      };
      const gate = deferred();
      gates.set('dup', gate.promise);
      concurrency.calls = 0;
      const calls = Array.from({ length: 3 }, () => gateway.execute(new SlowCredit('w1', 7, 'dup'), { commandId: 'k' }));
      gate.resolve();
      const [first, ...rest] = await Promise.allSettled(calls);
      expect(first).toMatchObject({ status: 'rejected', reason: { message: 'connection reset by peer' } });
      const outcomes = rest.map((settled) => (settled.status === 'fulfilled' ? settled.value : settled.reason));
      expect(outcomes.map((outcome) => (outcome as { replayed?: boolean }).replayed)).toEqual([false, true]);
      // The failed attempt and one retry: the third call shared the retry's outcome.
      expect(concurrency.calls).toBe(2);
      expect(await journal.streamVersion('wallet-w1')).toBe(2);
      gates.clear();
    });

    it('refuses a command id reused for a different command', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await gateway.execute(new Credit('w1', 5), { commandId: 'k1' });
      await expect(gateway.execute(new Credit('w1', 6), { commandId: 'k1' })).rejects.toThrow(IdempotencyKeyReusedError);
      await expect(gatewayOver(journal).execute(new Credit('w1', 6), { commandId: 'k1' })).rejects.toThrow(IdempotencyKeyReusedError);
      expect(await journal.streamVersion('wallet-w1')).toBe(2);
    });

    it('two gateways racing the same command id write it once', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const other = gatewayOver(journal);
      await other.read(Wallet, 'w1');
      const results = await Promise.all([gateway.execute(new Credit('w1', 5), { commandId: 'k' }), other.execute(new Credit('w1', 5), { commandId: 'k' })]);
      expect(results.map((r) => r.version)).toEqual([2, 2]);
      expect(results.filter((r) => r.replayed)).toHaveLength(1);
      expect(await journal.streamVersion('wallet-w1')).toBe(2);
    });

    it('prunes outcomes past the retention', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'), { commandId: 'old' });
      expect(await gateway.pruneCommandOutcomes(-1000)).toBe(1);
      expect(await journal.findCommand('old')).toBeUndefined();
    });
  });

  describe('optimistic concurrency', () => {
    it('fails a stale expected version with ConcurrencyError carrying expected and actual', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await gateway.execute(new Credit('w1', 5));
      const attempt = gateway.execute(new Credit('w1', 5), { expectedVersion: 1 });
      await expect(attempt).rejects.toThrow(ConcurrencyError);
      await expect(attempt).rejects.toMatchObject({ streamId: 'wallet-w1', expectedVersion: 1, actualVersion: 2 });
      expect(await journal.streamVersion('wallet-w1')).toBe(2);
    });

    it('accepts an expected version that another instance reached (the cached copy catches up)', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const other = gatewayOver(journal);
      await other.execute(new Credit('w1', 5));
      await expect(gateway.execute(new Credit('w1', 1), { expectedVersion: 2 })).resolves.toMatchObject({ version: 3 });
      expect((await gateway.read(Wallet, 'w1'))?.state.balance).toBe(6);
    });

    it('fails an expected-version command that loses a race to another writer', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const other = gatewayOver(journal);
      await other.read(Wallet, 'w1');
      await gateway.execute(new Credit('w1', 5));
      await expect(other.execute(new Credit('w1', 5), { expectedVersion: 1 })).rejects.toMatchObject({
        name: 'ConcurrencyError',
        expectedVersion: 1,
      });
    });

    it('without an expected version, reloads and retries after another writer moved the aggregate', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const other = gatewayOver(journal);
      await other.read(Wallet, 'w1');
      await gateway.execute(new Credit('w1', 5));
      await expect(other.execute(new Credit('w1', 1))).resolves.toMatchObject({ version: 3 });
      expect((await other.read(Wallet, 'w1'))?.state.balance).toBe(6);
    });

    it('never rejects on stale cached state: a cached copy is checked before a rejection', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const other = gatewayOver(journal);
      await other.read(Wallet, 'w1');
      await gateway.execute(new Credit('w1', 100));
      await expect(other.execute(new Debit('w1', 50), { commandId: 'd' })).resolves.toMatchObject({ version: 3 });
    });

    it('gives up after the configured conflict retries with ConcurrencyError', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const racing = new InMemoryJournal();
      await racing.append({ writes: [{ streamId: 'wallet-w1', aggregateType: 'wallet', expectedVersion: 0, events: (await journal.readStream('wallet-w1')).map((e) => ({ ...e })) }] });
      const realAppend = racing.append.bind(racing);
      let attempts = 0;
      racing.append = async (request: AppendRequest): Promise<AppendResult> => {
        attempts++;
        // Another writer sneaks in before every attempt of ours.
        await realAppend({ writes: [{ streamId: 'wallet-w1', aggregateType: 'wallet', expectedVersion: await racing.streamVersion('wallet-w1'), events: request.writes[0]!.events.map((e) => ({ ...e, eventId: `${e.eventId}-x${attempts}` })) }] });
        return realAppend(request);
      };
      const g = gatewayOver(racing, { conflictRetries: 2 });
      await expect(g.execute(new Credit('w1', 1))).rejects.toThrow(ConcurrencyError);
      expect(attempts).toBe(3);
    });
  });

  describe('cache and unknown outcomes', () => {
    it('evicts the aggregate when the append fails for an unknown reason, so the next command sees the journal', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const realAppend = journal.append.bind(journal);
      let failNext = true;
      journal.append = async (request) => {
        if (failNext) {
          failNext = false;
          // The commit happened but the connection died before the answer.
          await realAppend(request);
          throw new Error('connection terminated');
        }
        return realAppend(request);
      };
      await expect(gateway.execute(new Credit('w1', 5))).rejects.toThrow('connection terminated');
      const next = await gateway.execute(new Credit('w1', 1));
      expect(next.version).toBe(3);
      expect((await gateway.read(Wallet, 'w1'))?.state.balance).toBe(6);
    });

    it('evicts the tentative state when an append fails without committing', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const realAppend = journal.append.bind(journal);
      journal.append = () => Promise.reject(new Error('connection refused'));
      await expect(gateway.execute(new Credit('w1', 5))).rejects.toThrow('connection refused');
      journal.append = realAppend;
      await gateway.execute(new Credit('w1', 1));
      expect((await gateway.read(Wallet, 'w1'))?.state.balance).toBe(1);
    });

    it('reads state at least as new as the database, whoever wrote it', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      expect((await gateway.read(Wallet, 'w1'))?.version).toBe(1);
      await gatewayOver(journal).execute(new Credit('w1', 9));
      const view = await gateway.read(Wallet, 'w1');
      expect(view).toMatchObject({ version: 2, state: { balance: 9, owner: 'ann' } });
      expect(view?.state).toBeInstanceOf(Wallet);
      expect(await gateway.read(Wallet, 'missing')).toBeUndefined();
    });

    it('hands readers a copy that cannot change the cached aggregate', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      const view = await gateway.read(Wallet, 'w1');
      view!.state.balance = 1_000;
      expect((await gateway.read(Wallet, 'w1'))?.state.balance).toBe(0);
    });

    it('reads an aggregate as it was at a version', async () => {
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await gateway.execute(new Credit('w1', 4));
      await gateway.execute(new Credit('w1', 6));
      expect((await gateway.readAt(Wallet, 'w1', 2))?.state.balance).toBe(4);
      expect(await gateway.readAt(Wallet, 'w1', 9)).toBeUndefined();
    });
  });

  describe('snapshots', () => {
    class CountingSnapshots extends InMemorySnapshotStore {
      saved: Snapshot[] = [];
      override async save(snapshot: Snapshot, keep: number): Promise<void> {
        this.saved.push(snapshot);
        return super.save(snapshot, keep);
      }
    }

    it('snapshots when the version crosses a multiple of every, multi-event batches included', async () => {
      const snapshots = new CountingSnapshots();
      gateway = gatewayOver(journal, {}, { snapshots });
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await gateway.execute(new CreditInParts('w1', 3, 3)); // v4
      expect(snapshots.saved).toHaveLength(0);
      await gateway.execute(new CreditInParts('w1', 4, 2)); // v6 crosses 5
      await gateway.close();
      expect(snapshots.saved.map((s) => [s.version, s.state])).toEqual([[6, { owner: 'ann', balance: 7 }]]);
    });

    it('recovers from the latest snapshot and replays only later events', async () => {
      const snapshots = new InMemorySnapshotStore();
      gateway = gatewayOver(journal, {}, { snapshots });
      await gateway.execute(new OpenWallet('w1', 'ann'));
      for (let i = 0; i < 6; i++) await gateway.execute(new Credit('w1', 1));
      await gateway.close();
      const reads: Array<number | undefined> = [];
      const realRead = journal.readStream.bind(journal);
      journal.readStream = async (id, options) => {
        reads.push(options?.fromVersion);
        return realRead(id, options);
      };
      const restarted = gatewayOver(journal, {}, { snapshots });
      expect((await restarted.read(Wallet, 'w1'))?.state).toMatchObject({ balance: 6, owner: 'ann' });
      expect(reads).toEqual([6]);
    });

    it('falls back to full replay, with a warning, for a snapshot of another schema version or one that cannot be restored', async () => {
      const snapshots = new InMemorySnapshotStore();
      gateway = gatewayOver(journal);
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await gateway.execute(new Credit('w1', 2));
      await snapshots.save({ streamId: 'wallet-w1', aggregateType: 'wallet', version: 2, schemaVersion: 99, state: { balance: 1_000 }, takenAt: new Date() }, 2);
      const warnings: string[] = [];
      const logger = { ...silent, warn: (m: string) => warnings.push(m) };
      expect((await gatewayOver(journal, {}, { snapshots, logger }).read(Wallet, 'w1'))?.state.balance).toBe(2);
      expect(warnings.join()).toMatch(/schema version 99.*replaying all events/);
      await snapshots.save({ streamId: 'wallet-w1', aggregateType: 'wallet', version: 2, schemaVersion: 1, state: 'not json', takenAt: new Date() }, 2);
      expect((await gatewayOver(journal, {}, { snapshots, logger }).read(Wallet, 'w1'))?.state.balance).toBe(2);
      expect(warnings.join()).toMatch(/cannot be restored/);
    });

    it('never fails a command because a snapshot could not be saved', async () => {
      const broken: SnapshotStore = {
        save: () => Promise.reject(new Error('disk full')),
        load: () => Promise.resolve(undefined),
        delete: () => Promise.resolve(),
      };
      const warnings: string[] = [];
      gateway = gatewayOver(journal, {}, { snapshots: broken, logger: { ...silent, warn: (m) => warnings.push(m) } });
      await gateway.execute(new OpenWallet('w1', 'ann'));
      await expect(gateway.execute(new CreditInParts('w1', 5, 5))).resolves.toMatchObject({ version: 6 });
      await gateway.close();
      expect(warnings.join()).toMatch(/was not saved: disk full/);
    });
  });

  describe('post-commit listeners', () => {
    it('tells listeners after the commit and isolates their errors', async () => {
      const seen: string[] = [];
      const errors: string[] = [];
      gateway = gatewayWithListeners(
        journal,
        [
          { afterCommit: () => Promise.reject(new Error('listener broke')) },
          { afterCommit: async ({ result }) => void seen.push(`${result.streamId}@${result.version}:${await journal.streamVersion(result.streamId)}`) },
        ],
        errors,
      );
      await expect(gateway.execute(new OpenWallet('w1', 'ann'))).resolves.toMatchObject({ version: 1 });
      expect(seen).toEqual(['wallet-w1@1:1']);
      expect(errors.join()).toMatch(/listener broke/);
    });

    it('runs listeners one after another, waits for one that returns a promise before the next, and resolves the command after the last', async () => {
      const seen: string[] = [];
      const errors: string[] = [];
      const gate = deferred();
      let resolved = false;
      gateway = gatewayWithListeners(
        journal,
        [
          { afterCommit: () => void seen.push('first') },
          {
            afterCommit: async () => {
              seen.push('second started');
              await gate.promise;
              seen.push('second done');
            },
          },
          {
            afterCommit: () => {
              throw new Error('third broke');
            },
          },
          // The command must not have resolved yet when the last listener runs.
          { afterCommit: () => void seen.push(`fourth (resolved: ${String(resolved)})`) },
        ],
        errors,
      );
      const executed = gateway.execute(new OpenWallet('w1', 'ann'), { commandId: 'open-w1' }).then((result) => {
        resolved = true;
        return result;
      });
      await new Promise((r) => setTimeout(r, 20));
      expect({ seen, resolved }).toEqual({ seen: ['first', 'second started'], resolved: false });
      gate.resolve();
      await expect(executed).resolves.toMatchObject({ version: 1 });
      expect(seen).toEqual(['first', 'second started', 'second done', 'fourth (resolved: false)']);
      // The failing listener's line names the commit and its command.
      expect(errors).toEqual([expect.stringMatching(/failed for wallet-w1@1 \(command open-w1\): third broke/)]);
    });

    it('logs a listener whose returned value breaks when asked for its then, and still resolves the committed command', async () => {
      const errors: string[] = [];
      const seen: string[] = [];
      gateway = gatewayWithListeners(
        journal,
        [
          {
            afterCommit: () =>
              ({
                get then(): never {
                  throw new Error('then broke');
                },
              }) as unknown as Promise<void>,
          },
          { afterCommit: () => void seen.push('next') },
        ],
        errors,
      );
      await expect(gateway.execute(new OpenWallet('w1', 'ann'))).resolves.toMatchObject({ version: 1 });
      expect(seen).toEqual(['next']);
      expect(errors).toEqual([expect.stringMatching(/failed for wallet-w1@1 .*then broke/)]);
    });
  });
});
