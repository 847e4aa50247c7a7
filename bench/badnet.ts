import type { Benchmark, BenchContext } from './lib/report.js';
export const badnetBench: Benchmark = { name: 'badnet', title: 'todo', async run(ctx: BenchContext) { ctx.skip('todo'); } };
