/** The console's page and style sheet; the script is web/console.ts (compiled by the build). */
export const CONSOLE_PAGE = {
  html: `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tollgate console</title>
<link rel="stylesheet" href="/console/console.css">
<script type="module" src="/console/console.js"></script>
</head>
<body>
<header>
  <h1>Tollgate</h1>
  <form id="scope" aria-label="What to show">
    <label>Token <input id="token" type="password" autocomplete="off" placeholder="kubectl create token …" required></label>
    <label>Namespace <input id="namespace" placeholder="all I may read"></label>
    <label>Days <input id="days" type="number" min="1" max="90" value="7"></label>
    <button type="submit">Load</button>
  </form>
</header>
<nav aria-label="Views" id="tabs">
  <button type="button" data-view="overview" aria-pressed="true">Overview</button>
  <button type="button" data-view="breakdown" aria-pressed="false">Breakdowns</button>
  <button type="button" data-view="budgets" aria-pressed="false">Budgets</button>
  <button type="button" data-view="failures" aria-pressed="false">Failures</button>
  <button type="button" data-view="compare" aria-pressed="false">Before / after</button>
</nav>
<p id="message" role="status" aria-live="polite">Enter a Kubernetes bearer token: the console shows what it may read.</p>
<main id="view" tabindex="-1"></main>
</body>
</html>
`,
  css: `:root { font-family: system-ui, sans-serif; color: #1b1f24; background: #fafafa; }
body { margin: 0; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .75rem 1rem; background: #20303f; color: #fff; }
header h1 { font-size: 1.2rem; margin: 0 1rem 0 0; }
header form { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; }
header input { font: inherit; padding: .25rem .4rem; }
header input#days { width: 4rem; }
nav { display: flex; gap: .25rem; padding: .5rem 1rem; border-bottom: 1px solid #ccd; background: #fff; }
nav button, header button { font: inherit; padding: .35rem .8rem; border: 1px solid #99a; background: #fff; border-radius: 4px; cursor: pointer; }
nav button[aria-pressed="true"] { background: #20303f; color: #fff; }
button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #f0a500; outline-offset: 1px; }
#message { margin: .5rem 1rem; color: #445; }
#message.error { color: #a00; }
main { padding: 0 1rem 2rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .75rem; margin: 1rem 0; max-width: 72rem; }
.card { background: #fff; border: 1px solid #dde; border-radius: 6px; padding: .6rem .8rem; }
.card .label { font-size: .8rem; color: #556; }
.card .value { font-size: 1.35rem; font-variant-numeric: tabular-nums; white-space: nowrap; }
table { border-collapse: collapse; background: #fff; margin: .5rem 0 1rem; }
th, td { border: 1px solid #dde; padding: .3rem .6rem; text-align: right; font-variant-numeric: tabular-nums; }
th:first-child, td:first-child { text-align: left; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
table:has(tbody:empty) caption::after { content: " (none)"; font-weight: normal; color: #667; }
table[data-testid=changes] :is(th, td), table[data-testid=events] :is(th, td) { text-align: left; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
svg.chart { background: #fff; border: 1px solid #dde; }
svg.chart .bar { fill: #4a78a8; }
svg.chart .marker { stroke: #d2691e; stroke-width: 2; }
svg.chart text { font-size: 10px; fill: #445; }
.over { color: #a00; font-weight: 600; }
`,
};
