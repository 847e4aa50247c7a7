// A tiny SVG plotting helper: line charts (optionally log axes, step lines for CDFs) and grouped bar
// charts, with axes, ticks, a legend and horizontal target lines. No dependencies, no browser.

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const FONT = 'font-family="sans-serif"';

export interface Series {
  name: string;
  points: Array<[number, number]>;
  /** draw as a staircase (CDFs) */
  step?: boolean;
  /** dots at every point */
  markers?: boolean;
}

export interface TargetLine {
  y: number;
  label: string;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  xLog?: boolean;
  yLog?: boolean;
  xMin?: number;
  xMax?: number;
  yMin?: number;
  yMax?: number;
  targets?: TargetLine[];
  width?: number;
  height?: number;
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  categories: string[];
  series: Array<{ name: string; values: number[] }>;
  targets?: TargetLine[];
  width?: number;
  height?: number;
  /** printed above each bar */
  valueFormat?: (v: number) => string;
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 1) return `${+v.toPrecision(4)}`;
  return `${+v.toPrecision(2)}`;
}

/** About `count` round tick values covering [min, max]. */
function linearTicks(min: number, max: number, count = 6): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function logTicks(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min * 0.999 && v <= max * 1.001) out.push(v);
    }
  }
  return out;
}

interface Scale {
  map(v: number): number;
  ticks: number[];
}

function scale(min: number, max: number, from: number, to: number, log: boolean): Scale {
  if (log) {
    const lmin = Math.log10(min);
    const lmax = Math.log10(max);
    const span = lmax - lmin || 1;
    return { map: (v) => from + ((Math.log10(Math.max(v, min)) - lmin) / span) * (to - from), ticks: logTicks(min, max) };
  }
  const span = max - min || 1;
  return { map: (v) => from + ((v - min) / span) * (to - from), ticks: linearTicks(min, max) };
}

function frame(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" ${FONT} font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function legend(names: string[], x: number, y: number): string[] {
  return names.flatMap((name, i) => [
    `<rect x="${x}" y="${y + i * 18 - 9}" width="14" height="10" fill="${PALETTE[i % PALETTE.length]}"/>`,
    `<text x="${x + 20}" y="${y + i * 18}" ${FONT} font-size="12">${esc(name)}</text>`,
  ]);
}

export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  const left = 70;
  const right = width - 180;
  const top = 40;
  const bottom = height - 55;
  const pts = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const tys = (o.targets ?? []).map((t) => t.y);
  const xs = pts.map((p) => p[0]);
  const ys = [...pts.map((p) => p[1]), ...tys];
  const positive = (v: number[]) => v.filter((n) => n > 0);
  let xMin = o.xMin ?? (o.xLog ? Math.min(...positive(xs)) : Math.min(0, ...xs));
  let xMax = o.xMax ?? Math.max(...xs);
  let yMin = o.yMin ?? (o.yLog ? Math.min(...positive(ys)) : Math.min(0, ...ys));
  let yMax = o.yMax ?? Math.max(...ys) * 1.05;
  if (!Number.isFinite(xMin) || !Number.isFinite(xMax)) [xMin, xMax] = [0, 1];
  if (!Number.isFinite(yMin) || !Number.isFinite(yMax)) [yMin, yMax] = [0, 1];
  if (xMax <= xMin) xMax = xMin + 1;
  if (yMax <= yMin) yMax = yMin + 1;
  const sx = scale(xMin, xMax, left, right, !!o.xLog);
  const sy = scale(yMin, yMax, bottom, top, !!o.yLog);
  const body: string[] = [];
  for (const t of sy.ticks) {
    const y = sy.map(t).toFixed(1);
    body.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#e5e5e5"/>`);
    body.push(`<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" ${FONT} font-size="11">${fmt(t)}</text>`);
  }
  for (const t of sx.ticks) {
    const x = sx.map(t).toFixed(1);
    body.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#f0f0f0"/>`);
    body.push(`<text x="${x}" y="${bottom + 16}" text-anchor="middle" ${FONT} font-size="11">${fmt(t)}</text>`);
  }
  body.push(`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#333"/>`);
  body.push(`<text x="${(left + right) / 2}" y="${height - 15}" text-anchor="middle" ${FONT} font-size="12">${esc(o.xLabel)}</text>`);
  body.push(`<text transform="translate(16 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle" ${FONT} font-size="12">${esc(o.yLabel)}</text>`);
  for (const t of o.targets ?? []) {
    const y = sy.map(t.y).toFixed(1);
    body.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#555" stroke-dasharray="6 4"/>`);
    body.push(`<text x="${right - 4}" y="${Number(y) - 4}" text-anchor="end" ${FONT} font-size="11" fill="#555">${esc(t.label)}</text>`);
  }
  o.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.xLog || x > 0) && (!o.yLog || y > 0));
    if (p.length === 0) return;
    const coords: string[] = [];
    p.forEach(([x, y], j) => {
      const X = sx.map(x).toFixed(1);
      const Y = sy.map(y).toFixed(1);
      if (s.step && j > 0) coords.push(`${X},${sy.map(p[j - 1]![1]).toFixed(1)}`);
      coords.push(`${X},${Y}`);
    });
    body.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${coords.join(' ')}"/>`);
    if (s.markers) for (const [x, y] of p) body.push(`<circle cx="${sx.map(x).toFixed(1)}" cy="${sy.map(y).toFixed(1)}" r="3.5" fill="${color}"/>`);
  });
  body.push(...legend(o.series.map((s) => s.name), right + 14, top + 10));
  return frame(width, height, o.title, body);
}

