// The plain Node worker (createChronicle on SQLite), run by optional-peers.int-spec.ts with
// @opentelemetry/* unresolvable (register.mjs): the runtime looks for the API once at start, finds
// nothing and runs with telemetry off. It prints one JSON line of what it saw.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { main } from '../../examples/plain-node-worker/main.js';

const report = await main({ print: () => undefined });
const attempts = process.env.CHRONICLE_BLOCKED_ATTEMPTS ? readFileSync(process.env.CHRONICLE_BLOCKED_ATTEMPTS, 'utf8').split('\n').filter(Boolean) : [];
console.log(JSON.stringify({ balances: report.balances, published: report.published.length, finalState: report.finalState, attempts }));
