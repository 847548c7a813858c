import { jest } from '@jest/globals';
import { createInMemoryStorage } from '../adapters/in-memory-storage.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { GatewayOverloadedError } from '../errors/gateway-overloaded.error.js';
import { Credit, OpenWallet, SlowCredit, Wallet, WalletCredited, WalletOpened, gates } from '../gateway/fixtures/wallet.fixture.js';
import type { PostCommitListener } from '../gateway/post-commit-listener.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import { OutboxHandler } from '../outbox/outbox-handler.decorator.js';
import type { OutboxMessage } from '../outbox/outbox-message.js';
import type { OutboxPublisher } from '../outbox/outbox-publisher.js';
import { On } from '../projections/on.decorator.js';
import { Projection } from '../projections/projection.decorator.js';
import type { SagaContext } from '../sagas/saga-context.js';
import { StartsSaga } from '../sagas/saga-handler.decorator.js';
import { Saga } from '../sagas/saga.decorator.js';
import { createChronicle } from './create-chronicle.js';

const silent = (): ChronicleLogger => ({ log: () => undefined, warn: () => undefined, error: () => undefined });

@OutboxHandler({ name: 'recorder', events: [WalletOpened, WalletCredited] })
class RecordingPublisher implements OutboxPublisher {
  readonly published: string[] = [];
  async publish(batch: readonly OutboxMessage[]): Promise<void> {
    for (const message of batch) this.published.push(`${message.eventType}:${message.streamId}@${message.version}`);
  }
}

@Projection({ name: 'balances' })
class Balances {
  readonly balances = new Map<string, number>();
  @On(WalletOpened)
  opened(event: WalletOpened): void {
    this.balances.set(event.walletId, 0);
  }
  @On(WalletCredited)
  credited(event: WalletCredited): void {
    this.balances.set(event.walletId, (this.balances.get(event.walletId) ?? 0) + event.amount);
  }
}

/** Every wallet opened gets a welcome credit of 5. */
@Saga({ name: 'welcome' })
class WelcomeSaga {
  @StartsSaga(WalletOpened, { associate: 'walletId' })
  async opened(event: WalletOpened, ctx: SagaContext): Promise<void> {
    await ctx.dispatch(new Credit(event.walletId, 5));
    ctx.complete();
  }
}

function build(options: { pollIntervalMs?: number; listeners?: PostCommitListener[] } = {}) {
  const publisher = new RecordingPublisher();
  const balances = new Balances();
  const chronicle = createChronicle({
    storage: createInMemoryStorage(),
    aggregates: [Wallet],
    outboxHandlers: [publisher],
    projections: [balances],
    sagas: [new WelcomeSaga()],
    listeners: options.listeners ?? [],
    logger: silent,
    options: {
      outbox: { pollIntervalMs: options.pollIntervalMs ?? 20 },
      subscriptions: { pollIntervalMs: options.pollIntervalMs ?? 20, deadlinePollIntervalMs: options.pollIntervalMs ?? 20 },
    },
  });
  return { chronicle, publisher, balances };
}

