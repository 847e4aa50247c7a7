// Reads a V8 CPU profile (`node --cpu-prof`) and says where the time went: self time per function and
// per area (our sources, a dependency, Node's internals, the garbage collector).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  pct: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** share of samples that were not idle */
  busyPct: number;
  top: ProfileEntry[];
  areas: Array<{ area: string; selfMs: number; pct: number }>;
}

function areaOf(url: string, name: string): string {
  if (name === '(garbage collector)') return 'garbage collector';
  if (name === '(idle)') return 'idle';
  if (name === '(program)' || (!url && name.startsWith('('))) return 'V8/native (program)';
  if (!url) return 'native (syscalls, C++ bindings)';
  if (url.startsWith('node:')) return `node internals (${url.replace(/^node:(internal\/)?/, '').split('/')[0]})`;
  const dist = /\/dist\/(src\/[^?]*)/.exec(url);
  if (dist) return `kadnode ${dist[1]!.replace(/\.js$/, '')}`;
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) return `dependency ${mod[1]}`;
  return url;
}

function shortWhere(url: string, line: number): string {
  if (!url) return '';
  const m = /\/dist\/(src\/.*)$/.exec(url) ?? /node_modules\/(.*)$/.exec(url);
  return `${m ? m[1] : url.replace(/^file:\/\//, '')}:${line + 1}`;
}

export function summarizeProfile(file: string, topN = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    for (let i = 0; i < profile.samples.length; i++) {
      const id = profile.samples[i]!;
      selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0));
    }
  } else {
    const total = profile.endTime - profile.startTime;
    const hits = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
    for (const n of profile.nodes) selfUs.set(n.id, ((n.hitCount ?? 0) / hits) * total);
  }
  const fn = new Map<string, ProfileEntry>();
  const areas = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    totalUs += us;
    if (name === '(idle)') idleUs += us;
    const area = areaOf(url, name);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const key = `${name}|${url}|${lineNumber}`;
    const e = fn.get(key) ?? { name, where: shortWhere(url, lineNumber), selfMs: 0, pct: 0 };
    e.selfMs += us / 1000;
    fn.set(key, e);
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const pctOfBusy = (us: number) => Math.round((us / busyUs) * 1000) / 10;
  const top = [...fn.values()]
    .filter((e) => e.name !== '(idle)')
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, topN)
    .map((e) => ({ ...e, selfMs: Math.round(e.selfMs), pct: pctOfBusy(e.selfMs * 1000) }));
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    busyPct: Math.round(((totalUs - idleUs) / Math.max(1, totalUs)) * 1000) / 10,
    top,
    areas: [...areas]
      .filter(([a]) => a !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: Math.round(us / 1000), pct: pctOfBusy(us) })),
  };
}

/** The newest .cpuprofile file in dir, if any. */
export function newestProfile(dir: string): string | undefined {
  try {
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
    return files.length ? join(dir, files[files.length - 1]!) : undefined;
  } catch {
    return undefined;
  }
}

/** Markdown lines for a summary: areas, then the top functions (percent of busy time). */
export function profileMarkdown(s: ProfileSummary, areas = 8, functions = 12): string[] {
  return [
    `busy ${s.busyPct}% of ${s.totalMs} ms sampled; self time by area (percent of busy time):`,
    '',
    ...s.areas.slice(0, areas).map((a) => `- ${a.area}: ${a.pct}%`),
    '',
    'top functions by self time:',
    '',
    '| % busy | function | where |',
    '|---:|---|---|',
    ...s.top.slice(0, functions).map((e) => `| ${e.pct} | \`${e.name}\` | ${e.where || '–'} |`),
  ];
}
