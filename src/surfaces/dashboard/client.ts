// The dashboard page's script (runs in the browser, served as /assets/client.js): polls /api/state every
// 2 s while the page is visible and fills in the sections. Everything shown that a client or another
// node chose (query names, addresses) goes in as text (textContent), never as markup.
import type { Snapshot } from '../../telemetry.js';
import type { Histogram, MinuteOutcomes, QueryRecord } from '../query-stats.js';
import { drawBuckets, drawHistogram, el, TimeChart, type SeriesSpec } from './charts.js';

type State = Snapshot & { queries: { recent: QueryRecord[]; top: { name: string; count: number }[]; perMinute: MinuteOutcomes[]; histogram: Histogram } };

const POLL_MS = 2000;
const FETCH_TIMEOUT_MS = 10_000;

const $ = (id: string): HTMLElement => document.getElementById(id)!;
const nodesChart = new TimeChart($('chart-nodes'));
const outcomesChart = new TimeChart($('chart-outcomes'), 170);
let timer: number | undefined;
let polling = false;

function ago(ms: number | null | undefined, now: number): string {
  if (ms === null || ms === undefined) return 'never';
  return `${duration(now - ms)} ago`;
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** The x range of the time charts, in seconds: the hour up to `now` (ms). */
const lastHour = (now: number): [number, number] => [now / 1000 - 3600, now / 1000];
/** hh:mm:ss in local time */
const clock = (ms: number): string => new Date(ms).toTimeString().slice(0, 8);

const percent = (ratio: number | null): string => (ratio === null ? '–' : `${Math.round(ratio * 100)} %`);

/** A definition list from [label, value, class?] rows; class `full` takes a whole line. */
function facts(id: string, rows: [string, string, string?][]): void {
  $(id).replaceChildren(
    ...rows.map(([label, value, cls]) => {
      const item = el('div', cls?.includes('full') ? 'full' : undefined);
      item.append(el('dt', undefined, label), el('dd', cls, value));
      return item;
    }),
  );
}

/** A table from a header and rows of cells; a cell is text or [text, class]. */
function table(id: string, head: string[], rows: (string | [string, string])[][], empty: string): void {
  const t = $(id);
  if (rows.length === 0) return t.replaceChildren(emptyRow(empty));
  const header = el('tr');
  header.append(...head.map((h) => el('th', /^(#|ms|port|nodes|count)$/.test(h) ? 'num' : undefined, h)));
  const thead = el('thead');
  thead.append(header);
  const tbody = el('tbody');
  for (const row of rows) {
    const tr = el('tr');
    tr.append(...row.map((cell) => (typeof cell === 'string' ? el('td', undefined, cell) : el('td', cell[1], cell[0]))));
    tbody.append(tr);
  }
  t.replaceChildren(thead, tbody);
}

function emptyRow(text: string): HTMLElement {
  const tr = el('tr');
  tr.append(el('td', 'empty', text));
  return tr;
}

function renderDht(s: State): void {
  const rows: [string, string, string?][] = [['Node id', s.nodeId, 'mono full'], ['Uptime', duration(s.uptimeS * 1000)]];
  for (const f of s.families) {
    const v = `IPv${f.family} `;
    rows.push([`${v}nodes good / all`, `${f.good} / ${f.all}`, f.good > 0 ? 'good' : 'bad']);
    rows.push([`${v}reply ratio (5 min)`, percent(f.replyRatio), f.replyRatio === null ? undefined : f.replyRatio >= 0.5 ? 'good' : f.replyRatio >= 0.2 ? 'warn' : 'bad']);
    rows.push([`${v}external address`, f.external ?? 'not known yet', 'mono']);
    rows.push([`${v}queries sent / replies / received`, `${f.traffic.sent} / ${f.traffic.replied} / ${f.traffic.received}`]);
  }
  rows.push(['Searches running', String(s.families.reduce((n, f) => n + f.searches, 0))]);
  facts('dht-facts', rows);
  $('warnings').replaceChildren(...s.warnings.map((w) => el('li', undefined, w)));

  // The last hour, one sample a minute, and now.
  const points = [...s.history, { at: s.at, families: s.families.map((f) => ({ family: f.family, good: f.good, all: f.all })) }];
  const series: SeriesSpec[] = [];
  const ys: number[][] = [];
  s.families.forEach((f, i) => {
    const colors = i === 0 ? ['--s2', '--s1'] : ['--s5', '--s3'];
    series.push({ label: `IPv${f.family} good`, color: colors[0]! }, { label: `IPv${f.family} all`, color: colors[1]!, dash: true });
    const of = (p: (typeof points)[number]) => p.families.find((x) => x.family === f.family);
    ys.push(points.map((p) => of(p)?.good ?? 0), points.map((p) => of(p)?.all ?? 0));
  });
  nodesChart.update(series, points.map((p) => p.at / 1000), ys, lastHour(s.at));
}

function renderNames(s: State): void {
  const now = s.at;
  const state = (v: State['values']['listed'][number]): [string, string] =>
    v.lastAnnouncedAt === null ? ['pending', 'empty'] : v.lastAcks > 0 ? [`stored on ${v.lastAcks}`, 'rcode-NOERROR'] : ['no node reached', 'rcode-SERVFAIL'];
  const more = s.values.total > s.values.listed.length ? [[`… and ${s.values.total - s.values.listed.length} more`]] : [];
  table(
    'values',
    ['name', 'port', 'state', 'announced', 'next'],
    [...s.values.listed.map((v) => [[v.name + (v.keyed ? ' 🔑' : ''), 'name'] as [string, string], String(v.port), state(v), ago(v.lastAnnouncedAt, now), `in ${duration(v.nextInS * 1000)}`]), ...more],
    'No names announced (--value-id, or kadnode-ctl announce).',
  );
  if (s.forwardings === null) return void $('forwardings').replaceChildren(emptyRow('Port forwarding is off (--fwd-disable, or --mode ipv6).'));
  table(
    'forwardings',
    ['port', 'state', 'external', 'via'],
    s.forwardings.map((f) => [
      `${f.protocol} ${f.internalPort}`,
      [f.state, f.state === 'mapped' ? 'rcode-NOERROR' : f.state === 'failed' || f.state === 'no-gateway' ? 'rcode-SERVFAIL' : ''],
      f.externalAddress ? `${f.externalAddress}:${f.externalPort}` : '–',
      f.error ?? (f.method ? `${f.method} ${f.gateway ?? ''}${f.leaseLeftS !== null ? `, ${duration(f.leaseLeftS * 1000)} left` : ''}` : '–'),
    ]),
    'No ports to forward.',
  );
}

function renderAuth(s: State): void {
  const a = s.auth;
  facts('auth-facts', [
    ['Verified', String(a.verified - a.verified1x), 'good'],
    ['Verified by 1.x proof (relayable)', String(a.verified1x), a.verified1x > 0 ? 'warn' : undefined],
    ['Pending', String(a.pending)],
    ['Failed (no valid reply)', String(a.failed), a.failed > 0 ? 'warn' : undefined],
    ['Invalid replies', String(a.rejected), a.rejected > 0 ? 'bad' : undefined],
    ['Evicted', String(a.evicted)],
    ['Challenges for our keys answered', String(a.answered)],
    ['Refused (relayed or marked)', String(a.refusedForeign + a.refusedMarked)],
  ]);
}

function renderLookups(s: State): void {
  const q = s.queries;
  const outcomes: SeriesSpec[] = [
    { label: 'success', color: '--s2' },
    { label: 'NXDOMAIN', color: '--s3' },
    { label: 'SERVFAIL', color: '--s4' },
    { label: 'other', color: '--s5', dash: true },
  ];
  outcomesChart.update(
    outcomes,
    q.perMinute.map((m) => m.at / 1000),
    [q.perMinute.map((m) => m.success), q.perMinute.map((m) => m.nxdomain), q.perMinute.map((m) => m.servfail), q.perMinute.map((m) => m.other)],
    lastHour(s.at),
  );
  drawHistogram($('histogram'), q.histogram.counts);
  table('top-names', ['name', 'count'], q.top.map((t) => [[t.name, 'name'], [String(t.count), 'num']]), 'No queries yet.');
  table(
    'recent',
    ['time', 'via', 'type', 'name', 'result', 'ms'],
    q.recent.map((r) => [
      clock(r.at),
      r.transport,
      r.type,
      [r.name || '(none)', 'name'],
      [r.rcode === 'NOERROR' ? `${r.answers} answer${r.answers === 1 ? '' : 's'}` : r.rcode, `rcode-${r.rcode}`],
      [r.ms < 10 ? r.ms.toFixed(1) : String(Math.round(r.ms)), 'num'],
    ]),
    'No queries yet. Ask with dig -p <DNS port> @127.0.0.1 name.p2p, kadnode-ctl lookup, or the box above.',
  );
}

function renderPkarr(s: State): void {
  const own = s.pkarr.own;
  const items = s.families.reduce((n, f) => n + f.items, 0);
  const bytes = s.families.reduce((n, f) => n + f.itemBytes, 0);
  const rows: [string, string, string?][] = own
    ? [
        ['Our zone', own.z32, 'mono full'],
        ['Seq', own.seq === null ? 'not published yet' : String(own.seq), 'mono'],
        ['Last publish', ago(own.lastPublishedAt, s.at)],
        ['Nodes that stored it', String(own.lastStored), own.lastPublishedAt === null ? undefined : own.lastStored > 0 ? 'good' : 'bad'],
        ['Records / bytes', `${own.records} / ${own.bytes}`],
        ['Publications', String(own.publishes)],
      ]
    : [['Our zone', 'none (--pkarr-key)']];
  rows.push(
    ['Signed packets cached', String(s.pkarr.cached)],
    ['Items stored for others', `${items} (${bytes} bytes)`],
    ['Announcements stored for others', `${s.storage.announcements} for ${s.storage.ids} ids (max ${s.storage.max})`],
    ['Resolver cache', `${s.resolver.cached} names, hit ratio ${percent(s.resolver.cacheHits + s.resolver.cacheMisses > 0 ? s.resolver.cacheHits / (s.resolver.cacheHits + s.resolver.cacheMisses) : null)}`],
  );
  facts('pkarr-facts', rows);
}

function render(s: State): void {
  $('version').textContent = s.versionLine;
  renderDht(s);
  renderNames(s);
  renderAuth(s);
  renderLookups(s);
  renderPkarr(s);
  drawBuckets($('buckets'), s.families);
}

function live(ok: boolean, text: string): void {
  const status = $('live');
  status.className = `live ${ok ? 'ok' : 'down'}`;
  status.textContent = text;
}

async function poll(): Promise<void> {
  if (polling) return;
  polling = true;
  window.clearTimeout(timer);
  try {
    const response = await fetch('/api/state', { cache: 'no-store', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render((await response.json()) as State);
    live(true, `live, ${clock(Date.now())}`);
  } catch (err) {
    live(false, `no answer from kadnode (${(err as Error).message}); retrying`);
  } finally {
    polling = false;
    // Hidden tabs do not poll; coming back polls at once.
    if (!document.hidden) timer = window.setTimeout(() => void poll(), POLL_MS);
  }
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) void poll();
});

$('lookup-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = ($('lookup-name') as HTMLInputElement).value.trim();
  const out = $('lookup-result');
  if (!name) return;
  out.textContent = `Looking up ${name} …`;
  // GET /lookup changes nothing (web.ts): a page may use it; the answer is text.
  fetch(`/lookup?${encodeURIComponent(name)}`, { cache: 'no-store', signal: AbortSignal.timeout(60_000) })
    .then(async (r) => (out.textContent = `${name}: ${(await r.text()).trim()}`))
    .catch((err: Error) => (out.textContent = `${name}: ${err.message}`))
    .finally(() => void poll());
});

void poll();