async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never happened: ${what}`);
}

describe('createChronicle: lifecycle', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('starts and stops idempotently: a second call gets the same promise, a stopped runtime refuses to start', async () => {
    const { chronicle } = build();
    expect(chronicle.state).toBe('created');
    const first = chronicle.start();
    expect(chronicle.start()).toBe(first);
    await first;
    expect(chronicle.state).toBe('running');
    const stop = chronicle.stop();
    expect(chronicle.stop()).toBe(stop);
    await stop;
    expect(chronicle.state).toBe('stopped');
    await expect(chronicle.start()).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('holds no timer after stop (every interval the jobs created is cleared)', async () => {
    jest.useFakeTimers({ advanceTimers: true });
    const { chronicle } = build();
    await chronicle.start();
    // relay (1 handler) + outbox prune + projection + saga + deadlines + saga prune + command prune
    expect(chronicle.timerCount).toBe(7);
    await chronicle.execute(new OpenWallet('w1', 'ann'));
    await chronicle.flush();
    await chronicle.stop();
    expect(chronicle.timerCount).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('drains on stop: a command in flight finishes and commits, a command after stop is refused', async () => {
    const { chronicle } = build();
    await chronicle.start();
    await chronicle.execute(new OpenWallet('w2', 'bob'));
    let open!: () => void;
    gates.set('stop-drains', new Promise<void>((resolve) => (open = resolve)));
    const inFlight = chronicle.execute(new SlowCredit('w2', 7, 'stop-drains'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const stopped = chronicle.stop();
    await expect(chronicle.execute(new Credit('w2', 1))).rejects.toBeInstanceOf(GatewayOverloadedError);
    let stopDone = false;
    void stopped.then(() => (stopDone = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stopDone).toBe(false);
    open();
    const result = await inFlight;
    await stopped;
    expect(result.version).toBeGreaterThanOrEqual(2);
    const view = await chronicle.read(Wallet, 'w2');
    expect(view?.state.balance).toBeGreaterThanOrEqual(7);
  });
});

describe('createChronicle: background work', () => {
  it('catches a projection up, runs the saga, and relays the outbox, woken by its own commits', async () => {
    // Polling so slow that only the post-commit wake-ups can explain the progress.
    const { chronicle, publisher, balances } = build({ pollIntervalMs: 600_000 });
    await chronicle.start();
    await chronicle.execute(new OpenWallet('w3', 'cy'));
    await chronicle.execute(new Credit('w3', 10));
    await eventually(() => balances.balances.get('w3') === 15, 'the projection to see the opening, the credit and the saga credit');
    await eventually(() => publisher.published.length === 3, 'the relay to publish three events');
    expect(publisher.published).toEqual(['wallet.opened:wallet-w3@1', 'wallet.credited:wallet-w3@2', 'wallet.credited:wallet-w3@3']);
    expect((await chronicle.read(Wallet, 'w3'))?.state.balance).toBe(15);
    await chronicle.stop();
  });

  it("wakes its projection and relay after a commit before the application's slow post-commit listener is done", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    // Polling so slow that only the post-commit wake-up can explain the progress.
    const { chronicle, publisher, balances } = build({ pollIntervalMs: 600_000, listeners: [{ afterCommit: () => held }] });
    await chronicle.start();
    const opening = chronicle.execute(new OpenWallet('w6', 'fay'));
    await eventually(
      () => balances.balances.has('w6') && publisher.published.includes('wallet.opened:wallet-w6@1'),
      'the projection and the relay, while the listener holds the command',
    );
    release();
    await opening;
    await chronicle.stop();
  });

  it('wakes its projection when an append fails with its outcome unknown (the unit may have committed, its answer lost)', async () => {
    const storage = createInMemoryStorage();
    const balances = new Balances();
    const chronicle = createChronicle({
      storage,
      aggregates: [Wallet],
      projections: [balances],
      logger: silent,
      options: { subscriptions: { pollIntervalMs: 600_000 } },
    });
    await chronicle.start();
    await chronicle.execute(new OpenWallet('w7', 'gus'));
    await eventually(() => balances.balances.get('w7') === 0, 'the opening');
    // The unit commits, then the answer is lost, as when a connection drops at COMMIT.
    const append = storage.journal.append.bind(storage.journal);
    storage.journal.append = async (request) => {
      await append(request);
      throw new Error('Connection terminated unexpectedly');
    };
    await expect(chronicle.execute(new Credit('w7', 4))).rejects.toThrow('Connection terminated unexpectedly');
    await eventually(() => balances.balances.get('w7') === 4, 'the projection to see the credit whose answer was lost');
    await chronicle.stop();
  });

  it('catches a projection up on events written before it started (from its checkpoint)', async () => {
    const storage = createInMemoryStorage();
    const writer = createChronicle({ storage, aggregates: [Wallet], logger: silent });
    await writer.start();
    await writer.execute(new OpenWallet('w4', 'di'));
    await writer.execute(new Credit('w4', 3));
    await writer.stop();
    const balances = new Balances();
    const reader = createChronicle({ storage, aggregates: [Wallet], projections: [balances], logger: silent });
    await reader.start();
    await reader.flush();
    expect(balances.balances.get('w4')).toBe(3);
    await reader.stop();
  });

  it('retries a failed outbox backfill at the relay\'s next run, without a host that retries start-up steps', async () => {
    @OutboxHandler({ name: 'archive', events: [WalletOpened], startFrom: 'beginning' })
    class Archive implements OutboxPublisher {
      readonly published: string[] = [];
      async publish(batch: readonly OutboxMessage[]): Promise<void> {
        for (const message of batch) this.published.push(`${message.eventType}:${message.streamId}@${message.version}`);
      }
    }
    const storage = createInMemoryStorage();
    const writer = createChronicle({ storage, aggregates: [Wallet], logger: silent });
    await writer.start();
    await writer.execute(new OpenWallet('w5', 'ed'));
    await writer.stop();
    // The database is away during the first backfill: its first feed read fails.
    const readAll = storage.journal.readAll.bind(storage.journal);
    let failures = 0;
    storage.journal.readAll = (...args) => (failures++ === 0 ? Promise.reject(new Error('connection refused')) : readAll(...args));
    const errors: string[] = [];
    const archive = new Archive();
    const chronicle = createChronicle({
      storage,
      aggregates: [Wallet],
      outboxHandlers: [archive],
      logger: () => ({ log: () => undefined, warn: () => undefined, error: (message: string) => void errors.push(message) }),
      options: { outbox: { pollIntervalMs: 20 } },
    });
    await chronicle.start();
    await eventually(() => archive.published.length === 1, 'the backfilled event to be relayed after the failed backfill');
    expect(archive.published).toEqual(['wallet.opened:wallet-w5@1']);
    expect(errors).toEqual([expect.stringContaining('Outbox backfill failed: connection refused')]);
    await chronicle.stop();
  });

  it('refuses bad configuration with a named error before anything runs', () => {
    expect(() => createChronicle({ storage: createInMemoryStorage(), aggregates: [Wallet], outboxHandlers: [{}] })).toThrow(ConfigurationError);
    expect(() => createChronicle({ storage: createInMemoryStorage(), aggregates: [Wallet], projections: [new Balances(), new Balances()] })).toThrow(
      /Projection name "balances" is used twice/,
    );
    expect(() => createChronicle({ storage: createInMemoryStorage(), aggregates: [Wallet], options: { outbox: { pollIntervalMs: 0 } } })).toThrow(
      /outbox.pollIntervalMs/,
    );
  });
});

describe('createChronicle: a host that supplies its components late and wraps the start-up steps', () => {
  it('asks for the components once, in start(), and runs them like the ones given up front', async () => {
    const publisher = new RecordingPublisher();
    const balances = new Balances();
    let asked = 0;
    const chronicle = createChronicle({
      storage: createInMemoryStorage(),
      aggregates: [Wallet],
      logger: silent,
      components: () => {
        asked++;
        return { outboxHandlers: [publisher], projections: [balances], sagas: [new WelcomeSaga()] };
      },
    });
    expect(asked).toBe(0);
    expect(chronicle.relay).toBeUndefined();
    expect(chronicle.subscriptions.size).toBe(0);
    await chronicle.start();
    expect(asked).toBe(1);
    expect([...chronicle.subscriptions.keys()]).toEqual(['projection:balances', 'saga:welcome']);
    expect(chronicle.relay?.handlerNames()).toEqual(['recorder']);
    expect(chronicle.deadlines).toBeDefined();
    await chronicle.execute(new OpenWallet('late-1', 'eve'));
    await chronicle.flush();
    await chronicle.flush();
    expect(balances.balances.get('late-1')).toBe(5);
    expect(publisher.published).toEqual(['wallet.opened:wallet-late-1@1', 'wallet.credited:wallet-late-1@2']);
    await chronicle.stop();
    expect(asked).toBe(1);
  });

  it('refuses late components that cannot work when start() asks for them, and stops', async () => {
    const chronicle = createChronicle({
      storage: createInMemoryStorage(),
      aggregates: [Wallet],
      logger: silent,
      components: () => ({ projections: [new Balances(), new Balances()] }),
    });
    await expect(chronicle.start()).rejects.toThrow(/Projection name "balances" is used twice/);
    expect(chronicle.state).toBe('stopped');
  });

  it('runs every start-up step through startupStep, in order, and fails the start with the error a step gives up with', async () => {
    const steps: string[] = [];
    const chronicle = createChronicle({
      storage: createInMemoryStorage(),
      aggregates: [Wallet],
      outboxHandlers: [new RecordingPublisher()],
      logger: silent,
      startupStep: (step, work, signal) => {
        steps.push(`${step}${signal.aborted ? ' (aborted)' : ''}`);
        return work();
      },
    });
    await chronicle.start();
    await chronicle.flush();
    expect(steps).toEqual(['Chronicle migrations', 'outbox handler registration', 'outbox backfill']);
    await chronicle.stop();

    const failing = createChronicle({
      storage: createInMemoryStorage(),
      aggregates: [Wallet],
      logger: silent,
      startupStep: (step) => Promise.reject(new Error(`${step} gave up`)),
    });
    await expect(failing.start()).rejects.toThrow('Chronicle migrations gave up');
    expect(failing.state).toBe('stopped');
    expect(failing.timerCount).toBe(0);
  });
});
