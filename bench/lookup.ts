import type { Benchmark, BenchContext } from './lib/report.js';
export const lookupBench: Benchmark = { name: 'lookup', title: 'todo', async run(ctx: BenchContext) { ctx.skip('todo'); } };
