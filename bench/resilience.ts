// resilience: 10% and 30% of the DHT nodes turn malicious: they answer every get_peers with 16 fake
// addresses (half of them other malicious nodes, which answer AUTH challenges with replies signed by
// the wrong key; half addresses where nobody listens) and announce their own addresses for key names.
// Key names (`--auth-add-skey`/`--auth-add-pkey` patterns and `<z32>.p2p`): kadnode must never answer
// one with an address that did not prove the key. Plain names face the junk replies: kadnode takes an
// address only when storers close to the id agree on it (src/chain/plain-candidates.ts). A last phase
// has the malicious nodes announce the plain names too: a plain name has no owner, so an address that
// honest nodes store for it is a second announcer to any resolver; it shows what keys protect against,
// with no target. 200 nodes: 20 daemons + 180 bulk nodes.
// Targets (issue 15): key names 0 wrong, >= 95% success; plain names >= 95% / >= 90% success at 10% /
// 30% malicious, at most 1% wrong.
import { createHash } from 'node:crypto';
import { haveCommand } from '../test/e2e/harness.js';
import { encodeZ32Key, generateKeyPair, type KeyPair } from '../src/identity/keys.js';
import type { Benchmark, BenchContext } from './lib/report.js';
import { bringUp, compactResults, phaseFigures, plainId, rcodeText, waitSpread, type PhaseFigures } from './lib/scenario.js';
import { sleep } from './lib/stats.js';
import { barChart } from './lib/svg.js';
import { lookupItem, lookupPairs, namespaceSkipReason, Testbed } from './lib/testbed.js';
import type { LookupResult } from './lib/worker.js';

const DAEMONS = 20;
const BULK = 180;
const TOTAL = DAEMONS + BULK;
const PATTERN_NAMES = 5;
const PLAIN_NAMES = 2;
const KEY_LOOKUPS = 120;
const PLAIN_LOOKUPS = 40;
const LEVELS = [0, 10, 30];
const FAKES_PER_REPLY = 16;
const IMPOSTOR_SHARE = 0.25;
const PLAIN_TARGETS: Record<number, number> = { 10: 95, 30: 90 };
const PLAIN_WRONG_PCT = 1;

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

interface Diagnosis {
  summary: Record<string, number>;
  cases: Array<{ querier: string; name: string; rcode: string; search: string | null }>;
}

/**
 * Asks each failed key-name lookup again (at most 10) and, 2.5 s into it, reads the querier's running
 * searches (`kadnode-ctl list searches`: addresses verified, candidates taken, at most 128 for a key
 * name), to tell a full candidate set from a verification that did not come through.
 */
async function diagnose(ctx: BenchContext, bed: Testbed, results: LookupResult[], idOf: Map<string, string>): Promise<Diagnosis> {
  const failed = results.filter((r) => r.outcome !== 'correct').slice(0, 10);
  const cases: Diagnosis['cases'] = [];
  const summary: Record<string, number> = {};
  for (const r of failed) {
    const q = bed.hosts.findIndex((h) => h.ip === r.server);
    const id = idOf.get(r.name) ?? '';
    const asking = bed.lookups([{ server: r.server, port: r.port, name: r.name, type: 'A', expect: r.expect }], { concurrency: 1, retry: false });
    await sleep(2500);
    const line = (await bed.ctl(q, ['list', 'searches']).catch(() => [])).find((l) => l.startsWith(id)) ?? null;
    const [again] = await asking;
    cases.push({ querier: r.server, name: r.name, rcode: again!.first.rcode, search: line });
    const m = line ? /(\d+) addresses, (\d+) candidates/.exec(line) : null;
    const kind =
      again!.firstOutcome === 'correct' ? 'correct when asked again (verified late, or a new search found it)'
      : !m ? `${again!.first.rcode}, no search running at 2.5 s`
      : Number(m[2]) >= 128 ? 'candidate set full (128) with no verified address'
      : `${m[2]} candidates, none verified`;
    summary[kind] = (summary[kind] ?? 0) + 1;
  }
  ctx.log(`diagnosis: ${JSON.stringify(summary)}`);
  return { summary, cases };
}

