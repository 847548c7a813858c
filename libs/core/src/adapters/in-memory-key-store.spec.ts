import { keyStoreContract } from '@chronicle/testing/contracts';
import { InMemoryKeyStore } from './in-memory-key-store.js';

keyStoreContract('in-memory', async (masterKeys) => {
  const store = new InMemoryKeyStore({ masterKeys });
  return { store, reopen: async (keys) => store.withMasterKeys(keys!), close: async () => undefined };
});
