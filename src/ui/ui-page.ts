/**
 * The UI page: one HTML document with its style and script inline (shipped in the package, no CDN,
 * nothing fetched but /view.json from the same daemon). Each network is drawn as an SVG picture: the
 * switch in the middle, its ports around it with their address and live rates, the overlay's peers or
 * the parent, the load balancer's services joined to their real servers; below, drops by reason, services and the FDB. It redraws every second.
 *
 * Two actions, in a panel that the redraw leaves alone: run a trace and see each stage's decision,
 * and capture frames into a pcapng to download. They send the token from the address's fragment
 * (`#token=…`, as `tsnet-switch ui` prints it; a fragment never reaches a server's logs). The fragment
 * may also carry `trace.network`, `trace.in`, `trace.frame` or `capture.target`, `capture.count`: the
 * form is filled and run at load, so a trace or a capture can be shared as a link.
 *
 * Elements carry data-* attributes (data-network, data-port, data-rx-pps) so a test, or a user's
 * script, can read the numbers off the page.
 */
const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2433; background: #f7f8fa; }
h1 { font-size: 1.3em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 1.2em 0 .3em; }
.net { background: #fff; border: 1px solid #d6dae2; border-radius: 8px; padding: 1em; margin-bottom: 1.2em; }
.meta { color: #5b6475; } table { border-collapse: collapse; margin-top: .4em; }
td, th { border-bottom: 1px solid #e6e9ef; padding: .15em .8em .15em 0; text-align: left; font-variant-numeric: tabular-nums; }
svg text { font: 12px system-ui, sans-serif; } .rate { fill: #1f6f43; } .drop { fill: #b3261e; }
#status { color: #5b6475; }
#actions { background: #fff; border: 1px solid #d6dae2; border-radius: 8px; padding: .6em 1em 1em; margin: 1em 0; }
#actions form { margin: .5em 0; } #actions input { margin-right: .5em; } .err { color: #b3261e; }
`;

const SCRIPT = `
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const human = (v, unit) => { for (const [n, s] of [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']]) if (v >= n) return (v / n).toFixed(2) + s + unit; return (v >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(1)) + unit; };

function picture(net) {
  const n = net.ports.length, W = 760, body = 120 + 70 * Math.ceil(n / 2), H = body + (net.services.length ? 40 + 50 * net.services.length : 0), cx = W / 2, cy = body / 2;
  const at = {};
  let out = '<svg width="' + W + '" height="' + H + '" role="img" aria-label="network ' + esc(net.name) + '">';
  net.ports.forEach((p, i) => {
    const left = i % 2 === 0, row = Math.floor(i / 2), y = 60 + row * 70, x = left ? 20 : W - 250;
    out += '<line x1="' + cx + '" y1="' + cy + '" x2="' + (left ? x + 230 : x) + '" y2="' + (y + 22) + '" stroke="#9aa3b5"/>';
    const r = p.rate;
    if (p.ip) at[p.ip.split('/')[0]] = { x: left ? x + 115 : x + 115, y: y + 50 };
    out += '<g data-port="' + esc(p.port) + '" data-kind="' + p.kind + '" data-rx-pps="' + (r ? r.rxPps.toFixed(1) : '') + '" data-tx-pps="' + (r ? r.txPps.toFixed(1) : '') + '">';
    out += '<rect x="' + x + '" y="' + y + '" width="230" height="50" rx="6" fill="' + (p.kind === 'gateway' ? '#e8eefc' : '#eef7f0') + '" stroke="#9aa3b5"/>';
    out += '<text x="' + (x + 8) + '" y="' + (y + 16) + '">' + esc(p.port) + '</text>';
    out += '<text x="' + (x + 8) + '" y="' + (y + 31) + '" class="meta">' + esc(p.ip || p.mac || '') + '</text>';
    out += '<text x="' + (x + 8) + '" y="' + (y + 45) + '" class="rate">' + (r ? 'rx ' + human(r.rxPps, ' pkt/s') + ' ' + human(r.rxBps, 'b/s') + ' · tx ' + human(r.txPps, ' pkt/s') : 'measuring…') + (r && r.dropsPs > 0 ? '</text><text x="' + (x + 170) + '" y="' + (y + 16) + '" class="drop">' + human(r.dropsPs, ' drop/s') : '') + '</text></g>';
  });
  // Services under the switch, each joined to the ports of its real servers (dashed).
  net.services.forEach((svc, i) => {
    const y = body + 20 + i * 50, x = cx - 130;
    for (const rs of svc.servers) { const p = at[rs.split(':')[0]]; if (p) out += '<line x1="' + cx + '" y1="' + y + '" x2="' + p.x + '" y2="' + p.y + '" stroke="#c77d0a" stroke-dasharray="4 3"/>'; }
    out += '<g data-service="' + esc(svc.service) + '" data-servers="' + esc(svc.servers.join(' ')) + '"><rect x="' + x + '" y="' + y + '" width="260" height="36" rx="6" fill="#fff4e0" stroke="#c77d0a"/>';
    out += '<text x="' + cx + '" y="' + (y + 15) + '" text-anchor="middle">' + esc(svc.service) + ' (' + esc(svc.scheduler) + ')</text>';
    out += '<text x="' + cx + '" y="' + (y + 30) + '" text-anchor="middle" class="meta">' + esc(svc.servers.join(', ') || 'no real servers') + '</text></g>';
  });
  const extra = net.overlay ? 'VNI ' + net.overlay.vni + ' · VTEP ' + net.overlay.vtep + (net.overlay.peers.length ? ' · peers ' + net.overlay.peers.join(', ') : '') : net.parent ? 'parent ' + net.parent : net.uplinks && net.uplinks.length ? 'uplinks ' + net.uplinks.join(', ') : '';
  out += '<rect x="' + (cx - 80) + '" y="' + (cy - 28) + '" width="160" height="56" rx="8" fill="#1d2433"/>';
  out += '<text x="' + cx + '" y="' + (cy - 6) + '" fill="#fff" text-anchor="middle">' + esc(net.name) + ' (' + esc(net.driver) + ')</text>';
  out += '<text x="' + cx + '" y="' + (cy + 12) + '" fill="#c9d1e3" text-anchor="middle">' + esc(net.subnet) + '</text>';
  if (extra) out += '<text x="' + cx + '" y="' + (body - 10) + '" text-anchor="middle" class="meta">' + esc(extra) + '</text>';
  return out + '</svg>';
}

function tables(net, fdb) {
  const drops = net.ports.flatMap((p) => Object.entries(p.drops).map(([k, v]) => '<tr><td>' + esc(p.port) + '</td><td>' + esc(k) + '</td><td>' + v + '</td></tr>'));
  const svc = net.services.map((s) => '<tr><td>' + esc(s.service) + '</td><td>' + esc(s.scheduler) + '</td><td>' + esc(s.servers.join(', ')) + '</td></tr>');
  const f = fdb.filter((e) => e.network === net.name).map((e) => '<tr><td>' + esc(e.mac) + '</td><td>' + esc(e.port) + '</td><td>' + esc(e.type) + '</td><td>' + (e.ageSeconds ?? '') + '</td><td>' + esc(e.vtep ?? '') + '</td></tr>');
  return '<h2>Drops by reason</h2>' + (drops.length ? '<table class="drops"><tr><th>port</th><th>reason</th><th>frames</th></tr>' + drops.join('') + '</table>' : '<p class="meta">none</p>')
    + (svc.length ? '<h2>Services</h2><table class="services"><tr><th>service</th><th>scheduler</th><th>real servers</th></tr>' + svc.join('') + '</table>' : '')
    + '<h2>FDB</h2>' + (f.length ? '<table class="fdb"><tr><th>MAC</th><th>port</th><th>type</th><th>age (s)</th><th>VTEP</th></tr>' + f.join('') + '</table>' : '<p class="meta">empty</p>');
}

async function refresh() {
  try {
    const v = await (await fetch('view.json', { cache: 'no-store' })).json();
    document.getElementById('nets').innerHTML = v.networks.length
      ? v.networks.map((n) => '<section class="net" data-network="' + esc(n.name) + '"><h2>' + esc(n.name) + '</h2><div class="meta">' + esc(n.driver) + ' · ' + esc(n.subnet) + (n.gateway ? ' · gateway ' + esc(n.gateway) : '') + ' · ' + n.ports.length + ' port(s)</div>' + picture(n) + tables(n, v.fdb) + '</section>').join('')
      : '<p>No networks yet: <code>tsnet-switch network create …</code></p>';
    document.getElementById('status').textContent = 'rates over the last ' + v.intervalSeconds + ' s · ' + v.at;
    // The actions' suggestions: networks, and ports as trace --in and capture take them.
    const options = (xs) => xs.map((x) => '<option value="' + esc(x) + '">').join('');
    const ports = v.networks.flatMap((n) => [n.name, ...n.ports.map((p) => p.port.replace(/ \\(gateway\\)$/, ''))]);
    if (document.getElementById('port-names').dataset.list !== ports.join()) {
      document.getElementById('port-names').innerHTML = options(ports);
      document.getElementById('port-names').dataset.list = ports.join();
      document.getElementById('network-names').innerHTML = options(v.networks.map((n) => n.name));
    }
  } catch (err) {
    document.getElementById('status').textContent = 'cannot read the daemon: ' + err;
  }
}
const params = new URLSearchParams(location.hash.slice(1));
const token = params.get('token');
const $ = (id) => document.getElementById(id);

async function act(path, body) {
  const r = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || r.status + ' ' + r.statusText);
  return r;
}

async function runTrace(ev) {
  if (ev) ev.preventDefault();
  const out = $('trace-result');
  out.textContent = 'tracing…';
  try {
    const t = await (await act('trace', { network: $('trace-network').value, in: $('trace-in').value, frame: $('trace-frame').value })).json();
    out.innerHTML = '<div class="meta">' + esc(t.frame.summary) + ' · ' + (t.dropped ? 'dropped' : 'out: ' + esc(t.outputs.join(', ') || 'nowhere')) + '</div><table class="trace"><tr><th>stage</th><th>decision</th></tr>'
      + t.stages.map((s) => '<tr data-stage="' + esc(s.stage) + '"><td>' + esc(s.stage) + '</td><td>' + esc(s.decision) + '</td></tr>').join('') + '</table>';
  } catch (err) { out.innerHTML = '<span class="err">' + esc(err.message) + '</span>'; }
}

async function runCapture(ev) {
  if (ev) ev.preventDefault();
  const out = $('capture-result');
  out.textContent = 'capturing…';
  try {
    const target = $('capture-target').value;
    const r = await act('capture', { target, count: Number($('capture-count').value), seconds: Number($('capture-seconds').value) });
    const blob = await r.blob();
    const head = new Uint8Array(await blob.slice(0, 4).arrayBuffer());
    const format = head[0] === 0x0a && head[1] === 0x0d && head[2] === 0x0d && head[3] === 0x0a ? 'pcapng' : 'unknown format';
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = target.replace(/[^A-Za-z0-9_.-]/g, '_') + '.pcapng';
    a.textContent = 'download ' + a.download;
    out.innerHTML = '<span data-capture-bytes="' + blob.size + '" data-capture-format="' + format + '">' + format + ', ' + blob.size + ' bytes</span> ';
    out.appendChild(a);
  } catch (err) { out.innerHTML = '<span class="err">' + esc(err.message) + '</span>'; }
}

function setupActions() {
  $('trace-form').addEventListener('submit', runTrace);
  $('capture-form').addEventListener('submit', runCapture);
  if (!token) {
    for (const b of document.querySelectorAll('#actions button')) b.disabled = true;
    $('actions-note').textContent = 'Read-only: open the address tsnet-switch ui prints (it carries the token) to trace and capture.';
  }
  for (const [k, v] of params) { const el = $(k.replace('.', '-')); if (el && k !== 'token') el.value = v; }
  if (token && params.has('trace.frame')) runTrace();
  if (token && params.has('capture.target')) runCapture();
}

setupActions();
refresh();
setInterval(refresh, 1000);
`;

export const UI_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tsnet-switch</title><style>${STYLE}</style></head>
<body><h1>tsnet-switch</h1><div id="status">loading…</div>
<section id="actions"><div id="actions-note" class="meta"></div>
<datalist id="network-names"></datalist><datalist id="port-names"></datalist>
<form id="trace-form" data-action="trace"><b>Trace</b> network <input id="trace-network" list="network-names" size="12" required>
in <input id="trace-in" list="port-names" size="22" required> frame <input id="trace-frame" size="34" placeholder="icmp 10.0.0.2 > 10.0.0.3" required>
<button>Run trace</button></form><div id="trace-result"></div>
<form id="capture-form" data-action="capture"><b>Capture</b> network or port <input id="capture-target" list="port-names" size="22" required>
frames <input id="capture-count" type="number" min="1" max="100000" value="100" size="6"> at most <input id="capture-seconds" type="number" min="1" max="600" value="10" size="4"> s
<button>Capture</button></form><div id="capture-result"></div></section>
<div id="nets"></div>
<script>${SCRIPT}</script></body></html>
`;