/** From the debug logs: what happened between the querier and the announcing daemon of each failed lookup. */
function traceFailures(bed: Testbed, results: LookupResult[], from: number[]): Array<Record<string, string | number>> {
  return results
    .filter((r) => r.outcome !== 'correct')
    .map((r) => {
      const qi = bed.hosts.findIndex((h) => h.ip === r.server);
      const oi = bed.hosts.findIndex((h) => h.ip === r.expect[0]);
      const q = bed.daemons[qi]?.stderrLines.slice(from[qi] ?? 0);
      const o = bed.daemons[oi]?.stderrLines.slice(from[oi] ?? 0);
      const owner = r.expect[0]!;
      const count = (lines: string[] | undefined, re: RegExp) => (lines ?? []).filter((l) => re.test(l)).length;
      const esc = (ip: string) => ip.replace(/\./g, '\\.');
      return {
        querier: r.server,
        name: r.name,
        challengesToOwner: count(q, new RegExp(`Send challenge to ${esc(owner)}:`)),
        validFromOwner: count(q, new RegExp(`response is valid: ${esc(owner)}:`)),
        gaveUpOnOwner: count(q, new RegExp(`No valid reply from ${esc(owner)}:`)),
        ownerAnswered: count(o, new RegExp(`Received challenge from ${esc(r.server)}:`)),
        querierChallengesTotal: count(q, /Send challenge to /),
      };
    });
}

