import type { CommandRecord, OutboxEntry, OutboxStats, ParkedEvent, RecordedEvent, SagaInstance } from '@chronicle/core';
import type { ConsoleAuditEntry } from '../audit/console-audit-entry.js';
import type {
  BoundedCount,
  OperationsOverview,
  OperationsPage,
  SagaInstanceView,
  StreamEventsPage,
  StreamSummary,
  SubscriptionOverview,
} from '../operations/chronicle-operations.service.js';
import type { RebuildJob } from './rebuild-jobs.js';
import { html, type Html } from './html.template.js';

/** What every page needs to draw its frame and its forms. */
export interface PageContext {
  /** The mount path, without a trailing slash (`/chronicle`). */
  base: string;
  /** The CSRF token of this session (empty for bearer requests, which need none). */
  csrf: string;
  /** Whether this requester may act here (not read-only and allowed); action forms are shown only then. */
  canAct: boolean;
  readOnly: boolean;
  refreshMs: number;
  /** Signed in through the login form (a logout button is shown). */
  session: boolean;
}

const NAV: ReadonlyArray<[string, string]> = [
  ['', 'Overview'],
  ['/streams', 'Streams'],
  ['/feed', 'Feed'],
  ['/outbox', 'Outbox'],
  ['/subscriptions', 'Subscriptions'],
  ['/sagas', 'Sagas'],
  ['/commands', 'Commands'],
  ['/audit', 'Audit'],
];

const HTMX_CONFIG = JSON.stringify({ includeIndicatorStyles: false, allowEval: false, allowScriptTags: false, selfRequestsOnly: true, historyCacheSize: 0 });

