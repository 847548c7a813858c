import { hostname } from 'node:os';
import { newLeaseOwnerId } from './lease-owner.js';

describe('newLeaseOwnerId', () => {
  it('names the host and process, so an operator can tell who holds a lease', () => {
    expect(newLeaseOwnerId()).toMatch(new RegExp(`^${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${process.pid}:[0-9a-f]{8}$`));
  });

  it('gives two workers of one process different ids, so neither can extend or release the other\'s lease', () => {
    expect(newLeaseOwnerId()).not.toBe(newLeaseOwnerId());
  });
});
