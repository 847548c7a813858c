import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError as CommanderArgumentError, Option } from 'commander';
import { ChronicleError, InvalidArgumentError } from '@chronicle/core';
import { OperationsNotFoundError } from '../errors/operations-not-found.error.js';
import type { ChronicleOperations } from '../operations/chronicle-operations.service.js';
import type { ChronicleCliIo } from './cli-io.js';
import {
  commandJson,
  eventJson,
  outboxEntryJson,
  outboxStatsJson,
  parkedJson,
  rebuildJson,
  sagaDeadlineJson,
  sagaInstanceJson,
  statusJson,
  streamJson,
  subscriptionJson,
  type CliErrorJson,
  type CliPageJson,
  type CliParkedRedriveJson,
  type CliRedriveJson,
  type CliSagaSummaryJson,
} from './cli-json.js';
import {
  commandTable,
  deadLettersTable,
  feedTable,
  inertText,
  leasedTable,
  outboxStatsTable,
  parkedTable,
  sagaInstancesTable,
  sagaSummaryTable,
  sagaTable,
  statusTable,
  streamEventsTable,
  streamsTable,
  subscriptionsTable,
} from './cli-tables.js';
import { openCliTarget, type CliConnectionOptions } from './cli-target.js';
import { CliUsageError } from './cli-usage.error.js';
import { RebuildProgressBar } from './rebuild-progress-bar.js';

/** Exit codes of the `chronicle` CLI. */
export const CLI_EXIT_CODES = {
  /** The command did what it was asked. */
  ok: 0,
  /** It could not: the database was unreachable, an id is unknown, a rebuild failed. */
  failure: 1,
  /** It was called wrongly (unknown command or option, malformed argument, no database named); nothing was read or changed. */
  usage: 2,
} as const;

interface GlobalOptions extends CliConnectionOptions {
  json?: boolean;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function integerOption(minimum: number): (value: string) => number {
  return (value) => {
    const parsed = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(parsed) || parsed < minimum) throw new CommanderArgumentError(`expected an integer of at least ${minimum}.`);
    return parsed;
  };
}

// C1 controls are not escaped by JSON.stringify; a terminal would act on them.
function inertJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\u007f-\u009f]/g, (char) => `\\u00${char.charCodeAt(0).toString(16)}`);
}

function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? CLI_EXIT_CODES.ok : CLI_EXIT_CODES.usage;
  }
  if (error instanceof CliUsageError || error instanceof InvalidArgumentError) return CLI_EXIT_CODES.usage;
  return CLI_EXIT_CODES.failure;
}

/**
 * Finds a subscription by its checkpoint name (`projection:balances`) or its short name
 * (`balances`) when that names exactly one projection or saga.
 */
async function subscriptionName(operations: ChronicleOperations, name: string): Promise<string> {
  if (name.includes(':')) return name;
  const found: string[] = [];
  for (const kind of ['projection', 'saga']) {
    try {
      found.push((await operations.subscription(`${kind}:${name}`)).name);
    } catch (error) {
      if (!(error instanceof OperationsNotFoundError)) throw error;
    }
  }
  if (found.length === 1) return found[0]!;
  if (found.length > 1) throw new CliUsageError(`"${name}" names both ${found.join(' and ')}: pass the full subscription name.`);
  return name;
}

/**
 * The `chronicle` CLI: runs one command (`argv` without `node` and the script, e.g.
 * `['outbox', '--dead', '--json']`) and resolves with its exit code ({@link CLI_EXIT_CODES}); it
 * never calls `process.exit`. Results go to `io.stdout` (tables, or one JSON document with
 * `--json`), errors and progress to `io.stderr`.
 */
