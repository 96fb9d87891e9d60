/* ASEAN Maritime Fusion Centre — watch officer page.
 * Plain JavaScript, no dependencies: Web Mercator projection, canvas rendering,
 * land cached in an offscreen layer that is re-rendered only when the view changes. */
(() => {
  'use strict';

  // ---------------------------------------------------------------- constants
  const TILE = 256;                       // world size in CSS px at zoom 0
  const MIN_Z = 2, MAX_Z = 17;
  const HOME = { w: 99, s: 0, e: 122, n: 23 };   // South China Sea
  const PICTURE_MS = 2000, ALERTS_MS = 5000, HISTORY_MS = 10000;
  const EARTH_R = 6378137;
  const KEY_STORE = 'mfc.key';
  const COLORS = {
    sea: '#0a1824', land: '#26302c', coast: '#3b4a43',
    grat: 'rgba(120,160,190,0.09)', gratText: 'rgba(150,180,205,0.45)',
    zone: '#e0b84f',
    ais: '#4fc3f7', fused: '#9be37a', dark: '#ff5a36', unident: '#b7a6e0', lost: '#6b7b88', partner: '#ff9bf0',
    covered: 'rgba(79,195,247,0.10)', uncovered: 'rgba(255,90,54,0.13)', station: 'rgba(79,195,247,0.55)',
    anchorage: 'rgba(120,220,200,0.22)', anchorageEdge: 'rgba(120,220,200,0.75)',
    label: '#c9d6e0', sel: '#ffffff',
  };
  const SEV_COLORS = { critical: '#ff3b5c', high: '#ff7a2f', medium: '#ffc233', low: '#6fa8ff', info: '#8a9aa8' };
  const SEV_RANK = { critical: 5, high: 4, medium: 3, low: 2, info: 1 };

  const $ = (id) => document.getElementById(id);
  const clamp = (v, a, b) => Math.max(a, Math.min(b, v));
  const isNum = (v) => typeof v === 'number' && isFinite(v);

  // ---------------------------------------------------------------- projection (Web Mercator, world = [0,1]^2)
  const mx = (lon) => (lon + 180) / 360;
  const my = (lat) => {
    const s = Math.sin(clamp(lat, -85.0511, 85.0511) * Math.PI / 180);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  };
  const lonOf = (x) => x * 360 - 180;
  const latOf = (y) => Math.atan(Math.sinh(Math.PI * (1 - 2 * y))) * 180 / Math.PI;

  // ---------------------------------------------------------------- state
  const canvas = $('map');
  const ctx = canvas.getContext('2d');
  const landCv = document.createElement('canvas');
  const lctx = landCv.getContext('2d');
  let W = 0, H = 0, dpr = 1;
  const V = { cx: mx(110.5), cy: my(11.5), z: 5.5 };   // current view
  const scale = () => TILE * Math.pow(2, V.z);

  let key = null, authFailed = false;
  let land = [];            // [{bbox:[x0,y0,x1,y1], rings:[Float64Array]}]
  let zones = [];           // [{name, kind, bbox, rings, lx, ly}]
  let landLoaded = false, zonesLoaded = false;
  let coverage = null;      // {cells: [{bbox, rings, covered}], stations: [{lon, lat, range_m}]} when shown
  let tracks = [];          // current track property objects (window.mfc.tracks)
  let tobjs = [];           // [{p, x, y, kind}]
  let byId = new Map();
  let pictureTime = null;
  let alerts = [];
  let selectedId = null, selectedLast = null, hoverId = null;
  let history = null;       // {track_id, pts:[{x,y,...}]}
  let historyTimer = null;
  let screenPts = null;     // Float32Array [sx, sy] per tobj of the last frame (NaN when culled)

  // ---------------------------------------------------------------- key handling
  const store = {
    get() { try { return localStorage.getItem(KEY_STORE); } catch (e) { return store._m || null; } },
    set(v) { try { localStorage.setItem(KEY_STORE, v); } catch (e) { store._m = v; } },
    del() { try { localStorage.removeItem(KEY_STORE); } catch (e) { store._m = null; } },
  };
  function initKey() {
    try {
      const u = new URL(location.href);
      const k = u.searchParams.get('key');
      if (u.searchParams.has('key')) {
        if (k) store.set(k);
        u.searchParams.delete('key');
        const q = u.searchParams.toString();
        history_replace(u.pathname + (q ? '?' + q : '') + u.hash);
      }
    } catch (e) { /* ignore malformed URL */ }
    key = store.get() || null;
  }
  function history_replace(url) { try { window.history.replaceState(null, '', url); } catch (e) { /* ignore */ } }

  function showSignin(msg, isErr) {
    const m = $('signin-msg');
    m.textContent = msg;
    m.className = isErr ? 'err' : 'muted';
    $('signin').hidden = false;
    setTimeout(() => { try { $('signin-key').focus(); } catch (e) { /* ignore */ } }, 0);
  }

  class AuthError extends Error {}
  class HttpError extends Error { constructor(status, msg, reason) { super(msg); this.status = status; this.reason = reason || msg; } }

  async function api(path, opts = {}, timeoutMs = 15000) {
    if (!key) throw new AuthError('no key');
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(), timeoutMs);
    let res;
    try {
      res = await fetch(path, {
        ...opts,
        signal: ac.signal,
        headers: { ...(opts.headers || {}), Authorization: 'Bearer ' + key, Accept: 'application/json' },
        cache: 'no-store',
      });
    } catch (e) {
      throw new Error(ac.signal.aborted ? 'timeout' : 'network error');
    } finally { clearTimeout(t); }
    if (res.status === 401) { onAuthFail(); throw new AuthError('key refused'); }
    if (!res.ok) {  // the API's {"error": reason}, kept for the panels that show it
      let reason = null;
      try { const j = JSON.parse(await res.text()); reason = j && typeof j.error === 'string' ? j.error : null; } catch (e) { /* not JSON */ }
      throw new HttpError(res.status, 'HTTP ' + res.status, reason ? `HTTP ${res.status}: ${reason}` : null);
    }
    const txt = await res.text();
    return txt ? JSON.parse(txt) : null;
  }

  function onAuthFail() {
    if (!authFailed) {
      authFailed = true;
      setStatus('key refused', false);
      showSignin('key refused', true);
    }
  }

  function setStatus(text, ok) {
    $('signout').hidden = !key;
    $('status').textContent = text;
    const d = $('status-dot');
    d.className = 'dot ' + (ok ? 'live' : 'err');
  }

  // ---------------------------------------------------------------- geometry loading
  function ringsOf(geom) {
    if (!geom) return [];
    if (geom.type === 'Polygon') return [geom.coordinates];
    if (geom.type === 'MultiPolygon') return geom.coordinates;
    if (geom.type === 'GeometryCollection') return (geom.geometries || []).flatMap(ringsOf);
    return [];
  }
  function buildPolys(fc) {
    const out = [];
    for (const f of (fc && fc.features) || []) {
      for (const poly of ringsOf(f.geometry)) {
        let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
        const rings = [];
        for (const ring of poly) {
          if (!ring || ring.length < 3) continue;
          const a = new Float64Array(ring.length * 2);
          for (let i = 0; i < ring.length; i++) {
            const x = mx(ring[i][0]), y = my(ring[i][1]);
            a[2 * i] = x; a[2 * i + 1] = y;
            if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
          }
          rings.push(a);
        }
        if (rings.length) out.push({ bbox: [x0, y0, x1, y1], rings, props: f.properties || {} });
      }
    }
    return out;
  }

  async function loadLand() {
    if (landLoaded) return;
    try {
      const fc = await api('/v1/land', {}, 60000);
      land = buildPolys(fc);
      landLoaded = true;
      invalidateLand();
    } catch (e) { if (!(e instanceof AuthError)) console.warn('land:', e.message); }
  }
  async function loadZones() {
    if (zonesLoaded) return;
    try {
      const fc = await api('/v1/zones');
      const polys = buildPolys(fc);
      // group polygons by feature name for labels
      zones = polys.map((p) => ({
        ...p,
        name: p.props.name || '',
        kind: p.props.kind || '',
        lx: (p.bbox[0] + p.bbox[2]) / 2,
        ly: p.bbox[3],
      }));
      zonesLoaded = true;
      invalidateLand();
    } catch (e) { if (!(e instanceof AuthError)) console.warn('zones:', e.message); }
  }

  // AIS coverage (GET /v1/coverage): learned cells and stations' registered ranges, on demand
  let coverageTimer = null;
  async function loadCoverage() {
    try {
      const fc = await api('/v1/coverage', {}, 20000);
      const feats = (fc && fc.features) || [];
      // one cell per place: covered when any station covers it
      const byCell = new Map();
      for (const p of buildPolys({ features: feats.filter((f) => f.properties && f.properties.kind === 'cell') })) {
        const k = p.bbox.join(',');
        const had = byCell.get(k);
        if (!had) byCell.set(k, { ...p, covered: !!p.props.covered });
        else had.covered = had.covered || !!p.props.covered;
      }
      const cells = [...byCell.values()];
      const stations = feats.filter((f) => f.properties && f.properties.kind === 'station' && f.geometry)
        .map((f) => ({ lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1], range_m: f.properties.range_m }));
      coverage = { cells, stations };
    } catch (e) {
      if (!(e instanceof AuthError)) console.warn('coverage:', e.message);
      coverage = { cells: [], stations: [] };
    }
    invalidateLand();
  }
  function showCoverage(on) {
    clearInterval(coverageTimer); coverageTimer = null;
    if (!on) { coverage = null; invalidateLand(); return; }
    loadCoverage();
    coverageTimer = setInterval(loadCoverage, 60000);
  }
  // anchorages learned from traffic (GET /v1/anchorages, staff only), on demand
  let anchorages = null;  // [{bbox, rings, props}] when shown
  let anchorageTimer = null;
  async function loadAnchorages() {
    const note = $('anchorages-note');
    try {
      const fc = await api('/v1/anchorages', {}, 20000);
      anchorages = buildPolys(fc || { features: [] });
      if (note) note.textContent = String(anchorages.length);
    } catch (e) {
      anchorages = [];
      if (note) note.textContent = e instanceof HttpError && e.status === 403 ? 'staff only'
        : e instanceof HttpError && e.status === 503 ? 'not learned here' : (e instanceof AuthError ? '' : 'unavailable');
    }
    invalidateLand();
  }
  function showAnchorages(on) {
    clearInterval(anchorageTimer); anchorageTimer = null;
    if (!on) { anchorages = null; if ($('anchorages-note')) $('anchorages-note').textContent = ''; invalidateLand(); return; }
    loadAnchorages();
    anchorageTimer = setInterval(loadAnchorages, 300000);
  }
  function drawAnchorages(S, ox, oy, vx0, vx1, vy0, vy1) {
    if (!anchorages || !anchorages.length) return;
    lctx.fillStyle = COLORS.anchorage; lctx.strokeStyle = COLORS.anchorageEdge; lctx.lineWidth = 1;
    lctx.beginPath();
    for (const p of anchorages) {
      const b = p.bbox;
      if (b[2] < vx0 || b[0] > vx1 || b[3] < vy0 || b[1] > vy1) continue;
      traceRings(lctx, p.rings, S, ox, oy, true);
    }
    lctx.fill('evenodd'); lctx.stroke();
  }

  function drawCoverage(S, ox, oy, vx0, vx1, vy0, vy1) {
    if (!coverage) return;
    for (const cov of [true, false]) {
      lctx.fillStyle = cov ? COLORS.covered : COLORS.uncovered;
      lctx.beginPath();
      for (const c of coverage.cells) {
        const b = c.bbox;
        if (c.covered !== cov || b[2] < vx0 || b[0] > vx1 || b[3] < vy0 || b[1] > vy1) continue;
        traceRings(lctx, c.rings, S, ox, oy, true);
      }
      lctx.fill();
    }
    lctx.strokeStyle = COLORS.station; lctx.lineWidth = 1; lctx.setLineDash([2, 4]);
    for (const st of coverage.stations) {
      if (!isNum(st.range_m)) continue;
      // registered range: a circle in Mercator (radius grows as 1/cos(lat))
      const r = st.range_m / (2 * Math.PI * EARTH_R * Math.cos(st.lat * Math.PI / 180)) * S;
      lctx.beginPath();
      lctx.arc(mx(st.lon) * S + ox, my(st.lat) * S + oy, r, 0, 2 * Math.PI);
      lctx.stroke();
    }
    lctx.setLineDash([]);
  }

  // ---------------------------------------------------------------- land layer (offscreen)
  let landKey = '', landView = null, landCost = 0, landAt = 0, landTimer = null;
  const viewKey = () => `${V.cx}|${V.cy}|${V.z}|${W}|${H}|${dpr}`;
  function invalidateLand() { landKey = ''; requestRender(); }

  function traceRings(c, rings, S, ox, oy, close) {
    for (const a of rings) {
      let lx = a[0] * S + ox, ly = a[1] * S + oy;
      c.moveTo(lx, ly);
      const n = a.length;
      for (let i = 2; i < n; i += 2) {
        const px = a[i] * S + ox, py = a[i + 1] * S + oy;
        if (Math.abs(px - lx) + Math.abs(py - ly) >= 0.7 || i === n - 2) { c.lineTo(px, py); lx = px; ly = py; }
      }
      if (close) c.closePath();
    }
  }

  function gratStep(S) {
    const steps = [30, 10, 5, 2, 1, 0.5, 0.25, 1 / 6, 1 / 12, 1 / 30, 1 / 60];
    let st = steps[0];
    for (const s of steps) { if (s * S / 360 >= 90) st = s; }
    return st;
  }

  function renderLand() {
    const t0 = performance.now();
    const S = scale();
    const ox = W / 2 - V.cx * S, oy = H / 2 - V.cy * S;
    const vx0 = V.cx - W / 2 / S, vx1 = V.cx + W / 2 / S, vy0 = V.cy - H / 2 / S, vy1 = V.cy + H / 2 / S;
    lctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    lctx.clearRect(0, 0, W, H);

    // graticule
    const st = gratStep(S);
    lctx.strokeStyle = COLORS.grat; lctx.lineWidth = 1;
    lctx.beginPath();
    for (let lon = Math.ceil(lonOf(vx0) / st) * st; lon <= lonOf(vx1); lon += st) {
      const x = Math.round(mx(lon) * S + ox) + 0.5; lctx.moveTo(x, 0); lctx.lineTo(x, H);
    }
    for (let lat = Math.ceil(latOf(vy1) / st) * st; lat <= latOf(vy0); lat += st) {
      const y = Math.round(my(lat) * S + oy) + 0.5; lctx.moveTo(0, y); lctx.lineTo(W, y);
    }
    lctx.stroke();

    // land: one path per polygon (even-odd for holes, robust to mixed winding between sources)
    lctx.fillStyle = COLORS.land; lctx.strokeStyle = COLORS.coast; lctx.lineWidth = V.z > 8 ? 1 : 0.6;
    lctx.lineJoin = 'round';
    const tiny = [];
    for (const p of land) {
      const b = p.bbox;
      if (b[2] < vx0 || b[0] > vx1 || b[3] < vy0 || b[1] > vy1) continue;
      const wpx = (b[2] - b[0]) * S, hpx = (b[3] - b[1]) * S;
      if (wpx < 1.2 && hpx < 1.2) { tiny.push(p); continue; }
      lctx.beginPath();
      traceRings(lctx, p.rings, S, ox, oy, true);
      lctx.fill('evenodd');
      lctx.stroke();
    }
    // reefs and islets smaller than a pixel still show as a dot
    lctx.fillStyle = '#4a5a52';
    for (const p of tiny) {
      const x = (p.bbox[0] + p.bbox[2]) / 2 * S + ox, y = (p.bbox[1] + p.bbox[3]) / 2 * S + oy;
      lctx.fillRect(x - 0.75, y - 0.75, 1.5, 1.5);
    }

    drawCoverage(S, ox, oy, vx0, vx1, vy0, vy1);
    drawAnchorages(S, ox, oy, vx0, vx1, vy0, vy1);

    // watch zones: dashed outlines
    if (zones.length) {
      lctx.strokeStyle = COLORS.zone; lctx.globalAlpha = 0.8; lctx.lineWidth = 1.1;
      lctx.setLineDash([5, 4]);
      lctx.beginPath();
      for (const zn of zones) {
        const b = zn.bbox;
        if (b[2] < vx0 || b[0] > vx1 || b[3] < vy0 || b[1] > vy1) continue;
        traceRings(lctx, zn.rings, S, ox, oy, true);
      }
      lctx.stroke();
      lctx.setLineDash([]); lctx.globalAlpha = 1;
    }

    landView = { cx: V.cx, cy: V.cy, S };
    landKey = viewKey();
    landAt = performance.now();
    landCost = landAt - t0;
    stats.landRenders++;
  }

  // ---------------------------------------------------------------- rendering
  let frameQueued = false;
  function requestRender() {
    if (frameQueued) return;
    frameQueued = true;
    requestAnimationFrame(drawFrame);
  }

  function resize() {
    const r = canvas.getBoundingClientRect();
    dpr = Math.min(window.devicePixelRatio || 1, 2);
    W = Math.max(1, Math.round(r.width)); H = Math.max(1, Math.round(r.height));
    for (const c of [canvas, landCv]) { c.width = Math.round(W * dpr); c.height = Math.round(H * dpr); }
    invalidateLand();
  }

  function kindOf(p) {
    const s = Array.isArray(p.sources) ? p.sources : [];
    const a = s.includes('ais'), r = s.includes('radar');
    if (a && r) return 'fused';
    if (r) return p.contact === 'unidentified' ? 'unident' : 'dark';
    return 'ais';
  }
  function labelOf(p) { return p.name || (p.mmsi != null ? String(p.mmsi) : String(p.track_id)); }

  const stats = { frameMs: 0, landMs: 0, tracksMs: 0, frames: 0, landRenders: 0, partnerRings: 0 };
  function fromPartner(p) { return Array.isArray(p.origin) && p.origin.length > 0; }
  const labelStats = { drawn: 0, hidden: 0, labels: [] };  // the last frame's labels (window.mfc.labels)
  function drawFrame() {
    frameQueued = false;
    const f0 = performance.now();
    const S = scale();
    // land layer: re-render if the view changed (throttled when the layer is expensive)
    if (landKey !== viewKey()) {
      const now = performance.now();
      if (landCost < 14 || now - landAt > 140 || !landView) {
        renderLand();
      } else if (!landTimer) {
        landTimer = setTimeout(() => { landTimer = null; requestRender(); }, 140 - (now - landAt));
      }
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = COLORS.sea;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (landView) {
      const k = S / landView.S;
      const dx = (W / 2) * (1 - k) + (landView.cx - V.cx) * S;
      const dy = (H / 2) * (1 - k) + (landView.cy - V.cy) * S;
      ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * dx, dpr * dy);
      ctx.drawImage(landCv, 0, 0, W, H);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const ox = W / 2 - V.cx * S, oy = H / 2 - V.cy * S;

    drawGratLabels(S, ox, oy);
    drawZoneLabels(S, ox, oy);
    drawAlertMarks(S, ox, oy);
    drawHistory(S, ox, oy);
    const t0 = performance.now();
    drawTracks(S, ox, oy);
    stats.tracksMs = performance.now() - t0;
    updateScale();
    syncViewInfo();
    stats.frameMs = performance.now() - f0;
    stats.landMs = landCost;
    stats.frames++;
  }

  function fmtDeg(v, isLat, st) {
    const h = isLat ? (v >= 0 ? 'N' : 'S') : (v >= 0 ? 'E' : 'W');
    const a = Math.abs(v);
    if (st >= 1) return `${Math.round(a)}°${h}`;
    const d = Math.floor(a + 1e-9), m = Math.round((a - d) * 60);
    return `${d}°${String(m).padStart(2, '0')}′${h}`;
  }
  function drawGratLabels(S, ox, oy) {
    const st = gratStep(S);
    const vx0 = V.cx - W / 2 / S, vx1 = V.cx + W / 2 / S, vy0 = V.cy - H / 2 / S, vy1 = V.cy + H / 2 / S;
    ctx.font = '10px ui-monospace, "DejaVu Sans Mono", monospace';
    ctx.fillStyle = COLORS.gratText;
    ctx.textBaseline = 'top'; ctx.textAlign = 'left';
    for (let lon = Math.ceil(lonOf(vx0) / st) * st; lon <= lonOf(vx1); lon += st) {
      const x = mx(lon) * S + ox;
      if (x < 56) continue;
      ctx.fillText(fmtDeg(lon, false, st), x + 3, 3);
    }
    ctx.textBaseline = 'bottom';
    for (let lat = Math.ceil(latOf(vy1) / st) * st; lat <= latOf(vy0); lat += st) {
      const y = my(lat) * S + oy;
      if (y < 160) continue;
      ctx.fillText(fmtDeg(lat, true, st), 4, y - 2);
    }
  }

  function drawZoneLabels(S, ox, oy) {
    if (V.z < 7.3 || !zones.length) return;
    ctx.font = '11px system-ui, "DejaVu Sans", sans-serif';
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    ctx.fillStyle = 'rgba(224,184,79,0.85)';
    const seen = new Set();
    for (const zn of zones) {
      if (!zn.name || seen.has(zn.name)) continue;
      const x = zn.lx * S + ox, y = zn.ly * S + oy;
      if (x < -100 || x > W + 100 || y < -20 || y > H + 20) continue;
      seen.add(zn.name);
      ctx.fillText(zn.name, x, y + 3);
    }
  }

  function drawAlertMarks(S, ox, oy) {
    if (!alerts.length) return;
    ctx.lineWidth = 1.5;
    for (const a of alerts) {
      let lat = a.lat, lon = a.lon;
      const t = a.track_id != null ? byId.get(String(a.track_id)) : null;
      if (t) { lat = t.p.lat; lon = t.p.lon; }
      if (!isNum(lat) || !isNum(lon)) continue;
      const x = mx(lon) * S + ox, y = my(lat) * S + oy;
      if (x < -20 || x > W + 20 || y < -20 || y > H + 20) continue;
      ctx.strokeStyle = SEV_COLORS[a.severity] || SEV_COLORS.info;
      ctx.globalAlpha = 0.85;
      ctx.beginPath(); ctx.arc(x, y, 11, 0, 2 * Math.PI); ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }

  function drawHistory(S, ox, oy) {
    if (!history || history.track_id !== selectedId || !history.pts.length) return;
    const t = byId.get(String(selectedId));
    const col = COLORS[t ? t.kind : 'ais'];
    ctx.strokeStyle = col; ctx.globalAlpha = 0.75; ctx.lineWidth = 1.6; ctx.lineJoin = 'round';
    ctx.beginPath();
    const pts = history.pts;
    ctx.moveTo(pts[0].x * S + ox, pts[0].y * S + oy);
    for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i].x * S + ox, pts[i].y * S + oy);
    if (t) ctx.lineTo(t.x * S + ox, t.y * S + oy);
    ctx.stroke();
    if (V.z >= 9) {
      ctx.fillStyle = col;
      for (const p of pts) ctx.fillRect(p.x * S + ox - 1.5, p.y * S + oy - 1.5, 3, 3);
    }
    ctx.globalAlpha = 1;
  }

  const STYLE_KEYS = [];
  for (const k of ['ais', 'fused', 'dark']) for (const s of ['lost', 'tentative', 'coasting', 'confirmed']) STYLE_KEYS.push(k + '|' + s);

  function drawTracks(S, ox, oy) {
    const n = tobjs.length;
    if (!screenPts || screenPts.length !== n * 2) screenPts = new Float32Array(n * 2);
    const sz = V.z < 6 ? 3.6 : V.z < 8 ? 4.6 : V.z < 10 ? 5.6 : 6.5;
    const leadK = V.z < 6 ? 0.55 : V.z < 8 ? 0.75 : 1;
    const bodies = new Map(), leaders = new Map();
    for (const k of STYLE_KEYS) { bodies.set(k, new Path2D()); leaders.set(k, new Path2D()); }
    const visible = [];
    const rings = new Path2D();  // a partner node's track: a ring around its marker
    let ringCount = 0;
    for (let i = 0; i < n; i++) {
      const t = tobjs[i];
      const sx = t.x * S + ox, sy = t.y * S + oy;
      if (sx < -40 || sx > W + 40 || sy < -40 || sy > H + 40) { screenPts[2 * i] = NaN; screenPts[2 * i + 1] = NaN; continue; }
      screenPts[2 * i] = sx; screenPts[2 * i + 1] = sy;
      visible.push(i);
      const p = t.p;
      if (fromPartner(p)) { rings.moveTo(sx + sz * 1.9, sy); rings.arc(sx, sy, sz * 1.9, 0, 2 * Math.PI); ringCount++; }
      const st = ['lost', 'tentative', 'coasting', 'confirmed'].includes(p.status) ? p.status : 'confirmed';
      const key = t.kind + '|' + st;
      const body = bodies.get(key);
      if (isNum(p.cog_deg)) {
        const h = p.cog_deg * Math.PI / 180;
        const fx = Math.sin(h), fy = -Math.cos(h), rx = Math.cos(h), ry = Math.sin(h);
        const L = sz * 1.25, B = sz * 0.8, Wd = sz * 0.72;
        body.moveTo(sx + fx * L, sy + fy * L);
        body.lineTo(sx - fx * B - rx * Wd, sy - fy * B - ry * Wd);
        body.lineTo(sx - fx * B + rx * Wd, sy - fy * B + ry * Wd);
        body.closePath();
        if (isNum(p.sog_kn) && p.sog_kn > 0.5 && st !== 'lost') {
          const len = L + Math.min(40, 2 + p.sog_kn * 1.2) * leadK;
          const ld = leaders.get(key);
          ld.moveTo(sx + fx * L, sy + fy * L);
          ld.lineTo(sx + fx * len, sy + fy * len);
        }
      } else {
        // no course: a small diamond
        const r = sz * 0.8;
        body.moveTo(sx, sy - r); body.lineTo(sx + r, sy); body.lineTo(sx, sy + r); body.lineTo(sx - r, sy); body.closePath();
      }
    }
    ctx.lineJoin = 'miter';
    for (const k of STYLE_KEYS) {
      const [kind, st] = k.split('|');
      const col = st === 'lost' ? COLORS.lost : COLORS[kind];
      ctx.strokeStyle = col; ctx.fillStyle = col;
      ctx.globalAlpha = st === 'tentative' ? 0.4 : st === 'lost' ? 0.55 : 1;
      ctx.lineWidth = 1;
      ctx.stroke(leaders.get(k));
      const b = bodies.get(k);
      if (st === 'coasting' || st === 'lost') {
        ctx.lineWidth = 1.3; ctx.stroke(b);
      } else {
        ctx.fill(b);
        if (kind === 'dark' && st === 'confirmed') { ctx.strokeStyle = '#ffd2c4'; ctx.lineWidth = 0.6; ctx.stroke(b); }
      }
    }
    ctx.globalAlpha = 1;
    if (ringCount) { ctx.strokeStyle = COLORS.partner; ctx.lineWidth = 1.2; ctx.stroke(rings); }
    stats.partnerRings = ringCount;

    // labels at higher zoom, decluttered by priority: a label is drawn only where it overlaps
    // no label of higher priority (in an open alert, dark, then large ships, then the rest)
    if (V.z >= 8.5 && visible.length) {
      ctx.font = '11px system-ui, "DejaVu Sans", sans-serif';
      ctx.textAlign = 'left'; ctx.textBaseline = 'middle';
      // the most severe open alert on each track (by track id, and by MMSI for alerts raised on a
      // report before its track existed); grouped alerts list their tracks in evidence.track_ids
      const SEV = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
      const alertRank = new Map();
      const note = (key, sev) => { const r = SEV[sev] != null ? SEV[sev] : 4; if (!(alertRank.get(key) <= r)) alertRank.set(key, r); };
      for (const a of alerts) {
        if (a.track_id != null) note('t:' + a.track_id, a.severity);
        if (a.mmsi != null) note('m:' + a.mmsi, a.severity);
        const ids = a.evidence && Array.isArray(a.evidence.track_ids) ? a.evidence.track_ids : [];
        for (const id of ids) note('t:' + id, a.severity);
      }
      const rank = (t) => {
        const p = t.p;
        if (String(p.track_id) === String(selectedId)) return 0;
        const byTrack = alertRank.get('t:' + p.track_id), byMmsi = p.mmsi != null ? alertRank.get('m:' + p.mmsi) : undefined;
        const ar = Math.min(byTrack != null ? byTrack : 9, byMmsi != null ? byMmsi : 9);
        if (ar < 9) return 1 + ar / 10;  // in an open alert, the more severe first
        if (t.kind === 'dark') return 2;
        if (p.status === 'tentative' || p.status === 'lost') return 6;
        if (isNum(p.ship_type) && p.ship_type >= 70 && p.ship_type <= 89) return 3;  // cargo, tanker
        if (t.kind === 'unident') return 4;
        return 5;
      };
      const order = visible.map((i) => [rank(tobjs[i]), i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const CELL = 32, placed = new Map();  // grid cell -> label boxes touching it
      const cellsOf = (x0, y0, x1, y1, fn) => {
        for (let gx = Math.floor(x0 / CELL); gx <= Math.floor(x1 / CELL); gx++)
          for (let gy = Math.floor(y0 / CELL); gy <= Math.floor(y1 / CELL); gy++) fn(gx + ',' + gy);
      };
      const shown = [];
      let drawn = 0, skipped = 0;
      for (const [, i] of order) {
        if (drawn >= 600) { skipped += 1; continue; }
        const t = tobjs[i];
        const sx = screenPts[2 * i], sy = screenPts[2 * i + 1];
        const text = labelOf(t.p);
        const off = String(t.p.track_id) === String(selectedId) ? sz + 10 : sz + 5;
        const box = [sx + off - 1, sy - 7, sx + off + ctx.measureText(text).width + 1, sy + 7];
        let clash = false;
        cellsOf(box[0], box[1], box[2], box[3], (c) => {
          if (clash) return;
          for (const b of placed.get(c) || []) {
            if (box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]) { clash = true; return; }
          }
        });
        if (clash) { skipped += 1; continue; }
        cellsOf(box[0], box[1], box[2], box[3], (c) => { if (!placed.has(c)) placed.set(c, []); placed.get(c).push(box); });
        ctx.fillStyle = t.kind === 'dark' ? '#ffb29c' : COLORS.label;
        ctx.globalAlpha = t.p.status === 'tentative' || t.p.status === 'lost' ? 0.5 : 0.9;
        ctx.fillText(text, sx + off, sy);
        shown.push({ track_id: String(t.p.track_id), box });
        drawn++;
      }
      labelStats.drawn = drawn; labelStats.hidden = skipped; labelStats.labels = shown;
      ctx.globalAlpha = 1;
    }

    // hover and selection rings
    for (const [id, col, r, w] of [[hoverId, 'rgba(255,255,255,0.6)', sz + 5, 1], [selectedId, COLORS.sel, sz + 6, 1.8]]) {
      if (id == null) continue;
      const t = byId.get(String(id));
      if (!t) continue;
      const sx = t.x * S + ox, sy = t.y * S + oy;
      ctx.strokeStyle = col; ctx.lineWidth = w;
      ctx.beginPath(); ctx.arc(sx, sy, r, 0, 2 * Math.PI); ctx.stroke();
    }
  }

  // ---------------------------------------------------------------- scale bar, view info
  let lastScaleTxt = '';
  function updateScale() {
    const lat = latOf(V.cy);
    const mPerPx = 2 * Math.PI * EARTH_R * Math.cos(lat * Math.PI / 180) / scale();
    const nmPerPx = mPerPx / 1852;
    const target = 110 * nmPerPx;
    const nice = [0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000];
    let v = nice[0];
    for (const x of nice) if (x <= target) v = x;
    const w = Math.round(v / nmPerPx);
    const txt = `${v} nm`;
    if (txt + w !== lastScaleTxt) {
      lastScaleTxt = txt + w;
      $('scale-bar').style.width = w + 'px';
      $('scale-label').textContent = txt;
    }
    $('zoom-level').textContent = 'z ' + V.z.toFixed(1);
  }

  const viewInfo = {};
  function syncViewInfo() {
    const S = scale();
    viewInfo.west = lonOf(V.cx - W / 2 / S); viewInfo.east = lonOf(V.cx + W / 2 / S);
    viewInfo.north = latOf(V.cy - H / 2 / S); viewInfo.south = latOf(V.cy + H / 2 / S);
  }

  // ---------------------------------------------------------------- view control
  function setView(cx, cy, z) {
    V.z = clamp(z, MIN_Z, MAX_Z);
    V.cx = clamp(cx, 0, 1); V.cy = clamp(cy, 0.02, 0.98);
    requestRender();
  }
  function zoomAbout(sx, sy, dz) {
    const S = scale();
    const wx = V.cx + (sx - W / 2) / S, wy = V.cy + (sy - H / 2) / S;
    const z = clamp(V.z + dz, MIN_Z, MAX_Z);
    const S2 = TILE * Math.pow(2, z);
    setView(wx - (sx - W / 2) / S2, wy - (sy - H / 2) / S2, z);
  }
  function sideWidth() { return W > 900 ? 350 : 0; }
  function fitBounds(w, s, e, n, pad = 40) {
    const x0 = mx(w), x1 = mx(e), y0 = my(n), y1 = my(s);
    const side = sideWidth();
    const aw = Math.max(50, W - side - 2 * pad), ah = Math.max(50, H - 2 * pad);
    const dx = Math.max(x1 - x0, 1e-7), dy = Math.max(y1 - y0, 1e-7);
    const z = Math.min(Math.log2(aw / (dx * TILE)), Math.log2(ah / (dy * TILE)), 13);
    const S = TILE * Math.pow(2, clamp(z, MIN_Z, MAX_Z));
    setView((x0 + x1) / 2 + side / 2 / S, (y0 + y1) / 2, z);
  }
  function fitHome() { fitBounds(HOME.w, HOME.s, HOME.e, HOME.n, 10); }
  function fitData() {
    const pts = tobjs.filter((t) => t.p.status !== 'lost');
    if (!pts.length) { fitHome(); return; }
    let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
    for (const t of pts) { w = Math.min(w, t.p.lon); e = Math.max(e, t.p.lon); s = Math.min(s, t.p.lat); n = Math.max(n, t.p.lat); }
    const m = 0.05;
    fitBounds(w - m, s - m, e + m, n + m, 50);
  }
  function centreOn(lon, lat, minZ) {
    const z = Math.max(V.z, minZ || 0);
    const S = TILE * Math.pow(2, z);
    setView(mx(lon) + sideWidth() / 2 / S, my(lat), z);
  }

  // ---------------------------------------------------------------- interaction
  let drag = null;
  canvas.addEventListener('wheel', () => { autoFitted = true; }, { passive: true });
  canvas.addEventListener('pointerdown', (ev) => {
    autoFitted = true;
    if (ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, cx: V.cx, cy: V.cy, moved: false };
    try { canvas.setPointerCapture(ev.pointerId); } catch (e) { /* ignore */ }
  });
  canvas.addEventListener('pointermove', (ev) => {
    const r = canvas.getBoundingClientRect();
    const sx = ev.clientX - r.left, sy = ev.clientY - r.top;
    updateCursor(sx, sy);
    if (drag) {
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 4) { drag.moved = true; canvas.classList.add('dragging'); setHover(null); }
      if (drag.moved) { const S = scale(); setView(drag.cx - dx / S, drag.cy - dy / S, V.z); }
      return;
    }
    const i = pick(sx, sy);
    setHover(i == null ? null : tobjs[i].p.track_id, sx, sy);
  });
  canvas.addEventListener('pointerup', (ev) => {
    if (!drag) return;
    const moved = drag.moved;
    drag = null;
    canvas.classList.remove('dragging');
    if (!moved) {
      const r = canvas.getBoundingClientRect();
      const i = pick(ev.clientX - r.left, ev.clientY - r.top);
      selectTrack(i == null ? null : tobjs[i].p.track_id, { center: false });
    }
  });
  canvas.addEventListener('pointerleave', () => { $('cursor').textContent = '—'; if (!drag) setHover(null); });
  canvas.addEventListener('wheel', (ev) => {
    ev.preventDefault();
    const r = canvas.getBoundingClientRect();
    let d = ev.deltaY * (ev.deltaMode === 1 ? 33 : ev.deltaMode === 2 ? 400 : 1);
    zoomAbout(ev.clientX - r.left, ev.clientY - r.top, clamp(-d * 0.0022, -0.75, 0.75));
  }, { passive: false });
  canvas.addEventListener('dblclick', (ev) => {
    const r = canvas.getBoundingClientRect();
    zoomAbout(ev.clientX - r.left, ev.clientY - r.top, ev.shiftKey ? -1 : 1);
  });

  $('zoom-in').onclick = () => zoomAbout(W / 2, H / 2, 1);
  $('zoom-out').onclick = () => zoomAbout(W / 2, H / 2, -1);
  $('fit').onclick = fitData;
  $('home').onclick = fitHome;
  $('track-close').onclick = () => selectTrack(null);
  window.addEventListener('keydown', (ev) => {
    if (ev.target && (ev.target.tagName === 'INPUT' || ev.target.tagName === 'TEXTAREA')) return;
    if (ev.key === '+' || ev.key === '=') zoomAbout(W / 2, H / 2, 1);
    else if (ev.key === '-' || ev.key === '_') zoomAbout(W / 2, H / 2, -1);
    else if (ev.key === 'Escape') selectTrack(null);
    else if (ev.key === 'f') fitData();
  });
  window.addEventListener('resize', resize);

  function pick(sx, sy) {
    if (!screenPts) return null;
    let best = null, bd = 11 * 11;
    for (let i = 0; i < tobjs.length; i++) {
      const x = screenPts[2 * i];
      if (x !== x) continue;   // NaN: culled
      const dx = x - sx, dy = screenPts[2 * i + 1] - sy, d = dx * dx + dy * dy;
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }

  function dm(v, isLat) {
    const h = isLat ? (v >= 0 ? 'N' : 'S') : (v >= 0 ? 'E' : 'W');
    const a = Math.abs(v), d = Math.floor(a), m = (a - d) * 60;
    return `${String(d).padStart(isLat ? 2 : 3, '0')}°${m.toFixed(3).padStart(6, '0')}′${h}`;
  }
  function updateCursor(sx, sy) {
    const S = scale();
    const lon = lonOf(V.cx + (sx - W / 2) / S), lat = latOf(V.cy + (sy - H / 2) / S);
    $('cursor').textContent = `${dm(lat, true)}  ${dm(lon, false)}   (${lat.toFixed(4)}, ${lon.toFixed(4)})`;
  }

  const tooltip = $('tooltip');
  function setHover(id, sx, sy) {
    if (id !== hoverId) {
      hoverId = id;
      canvas.classList.toggle('hovering', id != null);
      requestRender();
      if (selectedId == null) renderPanel();
    }
    if (id == null) { tooltip.hidden = true; return; }
    const t = byId.get(String(id));
    if (!t) { tooltip.hidden = true; return; }
    const p = t.p;
    tooltip.innerHTML = `<div><b>${esc(labelOf(p))}</b> <span class="tt-sub">${esc(p.track_id)}</span></div>` +
      `<div class="tt-sub">${fmtNum(p.sog_kn, 1)} kn · ${fmtNum(p.cog_deg, 0)}° · ${esc((p.sources || []).join('+'))} · ${esc(p.status || '')}</div>`;
    tooltip.hidden = false;
    const tw = tooltip.offsetWidth;
    tooltip.style.left = (sx + 14 + tw > W - sideWidth() ? sx - 14 - tw : sx + 14) + 'px';
    tooltip.style.top = (sy + 12) + 'px';
  }

  // ---------------------------------------------------------------- track panel
  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }
  function fmtNum(v, d) { return isNum(v) ? v.toFixed(d) : '—'; }
  function shipTypeName(t) {
    if (!isNum(t)) return '';
    const names = { 30: 'fishing', 31: 'towing', 32: 'towing (large)', 33: 'dredging', 34: 'diving ops', 35: 'military ops',
      36: 'sailing', 37: 'pleasure craft', 50: 'pilot vessel', 51: 'search and rescue', 52: 'tug', 53: 'port tender',
      54: 'anti-pollution', 55: 'law enforcement', 58: 'medical transport', 59: 'non-combatant' };
    if (names[t]) return names[t];
    if (t >= 20 && t < 30) return 'wing in ground';
    if (t >= 40 && t < 50) return 'high-speed craft';
    if (t >= 60 && t < 70) return 'passenger';
    if (t >= 70 && t < 80) return 'cargo';
    if (t >= 80 && t < 90) return 'tanker';
    if (t >= 90 && t < 100) return 'other';
    return '';
  }
  function fmtTime(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  function ageText(iso) {
    if (!iso || !pictureTime) return '';
    const a = (new Date(pictureTime) - new Date(iso)) / 1000;
    if (!isFinite(a)) return '';
    if (Math.abs(a) < 1) return 'now';
    if (a < 90) return `${Math.round(a)} s ago`;
    if (a < 5400) return `${Math.round(a / 60)} min ago`;
    return `${(a / 3600).toFixed(1)} h ago`;
  }

  function renderPanel() {
    const el = $('track-panel');
    const id = selectedId != null ? selectedId : hoverId;
    el.classList.toggle('hover-preview', selectedId == null && hoverId != null);
    if (id == null) { el.innerHTML = '<p class="empty">Hover or click a track.</p>'; el.dataset.trackId = ''; return; }
    const t = byId.get(String(id));
    const p = t ? t.p : (selectedLast && selectedLast.track_id === id ? selectedLast : null);
    if (!p) { el.innerHTML = `<p class="empty">Track ${esc(id)} is not in the picture.</p>`; el.dataset.trackId = String(id); return; }
    const kind = kindOf(p);
    const kindTxt = { ais: 'AIS only', fused: 'AIS + radar', dark: 'radar only (dark)',
                      unident: 'radar only, outside AIS cover (unidentified)' }[kind] +
                    (fromPartner(p) ? ` · from partner node ${p.origin[p.origin.length - 1]}` : '');
    const srcs = (p.sources || []).map((s) => `<span class="chip ${s === 'radar' && kind === 'dark' ? 'radar' : kind === 'fused' ? 'fused' : 'ais'}">${esc(s)}</span>`).join('');
    const stName = shipTypeName(p.ship_type);
    const rows = [
      ['Track ID', esc(p.track_id)],
      ['MMSI', p.mmsi != null ? esc(p.mmsi) : '—'],
      ['Name', p.name ? esc(p.name) : '—'],
      ['Flag', p.flag ? esc(p.flag) : '—'],
      ['Ship type', p.ship_type != null ? esc(p.ship_type) + (stName ? ` · ${esc(stName)}` : '') : '—'],
      ['Speed', `${fmtNum(p.sog_kn, 1)} kn`],
      ['Course', `${fmtNum(p.cog_deg, 1)}°`],
      ['Position', isNum(p.lat) && isNum(p.lon) ? `${dm(p.lat, true)}<br>${dm(p.lon, false)}` : '—'],
      ['Sources', srcs || '—'],
      ['Sensors', Array.isArray(p.sensors) && p.sensors.length ? p.sensors.map(esc).join('<br>') : '—'],
      ['Status', `<span class="st-${esc(p.status)}">${esc(p.status || '—')}</span>${t ? '' : ' (not in picture)'}`],
      ['Sigma', `${fmtNum(p.sigma_m, 0)} m`],
      ['Time', `${esc(fmtTime(p.time))}<br><span class="muted">${esc(ageText(p.time))}</span>`],
    ];
    if (fromPartner(p)) {
      rows.splice(1, 0, ['Origin', `<span class="partner">partner node ${p.origin.map(esc).join(' → ')}</span>` +
        `<br><span class="muted">its report ${esc(ageText(p.time))}</span>`]);
    }
    if (Array.isArray(p.partners) && p.partners.length) {
      rows.push(['Also seen by', p.partners.map((c) => `<span class="partner">${esc(c.node)}</span> · ${esc(c.track_id)}` +
        `<br><span class="muted">${esc(ageText(c.time))}</span>`).join('<br>')]);
    }
    const hist = history && history.track_id === id ? `${history.pts.length} history points` : (selectedId != null ? 'loading history…' : 'click to select');
    el.dataset.trackId = String(p.track_id);
    el.innerHTML = `<div class="title">${esc(labelOf(p))}</div>` +
      `<div class="subtitle">${esc(kindTxt)} · ${esc(hist)}</div>` +
      `<dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`;
  }

  function selectTrack(id, opts = {}) {
    if (id != null) id = String(id);
    const t = id != null ? byId.get(id) : null;
    if (id != null && t) id = t.p.track_id;   // keep the original id type
    selectedId = id;
    selectedLast = t ? t.p : null;
    if (historyTimer) { clearTimeout(historyTimer); historyTimer = null; }
    if (id == null || !history || history.track_id !== id) history = null;
    if (id != null) loadHistory(id);
    if (t && opts.center !== false) {
      const S = scale();
      const sx = t.x * S + W / 2 - V.cx * S, sy = t.y * S + H / 2 - V.cy * S;
      if (opts.center === true || sx < 20 || sx > W - sideWidth() - 20 || sy < 20 || sy > H - 20) centreOn(t.p.lon, t.p.lat, opts.minZoom);
    }
    document.querySelectorAll('#alerts .alert').forEach((li) => li.classList.toggle('sel', id != null && li.dataset.trackId === String(id)));
    renderPanel();
    requestRender();
    return !!t;
  }

  async function loadHistory(id) {
    try {
      const r = await api(`/v1/tracks/${encodeURIComponent(id)}/history?limit=500`);
      if (selectedId !== id) return;
      const pts = ((r && r.points) || [])
        .filter((q) => isNum(q.lat) && isNum(q.lon))
        .sort((a, b) => String(a.time).localeCompare(String(b.time)))
        .map((q) => ({ ...q, x: mx(q.lon), y: my(q.lat) }));
      history = { track_id: id, pts };
      renderPanel();
      requestRender();
    } catch (e) {
      if (selectedId === id && !history) { history = { track_id: id, pts: [] }; renderPanel(); }
    }
    if (selectedId === id) historyTimer = setTimeout(() => { if (selectedId === id) loadHistory(id); }, HISTORY_MS);
  }

  // ---------------------------------------------------------------- picture polling
  let pollTimer = null, polling = false;
  let autoFitted = false;  // the first picture with tracks frames them, unless the officer moved the map first
  async function pollPicture() {
    if (polling) return;
    polling = true;
    try {
      if (!key) { setStatus('no key', false); return; }
      if (authFailed) return;
      const at = replayAt;
      const fc = await api(at == null ? '/v1/picture' : `/v1/picture?at=${encodeURIComponent(new Date(at).toISOString())}`, {}, 10000);
      if (at !== replayAt) return;  // the officer moved on while this was loading
      setPicture(fc);
      if (!autoFitted && tobjs.some((t) => t.p.status !== 'lost')) { autoFitted = true; fitData(); }
      if (at == null) setStatus('live', true);
      else { setStatus('replay ' + fmtTime(new Date(at).toISOString()), true); $('status-dot').className = 'dot replay'; }
    } catch (e) {
      if (e instanceof AuthError) setStatus(key ? 'key refused' : 'no key', false);
      else setStatus('error: ' + e.message, false);
    } finally {
      polling = false;
      clearTimeout(pollTimer);
      pollTimer = setTimeout(pollPicture, PICTURE_MS);
    }
  }

  // ---------------------------------------------------------------- replay of stored history
  let replayAt = null, replaySpan = null, replayTimer = null;
  function refreshPicture() { clearTimeout(pollTimer); polling = false; pollPicture(); }
  function sliderToTime(v) { return replaySpan[0] + (replaySpan[1] - replaySpan[0]) * v / 1000; }
  function syncSlider() {
    if (!replaySpan || replayAt == null) return;
    const span = Math.max(1, replaySpan[1] - replaySpan[0]);
    $('replay-slider').value = String(Math.round(1000 * (replayAt - replaySpan[0]) / span));
  }
  async function enterReplay() {
    try {
      const r = await api('/v1/history/range', {}, 10000);
      if (!r.earliest) { setStatus('no history yet', false); return; }
      replaySpan = [Date.parse(r.earliest), Date.parse(r.latest)];
    } catch (e) { setStatus('error: ' + e.message, false); return; }
    $('replay-ctl').hidden = false;
    $('replay-toggle').hidden = true;
    replayAt = replaySpan[0] + (replaySpan[1] - replaySpan[0]) * 0.5;
    syncSlider();
    refreshPicture();
  }
  function stopPlaying() { if (replayTimer) { clearInterval(replayTimer); replayTimer = null; } $('replay-play').textContent = '▶'; }
  function goLive() {
    stopPlaying();
    replayAt = null;
    $('replay-ctl').hidden = true;
    $('replay-toggle').hidden = false;
    refreshPicture();
  }
  function togglePlay() {
    if (replayTimer) { stopPlaying(); return; }
    $('replay-play').textContent = '❚❚';
    replayTimer = setInterval(() => {
      if (replayAt == null) { stopPlaying(); return; }
      replayAt += 1000 * Number($('replay-speed').value);
      if (replayAt >= replaySpan[1]) { goLive(); return; }
      syncSlider();
      refreshPicture();
    }, 1000);
  }
  $('replay-toggle').addEventListener('click', enterReplay);
  $('replay-live').addEventListener('click', goLive);
  $('replay-play').addEventListener('click', togglePlay);
  $('replay-slider').addEventListener('input', (ev) => {
    if (!replaySpan) return;
    replayAt = sliderToTime(Number(ev.target.value));
    refreshPicture();
  });

  function setPicture(fc) {
    const feats = (fc && fc.features) || [];
    const list = [], objs = [], map = new Map();
    const counts = { ais: 0, fused: 0, dark: 0, unident: 0, partner: 0 };
    for (const f of feats) {
      const p = { ...(f.properties || {}) };
      if (!isNum(p.lat) || !isNum(p.lon)) {
        const c = f.geometry && f.geometry.coordinates;
        if (!c || !isNum(c[0]) || !isNum(c[1])) continue;
        p.lon = c[0]; p.lat = c[1];
      }
      if (p.track_id == null) p.track_id = f.id != null ? f.id : `#${list.length}`;
      const kind = kindOf(p);
      counts[kind]++;
      if (fromPartner(p)) counts.partner++;
      const o = { p, x: mx(p.lon), y: my(p.lat), kind };
      list.push(p); objs.push(o); map.set(String(p.track_id), o);
    }
    tracks = list; tobjs = objs; byId = map;
    screenPts = null;
    pictureTime = (fc && fc.time) || pictureTime;
    const pt = $('picture-time');
    pt.textContent = pictureTime ? fmtTime(pictureTime) : '—';
    pt.title = pictureTime || '';
    pt.dataset.time = pictureTime || '';
    $('track-count').textContent = String(list.length);
    $('count-ais').textContent = counts.ais;
    $('count-fused').textContent = counts.fused;
    $('count-dark').textContent = counts.dark;
    $('count-unident').textContent = counts.unident;
    $('count-partner').textContent = counts.partner;
    if (selectedId != null && byId.has(String(selectedId))) selectedLast = byId.get(String(selectedId)).p;
    if (hoverId != null && !byId.has(String(hoverId))) { hoverId = null; tooltip.hidden = true; }
    renderPanel();
    requestRender();
  }

  // ---------------------------------------------------------------- alerts
  let alertTimer = null, alertsBusy = false, suppressedCount = 0;
  const DISPOSITIONS = ['true_positive', 'false_positive', 'benign', 'duplicate'];
  const chosen = new Map();  // alert id → disposition picked, kept across the queue's refreshes
  async function pollAlerts() {
    if (alertsBusy) return;
    alertsBusy = true;
    try {
      if (key && !authFailed) {
        const minSev = $('min-severity') ? $('min-severity').value : '';
        const view = queueView();
        const r = await api(`/v1/alerts?state=${view}&limit=100` + (minSev ? `&min_severity=${minSev}` : ''), {}, 10000);
        alerts = (r && Array.isArray(r.alerts)) ? r.alerts.filter((a) => (a.state || 'open') === view) : [];
        suppressedCount = r && typeof r.suppressed === 'number' ? r.suppressed : 0;
        renderAlerts();
        const inc = await api('/v1/incidents?limit=50', {}, 10000);
        renderIncidents(inc && Array.isArray(inc.incidents) ? inc.incidents : []);
      }
    } catch (e) {
      if (!(e instanceof AuthError)) { alerts = []; renderAlerts(); }
    } finally {
      alertsBusy = false;
      clearTimeout(alertTimer);
      alertTimer = setTimeout(pollAlerts, ALERTS_MS);
    }
  }

  function queueView() {
    return $('alert-view') && $('alert-view').value === 'closed' ? 'closed' : 'open';
  }

  // an alert's audit trail (workflow.history: who, when, what), oldest first
  const historyOpen = new Set();  // alert ids whose history is unfolded, kept across refreshes
  function historyLine(h) {
    const what = {
      acknowledge: 'acknowledged', reopen: `reopened (was ${h.from || '?'})`,
      assign: `assigned to ${h.assignee}`, unassign: 'unassigned', comment: `commented: “${h.comment}”`,
      close: `closed as ${String(h.disposition || '').replace(/_/g, ' ')}`,
      disposition: `disposition ${String(h.disposition || '').replace(/_/g, ' ')}`,
    }[h.action] || String(h.action || '');
    return `${hhmm(h.at)} ${h.by || '?'} — ${what}`;
  }
  function historyHtml(a) {
    const hist = (a.workflow && Array.isArray(a.workflow.history)) ? a.workflow.history : [];
    if (!hist.length) return '';
    return `<details class="history"${historyOpen.has(a.alert_id) ? ' open' : ''}><summary>history (${hist.length})</summary>` +
      `<ol>${hist.map((h) => `<li>${esc(historyLine(h))}</li>`).join('')}</ol></details>`;
  }

  function hhmm(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return iso ? String(iso) : '';
    return d.toISOString().slice(11, 19) + 'Z';
  }

  function renderAlerts() {
    const ul = $('alerts');
    const sorted = alerts.slice().sort((a, b) => (Date.parse(b.time) || 0) - (Date.parse(a.time) || 0));
    const cnt = $('alert-count');
    cnt.textContent = String(sorted.length);
    cnt.classList.toggle('hot', sorted.some((a) => SEV_RANK[a.severity] >= 4));
    const sc = $('suppressed-count');
    if (sc) { sc.textContent = `${suppressedCount} snoozed`; sc.dataset.count = String(suppressedCount); }
    const closedView = queueView() === 'closed';
    if (!sorted.length) { ul.innerHTML = `<li class="empty">no ${closedView ? 'closed ' : ''}alerts</li>`; requestRender(); return; }
    const frag = document.createDocumentFragment();
    for (const a of sorted) {
      const li = document.createElement('li');
      const sev = SEV_COLORS[a.severity] ? a.severity : 'info';
      li.className = `alert sev-${sev}` + (selectedId != null && String(a.track_id) === String(selectedId) ? ' sel' : '');
      li.dataset.alertId = a.alert_id;
      li.dataset.trackId = a.track_id != null ? String(a.track_id) : '';
      const where = [a.zone, a.track_id != null ? `track ${a.track_id}` : null, a.mmsi != null ? `MMSI ${a.mmsi}` : null].filter(Boolean).join(' · ');
      li.innerHTML = `<span class="sev"></span>` +
        `<div class="head"><span class="type">${esc(String(a.type || 'alert').replace(/_/g, ' '))}</span>` +
        `<span class="sevname">${esc(sev)}</span><span class="meta">${esc(hhmm(a.time))}</span></div>` +
        (closedView ? '' : `<button class="ack" type="button" title="Acknowledge">Ack</button>`) +
        `<div class="sum">${esc(a.summary || '')}${where ? `<div class="meta">${esc(where)}</div>` : ''}` +
        (a.workflow && a.workflow.assignee ? `<div class="meta assignee">assigned to ${esc(a.workflow.assignee)}</div>` : '') +
        (closedView && a.workflow && a.workflow.disposition ? `<div class="meta disposition-set">closed as ${esc(a.workflow.disposition.replace(/_/g, ' '))}</div>` : '') +
        historyHtml(a) +
        `</div>` +
        (closedView ? `<div class="wf"><button class="reopen" type="button" title="Reopen: back to the open queue">Reopen</button></div>` :
        `<div class="wf"><button class="assign" type="button">Assign</button>` +
        `<button class="comment" type="button">Comment</button>` +
        `<select class="disposition" title="Disposition"><option value="">disposition…</option>` +
        DISPOSITIONS.map((d) => `<option value="${d}">${d.replace(/_/g, ' ')}</option>`).join('') + `</select>` +
        `<button class="close" type="button">Close</button>` +
        `<button class="snooze" type="button" title="Suppress this rule for this track (or zone) for 1 hour">Snooze 1h</button>` +
        `<button class="incident" type="button" title="Raise an incident from this alert">Incident</button></div>`);
      li.addEventListener('click', () => onAlertClick(a));
      li.querySelector('.wf').addEventListener('click', (ev) => ev.stopPropagation());
      const det = li.querySelector('details.history');
      if (det) {
        det.addEventListener('click', (ev) => ev.stopPropagation());
        det.addEventListener('toggle', () => { if (det.open) historyOpen.add(a.alert_id); else historyOpen.delete(a.alert_id); });
      }
      if (closedView) {
        li.querySelector('.reopen').addEventListener('click', () => changeAlert(a, { state: 'open' }, li));
        frag.appendChild(li);
        continue;
      }
      li.querySelector('.ack').addEventListener('click', (ev) => { ev.stopPropagation(); ackAlert(a, ev.currentTarget); });
      const sel = li.querySelector('.disposition');
      sel.value = chosen.get(a.alert_id) || '';
      sel.addEventListener('change', () => chosen.set(a.alert_id, sel.value));
      li.querySelector('.assign').addEventListener('click', () => {
        const who = window.prompt('Assign to (user name):', (a.workflow && a.workflow.assignee) || '');
        if (who != null && who.trim()) changeAlert(a, { assignee: who.trim() }, li);
      });
      li.querySelector('.comment').addEventListener('click', () => {
        const text = window.prompt('Comment:', '');
        if (text != null && text.trim()) changeAlert(a, { comment: text.trim() }, li);
      });
      li.querySelector('.close').addEventListener('click', () => {
        const d = chosen.get(a.alert_id) || li.querySelector('.disposition').value;
        if (!d) { setAlertError(li, 'choose a disposition to close'); return; }
        changeAlert(a, { state: 'closed', disposition: d }, li);
      });
      li.querySelector('.snooze').addEventListener('click', () => snoozeAlert(a, li));
      li.querySelector('.incident').addEventListener('click', () => openIncidentForm(a));
      frag.appendChild(li);
    }
    ul.replaceChildren(frag);
    requestRender();
  }

  function onAlertClick(a) {
    const t = a.track_id != null ? byId.get(String(a.track_id)) : null;
    const lat = t ? t.p.lat : a.lat, lon = t ? t.p.lon : a.lon;
    if (isNum(lat) && isNum(lon)) centreOn(lon, lat, 9);
    if (a.track_id != null) selectTrack(a.track_id, { center: false });
  }

  function setAlertError(li, msg) {
    let el = li.querySelector('.wf-error');
    if (!el) { el = document.createElement('div'); el.className = 'wf-error meta'; li.appendChild(el); }
    el.textContent = msg;
  }

  async function changeAlert(a, body, li) {
    try {
      const row = await api(`/v1/alerts/${encodeURIComponent(a.alert_id)}`, {
        method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      if (row && row.state && row.state !== queueView()) alerts = alerts.filter((x) => x.alert_id !== a.alert_id);
      else alerts = alerts.map((x) => (x.alert_id === a.alert_id ? row : x));
      renderAlerts();
      pollAlerts();
    } catch (e) { setAlertError(li, 'not changed: ' + e.message); }
  }

  // ---------------------------------------------------------------- incidents
  function renderIncidents(list) {
    const ul = $('incidents');
    $('incident-count').textContent = String(list.filter((i) => i.state !== 'closed').length);
    if (!list.length) { ul.innerHTML = '<li class="empty">no incidents</li>'; return; }
    const frag = document.createDocumentFragment();
    for (const i of list) {
      const li = document.createElement('li');
      li.className = 'incident-item';
      li.dataset.incidentId = i.incident_id;
      li.innerHTML = `<div class="head"><span class="type">${esc(i.title)}</span>` +
        `<span class="meta">${esc(String(i.category).replace(/_/g, ' '))} · ${esc(i.state)}</span></div>` +
        `<div class="meta">shared with ${esc((i.releasability_effective || []).join(', ') || 'no agency')}` +
        `${i.alert_ids && i.alert_ids.length ? ' · alerts ' + esc(i.alert_ids.join(', ')) : ''}</div>`;
      frag.appendChild(li);
    }
    ul.replaceChildren(frag);
  }

  function openIncidentForm(a) {
    const f = $('incident-form');
    f.dataset.alertId = a.alert_id;
    const inPicture = a.track_id != null && byId.has(String(a.track_id));  // a track must exist to be linked
    f.dataset.trackId = inPicture ? String(a.track_id) : '';
    $('incident-links').textContent = `from alert ${a.alert_id}` + (inPicture ? ` and track ${a.track_id}` : '');
    $('incident-title').value = String(a.type || '').replace(/_/g, ' ') + (a.zone ? ` at ${a.zone}` : '');
    $('incident-summary').value = a.summary || '';
    $('incident-error').textContent = '';
    f.hidden = false;
  }

  if ($('incident-form')) {
    $('incident-cancel').addEventListener('click', () => { $('incident-form').hidden = true; });
    $('incident-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = $('incident-form');
      const body = { category: $('incident-category').value, title: $('incident-title').value.trim(),
                     summary: $('incident-summary').value.trim(),
                     releasability: $('incident-releasability').value.split(',').map((t) => t.trim()).filter(Boolean),
                     alert_ids: f.dataset.alertId ? [f.dataset.alertId] : [],
                     track_ids: f.dataset.trackId ? [f.dataset.trackId] : [] };
      try {
        await api('/v1/incidents', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                     body: JSON.stringify(body) });
        f.hidden = true;
        pollAlerts();
      } catch (e) { $('incident-error').textContent = 'not raised: ' + e.message; }
    });
  }

  async function snoozeAlert(a, li) {
    const body = { type: a.type, until: new Date(Date.now() + 3600e3).toISOString(),
                   reason: 'snoozed from the alert queue' };
    if (a.track_id != null) body.track_id = String(a.track_id); else if (a.zone) body.zone = a.zone;
    else if (isNum(a.lat) && isNum(a.lon)) body.bbox = [a.lon - 0.05, a.lat - 0.05, a.lon + 0.05, a.lat + 0.05];
    try {
      await api('/v1/suppressions', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                      body: JSON.stringify(body) });
      alerts = alerts.filter((x) => x.alert_id !== a.alert_id);
      suppressedCount += 1;
      renderAlerts();
      pollAlerts();
    } catch (e) { setAlertError(li, 'not snoozed: ' + e.message); }
  }

  async function ackAlert(a, btn) {
    btn.disabled = true; btn.textContent = '…';
    try {
      await api(`/v1/alerts/${encodeURIComponent(a.alert_id)}/ack`, { method: 'POST' });
      alerts = alerts.filter((x) => x.alert_id !== a.alert_id);
      renderAlerts();
      pollAlerts();
    } catch (e) {
      btn.disabled = false; btn.textContent = 'retry';
      btn.title = 'Acknowledge failed: ' + e.message;
    }
  }

  if ($('min-severity')) {  // each officer's own floor, kept in this browser
    try { $('min-severity').value = localStorage.getItem('mfc.minSeverity') || ''; } catch (e) { /* private mode */ }
    $('min-severity').addEventListener('change', () => {
      try { localStorage.setItem('mfc.minSeverity', $('min-severity').value); } catch (e) { /* private mode */ }
      clearTimeout(alertTimer); pollAlerts();
    });
  }
  if ($('alert-view')) {  // the open queue, or the closed alerts (to reopen one)
    $('alert-view').addEventListener('change', () => { alerts = []; renderAlerts(); clearTimeout(alertTimer); pollAlerts(); });
  }

  // ---------------------------------------------------------------- instructor (exercise system, admin key)
  // GET /v1/exercise answers an admin key only: any other key gets 403 and never sees the panel
  let exerciseName = null, exerciseState = null, exerciseTimer = null, exerciseBusy = false, exercisePolling = false;
  const EXERCISE_ACTIVE = ['starting', 'running', 'stopping'];
  function hideExercise() { clearTimeout(exerciseTimer); exerciseState = null; $('exercise-box').hidden = true; }
  async function pollExercise() {
    clearTimeout(exerciseTimer);
    if (!exerciseName || !key || authFailed) { hideExercise(); return; }
    if (exercisePolling) return;
    exercisePolling = true;
    try {
      renderExercise(await api('/v1/exercise', {}, 10000));
    } catch (e) {
      if (e instanceof AuthError || (e instanceof HttpError && e.status === 403)) { hideExercise(); return; }
    } finally { exercisePolling = false; }
    const active = exerciseState && EXERCISE_ACTIVE.includes(exerciseState.state);
    exerciseTimer = setTimeout(pollExercise, active ? 1000 : 10000);
  }
  function renderExercise(st) {
    exerciseState = st;
    $('exercise-box').hidden = false;
    const sel = $('exercise-scenario');
    if (!sel.options.length) {
      for (const sc of st.scenarios || []) {
        const o = document.createElement('option');
        o.value = sc.name; o.textContent = `${sc.name} (${sc.hours} h)`; o.title = sc.description || '';
        sel.appendChild(o);
      }
    }
    const active = EXERCISE_ACTIVE.includes(st.state);
    const badge = $('exercise-state');
    badge.textContent = st.state; badge.className = 'badge ' + st.state;
    for (const id of ['exercise-scenario', 'exercise-speed', 'exercise-hours', 'exercise-start']) $(id).disabled = active;
    $('exercise-stop').disabled = !active || st.state === 'stopping';
    const total = isNum(st.total) ? st.total : 0, sent = isNum(st.sent) ? st.sent : 0;
    $('exercise-bar').value = total ? sent / total : 0;
    const p = $('exercise-progress');
    const what = st.scenario ? `${st.scenario} · ${st.speed}×` : '';
    const lines = total ? ` · ${sent}/${total} lines (${Math.floor(100 * sent / total)} %)` : '';
    if (st.state === 'none') p.textContent = 'no exercise yet';
    else if (st.state === 'starting') p.textContent = `${what} · writing the scenario…`;
    else if (st.state === 'running') p.textContent = `${what}${lines} · since ${st.started ? fmtTime(st.started) : '—'}`;
    else p.textContent = `${what} · ${st.state}${lines}` + (st.ended ? ` · ${fmtTime(st.ended)}` : '');
    p.dataset.sent = String(sent); p.dataset.total = String(total);
    if (st.state === 'failed') $('exercise-error').textContent = st.error || 'failed';
  }
  $('exercise-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (exerciseBusy) return;
    const body = { scenario: $('exercise-scenario').value, speed: Number($('exercise-speed').value) || 1 };
    const hours = $('exercise-hours').value.trim();
    if (hours) body.hours = Number(hours);
    $('exercise-error').textContent = '';
    exerciseBusy = true;
    try {
      renderExercise(await api('/v1/exercise', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                                body: JSON.stringify(body) }, 30000));
    } catch (e) {
      $('exercise-error').textContent = 'not started: ' + (e.reason || e.message);
    } finally { exerciseBusy = false; }
    pollExercise();
  });
  $('exercise-stop').addEventListener('click', async () => {
    $('exercise-error').textContent = '';
    $('exercise-stop').disabled = true;
    try {
      renderExercise(await api('/v1/exercise', { method: 'DELETE' }, 30000));
    } catch (e) {
      $('exercise-error').textContent = 'not stopped: ' + (e.reason || e.message);
    }
    pollExercise();
  });

  // ---------------------------------------------------------------- sign-in
  $('signin-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const k = $('signin-key').value.trim();
    if (!k) return;
    store.set(k);
    key = k; authFailed = false;
    $('signin-key').value = '';
    $('signin').hidden = true;
    setStatus('connecting…', false);
    start();
  });
  $('coverage-toggle').addEventListener('change', (ev) => showCoverage(ev.target.checked));
  $('anchorages-toggle').addEventListener('change', (ev) => showAnchorages(ev.target.checked));
  $('signout').onclick = () => {
    store.del(); key = null;
    hideExercise();
    setStatus('no key', false);
    showSignin('Enter your API key.', false);
  };

  function start() {
    loadLand();
    loadZones();
    if ($('coverage-toggle').checked) showCoverage(true);
    if ($('anchorages-toggle').checked) showAnchorages(true);
    pollPicture();
    pollAlerts();
    pollExercise();
  }

  // ---------------------------------------------------------------- test hook
  window.mfc = {
    get tracks() { return tracks; },
    get alerts() { return alerts; },
    get anchorages() { return anchorages; },
    get selected() { return selectedId; },
    get pictureTime() { return pictureTime; },
    get instructor() { return exerciseState; },
    get replayAt() { return replayAt == null ? null : new Date(replayAt).toISOString(); },
    replay: (iso) => { if (!replaySpan) return enterReplay().then(() => { replayAt = Date.parse(iso); syncSlider(); refreshPicture(); });
                       replayAt = Date.parse(iso); syncSlider(); refreshPicture(); },
    live: goLive,
    stats,
    labels: labelStats,
    selectTrack: (id, opts) => selectTrack(id, opts || {}),
    fit: fitData,
    home: fitHome,
    refresh: () => { pollPicture(); pollAlerts(); },
    setView: ({ lon, lat, zoom }) => setView(isNum(lon) ? mx(lon) : V.cx, isNum(lat) ? my(lat) : V.cy, isNum(zoom) ? zoom : V.z),
    view: {
      get lon() { return lonOf(V.cx); }, set lon(v) { setView(mx(v), V.cy, V.z); },
      get lat() { return latOf(V.cy); }, set lat(v) { setView(V.cx, my(v), V.z); },
      get zoom() { return V.z; }, set zoom(v) { setView(V.cx, V.cy, v); },
      get width() { return W; }, get height() { return H; },
      get bbox() { syncViewInfo(); return [viewInfo.west, viewInfo.south, viewInfo.east, viewInfo.north]; },
      project: (lon, lat) => { const S = scale(); return [(mx(lon) - V.cx) * S + W / 2, (my(lat) - V.cy) * S + H / 2]; },
      unproject: (x, y) => { const S = scale(); return [lonOf(V.cx + (x - W / 2) / S), latOf(V.cy + (y - H / 2) / S)]; },
    },
  };

  // ---------------------------------------------------------------- boot
  // an exercise system says so on every view: a banner that cannot be mistaken for the live picture
  fetch('/healthz').then(r => r.json()).then(h => {
    if (!h.exercise) return;
    const b = $('exercise-banner');
    b.textContent = `EXERCISE · ${h.exercise} · not real-world data`;
    b.hidden = false;
    document.title = `EXERCISE ${h.exercise} · MFC`;
    if (window.mfc) window.mfc.exercise = h.exercise;
    exerciseName = h.exercise;
    if (key) pollExercise();  // the instructor's panel, for an admin key
  }).catch(() => {});
  initKey();
  resize();
  fitHome();
  if (!key) {
    setStatus('no key', false);
    showSignin('Enter your API key.', false);
  } else {
    setStatus('connecting…', false);
    start();
  }
})();
