/**
 * The UI page: one HTML document with its style and script inline (shipped in the package, no CDN,
 * nothing fetched but /view.json from the same daemon). Each network is drawn as an SVG picture: the
 * switch in the middle, its ports around it with their address and live rates, the overlay's peers or
 * the parent; below, drops by reason, services and the FDB. It redraws every second.
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
`;

const SCRIPT = `
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const human = (v, unit) => { for (const [n, s] of [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']]) if (v >= n) return (v / n).toFixed(2) + s + unit; return (v >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(1)) + unit; };

function picture(net) {
  const n = net.ports.length, W = 760, H = 120 + 70 * Math.ceil(n / 2), cx = W / 2, cy = H / 2;
  let out = '<svg width="' + W + '" height="' + H + '" role="img" aria-label="network ' + esc(net.name) + '">';
  net.ports.forEach((p, i) => {
    const left = i % 2 === 0, row = Math.floor(i / 2), y = 60 + row * 70, x = left ? 20 : W - 250;
    out += '<line x1="' + cx + '" y1="' + cy + '" x2="' + (left ? x + 230 : x) + '" y2="' + (y + 22) + '" stroke="#9aa3b5"/>';
    const r = p.rate;
    out += '<g data-port="' + esc(p.port) + '" data-kind="' + p.kind + '" data-rx-pps="' + (r ? r.rxPps.toFixed(1) : '') + '" data-tx-pps="' + (r ? r.txPps.toFixed(1) : '') + '">';
    out += '<rect x="' + x + '" y="' + y + '" width="230" height="50" rx="6" fill="' + (p.kind === 'gateway' ? '#e8eefc' : '#eef7f0') + '" stroke="#9aa3b5"/>';
    out += '<text x="' + (x + 8) + '" y="' + (y + 16) + '">' + esc(p.port) + '</text>';
    out += '<text x="' + (x + 8) + '" y="' + (y + 31) + '" class="meta">' + esc(p.ip || p.mac || '') + '</text>';
    out += '<text x="' + (x + 8) + '" y="' + (y + 45) + '" class="rate">' + (r ? 'rx ' + human(r.rxPps, ' pkt/s') + ' ' + human(r.rxBps, 'b/s') + ' · tx ' + human(r.txPps, ' pkt/s') : 'measuring…') + (r && r.dropsPs > 0 ? '</text><text x="' + (x + 170) + '" y="' + (y + 16) + '" class="drop">' + human(r.dropsPs, ' drop/s') : '') + '</text></g>';
  });
  const extra = net.overlay ? 'VNI ' + net.overlay.vni + ' · VTEP ' + net.overlay.vtep + (net.overlay.peers.length ? ' · peers ' + net.overlay.peers.join(', ') : '') : net.parent ? 'parent ' + net.parent : '';
  out += '<rect x="' + (cx - 80) + '" y="' + (cy - 28) + '" width="160" height="56" rx="8" fill="#1d2433"/>';
  out += '<text x="' + cx + '" y="' + (cy - 6) + '" fill="#fff" text-anchor="middle">' + esc(net.name) + ' (' + esc(net.driver) + ')</text>';
  out += '<text x="' + cx + '" y="' + (cy + 12) + '" fill="#c9d1e3" text-anchor="middle">' + esc(net.subnet) + '</text>';
  if (extra) out += '<text x="' + cx + '" y="' + (H - 10) + '" text-anchor="middle" class="meta">' + esc(extra) + '</text>';
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
  } catch (err) {
    document.getElementById('status').textContent = 'cannot read the daemon: ' + err;
  }
}
refresh();
setInterval(refresh, 1000);
`;

export const UI_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tsnet-switch</title><style>${STYLE}</style></head>
<body><h1>tsnet-switch</h1><div id="status">loading…</div><div id="nets"></div>
<script>${SCRIPT}</script></body></html>
`;
