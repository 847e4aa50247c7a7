import type { Benchmark, BenchContext } from './lib/report.js';
export const resilienceBench: Benchmark = { name: 'resilience', title: 'todo', async run(ctx: BenchContext) { ctx.skip('todo'); } };
