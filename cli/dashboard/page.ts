/** The dashboard's page shell and style: no CDN, nothing loaded from elsewhere. */

/** HTML-escapes text for an element or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** The page: the script builds everything under #app from the API's answers. */
export function dashboardHtml(description: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rollouts</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header>
  <strong>Rollouts</strong>
  <nav><a href="#/">Runs</a> <a href="#/scan">Scan</a> <a href="#/stagings">Staging</a> <a href="#/node">Node ledger</a></nav>
  <span class="backend" title="where the API requests go">${escapeHtml(description)}</span>
</header>
<main id="app"><p>Loading…</p></main>
<div id="modal" hidden></div>
<script src="/app.js"></script>
</body>
</html>
`;
}

export const DASHBOARD_CSS = `
:root { font-family: system-ui, sans-serif; font-size: 14px; color: #1b1f24; background: #f6f8fa; }
body { margin: 0; }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1rem; background: #24292f; color: #fff; }
header a { color: #cde; margin-right: .8rem; }
header .backend { margin-left: auto; font-size: 12px; color: #9ab; }
main { padding: 1rem; max-width: 1200px; }
h1 { font-size: 1.3rem; margin: .2rem 0 .8rem; }
h2 { font-size: 1.05rem; margin: 1.2rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; background: #fff; margin-bottom: 1rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #eaeef2; font-weight: 600; }
tr.failed td { background: #ffebe9; }
tr.running td { background: #fff8c5; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 1rem; font-size: 12px; background: #eaeef2; }
.badge.Succeeded, .badge.NothingToInstall, .badge.Staged, .badge.NothingToStage { background: #dafbe1; }
.badge.Partial { background: #fff1a8; }
.badge.Failed, .badge.Cancelled, .badge.Stopped { background: #ffcecb; }
.badge.Running, .badge.Updating, .badge.Pending { background: #fff1a8; }
.summary { background: #fff; border: 1px solid #d0d7de; padding: .6rem .8rem; margin-bottom: 1rem; }
.summary.bad { border-color: #cf222e; background: #ffebe9; }
.gate { background: #ddf4ff; border: 1px solid #54aeff; padding: .6rem .8rem; margin-bottom: 1rem; }
.warning { background: #fff8c5; border: 1px solid #d4a72c; padding: .6rem .8rem; margin: .6rem 0; }
.error { background: #ffebe9; border: 1px solid #cf222e; padding: .6rem .8rem; margin: .6rem 0; white-space: pre-wrap; }
button { padding: .3rem .8rem; margin-right: .4rem; cursor: pointer; }
button.danger { background: #cf222e; color: #fff; border: 1px solid #a40e26; }
form.inline > * { margin-right: .5rem; }
textarea { width: 100%; min-height: 10rem; font-family: ui-monospace, monospace; }
#modal { position: fixed; inset: 0; background: rgba(0,0,0,.35); display: flex; align-items: center; justify-content: center; }
#modal[hidden] { display: none; }
#modal .box { background: #fff; padding: 1rem 1.2rem; min-width: 24rem; max-width: 40rem; border-radius: 6px; }
#modal input { width: 100%; margin: .5rem 0 1rem; }
.muted { color: #57606a; }
code, .mono { font-family: ui-monospace, monospace; }
`;
