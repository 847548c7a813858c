import { randomBytes } from 'node:crypto';
import { AggregateAlreadyExistsError, DomainRuleViolation, InMemoryKeyStore, createChronicle, createInMemoryStorage, type InMemoryTransaction } from '@chronicle/core';
import type { DemoConfig } from '../config/demo-config.js';
import { Account } from './account.aggregate.js';
import { CloseAccount } from './commands/close-account.command.js';
import { OpenAccount } from './commands/open-account.command.js';
import { OwnerAccountLimit } from './owner-account-limit.decision.js';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('OwnerAccountLimit', () => {
  let chronicle: ReturnType<typeof createChronicle<InMemoryTransaction>>;

  beforeEach(async () => {
    const config = { maxOpenAccountsPerOwner: 2 } as DemoConfig;
    chronicle = createChronicle({
      storage: createInMemoryStorage(),
      aggregates: [Account],
      decisions: [new OwnerAccountLimit(config)],
      // The owner's name is personal data: the runtime refuses such events without a key store.
      personalData: { keyStore: new InMemoryKeyStore({ masterKeys: { current: { id: 'k1', key: randomBytes(32) } } }) },
      logger: () => quiet,
      options: { telemetry: false },
    });
    await chronicle.start();
  });

  afterEach(() => chronicle.stop());

  it('opens accounts for an owner up to the limit, then refuses naming it; other owners are not counted', async () => {
    await chronicle.execute(new OpenAccount('a1', 'Ada'));
    await chronicle.execute(new OpenAccount('b1', 'Bob'));
    await chronicle.execute(new OpenAccount('a2', 'Ada'));
    const refusal = chronicle.execute(new OpenAccount('a3', 'Ada'));
    await expect(refusal).rejects.toThrow(DomainRuleViolation);
    await expect(refusal).rejects.toThrow('The owner already holds 2 open accounts, the most an owner may hold (CHRONICLE_MAX_OPEN_ACCOUNTS_PER_OWNER=2)');
    expect(await chronicle.read(Account, 'a3')).toBeUndefined();
    expect((await chronicle.read(Account, 'a2'))?.state).toMatchObject({ id: 'a2', owner: 'Ada', closed: false });
  });

  it('frees a place when the owner closes an account', async () => {
    await chronicle.execute(new OpenAccount('a1', 'Ada'));
    await chronicle.execute(new OpenAccount('a2', 'Ada'));
    await chronicle.execute(new CloseAccount('a1'));
    await expect(chronicle.execute(new OpenAccount('a3', 'Ada'))).resolves.toMatchObject({ aggregateId: 'a3', version: 1 });
  });

  it('refuses to open an account id twice', async () => {
    await chronicle.execute(new OpenAccount('a1', 'Ada'));
    await expect(chronicle.execute(new OpenAccount('a1', 'Eve'))).rejects.toThrow(AggregateAlreadyExistsError);
  });
});