export const resilienceBench: Benchmark = {
  name: 'resilience',
  title: 'Key and plain names under 10% and 30% malicious nodes (fake get_peers values, impostor announcements, forged AUTH replies)',
  async run(ctx: BenchContext) {
    const skip = namespaceSkipReason();
    if (skip) return ctx.skip(skip);
    // Per daemon: a key for its pattern `*.key<d>.p2p` and a key announced as itself (`<z32>.p2p`).
    const patternKeys: KeyPair[] = Array.from({ length: DAEMONS }, () => generateKeyPair());
    const selfKeys: KeyPair[] = Array.from({ length: DAEMONS }, () => generateKeyPair());
    const keyNames: string[][] = [];
    const keyIds: string[] = [];
    const plainNames: string[][] = [];
    for (let d = 0; d < DAEMONS; d++) {
      const suffix = `key${d + 1}`;
      const pk = patternKeys[d]!.publicKey.toString('hex');
      const list: string[] = [];
      for (let j = 1; j <= PATTERN_NAMES; j++) {
        list.push(`n${j}.${suffix}.p2p`);
        keyIds.push(sha1(pk + `n${j}.${suffix}`));
      }
      list.push(`${encodeZ32Key(selfKeys[d]!.publicKey)}.p2p`);
      keyIds.push(sha1(selfKeys[d]!.publicKey.toString('hex')));
      keyNames.push(list);
      plainNames.push(Array.from({ length: PLAIN_NAMES }, (_, j) => `c-d${d + 1}-n${j + 1}.p2p`));
    }
    const plainIds = plainNames.flat().map(plainId);
    const keyIdOf = new Map(keyNames.flat().map((n, i) => [n, keyIds[i]!]));
    const args = (d: number): string[] => [
      '--auth-add-skey', `*.key${d + 1}.p2p:${patternKeys[d]!.secretKey.toString('hex')}`,
      ...patternKeys.flatMap((k, e) => (e === d ? [] : ['--auth-add-pkey', `*.key${e + 1}.p2p:${k.publicKey.toString('hex')}`])),
      // the pattern names and the secret key itself as value ids (the z32 name is found with the key alone)
      ...keyNames[d]!.slice(0, PATTERN_NAMES).flatMap((n) => ['--value-id', n]),
      '--value-id', `${selfKeys[d]!.secretKey.toString('hex')}.p2p`,
      ...plainNames[d]!.flatMap((n) => ['--value-id', n]),
    ];

    const bed = await Testbed.create(ctx, DAEMONS);
    // kadnode-ctl inside each namespace (loopback), to look at searches that fail
    bed.controlPort = 1700;
    const countAuth = haveCommand('nft');
    // KADNODE_BENCH_DEBUG=1: daemons log at debug level, and each failed key lookup is traced through
    // the AUTH lines of the querier and of the announcing daemon (memory-hungry, so not by default)
    const debug = process.env.KADNODE_BENCH_DEBUG === '1';
    const phases: Array<{ level: number; key: PhaseFigures; plain: PhaseFigures; counters: unknown }> = [];
    try {
      await bringUp(ctx, bed, { bulk: BULK, names: [], extraArgs: (d) => [...args(d), ...(debug ? ['--verbosity', 'debug'] : [])], seed: 400 });
      const spread = await waitSpread(ctx, bed, [...keyIds, ...plainIds], 60_000);
      ctx.log(`names findable after ${(spread.ms / 1000).toFixed(1)} s (${spread.last})`);
      const all = bed.hosts.map((_, i) => i);
      const keyPairs = lookupPairs(keyNames, all, 37);
      const plainPairs = lookupPairs(plainNames, all, 47);
      let malicious = 0;
      for (const [i, level] of LEVELS.entries()) {
        const want = Math.round((level / 100) * TOTAL);
        let attack: unknown = null;
        if (want > malicious) {
          ctx.log(`turning ${want - malicious} more bulk nodes malicious (${level}% of ${TOTAL})`);
          attack = await bed.sim.call('bulkMalicious', { count: want - malicious, fakes: FAKES_PER_REPLY, impostorIds: keyIds, impostorShare: IMPOSTOR_SHARE, concurrency: 32 }, 300_000);
          malicious = want;
          ctx.log(`attack ready: ${JSON.stringify(attack)}`);
          await sleep(1000);
        }
        const keyBatch = keyPairs.slice(i * KEY_LOOKUPS, (i + 1) * KEY_LOOKUPS).map((p) => lookupItem(bed, p, 'key'));
        const plainBatch = plainPairs.slice(i * PLAIN_LOOKUPS, (i + 1) * PLAIN_LOOKUPS).map((p) => lookupItem(bed, p, 'plain'));
        if (countAuth) await bed.countAuth();
        const logFrom = bed.daemons.map((d) => d?.stderrLines.length ?? 0);
        const t0 = performance.now();
        const results = await bed.lookups([...keyBatch, ...plainBatch], { concurrency: 5, retry: true });
        const seconds = (performance.now() - t0) / 1000;
        const auth = countAuth ? await bed.authCounts() : [];
        const authRates = auth.map((a) => a.replies / seconds);
        const authSummary = countAuth ? { seconds, repliesTotal: auth.reduce((x, a) => x + a.replies, 0), maxRepliesPerSecondAvg: Math.max(...authRates), perDaemon: auth } : null;
        const key = phaseFigures(`${level}% malicious`, results.filter((r) => r.tag === 'key'));
        const plain = phaseFigures(`${level}% malicious`, results.filter((r) => r.tag === 'plain'));
        const stats = await bed.sim.call<{ counters: unknown }>('bulkStats');
        phases.push({ level, key, plain, counters: stats.counters });
        ctx.log(`${level}% malicious: key names ${key.stats.successFirstPct.toFixed(1)}% (${key.stats.wrong} wrong), plain names ${plain.stats.successFirstPct.toFixed(1)}% (${plain.stats.wrong} wrong)`);
        const t = level > 0;
        if (authSummary) {
          ctx.figure(`auth_replies_in_${level}pct`, authSummary.maxRepliesPerSecondAvg, 'per s', {
            note: `AUTH replies arriving at the busiest daemon, averaged over the ${seconds.toFixed(0)} s of lookups (nft counter); a daemon handles at most 100 AUTH packets a second`,
          });
        }
        ctx.figure(`key_wrong_${level}pct`, key.stats.wrong, 'answers', {
          ...(t ? { target: { op: '<=' as const, value: 0 } } : {}),
          note: `key-name lookups whose answer held any address other than the announcing daemon's, of ${key.stats.n}`,
        });
        ctx.figure(`key_success_${level}pct`, key.stats.successFirstPct, '%', {
          ...(t ? { target: { op: '>=' as const, value: 95 } } : {}),
          note: `first query; answers: ${rcodeText(key.stats)}`,
        });
        ctx.figure(`key_success_with_retry_${level}pct`, key.stats.successPct, '%');
        ctx.figure(`key_p50_${level}pct`, key.p50, 'ms', { note: 'retry included; failures count as never answered' });
        ctx.figure(`plain_wrong_${level}pct`, (plain.stats.wrong / Math.max(1, plain.stats.n)) * 100, '%', {
          ...(t ? { target: { op: '<=' as const, value: PLAIN_WRONG_PCT } } : {}),
          note: `plain-name lookups (no key) with a fake address in the answer: ${plain.stats.wrong} of ${plain.stats.n}`,
        });
        ctx.figure(`plain_success_${level}pct`, plain.stats.successFirstPct, '%', {
          ...(PLAIN_TARGETS[level] ? { target: { op: '>=' as const, value: PLAIN_TARGETS[level] } } : {}),
          note: `answer exactly the announcing daemon's address, first query; answers: ${rcodeText(plain.stats)}`,
        });
        const traces = debug ? traceFailures(bed, key.results, logFrom) : null;
        if (traces) ctx.log(`AUTH traces of failed key lookups: ${JSON.stringify(traces)}`);
        const diagnosis = key.stats.n - key.results.filter((r) => r.outcome === 'correct').length > 0 ? await diagnose(ctx, bed, key.results, keyIdOf) : null;
        if (diagnosis) ctx.log(`failed key lookups asked again: ${JSON.stringify(diagnosis.summary)}`);
        if (t && key.stats.successFirstPct < 95) {
          const failedFirst = key.results.filter((r) => r.firstOutcome !== 'correct');
          const rc: Record<string, number> = {};
          for (const r of failedFirst) rc[r.first.rcode] = (rc[r.first.rcode] ?? 0) + 1;
          ctx.note(
            `${level}% malicious, key-name success below 95%: the ${failedFirst.length} failed first queries answered ${Object.entries(rc).map(([k, v]) => `${k} ${v}`).join(', ')} ` +
              '(SERVFAIL: no address verified by the 3 s DNS deadline; never a wrong address). ' +
              (diagnosis ? `Asked again after the batch (at most 10): ${Object.entries(diagnosis.summary).map(([k, v]) => `${v}: ${k}`).join('; ')}. ` : '') +
              (authSummary ? `The busiest daemon received ${Math.round(authSummary.maxRepliesPerSecondAvg)} AUTH replies a second on average over the lookups (replies to its own challenges are always handled, other AUTH packets 20 a second per source). ` : '') +
              'Limits that meet here: a search takes at most 8 candidates from one responding node and 128 in all (beyond that only addresses two nodes reported), and 1024 challenges at once.',
          );
        }
        ctx.record.data[`level${level}`] = {
          diagnosis,
          traces,
          auth: authSummary,
          malicious,
          attack,
          counters: stats.counters,
          key: { stats: { ...key.stats, latencies: undefined, firstLatencies: undefined }, p50: key.p50, p95: key.p95, results: compactResults(key.results) },
          plain: { stats: { ...plain.stats, latencies: undefined, firstLatencies: undefined }, p50: plain.p50, results: compactResults(plain.results) },
        };
      }
      // The malicious nodes now announce the plain names too: stored by honest nodes, an impostor is a
      // second announcer of a name nobody owns. No target: this is what key names are for.
      const announced = await bed.sim.call('bulkImpostors', { impostorIds: plainIds, impostorShare: IMPOSTOR_SHARE, concurrency: 32 }, 300_000);
      ctx.log(`impostors announce plain names: ${JSON.stringify(announced)}`);
      await sleep(1000);
      const level = LEVELS.at(-1)!;
      const impostored = phaseFigures(`${level}% malicious, announcing`, await bed.lookups(plainPairs.slice(LEVELS.length * PLAIN_LOOKUPS, (LEVELS.length + 1) * PLAIN_LOOKUPS).map((p) => lookupItem(bed, p, 'plain')), { concurrency: 5, retry: true }));
      ctx.figure(`plain_wrong_announced_${level}pct`, (impostored.stats.wrong / Math.max(1, impostored.stats.n)) * 100, '%', {
        note: `plain names that the ${level}% malicious nodes announce as well (${IMPOSTOR_SHARE * 100}% of the names each): ${impostored.stats.wrong} of ${impostored.stats.n} answers hold an impostor, which honest storers hand out as a second announcer; no target`,
      });
      ctx.figure(`plain_success_announced_${level}pct`, impostored.stats.successFirstPct, '%', { note: `the same lookups: answer exactly the announcing daemon's address; answers: ${rcodeText(impostored.stats)}` });
      ctx.record.data.plainAnnounced = { announced, stats: { ...impostored.stats, latencies: undefined, firstLatencies: undefined }, results: compactResults(impostored.results) };
      ctx.note(
        `Key names: per daemon ${PATTERN_NAMES} names under its own pattern key (\`--auth-add-skey '*.key<d>.p2p:<secret>'\`, every other daemon has ` +
          `\`--auth-add-pkey '*.key<d>.p2p:<public>'\`) and one \`<z32 public key>.p2p\` name (announced as \`--value-id <secret key>.p2p\`). ` +
          `Malicious nodes are plain bulk nodes turned: every get_peers they get is answered with ${FAKES_PER_REPLY} fake addresses and a token ` +
          '(half point at malicious nodes, which answer AUTH challenges in the right format but signed with the attacker\'s key, half at addresses where nobody listens), ' +
          `and each announces its own address for ${IMPOSTOR_SHARE * 100}% of the key names, so honest nodes store impostors too (and, in the last phase, of the plain names). ` +
          `Per level ${KEY_LOOKUPS} key-name and ${PLAIN_LOOKUPS} plain-name lookups, fresh pairs, 5 at a time, one retry after SERVFAIL or silence. ` +
          'A wrong answer is any answer holding an address other than the announcing daemon\'s.',
      );
      ctx.plot('success', 'Correct answers (first query) and wrong answers for key names and plain names at each share of malicious nodes', barChart({
        title: 'Malicious nodes: correct and wrong answers',
        yLabel: '% of lookups',
        categories: phases.map((p) => `${p.level}% malicious`),
        series: [
          { name: 'key names: correct', values: phases.map((p) => p.key.stats.successFirstPct) },
          { name: 'key names: wrong', values: phases.map((p) => (p.key.stats.wrong / Math.max(1, p.key.stats.n)) * 100) },
          { name: 'plain names: correct', values: phases.map((p) => p.plain.stats.successFirstPct) },
          { name: 'plain names: wrong', values: phases.map((p) => (p.plain.stats.wrong / Math.max(1, p.plain.stats.n)) * 100) },
        ],
        targets: [{ y: 95, label: 'key names: 95% target' }],
      }));
    } finally {
      await bed.destroy();
    }
  },
};