export async function runChronicleCli(argv: readonly string[], io: ChronicleCliIo): Promise<number> {
  const wantsJson = argv.includes('--json');
  const program = new Command('chronicle');
  program
    .description('Operate a Chronicle application from its database: streams, the feed, the outbox and its dead letters, subscriptions, sagas, command outcomes; re-drive and rebuild.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Errors are reported once, below, in the same form as every other failure.
      outputError: () => undefined,
      getOutHelpWidth: () => io.stdout.columns ?? 100,
      getErrHelpWidth: () => io.stderr.columns ?? 100,
    })
    .showSuggestionAfterError(true)
    .option('--json', 'print one JSON document (stable shapes, see the README) instead of tables')
    .option('--database-url <url>', 'postgres://… or sqlite:<file> (default: $DATABASE_URL)')
    .option('--schema <schema>', "PostgreSQL schema of Chronicle's tables (default: $CHRONICLE_SCHEMA)")
    .option('--table-prefix <prefix>', "prefix of Chronicle's tables (default: $CHRONICLE_TABLE_PREFIX)")
    .option('-d, --data-source <file>', 'a JavaScript module exporting a TypeORM DataSource (like the TypeORM CLI)')
    .option('--app <file>', "a JavaScript module exporting the application (a Nest module, a Chronicle runtime, or a function returning one): needed by rebuild")
    .addHelpText(
      'after',
      '\nExit codes: 0 done, 1 failed (database unreachable, unknown id, ...), 2 called wrongly (nothing read or changed).',
    );

  const globals = (command: Command): GlobalOptions => command.optsWithGlobals<GlobalOptions>();
  const print = (command: Command, json: unknown, table: () => string): void => {
    io.stdout.write(globals(command).json ? `${inertJson(json)}\n` : table());
  };
  const run = async (command: Command, work: (operations: ChronicleOperations) => Promise<void>): Promise<void> => {
    const target = await openCliTarget(globals(command), io, command.name());
    try {
      await work(target.operations);
    } finally {
      await target.close();
    }
  };
  const limit = new Option('--limit <n>', 'rows in one page (at most 200)').argParser(integerOption(1));

  program
    .command('status')
    .description('health at a glance: head position, throughput, outbox backlog and dead letters, subscriptions (lag, parked, lease), sagas')
    .action(async (_options: object, command: Command) =>
      run(command, async (operations) => {
        const status = statusJson(await operations.overview());
        print(command, status, () => statusTable(status));
      }),
    );

  program
    .command('streams')
    .description('find streams by id prefix and aggregate type, in id order')
    .option('--q <text>', 'an id, or the start of ids (same as --prefix)')
    .option('--prefix <text>', 'ids starting with this text')
    .option('--type <aggregateType>', 'only streams of this aggregate type')
    .option('--after <streamId>', 'the page after this id (the `next` of the previous page)')
    .addOption(limit)
    .action(async (options: { q?: string; prefix?: string; type?: string; after?: string; limit?: number }, command: Command) => {
      if (options.q !== undefined && options.prefix !== undefined && options.q !== options.prefix) {
        throw new CliUsageError('--q and --prefix are the same search: pass one of them.');
      }
      const prefix = options.q ?? options.prefix;
      await run(command, async (operations) => {
        const page = await operations.findStreams({
          ...(prefix === undefined ? {} : { prefix }),
          ...(options.type === undefined ? {} : { aggregateType: options.type }),
          ...(options.after === undefined ? {} : { after: options.after }),
          ...(options.limit === undefined ? {} : { pageSize: options.limit }),
        });
        const json: CliPageJson<ReturnType<typeof streamJson>, string> = { items: page.items.map(streamJson), next: page.next ?? null };
        print(command, json, () => streamsTable(json.items, json.next));
      });
    });

  program
    .command('events')
    .description("a stream's events in version order, with their metadata (command, correlation and causation ids) and payload")
    .argument('<stream>', 'the stream id')
    .option('--from <version>', 'first version to show', integerOption(1))
    .addOption(limit)
    .action(async (stream: string, options: { from?: number; limit?: number }, command: Command) =>
      run(command, async (operations) => {
        const page = await operations.streamEvents(stream, {
          ...(options.from === undefined ? {} : { fromVersion: options.from }),
          ...(options.limit === undefined ? {} : { pageSize: options.limit }),
        });
        const json = { stream: streamJson(page.stream), items: page.items.map(eventJson), next: page.next ?? null };
        print(command, json, () => streamEventsTable(json));
      }),
    );

  program
    .command('feed')
    .description('the latest events of the whole journal, newest first')
    .option('--before <position>', 'events below this global position (the `next` of the previous page)', integerOption(1))
    .addOption(limit)
    .action(async (options: { before?: number; limit?: number }, command: Command) =>
      run(command, async (operations) => {
        const page = await operations.latestEvents({
          ...(options.before === undefined ? {} : { beforePosition: options.before }),
          ...(options.limit === undefined ? {} : { pageSize: options.limit }),
        });
        const json: CliPageJson<ReturnType<typeof eventJson>, number> = { items: page.items.map(eventJson), next: page.next ?? null };
        print(command, json, () => feedTable(json.items, json.next));
      }),
    );

  program
    .command('outbox')
    .description('the outbox backlog per handler (pending, leased, dead letters); --dead: the dead-lettered entries with their error and attempts; --leased: the entries a relay holds, by whom and until when')
    .option('--handler <handler>', 'only this handler')
    .option('--dead', 'list dead-lettered entries')
    .option('--leased', 'list leased entries')
    .option('--page <n>', 'page of entries (counts from 1)', integerOption(1))
    .addOption(limit)
    .action(async (options: { handler?: string; dead?: boolean; leased?: boolean; page?: number; limit?: number }, command: Command) => {
      if (options.dead && options.leased) throw new CliUsageError('Pass --dead or --leased, not both.');
      if (!options.dead && !options.leased && (options.page !== undefined || options.limit !== undefined)) {
        throw new CliUsageError('--page and --limit page the entries: add --dead or --leased.');
      }
      await run(command, async (operations) => {
        const paging = { ...(options.page === undefined ? {} : { page: options.page }), ...(options.limit === undefined ? {} : { pageSize: options.limit }) };
        // An unknown handler is named as such, not listed as empty.
        if (options.handler !== undefined) await operations.outboxHandler(options.handler, { pageSize: 1 });
        const handler = options.handler === undefined ? {} : { handler: options.handler };
        if (options.dead || options.leased) {
          const page = options.dead ? await operations.deadLetters({ ...handler, ...paging }) : await operations.leased({ ...handler, ...paging });
          const json: CliPageJson<ReturnType<typeof outboxEntryJson>, number> = { items: page.items.map(outboxEntryJson), next: page.next ?? null };
          print(command, json, () => (options.dead ? deadLettersTable(json.items, json.next) : leasedTable(json.items, json.next)));
          return;
        }
        const json = (await operations.outbox(handler)).map(outboxStatsJson);
        print(command, json, () => outboxStatsTable(json));
      });
    });

  program
    .command('redrive')
    .description("make dead-lettered outbox entries of a handler pending again (attempts reset): the given ids, or --all of the handler's")
    .argument('<handler>', 'the outbox handler')
    .argument('[ids...]', 'ids of dead-lettered entries (see `outbox --dead`)')
    .option('--all', "every dead letter of the handler")
    .action(async (handler: string, ids: string[], options: { all?: boolean }, command: Command) => {
      if (ids.length === 0 && !options.all) {
        throw new CliUsageError(`Name the dead-lettered entries of "${handler}" to re-drive (ids from \`chronicle outbox --dead --handler ${handler}\`), or pass --all.`);
      }
      if (ids.length > 0 && options.all) throw new CliUsageError('Pass either entry ids or --all, not both.');
      await run(command, async (operations) => {
        const redriven = await operations.redrive(handler, options.all ? undefined : ids);
        const json: CliRedriveJson = { handler, requested: options.all ? 'all' : ids, redriven };
        print(command, json, () => `${redriven} dead-lettered ${redriven === 1 ? 'entry' : 'entries'} of "${handler}" made pending again; the relay publishes ${redriven === 1 ? 'it' : 'them'} on its next claim.\n`);
      });
    });

  program
    .command('subscriptions')
    .description('every projection and saga: position, lag, parked events, lease holder, last error')
    .action(async (_options: object, command: Command) =>
      run(command, async (operations) => {
        const json = (await operations.subscriptions()).map(subscriptionJson);
        print(command, json, () => subscriptionsTable(json));
      }),
    );

  program
    .command('parked')
    .description("a subscription's parked events, by stream and version, with their error")
    .argument('<subscription>', '`projection:<name>`, `saga:<name>`, or the bare name when it is unambiguous')
    .option('--stream <streamId>', "only this stream's")
    .option('--page <n>', 'page (counts from 1)', integerOption(1))
    .addOption(limit)
    .action(async (subscription: string, options: { stream?: string; page?: number; limit?: number }, command: Command) =>
      run(command, async (operations) => {
        const name = await subscriptionName(operations, subscription);
        const page = await operations.parked(name, {
          ...(options.stream === undefined ? {} : { streamId: options.stream }),
          ...(options.page === undefined ? {} : { page: options.page }),
          ...(options.limit === undefined ? {} : { pageSize: options.limit }),
        });
        const json: CliPageJson<ReturnType<typeof parkedJson>, number> = { items: page.items.map(parkedJson), next: page.next ?? null };
        print(command, json, () => parkedTable(json.items, json.next));
      }),
    );

  program
    .command('redrive-parked')
    .description("ask for a subscription's parked events to be delivered again: one stream's (--stream), or --all")
    .argument('<subscription>', '`projection:<name>`, `saga:<name>`, or the bare name when it is unambiguous')
    .option('--stream <streamId>', "this stream's parked events")
    .option('--all', 'every parked event of the subscription')
    .action(async (subscription: string, options: { stream?: string; all?: boolean }, command: Command) => {
      if ((options.stream === undefined) === (options.all !== true)) {
        throw new CliUsageError('Pass --stream <streamId> to re-drive one stream, or --all for every parked event (one of the two).');
      }
      await run(command, async (operations) => {
        const name = await subscriptionName(operations, subscription);
        const redriven = await operations.redriveParked(name, options.stream);
        const json: CliParkedRedriveJson = { subscription: name, streamId: options.stream ?? null, redriven };
        print(command, json, () => `Re-drive of ${redriven} parked event${redriven === 1 ? '' : 's'} of "${name}" requested; the instance running it delivers them again, in order.\n`);
      });
    });

  program
    .command('rebuild')
    .description("rebuild a projection from the start of the journal in one transaction (readers see the old model until it commits); needs --app")
    .argument('<projection>', 'the projection name (or projection:<name>)')
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (projection: string, options: { progress: boolean }, command: Command) => {
      if (globals(command).app === undefined) {
        throw new CliUsageError(
          `Rebuilding "${projection}" needs the projection's code: pass --app <file>, a built module exporting the application (see the README, "CLI").`,
        );
      }
      await run(command, async (operations) => {
        const bar = options.progress ? new RebuildProgressBar(io.stderr) : undefined;
        try {
          const result = await operations.rebuild(projection, (progress) => bar?.update(progress));
          bar?.stop(result);
          const json = rebuildJson(result);
          const seconds = ((result.finishedAt.getTime() - result.startedAt.getTime()) / 1_000).toFixed(1);
          print(
            command,
            json,
            () =>
              `Projection "${result.projection}" rebuilt in ${seconds} s: ${result.read} events read, ${result.handled} handled, ${result.parked} parked; ` +
              `it now stands at ${result.position ?? 'the start'}.\n`,
          );
        } finally {
          bar?.stop();
        }
      });
    });

  program
    .command('sagas')
    .description('sagas with their instances by status; with --saga, that saga\'s instances')
    .option('--saga <name>', "list this saga's instances")
    .addOption(new Option('--status <status>', 'only instances with this status').choices(['active', 'completed']))
    .option('--after <correlationId>', 'the page after this correlation id (the `next` of the previous page)')
    .addOption(limit)
    .action(async (options: { saga?: string; status?: 'active' | 'completed'; after?: string; limit?: number }, command: Command) => {
      if (options.saga === undefined && (options.status !== undefined || options.after !== undefined || options.limit !== undefined)) {
        throw new CliUsageError('--status, --after and --limit list one saga\'s instances: add --saga <name> (`chronicle sagas` lists the sagas).');
      }
      await run(command, async (operations) => {
        if (options.saga === undefined) {
          const json: CliSagaSummaryJson[] = (await operations.overview()).sagas.map((saga) => ({
            saga: saga.saga,
            active: { ...saga.active },
            completed: { ...saga.completed },
            overdueDeadlines: saga.overdueDeadlines,
          }));
          print(command, json, () => sagaSummaryTable(json));
          return;
        }
        const page = await operations.sagas({
          saga: options.saga,
          ...(options.status === undefined ? {} : { status: options.status }),
          ...(options.after === undefined ? {} : { after: options.after }),
          ...(options.limit === undefined ? {} : { pageSize: options.limit }),
        });
        const json: CliPageJson<ReturnType<typeof sagaInstanceJson>, string> = { items: page.items.map(sagaInstanceJson), next: page.next ?? null };
        print(command, json, () => sagaInstancesTable(json.items, json.next));
      });
    });

  program
    .command('saga')
    .description('one saga instance: its state and pending deadlines')
    .argument('<saga>', 'the saga name')
    .argument('<correlationId>', 'the instance\'s correlation id')
    .action(async (saga: string, correlationId: string, _options: object, command: Command) =>
      run(command, async (operations) => {
        const view = await operations.saga(saga, correlationId);
        const json = { instance: sagaInstanceJson(view.instance), deadlines: view.deadlines.map(sagaDeadlineJson) };
        print(command, json, () => sagaTable(json));
      }),
    );

  program
    .command('command')
    .description("a command's recorded outcome, by its command id (accepted with its versions, or rejected with its error)")
    .argument('<commandId>', 'the command id (the Idempotency-Key of the request that sent it)')
    .action(async (commandId: string, _options: object, command: Command) =>
      run(command, async (operations) => {
        const json = commandJson(await operations.commandOutcome(commandId));
        print(command, json, () => commandTable(json));
      }),
    );

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return CLI_EXIT_CODES.ok;
  } catch (error) {
    const exitCode = exitCodeOf(error);
    if (exitCode === CLI_EXIT_CODES.ok) return exitCode;
    report(error, exitCode, wantsJson, io);
    return exitCode;
  }
}

function report(error: unknown, exitCode: number, json: boolean, io: ChronicleCliIo): void {
  const name = error instanceof CommanderError ? 'CliUsageError' : error instanceof Error ? error.name : 'Error';
  const code = error instanceof ChronicleError ? error.code : error instanceof CommanderError ? error.code : name;
  // Commander's messages start with "error: "; the name says it already.
  // An id echoed in a message came from the command line or the database: shown, never acted on.
  const message = inertText((error instanceof Error ? error.message : String(error)).replace(/^error: /, ''));
  if (json) {
    const body: CliErrorJson = { error: { name, code, message, exitCode } };
    io.stderr.write(`${inertJson(body)}\n`);
    return;
  }
  io.stderr.write(`${name}: ${message}\n`);
  if (exitCode === CLI_EXIT_CODES.usage) io.stderr.write('Run `chronicle --help` (or `chronicle <command> --help`) for usage.\n');
}
