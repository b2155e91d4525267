/**
 * The status page at `/`: plain HTML and a script that fetches /status every two seconds and
 * renders it (no framework, no external resource). Every value is inserted as text, never as
 * HTML, so a topic or an error message cannot inject markup.
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tether-agent status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
  h2 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
  table { border-collapse: collapse; }
  th, td { text-align: left; padding: .25rem .7rem; border-bottom: 1px solid #ddd; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .up { color: #096b1e; font-weight: 600; }
  .down { color: #b00020; font-weight: 600; }
  #ready.yes { color: #096b1e; } #ready.no { color: #b00020; }
  #error { color: #b00020; }
  .muted { color: #666; }
</style>
</head>
<body>
<h1>tether-agent <span id="name"></span></h1>
<div><strong id="ready">loading…</strong> <span id="uptime" class="muted"></span></div>
<ul id="reasons"></ul>
<div id="error"></div>
<h2>Connections</h2>
<table><thead><tr><th>connection</th><th>state</th><th>for</th><th>reconnects</th><th>failed attempts</th><th>last error</th></tr></thead>
<tbody id="connections"></tbody></table>
<h2>Queues</h2>
<table><thead><tr><th>destination</th><th>messages</th><th>bytes</th><th>oldest</th><th>in flight</th><th>forwarded</th><th>per second</th><th>dropped</th></tr></thead>
<tbody id="queues"></tbody></table>
<h2>Hub</h2>
<div id="hub" class="muted">not in this process</div>
<p class="muted">From <a href="status">/status</a>, refreshed every 2 s. Also <a href="readyz">/readyz</a>, <a href="metrics">/metrics</a>.</p>
<script>
'use strict';
function cell(row, text, cls) {
  const td = document.createElement('td');
  td.textContent = String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}
function seconds(s) {
  if (s < 120) return s.toFixed(s < 10 ? 1 : 0) + ' s';
  if (s < 7200) return Math.round(s / 60) + ' min';
  return Math.round(s / 3600) + ' h';
}
function render(status) {
  document.getElementById('name').textContent = status.name;
  const ready = document.getElementById('ready');
  ready.textContent = status.ready ? 'ready' : 'not ready';
  ready.className = status.ready ? 'yes' : 'no';
  document.body.dataset.ready = String(status.ready);
  document.getElementById('uptime').textContent = 'pid ' + status.pid + ', up ' + seconds(status.uptimeSeconds);
  const reasons = document.getElementById('reasons');
  reasons.replaceChildren(...status.notReady.map((r) => { const li = document.createElement('li'); li.textContent = r; return li; }));
  const connections = document.getElementById('connections');
  connections.replaceChildren(...status.connections.map((c) => {
    const row = document.createElement('tr');
    row.dataset.connection = c.id;
    row.dataset.state = c.connected ? 'up' : 'down';
    cell(row, c.id);
    cell(row, c.connected ? 'up' : 'down', c.connected ? 'up' : 'down');
    cell(row, seconds(c.forSeconds), 'num');
    cell(row, c.reconnects, 'num');
    cell(row, c.failedAttempts, 'num');
    cell(row, c.lastError ? c.lastError.message + ' (' + c.lastError.at + ')' : '');
    return row;
  }));
  const queues = document.getElementById('queues');
  queues.replaceChildren(...status.queues.map((q) => {
    const row = document.createElement('tr');
    row.dataset.queue = q.id;
    cell(row, q.id);
    cell(row, q.messages, 'num');
    cell(row, q.bytes, 'num');
    cell(row, seconds(q.oldestAgeSeconds), 'num');
    cell(row, q.inflight, 'num');
    cell(row, q.forwarded, 'num');
    cell(row, q.forwardedPerSecond, 'num');
    cell(row, q.dropped, 'num');
    return row;
  }));
  if (status.hub) {
    document.getElementById('hub').textContent =
      'listening on ' + status.hub.listening.join(', ') + '; ' + status.hub.clients + ' clients connected';
  }
  document.body.dataset.updated = status.generatedAt;
}
async function refresh() {
  try {
    const response = await fetch('status', { cache: 'no-store' });
    render(await response.json());
    document.getElementById('error').textContent = '';
  } catch (error) {
    document.getElementById('error').textContent = 'cannot read /status: ' + error;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