/** A whole page: head, navigation, main content. */
export function layout(ctx: PageContext, title: string, current: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content="${HTMX_CONFIG}">
<title>${title} · Chronicle console</title>
<link rel="stylesheet" href="${ctx.base}/assets/console.css">
<script src="${ctx.base}/assets/htmx.min.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<span class="brand">Chronicle console</span>
<nav aria-label="Console sections"><ul>
${NAV.map(([href, label]) => html`<li><a href="${ctx.base}${href}"${current === href ? html` aria-current="page"` : ''}>${label}</a></li>`)}
</ul></nav>
${ctx.readOnly ? html`<span class="badge">read-only</span>` : ''}
${ctx.session ? html`<form method="post" action="${ctx.base}/logout" class="inline"><input type="hidden" name="_csrf" value="${ctx.csrf}"><button type="submit">Sign out</button></form>` : ''}
</header>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

/** The login form (no navigation: nothing is shown before the guard lets the requester in). */
export function loginPage(base: string, message?: string): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Chronicle console</title>
<link rel="stylesheet" href="${base}/assets/console.css">
</head>
<body>
<main id="main" class="login">
<h1>Chronicle console</h1>
${message ? html`<p class="error" role="alert">${message}</p>` : ''}
<form method="post" action="${base}/login">
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>`;
}

/** A message page: an error or the outcome of an action, with a way back. */
export function messagePage(ctx: PageContext, title: string, message: string, back?: { href: string; label: string }): Html {
  return layout(
    ctx,
    title,
    '',
    html`<p class="message" role="status">${message}</p>${back ? html`<p><a href="${back.href}">${back.label}</a></p>` : ''}`,
  );
}

function count(value: BoundedCount): string {
  return `${value.atLeast ? '≥ ' : ''}${value.count}`;
}

function time(value: Date | null | undefined): Html {
  return value ? html`<time datetime="${value}">${value.toISOString().replace('T', ' ').replace('Z', ' UTC')}</time>` : html`—`;
}

function json(value: unknown): Html {
  let text: string;
  try {
    text = JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    text = String(value);
  }
  return html`<pre class="json">${text}</pre>`;
}

function csrfField(ctx: PageContext): Html {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;
}

function pager(links: Array<{ href: string; label: string } | undefined>): Html {
  const shown = links.filter((link): link is { href: string; label: string } => link !== undefined);
  return shown.length ? html`<nav class="pager" aria-label="Pages">${shown.map((link) => html`<a href="${link.href}">${link.label}</a>`)}</nav>` : html``;
}

function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

function streamLink(ctx: PageContext, streamId: string): Html {
  return html`<a href="${ctx.base}/streams/${encodeURIComponent(streamId)}">${streamId}</a>`;
}

function outboxTable(ctx: PageContext, stats: readonly OutboxStats[]): Html {
  if (stats.length === 0) return html`<p>No outbox handler has entries.</p>`;
  return html`<table><thead><tr><th scope="col">Handler</th><th scope="col">Pending</th><th scope="col">Leased</th><th scope="col">Dead-lettered</th><th scope="col">Oldest pending</th></tr></thead><tbody>
${stats.map(
  (row) =>
    html`<tr><td><a href="${ctx.base}/outbox${query({ handler: row.handler })}">${row.handler}</a></td><td>${row.pending}</td><td>${row.leased}</td><td class="${row.deadLettered > 0 ? 'bad' : ''}">${row.deadLettered}</td><td>${time(row.oldestPendingAt)}</td></tr>`,
)}
</tbody></table>`;
}

function subscriptionsTable(ctx: PageContext, subscriptions: readonly SubscriptionOverview[]): Html {
  if (subscriptions.length === 0) return html`<p>No subscription has a checkpoint yet.</p>`;
  return html`<table><thead><tr><th scope="col">Subscription</th><th scope="col">Lag (events)</th><th scope="col">Oldest unread</th><th scope="col">Lease holder</th><th scope="col">Parked</th><th scope="col">Last error</th></tr></thead><tbody>
${subscriptions.map(
  (row) =>
    html`<tr><td><a href="${ctx.base}/subscriptions/${encodeURIComponent(row.name)}">${row.name}</a></td><td>${count(row.lag)}</td><td>${time(row.oldestUnreadAt)}</td><td>${row.leaseOwner ?? '—'}</td><td class="${row.parked.count > 0 ? 'bad' : ''}">${count(row.parked)}</td><td>${row.lastError ?? ''}</td></tr>`,
)}
</tbody></table>`;
}

/** The overview: health, throughput, outbox backlog, lag, sagas by status. */
export function overviewPage(ctx: PageContext, overview: OperationsOverview): Html {
  return layout(
    ctx,
    'Overview',
    '',
    html`<section aria-labelledby="health"><h2 id="health">Health</h2>
<dl class="facts">
<dt>Runtime in this process</dt><dd>${overview.runtime}</dd>
<dt>Head position</dt><dd>${overview.headPosition}</dd>
<dt>Events in the last minute</dt><dd>${count(overview.throughput.lastMinute)}</dd>
<dt>Events in the last hour</dt><dd>${count(overview.throughput.lastHour)}</dd>
<dt>Feed held back by</dt><dd>${overview.feedBlocker ? `transaction ${overview.feedBlocker.transactionId}${overview.feedBlocker.pid ? ` (pid ${overview.feedBlocker.pid})` : ''}` : 'nothing'}</dd>
<dt>Read at</dt><dd>${time(overview.at)}</dd>
</dl></section>
<section aria-labelledby="outbox"><h2 id="outbox">Outbox</h2>${outboxTable(ctx, overview.outbox)}</section>
<section aria-labelledby="subs"><h2 id="subs">Subscriptions</h2>${subscriptionsTable(ctx, overview.subscriptions)}</section>
<section aria-labelledby="sagas"><h2 id="sagas">Sagas</h2>
${
  overview.sagas.length === 0
    ? html`<p>No saga has a checkpoint yet.</p>`
    : html`<table><thead><tr><th scope="col">Saga</th><th scope="col">Active</th><th scope="col">Completed</th><th scope="col">Overdue deadlines</th></tr></thead><tbody>
${overview.sagas.map((row) => html`<tr><td><a href="${ctx.base}/sagas${query({ saga: row.saga })}">${row.saga}</a></td><td>${count(row.active)}</td><td>${count(row.completed)}</td><td>${row.overdueDeadlines}</td></tr>`)}
</tbody></table>`
}</section>`,
  );
}

/** The stream search and its results. */
export function streamsPage(ctx: PageContext, search: { q?: string; type?: string }, result: OperationsPage<StreamSummary>): Html {
  return layout(
    ctx,
    'Streams',
    '/streams',
    html`<form method="get" action="${ctx.base}/streams" class="search" role="search">
<label for="q">Stream id or prefix</label><input id="q" name="q" value="${search.q ?? ''}">
<label for="type">Aggregate type</label><input id="type" name="type" value="${search.type ?? ''}">
<button type="submit">Find</button>
</form>
${
  result.items.length === 0
    ? html`<p>No stream matches.</p>`
    : html`<table><thead><tr><th scope="col">Stream</th><th scope="col">Aggregate type</th><th scope="col">Version</th><th scope="col">Deleted up to</th></tr></thead><tbody>
${result.items.map((row) => html`<tr><td>${streamLink(ctx, row.streamId)}</td><td>${row.aggregateType}</td><td>${row.version}</td><td>${row.deletedUpTo}</td></tr>`)}
</tbody></table>`
}
${pager([result.next === undefined ? undefined : { href: `${ctx.base}/streams${query({ q: search.q, type: search.type, after: result.next })}`, label: 'Next page' }])}`,
  );
}

function eventRows(ctx: PageContext, events: readonly RecordedEvent[], withStream: boolean): Html {
  return html`${events.map((event) => {
    const { commandId, correlationId, causationId, traceparent, ...rest } = event.metadata as Record<string, unknown>;
    return html`<tr>
${withStream ? html`<td>${event.position}</td><td>${streamLink(ctx, event.streamId)}</td>` : ''}
<td>${event.version}</td><td>${event.type}</td><td>${time(event.occurredAt)}</td>
<td>${json(event.payload)}</td>
<td><dl class="meta">
${commandId === undefined ? '' : html`<dt>command</dt><dd><a href="${ctx.base}/commands/${encodeURIComponent(String(commandId))}">${String(commandId)}</a></dd>`}
${correlationId === undefined ? '' : html`<dt>correlation</dt><dd>${String(correlationId)}</dd>`}
${causationId === undefined ? '' : html`<dt>causation</dt><dd>${String(causationId)}</dd>`}
${traceparent === undefined ? '' : html`<dt>trace</dt><dd>${String(traceparent)}</dd>`}
</dl>${Object.keys(rest).length ? json(rest) : ''}</td>
</tr>`;
  })}`;
}

function eventTable(ctx: PageContext, events: readonly RecordedEvent[], withStream: boolean, tbody: Html = html`<tbody>`): Html {
  return html`<table class="events"><thead><tr>${withStream ? html`<th scope="col">Position</th><th scope="col">Stream</th>` : ''}<th scope="col">Version</th><th scope="col">Type</th><th scope="col">Occurred</th><th scope="col">Payload</th><th scope="col">Metadata</th></tr></thead>
${tbody}${eventRows(ctx, events, withStream)}</tbody></table>`;
}

/** One stream's events, a page at a time. */
export function streamPage(ctx: PageContext, page: StreamEventsPage): Html {
  const { stream } = page;
  return layout(
    ctx,
    `Stream ${stream.streamId}`,
    '/streams',
    html`<dl class="facts"><dt>Aggregate type</dt><dd>${stream.aggregateType}</dd><dt>Version</dt><dd>${stream.version}</dd><dt>Deleted up to</dt><dd>${stream.deletedUpTo}</dd></dl>
${page.items.length === 0 ? html`<p>No events on this page.</p>` : eventTable(ctx, page.items, false)}
${pager([page.next === undefined ? undefined : { href: `${ctx.base}/streams/${encodeURIComponent(stream.streamId)}${query({ from: page.next })}`, label: 'Next events' }])}`,
  );
}

/** The rows of the live feed (what the page polls for). */
export function feedRows(ctx: PageContext, events: readonly RecordedEvent[]): Html {
  return eventRows(ctx, events, true);
}

/** The latest events of the journal; the first page refreshes itself. */
export function feedPage(ctx: PageContext, page: OperationsPage<RecordedEvent, number>, live: boolean): Html {
  const tbody = live
    ? html`<tbody id="feed-rows" hx-get="${ctx.base}/feed/rows" hx-trigger="every ${ctx.refreshMs}ms" hx-swap="innerHTML">`
    : html`<tbody>`;
  return layout(
    ctx,
    'Feed',
    '/feed',
    html`<p>${live ? `The latest events, newest first, refreshed every ${ctx.refreshMs / 1000} s.` : 'Older events, newest first.'}</p>
${eventTable(ctx, page.items, true, tbody)}
${pager([
  live ? undefined : { href: `${ctx.base}/feed`, label: 'Latest' },
  page.next === undefined ? undefined : { href: `${ctx.base}/feed${query({ before: page.next })}`, label: 'Older events' },
])}`,
  );
}

function deadLetterRows(ctx: PageContext, entries: readonly OutboxEntry[]): Html {
  return html`${entries.map(
    (entry) => html`<tr>
<td><code>${entry.id}</code></td><td>${entry.handler}</td><td>${streamLink(ctx, entry.streamId)} v${entry.version}</td><td>${entry.eventType}</td>
<td>${entry.attempts}</td><td class="bad">${entry.lastError ?? ''}</td><td>${time(entry.deadLetteredAt)}</td>
<td>${
      ctx.canAct
        ? html`<form method="post" action="${ctx.base}/outbox/redrive">${csrfField(ctx)}<input type="hidden" name="handler" value="${entry.handler}"><input type="hidden" name="id" value="${entry.id}"><button type="submit">Re-drive</button></form>`
        : ''
    }</td></tr>`,
  )}`;
}

/** The outbox: backlog per handler and dead letters (of one handler when one is chosen). */
export function outboxPage(
  ctx: PageContext,
  handler: string | undefined,
  stats: readonly OutboxStats[],
  dead: OperationsPage<OutboxEntry, number>,
  page: number,
  leased?: OperationsPage<OutboxEntry, number>,
): Html {
  return layout(
    ctx,
    handler ? `Outbox: ${handler}` : 'Outbox',
    '/outbox',
    html`${outboxTable(ctx, stats)}
${
  leased === undefined
    ? ''
    : html`<h2>Leased entries of ${handler}</h2>
${
  leased.items.length === 0
    ? html`<p>No entry is leased right now.</p>`
    : html`<table><thead><tr><th scope="col">Entry</th><th scope="col">Event</th><th scope="col">Type</th><th scope="col">Leased by</th><th scope="col">Until</th><th scope="col">Attempts</th></tr></thead><tbody>
${leased.items.map((entry) => html`<tr><td><code>${entry.id}</code></td><td>${streamLink(ctx, entry.streamId)} v${entry.version}</td><td>${entry.eventType}</td><td>${entry.leaseOwner ?? ''}</td><td>${time(entry.leaseUntil)}</td><td>${entry.attempts}</td></tr>`)}
</tbody></table>${leased.next === undefined ? '' : html`<p>More leased entries than shown.</p>`}`
}`
}
<h2>Dead letters${handler ? ` of ${handler}` : ''}</h2>
${
  handler && ctx.canAct && dead.items.length > 0
    ? html`<form method="post" action="${ctx.base}/outbox/redrive" class="inline">${csrfField(ctx)}<input type="hidden" name="handler" value="${handler}"><button type="submit">Re-drive all dead letters of ${handler}</button></form>`
    : ''
}
${
  dead.items.length === 0
    ? html`<p>No dead letters.</p>`
    : html`<table><thead><tr><th scope="col">Entry</th><th scope="col">Handler</th><th scope="col">Event</th><th scope="col">Type</th><th scope="col">Attempts</th><th scope="col">Error</th><th scope="col">Dead-lettered</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead><tbody>
${deadLetterRows(ctx, dead.items)}</tbody></table>`
}
${pager([
  page > 1 ? { href: `${ctx.base}/outbox${query({ handler, page: page - 1 })}`, label: 'Previous page' } : undefined,
  dead.next === undefined ? undefined : { href: `${ctx.base}/outbox${query({ handler, page: dead.next })}`, label: 'Next page' },
])}`,
  );
}

/** Every subscription. */
export function subscriptionsPage(ctx: PageContext, subscriptions: readonly SubscriptionOverview[]): Html {
  return layout(ctx, 'Subscriptions', '/subscriptions', subscriptionsTable(ctx, subscriptions));
}

/** One subscription: its state, parked events, re-drive and (for a projection) rebuild. */
export function subscriptionPage(ctx: PageContext, subscription: SubscriptionOverview, parked: OperationsPage<ParkedEvent, number>, page: number): Html {
  const target = `${ctx.base}/subscriptions/${encodeURIComponent(subscription.name)}`;
  return layout(
    ctx,
    `Subscription ${subscription.name}`,
    '/subscriptions',
    html`<dl class="facts">
<dt>Position</dt><dd><code>${subscription.position ?? 'start'}</code></dd>
<dt>Lag (events)</dt><dd>${count(subscription.lag)}</dd>
<dt>Oldest unread</dt><dd>${time(subscription.oldestUnreadAt)}</dd>
<dt>Lease holder</dt><dd>${subscription.leaseOwner ?? '—'}${subscription.leaseUntil ? html` until ${time(subscription.leaseUntil)}` : ''}</dd>
<dt>Parked</dt><dd>${count(subscription.parked)}</dd>
<dt>Last error</dt><dd>${subscription.lastError ?? '—'}</dd>
</dl>
${
  ctx.canAct
    ? html`<div class="actions">
${subscription.parked.count > 0 ? html`<form method="post" action="${target}/redrive" class="inline">${csrfField(ctx)}<button type="submit">Re-drive all parked events</button></form>` : ''}
${subscription.rebuildable ? html`<form method="post" action="${target}/rebuild" class="inline">${csrfField(ctx)}<button type="submit">Rebuild projection ${subscription.shortName}</button></form>` : ''}
</div>`
    : ''
}
<h2>Parked events</h2>
${
  parked.items.length === 0
    ? html`<p>No parked events.</p>`
    : html`<table><thead><tr><th scope="col">Stream</th><th scope="col">Version</th><th scope="col">Type</th><th scope="col">Reason</th><th scope="col">Error</th><th scope="col">Attempts</th><th scope="col">Parked</th><th scope="col">Re-drive requested</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead><tbody>
${parked.items.map(
  (event) => html`<tr><td>${streamLink(ctx, event.streamId)}</td><td>${event.version}</td><td>${event.type}</td><td>${event.reason}</td><td class="bad">${event.error ?? ''}</td><td>${event.attempts}</td><td>${time(event.parkedAt)}</td><td>${time(event.redriveRequestedAt)}</td>
<td>${ctx.canAct ? html`<form method="post" action="${target}/redrive">${csrfField(ctx)}<input type="hidden" name="streamId" value="${event.streamId}"><button type="submit">Re-drive stream</button></form>` : ''}</td></tr>`,
)}</tbody></table>`
}
${pager([
  page > 1 ? { href: `${target}${query({ page: page - 1 })}`, label: 'Previous page' } : undefined,
  parked.next === undefined ? undefined : { href: `${target}${query({ page: parked.next })}`, label: 'Next page' },
])}`,
  );
}

/** A rebuild's progress; it polls itself until the rebuild ends. */
export function rebuildProgress(ctx: PageContext, job: RebuildJob): Html {
  const { progress } = job;
  const running = job.state === 'running';
  const max = Math.max(progress.total, progress.read, 1);
  return html`<div id="rebuild-progress" class="progress" ${running ? html`hx-get="${ctx.base}/rebuilds/${job.id}/progress" hx-trigger="every 500ms" hx-swap="outerHTML"` : ''}>
<progress max="${max}" value="${job.state === 'completed' ? max : progress.read}" aria-label="Rebuild progress">${progress.read} / ${progress.total}</progress>
<p role="status" data-state="${job.state}">${
    job.state === 'running'
      ? `Running: ${progress.read} of about ${progress.total} events read, ${progress.handled} handled, ${progress.parked} parked.`
      : job.state === 'completed'
        ? `Completed: ${progress.read} events read, ${progress.handled} handled, ${progress.parked} parked.`
        : `Failed: ${job.error ?? 'unknown error'}`
  }</p></div>`;
}

/** The page of one rebuild. */
export function rebuildPage(ctx: PageContext, job: RebuildJob): Html {
  return layout(
    ctx,
    `Rebuild of projection ${job.projection}`,
    '/subscriptions',
    html`<p>Started ${time(job.startedAt)} by ${job.actor}.</p>${rebuildProgress(ctx, job)}
<p><a href="${ctx.base}/subscriptions/${encodeURIComponent(`projection:${job.projection}`)}">Back to the subscription</a></p>`,
  );
}

function sagaRows(ctx: PageContext, instances: readonly SagaInstance[]): Html {
  return html`${instances.map(
    (instance) =>
      html`<tr><td><a href="${ctx.base}/sagas/${encodeURIComponent(instance.sagaName)}/${encodeURIComponent(instance.correlationId)}">${instance.correlationId}</a></td><td>${instance.status}</td><td>${instance.version}</td><td>${time(instance.startedAt)}</td><td>${time(instance.updatedAt)}</td></tr>`,
  )}`;
}

/** Saga instances of one saga by status. */
export function sagasPage(
  ctx: PageContext,
  names: readonly string[],
  selection: { saga?: string; status?: string },
  result: OperationsPage<SagaInstance> | undefined,
): Html {
  return layout(
    ctx,
    'Sagas',
    '/sagas',
    html`<form method="get" action="${ctx.base}/sagas" class="search">
<label for="saga">Saga</label><select id="saga" name="saga">${names.map((name) => html`<option${name === selection.saga ? html` selected` : ''}>${name}</option>`)}</select>
<label for="status">Status</label><select id="status" name="status"><option value="">any</option>${['active', 'completed'].map((status) => html`<option${status === selection.status ? html` selected` : ''}>${status}</option>`)}</select>
<button type="submit">Show</button>
</form>
${
  result === undefined
    ? html`<p>${names.length === 0 ? 'No saga has a checkpoint yet.' : 'Choose a saga.'}</p>`
    : result.items.length === 0
      ? html`<p>No instance matches.</p>`
      : html`<table><thead><tr><th scope="col">Correlation id</th><th scope="col">Status</th><th scope="col">Version</th><th scope="col">Started</th><th scope="col">Updated</th></tr></thead><tbody>${sagaRows(ctx, result.items)}</tbody></table>`
}
${pager([result?.next === undefined ? undefined : { href: `${ctx.base}/sagas${query({ saga: selection.saga, status: selection.status, after: result.next })}`, label: 'Next page' }])}`,
  );
}

/** One saga instance: state and pending deadlines. */
export function sagaPage(ctx: PageContext, view: SagaInstanceView): Html {
  const { instance } = view;
  return layout(
    ctx,
    `Saga ${instance.sagaName} / ${instance.correlationId}`,
    '/sagas',
    html`<dl class="facts"><dt>Status</dt><dd>${instance.status}</dd><dt>Version</dt><dd>${instance.version}</dd><dt>State version</dt><dd>${instance.stateVersion}</dd>
<dt>Started</dt><dd>${time(instance.startedAt)}</dd><dt>Updated</dt><dd>${time(instance.updatedAt)}</dd><dt>Ended</dt><dd>${time(instance.endedAt)}</dd></dl>
<h2>State</h2>${json(instance.state)}
<h2>Pending deadlines</h2>
${
  view.deadlines.length === 0
    ? html`<p>None.</p>`
    : html`<table><thead><tr><th scope="col">Name</th><th scope="col">Due</th><th scope="col">Attempts</th><th scope="col">Last error</th><th scope="col">Parked</th><th scope="col">Payload</th></tr></thead><tbody>
${view.deadlines.map((deadline) => html`<tr><td>${deadline.name}</td><td>${time(deadline.dueAt)}</td><td>${deadline.attempts}</td><td>${deadline.lastError ?? ''}</td><td>${time(deadline.parkedAt)}</td><td>${json(deadline.payload)}</td></tr>`)}
</tbody></table>`
}`,
  );
}

/** The command lookup form, and one outcome when found. */
export function commandPage(ctx: PageContext, commandId: string | undefined, record: CommandRecord | undefined): Html {
  return layout(
    ctx,
    record ? `Command ${record.commandId}` : 'Commands',
    '/commands',
    html`<form method="get" action="${ctx.base}/commands" class="search" role="search">
<label for="id">Command id</label><input id="id" name="id" value="${commandId ?? ''}" required>
<button type="submit">Look up</button>
</form>
${
  record
    ? html`<dl class="facts"><dt>Stream</dt><dd>${streamLink(ctx, record.streamId)}</dd><dt>Aggregate type</dt><dd>${record.aggregateType}</dd>
<dt>Recorded</dt><dd>${time(record.recordedAt)}</dd><dt>Outcome</dt><dd>${record.outcome.kind}</dd>
${record.outcome.kind === 'accepted' ? html`<dt>Versions</dt><dd>${record.outcome.fromVersion} to ${record.outcome.toVersion}</dd>` : html`<dt>Error</dt><dd class="bad">${record.outcome.error.name}: ${record.outcome.error.message}</dd>`}
</dl>${json(record.outcome)}`
    : ''
}`,
  );
}

/** The latest actions taken in the console. */
export function auditPage(ctx: PageContext, entries: readonly ConsoleAuditEntry[], page: number, more: boolean): Html {
  return layout(
    ctx,
    'Audit trail',
    '/audit',
    html`${
      entries.length === 0
        ? html`<p>No action was taken in the console yet.</p>`
        : html`<table><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Outcome</th></tr></thead><tbody>
${entries.map((entry) => html`<tr><td>${time(entry.at)}</td><td>${entry.actor}</td><td>${entry.action}</td><td>${entry.target}</td><td>${entry.outcome}</td></tr>`)}
</tbody></table>`
    }
${pager([
  page > 1 ? { href: `${ctx.base}/audit${query({ page: page - 1 })}`, label: 'Newer' } : undefined,
  more ? { href: `${ctx.base}/audit${query({ page: page + 1 })}`, label: 'Older' } : undefined,
])}`,
  );
}