export function barChart(o: BarChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  const left = 70;
  const right = width - (o.series.length > 1 ? 180 : 20);
  const top = 40;
  const bottom = height - 70;
  const values = o.series.flatMap((s) => s.values).filter(Number.isFinite);
  const yMax = Math.max(1e-9, ...values, ...(o.targets ?? []).map((t) => t.y)) * 1.12;
  const sy = scale(0, yMax, bottom, top, false);
  const body: string[] = [];
  for (const t of sy.ticks) {
    const y = sy.map(t).toFixed(1);
    body.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#e5e5e5"/>`);
    body.push(`<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" ${FONT} font-size="11">${fmt(t)}</text>`);
  }
  const groupWidth = (right - left) / Math.max(1, o.categories.length);
  const barWidth = (groupWidth * 0.75) / Math.max(1, o.series.length);
  const format = o.valueFormat ?? fmt;
  o.categories.forEach((cat, c) => {
    const gx = left + c * groupWidth + groupWidth * 0.125;
    o.series.forEach((s, i) => {
      const v = s.values[c];
      if (v === undefined || !Number.isFinite(v)) return;
      const x = gx + i * barWidth;
      const y = sy.map(v);
      body.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(bottom - y).toFixed(1)}" fill="${PALETTE[i % PALETTE.length]}"/>`);
      body.push(`<text x="${(x + barWidth / 2).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle" ${FONT} font-size="10">${esc(format(v))}</text>`);
    });
    // long labels break after commas, one line each
    const cx = (left + c * groupWidth + groupWidth / 2).toFixed(1);
    const lines = cat.split(/,\s*/);
    body.push(`<text x="${cx}" y="${bottom + 16}" text-anchor="middle" ${FONT} font-size="11">${lines.map((l, i) => `<tspan x="${cx}" dy="${i ? 13 : 0}">${esc(l)}</tspan>`).join('')}</text>`);
  });
  body.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#333"/>`);
  body.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#333"/>`);
  body.push(`<text transform="translate(16 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle" ${FONT} font-size="12">${esc(o.yLabel)}</text>`);
  for (const t of o.targets ?? []) {
    const y = sy.map(t.y).toFixed(1);
    body.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#555" stroke-dasharray="6 4"/>`);
    body.push(`<text x="${right - 4}" y="${Number(y) - 4}" text-anchor="end" ${FONT} font-size="11" fill="#555">${esc(t.label)}</text>`);
  }
  if (o.series.length > 1) body.push(...legend(o.series.map((s) => s.name), right + 14, top + 10));
  return frame(width, height, o.title, body);
}

/** Points of an empirical CDF (x sorted, y in percent), for a step line. */
export function cdfPoints(values: readonly number[]): Array<[number, number]> {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.map((v, i) => [v, ((i + 1) / sorted.length) * 100]);
}
