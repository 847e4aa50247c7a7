import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file runs as <root>/dist/bench/lib/paths.js. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const resultsDir = join(repoRoot, 'bench', 'results');
/** CPU profiles (`node --cpu-prof`) of the daemons, kept for Chrome DevTools / speedscope */
export const profilesDir = join(resultsDir, 'profiles');
