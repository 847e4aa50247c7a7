import type { Benchmark, BenchContext } from './lib/report.js';
export const reliabilityBench: Benchmark = { name: 'reliability', title: 'todo', async run(ctx: BenchContext) { ctx.skip('todo'); } };
