// The bounded fuzz run of `npm test`: for every surface, a few seconds of seeded fast-check inputs
// (test/fuzz/inputs.ts) into the real handler (test/fuzz/drivers.ts). Property: no input crashes it,
// it still answers a valid request afterwards, and its heap (after a full GC) grows by less than
// HEAP_BOUND. Reproduce a failure with the seed and path fast-check prints, or the whole run with
// FUZZ_SEED=<n>; FUZZ_RUNS=<n> changes the number of inputs per surface. The long run (1M inputs per
// surface, RSS and heap reported) is `npm run bench -- fuzz`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FuzzCrash, memory, SURFACES } from '../fuzz/drivers.js';

const BASE_SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20_251_121;
const RUNS: Record<string, number> = { 'dns-parse': 3000, 'dns-udp': 3000, 'dns-tcp': 300, 'krpc-guard': 5000, 'krpc-node': 3000, auth: 3000, lpd: 3000, control: 500, web: 300, config: 1000, peerfile: 2000, nss: 3000, pkarr: 1000 };
const HEAP_BOUND = 32 * 1024 * 1024;

SURFACES.forEach((surface, index) => {
  test(`fuzz ${surface.name}: ${surface.what}`, { timeout: 120_000 }, async (t) => {
    const runs = process.env.FUZZ_RUNS !== undefined ? Number(process.env.FUZZ_RUNS) : (RUNS[surface.name] ?? 1000);
    const seed = BASE_SEED + index;
    const driver = await surface.start();
    let inputs = 0;
    try {
      await driver.probe();
      const before = await memory();
      const t0 = performance.now();
      await fc.assert(
        fc.asyncProperty(surface.arbitrary, async (input) => {
          inputs++;
          await driver.feed(input as never);
        }),
        // live surfaces keep state between inputs: report the first failure as it is, without shrinking
        { seed, numRuns: runs, endOnFailure: surface.live },
      );
      await driver.probe();
      const ms = performance.now() - t0;
      const after = await memory();
      const grown = after.heapUsed - before.heapUsed;
      t.diagnostic(`${surface.name}: ${inputs} inputs in ${Math.round(ms)} ms (seed ${seed}), 0 crashes, heap ${mb(before.heapUsed)} → ${mb(after.heapUsed)} MB, rss ${mb(before.rss)} → ${mb(after.rss)} MB${driver.figures ? `, ${JSON.stringify(driver.figures())}` : ''}`);
      assert.ok(grown < HEAP_BOUND, `heap grew by ${mb(grown)} MB`);
    } catch (err) {
      if (err instanceof FuzzCrash) assert.fail(`${surface.name} (seed ${seed}, input ${inputs}): ${err.message}`);
      throw err;
    } finally {
      await driver.stop();
    }
  });
});

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
