/**
 * The page shell shared by the HTML reports (`p2pchat bench --html`, `p2pchat sim --html`): one
 * self-contained file that opens from disk with no network at all. uPlot (script and stylesheet)
 * is read from node_modules when the page is written and inlined, so is the shared browser helper
 * (report-kit.js) and the page's own script; the report's data travels as JSON in a
 * `<script type="application/json">` block that the page script reads.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface ReportPage {
  /** The page title (also its first heading). */
  readonly title: string;
  /** Everything the page script draws from; serialised as JSON into the page. */
  readonly data: unknown;
  /** The page's own browser script (plain JavaScript, run after uPlot and report-kit.js). */
  readonly pageScript: string;
}

const require = createRequire(import.meta.url);

/** The chart library's files, read when a page is written (never fetched by the page). */
function uplotAssets(): { script: string; css: string } {
  const dist = join(dirname(require.resolve('uplot/package.json')), 'dist');
  return { script: readFileSync(join(dist, 'uPlot.iife.min.js'), 'utf8'), css: readFileSync(join(dist, 'uPlot.min.css'), 'utf8') };
}

/** Reads a browser script that sits beside a module (`new URL('./x.js', import.meta.url)`). */
export function readBrowserScript(url: URL): string {
  return readFileSync(url, 'utf8');
}

/**
 * Text placed inside a <script> or <style> element: `</` would end the element early, so it is
 * written as `<\/` (same meaning in JavaScript strings, regular expressions and CSS).
 */
function inlineSafe(text: string): string {
  return text.replace(/<\/(script|style)/gi, '<\\/$1');
}

/** JSON placed in a <script type="application/json">: every `<` escaped, so no tag can close it. */
function inlineJson(data: unknown): string {
  return JSON.stringify(data).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const SHELL_CSS = `
:root { color-scheme: light; --ink: #1d2433; --muted: #5b6475; --line: #d9dee8; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --card: #fff; --bg: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; background: var(--bg); color: var(--ink); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 14px; margin: 0 0 6px; }
p.sub, .muted { color: var(--muted); }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
pre.cmd { background: #1d2433; color: #e6edf3; padding: 8px 12px; border-radius: 6px; overflow-x: auto; }
.grid { display: flex; flex-wrap: wrap; gap: 14px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .note { color: var(--muted); font-size: 12px; margin-top: 4px; max-width: 540px; }
table { border-collapse: collapse; background: var(--card); font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: var(--ok); font-weight: 600; }
.fail { color: var(--bad); font-weight: 600; }
.warn { color: var(--warn); font-weight: 600; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
.badge.pass { background: var(--ok); } .badge.fail { background: var(--bad); }
.kv { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; }
.kv dt { color: var(--muted); } .kv dd { margin: 0; }
.legend-swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
#report-error { display: none; background: #ffebe9; border: 1px solid var(--bad); padding: 8px 12px; border-radius: 6px; margin: 12px 0; }
`;

const KIT_SCRIPT = readBrowserScript(new URL('./report-kit.js', import.meta.url));

/** The whole page as one string. */
export function renderReportPage(page: ReportPage): string {
  const uplot = uplotAssets();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<style>${inlineSafe(uplot.css)}</style>
<style>${inlineSafe(SHELL_CSS)}</style>
</head>
<body>
<h1>${escapeHtml(page.title)}</h1>
<div id="report-error"></div>
<main id="report"></main>
<script type="application/json" id="report-data">${inlineJson(page.data)}</script>
<script>${inlineSafe(uplot.script)}</script>
<script>${inlineSafe(KIT_SCRIPT)}</script>
<script>${inlineSafe(page.pageScript)}</script>
</body>
</html>
`;
}
