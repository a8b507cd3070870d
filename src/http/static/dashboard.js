// emotiond dashboard: renders the daemon's live message (Server-Sent Events on /events). No libraries.
'use strict';
(function () {
  const EMOTIONS = ['Angry', 'Fear', 'Happy', 'Neutral', 'Sad', 'Surprise'];
  const SVG = 'http://www.w3.org/2000/svg';
  const SPAN_MS = 5 * 60 * 1000;
  const $ = (id) => document.getElementById(id);

  function svg(tag, attrs, text) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function legend() {
    const ul = $('legend');
    for (const e of EMOTIONS) {
      const li = document.createElement('li');
      li.className = 'c-' + e;
      li.textContent = e;
      ul.appendChild(li);
    }
  }

  function renderMood(m) {
    const el = $('mood');
    if (m.mood) {
      el.textContent = m.mood;
      el.className = 'mood c-' + m.mood;
      el.dataset.emotion = m.mood;
    } else {
      el.textContent = m.withheld ? 'Too few faces to say' : 'No one in view';
      el.className = 'mood ' + (m.withheld ? 'withheld' : 'none');
      delete el.dataset.emotion;
    }
    // null: too few to count (privacy.min_faces), like the mood.
    $('faces-count').textContent = m.faces_present === null ? '–' : String(m.faces_present);
    $('faces-label').textContent = m.faces_present === null ? 'too few to count' : m.faces_present === 1 ? 'face present' : 'faces present';
  }

  function renderFrame(m) {
    const root = $('frame');
    const w = m.frame ? m.frame.width : 640;
    const h = m.frame ? m.frame.height : 480;
    root.setAttribute('viewBox', `-4 -4 ${w + 8} ${h + 8}`);
    root.replaceChildren(svg('rect', { class: 'outline', x: 0, y: 0, width: w, height: h, rx: 8 }));
    const scale = Math.max(1, w / 640);
    for (const f of m.faces) {
      const e = f.emotion || 'none';
      const b = f.box;
      root.appendChild(svg('rect', { class: 'box s-' + e, x: b.x, y: b.y, width: b.width, height: b.height, rx: 6, 'stroke-width': 5 * scale }));
      const label = `#${f.track} ${f.emotion || '…'}`;
      const above = b.y > 36 * scale;
      root.appendChild(
        svg('text', { class: 'label f-' + e, x: b.x, y: above ? b.y - 10 * scale : b.y + b.height + 32 * scale, 'font-size': 30 * scale }, label),
      );
    }
    if (m.faces.length === 0) {
      const text = m.faces_present !== 0 ? 'Faces are not shown here (privacy)' : m.status.camera === 'online' ? 'No faces' : 'Camera ' + m.status.camera;
      root.appendChild(svg('text', { class: 'empty', x: w / 2, y: h / 2, 'text-anchor': 'middle', 'font-size': 32 * scale }, text));
    }
  }

  function renderTimeline(m) {
    const root = $('timeline');
    root.replaceChildren();
    const end = Date.parse(m.time);
    const start = end - SPAN_MS;
    const x = (t) => ((t - start) / SPAN_MS) * 1000;
    const points = m.timeline.map((p) => ({ t: Date.parse(p.time), p }));
    let drawn = 0;
    points.forEach(({ t, p }, i) => {
      const next = points[i + 1] ? points[i + 1].t : Math.min(end, t + 5000);
      const t1 = Math.min(next, t + 15000);
      if (t1 <= start) return;
      let y = 200;
      for (const e of EMOTIONS) {
        const hgt = (p.shares[e] || 0) * 200;
        if (hgt <= 0) continue;
        y -= hgt;
        root.appendChild(svg('rect', { class: 'f-' + e, x: x(Math.max(t, start)), y, width: Math.max(0.5, x(t1) - x(Math.max(t, start))), height: hgt }));
        drawn++;
      }
    });
    if (drawn === 0) root.appendChild(svg('text', { class: 'empty', x: 500, y: 110, 'text-anchor': 'middle' }, 'No moods in the last minutes'));
  }

  function renderStatus(m) {
    const s = m.status;
    $('st-camera').className = 'dot ' + (s.camera === 'online' ? 'ok' : s.camera === 'offline' ? 'bad' : '');
    $('st-camera-text').textContent = s.paused ? 'paused' : s.camera;
    $('st-mqtt').className = 'dot ' + (s.mqtt === 'connected' ? 'ok' : s.mqtt === 'disconnected' ? 'bad' : '');
    $('st-mqtt-text').textContent = s.mqtt === 'disconnected' && s.mqtt_queue ? `disconnected (${s.mqtt_queue} queued)` : s.mqtt;
    $('st-fps').textContent = s.fps.toFixed(1);
    $('st-idle').hidden = !s.idle || s.paused;
    $('st-device').textContent = m.device;
    const notice = $('notice');
    notice.hidden = !m.notice;
    notice.textContent = m.notice || '';
  }

  function render(m) {
    renderMood(m);
    renderFrame(m);
    renderTimeline(m);
    renderStatus(m);
    $('st-link').textContent = '';
  }

  function connect() {
    const source = new EventSource('/events');
    source.addEventListener('state', (ev) => {
      try {
        render(JSON.parse(ev.data));
      } catch (err) {
        console.error('bad message', err);
      }
    });
    source.onerror = () => {
      $('st-link').textContent = 'reconnecting to the daemon…';
    };
  }

  legend();
  connect();
})();
