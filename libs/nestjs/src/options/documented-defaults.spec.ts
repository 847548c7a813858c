import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  COMMAND_GATEWAY_DEFAULTS,
  COMMAND_OUTCOME_DEFAULTS,
  OUTBOX_RELAY_DEFAULTS,
  SAGA_DEADLINE_DEFAULTS,
  SAGA_DEFAULTS,
  SUBSCRIPTION_DEFAULTS,
} from '@chronicle/core';
import { GROUP_COMMIT_DEFAULTS } from '../../../core/src/gateway/commit-batcher.js';

const libs = fileURLToPath(new URL('../../../', import.meta.url));

/** The `@default` of each property of one interface in a source file, as written (first word). */
function documentedDefaults(file: string, interfaceName: string): Map<string, string> {
  const source = readFileSync(`${libs}${file}`, 'utf8');
  const start = source.indexOf(`export interface ${interfaceName} {`);
  if (start < 0) throw new Error(`${file} declares no interface ${interfaceName}`);
  const body = source.slice(start, source.indexOf('\n}', start));
  const found = new Map<string, string>();
  const property = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(\w+)\??:/g;
  for (const match of body.matchAll(property)) {
    const value = /@default\s+(\S+)/.exec(match[1]!)?.[1];
    if (value !== undefined) found.set(match[2]!, value.replace(/^'(.*)'$/, '$1'));
  }
  return found;
}

/** Each documented default against the constant the code reads, property by property. */
function expectDocumented(file: string, interfaceName: string, code: Record<string, string | number | boolean>): void {
  const documented = documentedDefaults(file, interfaceName);
  for (const [property, value] of Object.entries(code)) {
    expect({ property, documented: documented.get(property) }).toEqual({ property, documented: String(value) });
  }
}

describe('documented defaults', () => {
  it('the gateway and group commit options document the defaults the code applies', () => {
    expectDocumented('core/src/gateway/command-gateway-options.ts', 'CommandGatewayOptions', COMMAND_GATEWAY_DEFAULTS);
    expectDocumented('core/src/gateway/commit-batcher.ts', 'GroupCommitOptions', GROUP_COMMIT_DEFAULTS);
  });

  it('the relay, subscription and deadline runner options document the defaults the code applies', () => {
    const { pollIntervalMs: _relayPoll, retentionMs: _r, pruneIntervalMs: _p, ...relay } = OUTBOX_RELAY_DEFAULTS;
    expectDocumented('core/src/outbox/outbox-relay.ts', 'OutboxRelayOptions', relay);
    const { pollIntervalMs: _subscriptionPoll, ...subscription } = SUBSCRIPTION_DEFAULTS;
    expectDocumented('core/src/subscriptions/subscription-options.ts', 'SubscriptionOptions', subscription);
    const { pollIntervalMs: _deadlinePoll, ...deadlines } = SAGA_DEADLINE_DEFAULTS;
    expectDocumented('core/src/sagas/saga-deadline-runner.ts', 'SagaDeadlineRunnerOptions', deadlines);
  });

  it('the runtime options, which the Nest module takes as they are, document the defaults the code applies', () => {
    const runtime = 'core/src/runtime/chronicle-options.ts';
    expectDocumented(runtime, 'ChronicleOutboxOptions', {
      pollIntervalMs: OUTBOX_RELAY_DEFAULTS.pollIntervalMs,
      leaseMs: OUTBOX_RELAY_DEFAULTS.leaseMs,
      retentionMs: OUTBOX_RELAY_DEFAULTS.retentionMs,
      pruneIntervalMs: OUTBOX_RELAY_DEFAULTS.pruneIntervalMs,
    });
    expectDocumented(runtime, 'ChronicleSubscriptionOptions', {
      pollIntervalMs: SUBSCRIPTION_DEFAULTS.pollIntervalMs,
      leaseMs: SUBSCRIPTION_DEFAULTS.leaseMs,
      sagaConcurrency: SAGA_DEFAULTS.concurrency,
      deadlinePollIntervalMs: SAGA_DEADLINE_DEFAULTS.pollIntervalMs,
      sagaRetentionMs: SAGA_DEFAULTS.retentionMs,
      pruneIntervalMs: SAGA_DEFAULTS.pruneIntervalMs,
    });
    expectDocumented(runtime, 'ChronicleOptions', {
      commandRetentionMs: COMMAND_OUTCOME_DEFAULTS.retentionMs,
      pruneIntervalMs: COMMAND_OUTCOME_DEFAULTS.pruneIntervalMs,
    });
    expectDocumented('nestjs/src/options/event-sourcing-module-options.interface.ts', 'EventSourcingModuleOptions', {
      commandRetentionMs: COMMAND_OUTCOME_DEFAULTS.retentionMs,
      pruneIntervalMs: COMMAND_OUTCOME_DEFAULTS.pruneIntervalMs,
    });
  });
});
