// The dashboard's style sheet (served as /assets/dashboard.css). One column on a phone, cards side by
// side on wider screens; light and dark follow the system (prefers-color-scheme). Long ids and names
// wrap instead of widening the page.
export const STYLE = `
:root {
  --bg: #f5f6f8; --card: #ffffff; --fg: #1d2330; --muted: #5d6678; --line: #dde1e8;
  --good: #1a8a4a; --warn: #b86e00; --bad: #c62f2f; --accent: #2d62d6; --empty: #e8ebf0;
  --s1: #2d62d6; --s2: #1a8a4a; --s3: #b86e00; --s4: #c62f2f; --s5: #7a4cc2;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111418; --card: #1a1f26; --fg: #e4e8ee; --muted: #9aa3b2; --line: #2c333d;
    --good: #4cc27f; --warn: #e3a03a; --bad: #f06a6a; --accent: #79a4ff; --empty: #262c35;
    --s1: #79a4ff; --s2: #4cc27f; --s3: #e3a03a; --s4: #f06a6a; --s5: #b48cf0;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .3rem 1rem; padding: .8rem 1rem; border-bottom: 1px solid var(--line); background: var(--card); }
h1 { font-size: 1.25rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 0 0 .6rem; }
h3 { font-size: .9rem; margin: .8rem 0 .3rem; color: var(--muted); font-weight: 600; }
#version { color: var(--muted); font-size: .85rem; overflow-wrap: anywhere; }
.live { margin-left: auto; font-size: .85rem; color: var(--muted); }
.live.ok::before { content: "● "; color: var(--good); }
.live.down::before { content: "● "; color: var(--bad); }
main { display: grid; gap: 1rem; padding: 1rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 24rem), 1fr)); max-width: 1400px; margin: 0 auto; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .9rem 1rem; min-width: 0; }
.wide { grid-column: 1 / -1; }
.warnings { list-style: none; margin: 0; padding: 0 1rem; max-width: 1400px; margin: 0 auto; }
.warnings li { margin-top: 1rem; padding: .6rem .8rem; border-radius: 8px; border: 1px solid var(--warn); color: var(--warn); background: color-mix(in srgb, var(--warn) 10%, transparent); }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 9.5rem), 1fr)); gap: .5rem 1rem; margin: 0; }
.facts div { min-width: 0; }
.facts .full { grid-column: 1 / -1; }
.facts dt { font-size: .78rem; color: var(--muted); }
.facts dd { margin: 0; font-size: 1.05rem; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.facts dd.good { color: var(--good); } .facts dd.warn { color: var(--warn); } .facts dd.bad { color: var(--bad); }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85em; }
.scroll { overflow-x: auto; max-width: 100%; }
.scroll.tall { max-height: 24rem; overflow-y: auto; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .25rem .4rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; position: sticky; top: 0; background: var(--card); }
td.name { overflow-wrap: anywhere; word-break: break-all; min-width: 6rem; }
td.num, th.num { text-align: right; }
.rcode-NOERROR { color: var(--good); } .rcode-NXDOMAIN { color: var(--warn); } .rcode-SERVFAIL, .rcode-REFUSED, .rcode-FORMERR { color: var(--bad); }
.empty { color: var(--muted); font-style: italic; }
.charts { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 22rem), 1fr)); }
.charts > div { min-width: 0; }
.chart { width: 100%; min-height: 180px; overflow: hidden; }
.uplot { font-family: inherit; }
.uplot .u-legend { font-size: .8rem; }
.histogram { display: flex; align-items: flex-end; gap: 2px; height: 160px; padding-top: 1rem; }
.histogram .bar { flex: 1 1 0; min-width: 0; display: flex; flex-direction: column; justify-content: flex-end; height: 100%; }
.histogram .fill { background: var(--s1); border-radius: 2px 2px 0 0; min-height: 1px; }
.histogram .count { font-size: .65rem; text-align: center; color: var(--muted); }
.histogram-axis { display: flex; gap: 2px; font-size: .62rem; color: var(--muted); }
.histogram-axis span { flex: 1 1 0; min-width: 0; text-align: center; overflow: hidden; }
.lookup { display: flex; gap: .5rem; margin-bottom: .4rem; }
.lookup input { flex: 1; min-width: 0; font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); }
.lookup button { font: inherit; padding: .35rem .8rem; border: 1px solid var(--accent); border-radius: 6px; background: var(--accent); color: var(--card); cursor: pointer; }
.lookup-result { margin: 0 0 .4rem; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85rem; }
.lookup-result:empty { display: none; }
.family { margin-bottom: .8rem; }
.buckets { display: flex; flex-wrap: wrap; gap: 6px; align-items: flex-end; }
.bucket { display: flex; flex-direction: column-reverse; gap: 2px; align-items: center; }
.bucket .cell { width: 12px; height: 6px; border-radius: 2px; background: var(--empty); }
.bucket .cell.good { background: var(--good); } .bucket .cell.questionable { background: var(--warn); }
.bucket .depth { font-size: .6rem; color: var(--muted); }
.legend { font-size: .78rem; color: var(--muted); margin-top: .4rem; }
.legend .swatch { display: inline-block; width: .7rem; height: .7rem; border-radius: 2px; vertical-align: -1px; margin: 0 .25rem 0 .6rem; }
@media (max-width: 480px) {
  main { padding: .6rem; gap: .6rem; }
  .card { padding: .7rem; }
  table { font-size: .76rem; }
  th, td { padding: .2rem .25rem; }
}
footer { padding: 1rem; text-align: center; font-size: .8rem; color: var(--muted); }
a { color: var(--accent); }
`;
