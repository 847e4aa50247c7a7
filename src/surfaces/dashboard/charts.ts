// The dashboard's drawings (runs in the browser): time series through uPlot (loaded by its own script
// tag, a global), the answer-time histogram and the routing-table buckets as plain elements. Colours
// come from the style sheet's variables, so charts follow light and dark mode; a change of mode redraws.
import type UPlot from 'uplot';
import type { Bucket } from '../../telemetry.js';

/** k-rpc's bucket size (K = 20): the cells drawn per bucket. */
const BUCKET_SIZE = 20;

function uplot(): typeof UPlot | undefined {
  return (globalThis as unknown as { uPlot?: typeof UPlot }).uPlot;
}

export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export interface SeriesSpec {
  label: string;
  /** a style sheet variable, e.g. --s1 */
  color: string;
  dash?: boolean;
}

/** A uPlot time chart that keeps its series and redraws with new data; sized to its container. */
export class TimeChart {
  private chart: UPlot | null = null;
  private key = '';
  private data: UPlot.AlignedData = [[]];
  private xRange: [number, number] | null = null;
  private readonly resize = new ResizeObserver(() => this.fit());

  constructor(private readonly container: HTMLElement, private readonly height = 190) {
    this.resize.observe(container);
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.destroy());
  }

  /** xs in seconds since the epoch; one ys array per series; xRange: the span shown (else the data's). */
  update(series: SeriesSpec[], xs: number[], ys: number[][], xRange?: [number, number]): void {
    const U = uplot();
    if (!U) {
      this.container.textContent = 'Charts need /assets/uPlot.min.js, which did not load.';
      return;
    }
    this.data = [xs, ...ys];
    this.xRange = xRange ?? null;
    const key = series.map((s) => s.label).join('|');
    if (this.chart && key === this.key) return this.chart.setData(this.data);
    this.destroy();
    this.key = key;
    const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--line'), width: 1 }, ticks: { stroke: cssVar('--line'), width: 1 } };
    const options: UPlot.Options = {
      width: this.width(),
      height: this.height,
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: (_u, min, max) => this.xRange ?? [min, max] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
      },
      axes: [axis, { ...axis, size: 40 }],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: cssVar(s.color), width: 2, dash: s.dash ? [5, 4] : undefined, points: { show: false } }))],
    };
    this.chart = new U(options, this.data, this.container);
  }

  private width(): number {
    return Math.max(200, this.container.clientWidth);
  }

  private fit(): void {
    if (this.chart && Math.abs(this.chart.width - this.width()) > 1) this.chart.setSize({ width: this.width(), height: this.height });
  }

  private destroy(): void {
    this.chart?.destroy();
    this.chart = null;
    this.key = '';
    this.container.replaceChildren();
  }
}

const BUCKET_LABELS = ['0.5', '1', '2.5', '5', '10', '25', '50', '100', '250', '500', '1s', '2.5s', '5s', '10s', '>10s'];

/** Bars per answer-time bucket (counts not cumulative; the last is over 10 s). */
export function drawHistogram(container: HTMLElement, counts: number[]): void {
  const max = Math.max(1, ...counts);
  const bars = el('div', 'histogram');
  const axis = el('div', 'histogram-axis');
  counts.forEach((count, i) => {
    const bar = el('div', 'bar');
    bar.title = `${count} answers ${i < BUCKET_LABELS.length - 1 ? `up to ${BUCKET_LABELS[i]}${/s$/.test(BUCKET_LABELS[i]!) ? '' : ' ms'}` : 'over 10 s'}`;
    const fill = el('div', 'fill');
    fill.style.height = `${(count / max) * 100}%`;
    bar.append(el('div', 'count', count > 0 ? String(count) : ''), fill);
    bars.append(bar);
    axis.append(el('span', undefined, BUCKET_LABELS[i] ?? ''));
  });
  const caption = el('div', 'legend', 'upper bound of each bar in ms unless marked s');
  container.replaceChildren(bars, axis, caption);
}

/** The routing table of one family: a column of cells per bucket depth, good and questionable nodes filled. */
export function drawBuckets(container: HTMLElement, families: { family: number; buckets: Bucket[] }[]): void {
  const parts: HTMLElement[] = [];
  for (const f of families) {
    const block = el('div', 'family');
    const total = f.buckets.reduce((n, b) => n + b.good + b.questionable, 0);
    const used = f.buckets.filter((b) => b.good + b.questionable > 0).length;
    block.append(el('h3', undefined, `IPv${f.family}: ${total} node${total === 1 ? '' : 's'} in ${used} bucket${used === 1 ? '' : 's'}`));
    const row = el('div', 'buckets');
    for (const b of f.buckets) {
      const column = el('div', 'bucket');
      column.title = `depth ${b.depth} (ids sharing ${b.depth} leading bits with ours): ${b.good} good, ${b.questionable} questionable`;
      column.append(el('span', 'depth', String(b.depth)));
      const cells = Math.max(BUCKET_SIZE, b.good + b.questionable);
      for (let i = 0; i < cells; i++) column.append(el('span', `cell${i < b.good ? ' good' : i < b.good + b.questionable ? ' questionable' : ''}`));
      row.append(column);
    }
    if (f.buckets.length === 0) row.append(el('span', 'empty', 'empty'));
    block.append(row);
    parts.push(block);
  }
  const legend = el('div', 'legend');
  for (const [label, color] of [['good', '--good'], ['questionable (not heard from in 15 min)', '--warn'], ['free', '--empty']] as const) {
    const swatch = el('span', 'swatch');
    swatch.style.background = cssVar(color);
    legend.append(swatch, label);
  }
  parts.push(legend);
  container.replaceChildren(...parts);
}
