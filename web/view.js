/*
 * The xensim web view. One model for a live run and a recording: a list
 * of Chrome trace events, as xensim's trace writes them. Steps are the
 * narration events ("narrate"); after each comes the probe's "state" note
 * (event channel bitmaps, vCPU flags and ring indices read at that step),
 * and now and then a "snapshot" note (domains, ports, grants, rings,
 * XenStore). The picture at a step is the last snapshot and state up to
 * it; the arrows are the sends since the step before.
 */
'use strict';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

const model = {
  events: [],
  steps: [],          /* index in events of each narration */
  stateByStep: new Map(), /* narration number -> index of its state note */
  snapshots: [],      /* indices of snapshot notes, in order */
  states: [],         /* indices of state notes, in order */
  chapters: [],       /* {at: event index, title, summary, start} */
};

const view = {
  mode: 'connecting',
  step: -1,           /* index into model.steps; -1: none yet */
  follow: true,       /* a live run: stay on the newest step */
  playing: false,
  timer: null,
  chosen: null,       /* the chosen domain's id */
  touched: false,     /* the user has moved the player */
  startedChapter: false,
  dirty: false,
  lastRings: {},
};

/* Exposed for tests and for the curious, read-only. */
window.xensimView = { model, view, ready: false };

function addEvent(ev) {
  if (!ev || typeof ev !== 'object') return;
  const i = model.events.length;
  model.events.push(ev);
  if (ev.ph === 'i' && ev.cat === 'narration') {
    model.steps.push(i);
  } else if (ev.ph === 'i' && ev.cat === 'note') {
    if (ev.name === 'snapshot') model.snapshots.push(i);
    else if (ev.name === 'state') {
      model.states.push(i);
      if (ev.args && ev.args.step !== undefined) model.stateByStep.set(ev.args.step, i);
    } else if (ev.name === 'chapter') {
      model.chapters.push({ at: i, ...(ev.args || {}) });
    }
  }
}

/* The last index in list (sorted) that is <= pos, or -1. */
function lastAtOrBefore(list, pos) {
  let lo = 0, hi = list.length - 1, best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] <= pos) { best = list[mid]; lo = mid + 1; } else hi = mid - 1;
  }
  return best;
}

/* The event index the picture of step s shows: up to the next narration. */
function stepEnd(s) {
  if (s < 0) return model.events.length - 1;
  return s + 1 < model.steps.length ? model.steps[s + 1] - 1 : model.events.length - 1;
}

function pictureAt(s) {
  const end = view.follow && s === model.steps.length - 1 ? model.events.length - 1 : stepEnd(s);
  const snapAt = lastAtOrBefore(model.snapshots, end);
  const snap = snapAt >= 0 ? model.events[snapAt].args : null;
  let stateAt = -1;
  if (s >= 0) {
    const n = model.events[model.steps[s]].args.step;
    if (model.stateByStep.has(n)) stateAt = model.stateByStep.get(n);
  }
  if (stateAt < 0 || (view.follow && s === model.steps.length - 1))
    stateAt = Math.max(stateAt, lastAtOrBefore(model.states, end));
  /* A snapshot written later than the step's state carries newer state. */
  let state = stateAt >= 0 ? model.events[stateAt].args : null;
  if (snap && snapAt > stateAt && snap.evtchn) state = snap;
  const from = s > 0 ? model.steps[s - 1] : (s === 0 ? -1 : Math.max(-1, end - 400));
  const to = s >= 0 ? Math.min(end, model.steps[s]) : end;
  const sends = [];
  for (let i = from + 1; i <= to; i++) {
    const ev = model.events[i];
    if (ev.cat === 'evtchn' && ev.ph === 'i' && ev.args) sends.push(ev);
  }
  /* With no send in this step, the one that led here, drawn faded. */
  let earlier = null;
  for (let i = from; !sends.length && i >= 0 && i > from - 3000; i--) {
    const ev = model.events[i];
    if (ev.cat === 'evtchn' && ev.ph === 'i' && ev.args) { earlier = ev; break; }
  }
  return { snap, state, sends, earlier, end };
}

/* Drawing. */

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function chosenDomain(snap) {
  if (!snap) return null;
  const ids = snap.domains.map((d) => d.id);
  if (view.chosen !== null && ids.includes(view.chosen)) return view.chosen;
  /* A guest's table is where the story's grants are: the first one. */
  const guest = snap.domains.find((d) => d.id !== 0 && d.state !== 'dying');
  return guest ? guest.id : (ids.length ? ids[0] : null);
}

function drawDomains(pic) {
  const box = $('domains');
  box.replaceChildren();
  if (!pic.snap) { box.append(el('p', { class: 'empty', text: 'No domains seen yet.' })); return; }
  const chosen = chosenDomain(pic.snap);
  for (const d of pic.snap.domains) {
    const card = el('div', { class: 'domain' + (d.id === chosen ? ' chosen' : ''), 'data-domid': d.id },
      el('div', { class: 'name', text: `dom${d.id} ${d.name}` }),
      el('div', { class: 'st-' + d.state, text: d.state }),
      el('div', { class: 'facts', text: `${d.vcpus} vCPU${d.vcpus === 1 ? '' : 's'} · ${d.pages} pages (${d.pages_allocated} in use)` }),
      el('div', { class: 'facts', text: `${d.ports_in_use} ports · ${d.maps} maps · ${d.mapped_by_others} pages mapped by others` }));
    card.addEventListener('click', () => { view.chosen = d.id; render(); });
    box.append(card);
  }
}

function drawFlow(pic) {
  const f = $('flow');
  f.replaceChildren();
  const defs = svg('defs');
  const m = svg('marker', { id: 'head', markerWidth: 8, markerHeight: 8, refX: 7, refY: 4, orient: 'auto' });
  m.append(svg('path', { d: 'M0,0 L8,4 L0,8 z', fill: '#e0453a' }));
  defs.append(m);
  f.append(defs);
  const doms = pic.snap ? pic.snap.domains : [];
  const w = f.clientWidth || 460, pos = new Map();
  doms.forEach((d, i) => {
    const x = 20 + i * Math.max(130, (w - 40) / Math.max(1, doms.length));
    pos.set(d.id, x);
    f.append(svg('rect', { class: 'dombox', x, y: 62, width: 100, height: 34, rx: 5 }));
    const t = svg('text', { x: x + 8, y: 83 });
    t.textContent = `dom${d.id} ${d.name}`.slice(0, 15);
    f.append(t);
  });
  const list = $('sends');
  list.replaceChildren();
  const shown = pic.sends.slice(-4);
  const drawn = shown.length ? shown : (pic.earlier ? [pic.earlier] : []);
  drawn.forEach((ev, k) => {
    const a = ev.args, x1 = pos.get(ev.pid), x2 = pos.get(a.remote_dom);
    if (x1 === undefined || x2 === undefined) return;
    const y = 58 - k * 12, sx = x1 + 50, ex = x2 + 50;
    const mid = (sx + ex) / 2, lift = sx === ex ? 30 : 40;
    f.append(svg('path', { class: 'arrow' + (shown.length ? '' : ' old'), d: `M${sx},${62} Q${mid},${y - lift} ${ex + (sx === ex ? 12 : 0)},${62}` }));
  });
  for (const ev of shown) {
    const a = ev.args;
    list.append(el('div', { class: 'send', text: `EVTCHNOP_send: dom${ev.pid} port ${a.port} → dom${a.remote_dom} port ${a.remote_port}${a.was_pending ? ' (already pending)' : ''}` }));
  }
  if (!shown.length && pic.earlier) {
    const a = pic.earlier.args;
    list.append(el('div', { class: 'empty', text: `No event sent in this step; the last: dom${pic.earlier.pid} port ${a.port} → dom${a.remote_dom} port ${a.remote_port}` }));
  } else if (!shown.length) {
    list.append(el('div', { class: 'empty', text: 'No event sent in this step.' }));
  }
}

function wordBits(words, bits, nwords) {
  /* [[index, "hex"]] -> array of booleans, one per port. */
  const out = new Array(bits * nwords).fill(false);
  for (const [i, hex] of words || []) {
    let v = BigInt('0x' + hex);
    for (let b = 0; b < bits && v; b++, v >>= 1n) if (v & 1n) out[i * bits + b] = true;
  }
  return out;
}

/* One vCPU of a 2-level domain: its selector word and flags. */
function vcpu2l(v, i, bits) {
  const selBits = wordBits([[0, v.sel]], bits, 1);
  const bitsEl = el('span', { class: 'bits' });
  selBits.forEach((on, k) => bitsEl.append(el('span', { class: on ? 'on' : '', title: `selector bit ${k}: word ${k} of evtchn_pending` })));
  return el('div', { class: 'vcpu', 'data-vcpu': i },
    `vcpu${i} evtchn_pending_sel `, bitsEl, ' ',
    el('span', { class: 'flag upcall' + (v.up ? ' on' : ''), text: `evtchn_upcall_pending=${v.up}` }), ' ',
    el('span', { class: 'flag', text: `upcall_mask=${v.um}` }));
}

/* A queue as the guest would consume it: from the head, along the links
 * of LINKED words, at most as many hops as there are ports (a hostile
 * guest may have made a loop). Xen writes a head only when it links onto
 * an empty queue and the guest consumes from its own copy, so a head
 * whose word is no longer LINKED is a queue already emptied. */
function fifoChain(head, links, linked, n) {
  const chain = [];
  for (let p = head, hops = 0; p && linked[p] && hops < n; hops++) {
    chain.push(p);
    p = links.has(p) ? links.get(p) : 0;
  }
  return chain;
}

/* One vCPU of a FIFO domain: READY, its flags, and each queue that has
 * a head, highest priority (0) first. */
function vcpuFifo(v, i, links, linked, n) {
  const ready = el('span', { class: 'bits ready' });
  for (let q = 0; q < 16; q++)
    ready.append(el('span', { class: (v.ready >> q) & 1 ? 'on' : '', title: `READY bit ${q}: queue of priority ${q}` }));
  const queues = el('div', { class: 'queues' });
  (v.heads || []).forEach((head, q) => {
    const chain = fifoChain(head, links, linked, n);
    if (!chain.length && !((v.ready >> q) & 1)) return;
    queues.append(el('div', { class: 'queue', 'data-vcpu': i, 'data-prio': q, 'data-ports': chain.join(' ') },
      el('span', { class: 'qname', text: `priority ${q}${q === 7 ? ' (default)' : ''}` }), ' head ',
      ...chain.flatMap((p, k) => [k ? ' → ' : '', el('span', { class: 'qport' + (linked[p] ? ' linked' : ''), text: `port ${p}` })]),
      chain.length ? '' : `${head} (consumed: the queue is empty)`));
  });
  if (!v.heads) queues.append(el('div', { class: 'empty', text: 'no control block yet' }));
  return el('div', { class: 'vcpu fifo', 'data-vcpu': i },
    `vcpu${i} READY `, ready, ' ',
    el('span', { class: 'flag upcall' + (v.up ? ' on' : ''), text: `evtchn_upcall_pending=${v.up}` }), ' ',
    el('span', { class: 'flag', text: `upcall_mask=${v.um}` }), queues);
}

function drawEvtchn(pic) {
  const box = $('evtchn');
  box.replaceChildren();
  if (!pic.snap) return;
  const chosen = chosenDomain(pic.snap);
  /* Both ends of a device channel matter: show every domain, the chosen
   * one first, at most four. */
  const doms = [...pic.snap.domains].sort((a, b) => (b.id === chosen) - (a.id === chosen)).slice(0, 4);
  for (const d of doms) {
    const st = pic.state && pic.state.evtchn ? pic.state.evtchn[d.id] : null;
    /* The state read at the step says which ABI the words are in. */
    const fifo = st ? st.abi === 'fifo' : d.abi === 'fifo';
    const bits = fifo ? 64 : d.abi_bits;
    const n = fifo ? (st ? st.ports : 0) : bits * bits;
    const nwords = Math.ceil(n / bits);
    const pend = st ? wordBits(st.pending, bits, nwords) : null;
    const mask = st ? wordBits(st.mask, bits, nwords) : null;
    const linked = st && fifo ? wordBits(st.linked, bits, nwords) : [];
    const links = new Map(st && fifo ? st.links : []);
    const rows = new Map(((pic.snap.ports || {})[d.id] || []).map((p) => [p.port, p]));
    const grid = el('div', { class: 'grid' + (bits === 64 ? ' wide' : ''), 'data-domid': d.id });
    grid.style.gridTemplateColumns = `repeat(${bits}, auto)`;
    const frag = document.createDocumentFragment();
    for (let p = 0; p < n; p++) {
      const r = rows.get(p);
      const pending = pend ? pend[p] : !!(r && r.pending);
      const masked = mask ? mask[p] : !!(r && r.masked);
      let cls = 'cell';
      if (r) cls += ' st-' + r.state;
      if (pending) cls += ' pending';
      /* A FIFO kernel masks every word of a page it adds: on a free
       * port that is no news, and would darken the whole grid. */
      if (masked && (!fifo || r)) cls += ' masked';
      if (linked[p]) cls += ' linked';
      const c = el('span', { class: cls, 'data-port': p });
      if (r || pending || (masked && !fifo) || linked[p]) {
        let t = `port ${p}: ${r ? r.state : 'free'}`;
        if (r && r.state === 'interdomain') t += ` to dom${r.remote_dom} port ${r.remote_port}`;
        if (r && r.state === 'unbound') t += ` (for dom${r.remote_dom})`;
        if (r && r.state === 'virq') t += ` virq ${r.virq}`;
        if (r && r.host) t += ', a host process takes it';
        if (fifo) {
          t += `\nevent word:${pending ? ' PENDING' : ''}${masked ? ' MASKED' : ''}${linked[p] ? ' LINKED' : ''}`;
          if (links.has(p)) t += `, link ${links.get(p)}`;
          if (r) t += `; priority ${r.priority}, vcpu${r.vcpu}`;
        } else {
          t += `\nword ${Math.floor(p / bits)} bit ${p % bits}${pending ? ', pending' : ''}${masked ? ', masked' : ''}`;
        }
        c.title = t;
      }
      frag.append(c);
    }
    grid.append(frag);
    const vc = el('div');
    (st ? st.vcpus : []).forEach((v, i) => vc.append(fifo ? vcpuFifo(v, i, links, linked, n) : vcpu2l(v, i, bits)));
    const pendingPorts = [];
    if (pend) pend.forEach((on, p) => on && pendingPorts.push(p));
    const title = fifo
      ? `dom${d.id} ${d.name}: FIFO, ${n} ports with event words, 16 queues a vCPU`
      : `dom${d.id} ${d.name}: ${n} ports (${bits} words of ${bits} bits)`;
    box.append(el('div', { class: 'evdom' + (fifo ? ' fifo' : ''), 'data-domid': d.id, 'data-abi': fifo ? 'fifo' : '2l' },
      el('h3', { text: title }),
      grid, vc,
      el('div', { class: 'pending-list', text: pendingPorts.length ? `pending: port ${pendingPorts.join(', ')}` : 'nothing pending' })));
  }
}

/* A ring drawn as its slots around a circle: the requests not yet
 * answered (rsp_prod..req_prod) and the responses not yet consumed where
 * the page says so; hands for the producers, dashes for the event
 * indices the other end asked to be woken at. */
function ringPicture(kind, size, idx) {
  const s = svg('svg', { viewBox: '-85 -85 170 170' });
  const slots = Math.min(size || 32, 64), R = 70, r = 48;
  const per = size ? size / slots : 1;
  /* Which slots hold data: count entries (or bytes) from start on. */
  let start = 0, count = 0;
  if (kind === 'xenstore' && idx.req_prod !== undefined) {
    start = idx.req_cons; count = (idx.req_prod - idx.req_cons) >>> 0;
  } else if (kind === 'console' && idx.out_prod !== undefined) {
    start = idx.out_cons; count = (idx.out_prod - idx.out_cons) >>> 0;
  } else if (idx.req_prod !== undefined) {
    start = idx.rsp_prod; count = (idx.req_prod - idx.rsp_prod) >>> 0;
  }
  const fill = (i) => {
    if (!size || !count || count > size) return '';
    const at = Math.floor(i * per), from = start % size;
    return ((at - from + size) % size) < count ? 'req' : '';
  };
  for (let i = 0; i < slots; i++) {
    const a0 = (i / slots) * 2 * Math.PI - Math.PI / 2, a1 = ((i + 1) / slots) * 2 * Math.PI - Math.PI / 2;
    const p = (rad, a) => `${(rad * Math.cos(a)).toFixed(2)},${(rad * Math.sin(a)).toFixed(2)}`;
    s.append(svg('path', { class: 'slot ' + fill(i), d: `M${p(r, a0)} L${p(R, a0)} A${R},${R} 0 0 1 ${p(R, a1)} L${p(r, a1)} A${r},${r} 0 0 0 ${p(r, a0)} z` }));
  }
  const hand = (value, cls, len) => {
    if (value === undefined || !size) return;
    const a = ((value % size) / size) * 2 * Math.PI - Math.PI / 2;
    s.append(svg('line', { class: 'hand ' + cls, x1: 0, y1: 0, x2: (len * Math.cos(a)).toFixed(2), y2: (len * Math.sin(a)).toFixed(2) }));
  };
  if (kind === 'xenstore') { hand(idx.req_prod, 'req', 44); hand(idx.rsp_prod, 'rsp', 36); }
  else if (kind === 'console') { hand(idx.out_prod, 'req', 44); hand(idx.in_prod, 'rsp', 36); }
  else {
    hand(idx.req_prod, 'req', 44); hand(idx.rsp_prod, 'rsp', 36);
    for (const [v, c] of [[idx.req_event, '#b55f00'], [idx.rsp_event, '#2e6b36']]) {
      if (v === undefined || !size) continue;
      const a = ((v % size) / size) * 2 * Math.PI - Math.PI / 2;
      s.append(svg('circle', { class: 'event', cx: (78 * Math.cos(a)).toFixed(2), cy: (78 * Math.sin(a)).toFixed(2), r: 4, stroke: c }));
    }
  }
  return s;
}

function ringLabel(info) {
  const [type] = info.id.split('/');
  const names = { vbd: 'block', vif: 'network', store: 'XenStore', console: 'console' };
  return `${names[type] || type} ${info.id}`;
}

function drawRings(pic) {
  const box = $('rings');
  box.replaceChildren();
  const infos = pic.snap ? pic.snap.ringinfo || [] : [];
  const idxs = pic.state && pic.state.rings ? pic.state.rings : {};
  if (!infos.length) { box.append(el('p', { class: 'empty', text: 'No shared ring found yet.' })); return; }
  const changed = {};
  for (const info of infos) {
    const idx = idxs[info.id] || {};
    const text = Object.entries(idx).map(([k, v]) => `${k} ${v}`).join('\n');
    const prev = view.lastRings[info.id];
    if (prev !== undefined && prev !== text) changed[info.id] = true;
    const extra = info.kind === 'blkif' || info.kind.startsWith('netif') || info.kind === 'ring'
      ? `\nin flight ${((idx.req_prod - idx.rsp_prod) >>> 0) || 0} of ${info.size || '?'}` : '';
    const card = el('div', { class: 'ring' + (changed[info.id] ? ' changed' : ''), 'data-ring': info.id },
      el('div', { class: 'title', text: ringLabel(info) }),
      ringPicture(info.kind, info.size, idx),
      el('div', { class: 'facts', text: `${info.kind}, ${info.size || '?'} ${info.kind === 'xenstore' || info.kind === 'console' ? 'bytes' : 'slots'}; dom${info.granter}'s frame ${info.frame} (ref ${info.ref})${info.port ? `, port ${info.port}` : ''}` }),
      el('pre', { class: 'idx', text: (text || 'not readable') + extra }));
    box.append(card);
  }
  view.nextRings = Object.fromEntries(infos.map((i) => [i.id, Object.entries(idxs[i.id] || {}).map(([k, v]) => `${k} ${v}`).join('\n')]));
}

const GTF = { 1: 'permit_access', 2: 'accept_transfer', 3: 'transitive' };
function grantFlags(f) {
  let s = GTF[f & 3] || 'invalid';
  if (f & 4) s += '|readonly';
  if (f & 8) s += '|reading';
  if (f & 16) s += '|writing';
  return s;
}

function drawGrants(pic) {
  const box = $('grants');
  box.replaceChildren();
  const chosen = chosenDomain(pic.snap);
  $('grants-dom').textContent = chosen === null ? '—' : `dom${chosen}`;
  const rows = pic.snap && pic.snap.grants ? pic.snap.grants[chosen] || [] : [];
  if (!rows.length) { box.append(el('p', { class: 'empty', text: 'No grant entry in use.' })); return; }
  const t = el('table', {}, el('tr', {}, ...['ref', 'flags', 'to', 'frame', 'mapped by'].map((h) => el('th', { text: h }))));
  for (const g of rows) {
    t.append(el('tr', { 'data-ref': g.ref },
      el('td', { text: g.ref }), el('td', { text: grantFlags(g.flags) }), el('td', { text: `dom${g.domid}` }),
      el('td', { text: g.frame }),
      el('td', { text: g.mapped_by < 0 ? '—' : `dom${g.mapped_by} (${g.read_pins} read, ${g.write_pins} write)` })));
  }
  box.append(t);
}

function drawXenstore(pic) {
  const box = $('xenstore');
  const xs = pic.snap ? pic.snap.xenstore : null;
  if (!xs || !xs.running) { box.replaceChildren(el('p', { class: 'empty', text: 'No xenstored runs.' })); return; }
  /* Keep which folders the student opened across redraws. */
  const open = new Set([...box.querySelectorAll('details[open]')].map((d) => d.dataset.path));
  const first = !box.querySelector('details');
  const watches = new Map();
  for (const [dom, path, token] of xs.watches) {
    if (!watches.has(path)) watches.set(path, []);
    watches.get(path).push(`dom${dom} (${token})`);
  }
  /* Folders on the way to a watch start open, so the watches show. */
  const watchedBelow = new Set();
  for (const p of watches.keys()) {
    if (!p.startsWith('/')) continue;
    for (let q = p; q.length > 1; q = q.slice(0, q.lastIndexOf('/')) || '/') watchedBelow.add(q.slice(0, q.lastIndexOf('/')) || '/');
  }
  const kids = new Map([['/', []]]), values = new Map();
  for (const [path, value] of xs.nodes) {
    values.set(path, value);
    if (path === '/') continue;
    const parent = path.slice(0, path.lastIndexOf('/')) || '/';
    if (!kids.has(parent)) kids.set(parent, []);
    kids.get(parent).push(path);
  }
  const node = (path, depth) => {
    const name = path === '/' ? '/' : path.slice(path.lastIndexOf('/') + 1);
    const line = [el('span', { text: name })];
    const v = values.get(path);
    if (v) line.push(' = ', el('span', { class: 'val', text: JSON.stringify(v) }));
    const w = watches.get(path);
    if (w) line.push(' ', el('span', { class: 'watch', text: `◉ watched by ${w.join(', ')}`, title: 'watched' }));
    const ch = kids.get(path) || [];
    if (!ch.length) return el('li', { 'data-path': path }, ...line);
    const isOpen = first ? depth < 4 || watchedBelow.has(path) : open.has(path);
    const d = el('details', { 'data-path': path }, el('summary', {}, ...line),
      el('ul', {}, ...ch.map((c) => node(c, depth + 1))));
    if (isOpen) d.open = true;
    return el('li', { 'data-path': path }, d);
  };
  const tree = el('ul', {}, node('/', 0));
  const wl = el('table', { class: 'watches' }, el('tr', {}, el('th', { text: 'watch' }), el('th', { text: 'set by (token)' })));
  for (const [path, who] of watches) wl.append(el('tr', {}, el('td', { text: path }), el('td', { text: who.join(', ') })));
  const special = [...watches.keys()].filter((p) => p.startsWith('@'));
  if (special.length) tree.append(el('li', {}, el('span', { class: 'watch', text: special.map((p) => `◉ ${p} watched by ${watches.get(p).join(', ')}`).join('; ') })));
  box.replaceChildren(tree, xs.truncated ? el('p', { class: 'empty', text: 'Only the first nodes are shown.' }) : '',
    watches.size ? wl : el('p', { class: 'empty', text: 'No watch set.' }));
}

function drawStory() {
  const n = model.steps.length;
  $('timeline').max = Math.max(0, n - 1);
  $('timeline').value = Math.max(0, view.step);
  $('stepno').textContent = n ? `step ${view.step + 1} of ${n}` : 'no narrated step';
  $('play').textContent = view.playing ? '❚❚' : '▶';
  const list = $('steps');
  while (list.children.length < n) {
    const k = list.children.length;
    const a = model.events[model.steps[k]].args;
    const li = el('li', { text: `${a.who} ${a.text}`, 'data-step': k });
    li.addEventListener('click', () => { userMoved(); goTo(k); });
    if (model.chapters.some((c) => c.start && firstStepAfter(c.at) === k)) li.classList.add('chapter-start');
    list.append(li);
  }
  for (const li of list.querySelectorAll('li.current')) li.classList.remove('current');
  if (view.step >= 0) {
    const cur = list.children[view.step];
    cur.classList.add('current');
    const top = cur.offsetTop - list.offsetTop;
    if (top < list.scrollTop || top > list.scrollTop + list.clientHeight - 20) list.scrollTop = top - list.clientHeight / 2;
    const a = model.events[model.steps[view.step]].args;
    $('narration-who').textContent = a.who;
    $('narration-text').textContent = a.text;
  }
  const pos = view.step >= 0 ? model.steps[view.step] : model.events.length - 1;
  const ch = model.chapters.filter((c) => c.at <= pos).pop();
  $('chapter').replaceChildren(...(ch ? [el('b', { text: ch.title }), ch.summary ? ` — ${ch.summary}` : ''] : []));
}

function render() {
  view.dirty = false;
  drawStory();
  const pic = pictureAt(view.step);
  drawDomains(pic);
  drawFlow(pic);
  drawEvtchn(pic);
  drawRings(pic);
  drawGrants(pic);
  drawXenstore(pic);
  view.lastRings = view.nextRings || {};
  window.xensimView.ready = true;
  document.body.dataset.step = String(view.step);
}

function scheduleRender() {
  if (view.dirty) return;
  view.dirty = true;
  requestAnimationFrame(render);
}

/* The player. */

function firstStepAfter(at) {
  return model.steps.findIndex((i) => i > at);
}

function goTo(s) {
  const n = model.steps.length;
  if (!n) return;
  view.step = Math.max(0, Math.min(n - 1, s));
  view.follow = view.mode === 'live' && view.step === n - 1 && !view.touched;
  scheduleRender();
}

function userMoved() {
  view.touched = true;
  view.follow = false;
}

function setPlaying(on) {
  view.playing = on;
  clearInterval(view.timer);
  view.timer = null;
  if (on) view.timer = setInterval(tick, Number($('speed').value));
  scheduleRender();
}

function tick() {
  if (view.step < model.steps.length - 1) goTo(view.step + 1);
  else if (view.mode !== 'live') setPlaying(false);
}

/* The first thing a student sees: the chapter the run marked as its
 * start (the READ walkthrough of `xensim demo`), played from its first
 * step unless ?autoplay=0. */
function maybeStartChapter() {
  if (view.startedChapter || view.touched) return;
  const c = model.chapters.find((x) => x.start);
  if (!c) return;
  const k = firstStepAfter(c.at);
  if (k < 0) return;
  view.startedChapter = true;
  view.chapterStep = k;
  view.follow = false;
  view.touched = true;
  goTo(k);
  if (params.get('autoplay') !== '0') setPlaying(true);
}

function wire() {
  $('first').onclick = () => { userMoved(); goTo(0); };
  $('back').onclick = () => { userMoved(); setPlaying(false); goTo(view.step - 1); };
  $('forward').onclick = () => { userMoved(); setPlaying(false); goTo(view.step + 1); };
  $('last').onclick = () => { view.touched = false; goTo(model.steps.length - 1); view.follow = view.mode === 'live'; };
  $('play').onclick = () => { userMoved(); if (!view.playing && view.step >= model.steps.length - 1) goTo(0); setPlaying(!view.playing); };
  $('timeline').oninput = (e) => { userMoved(); goTo(Number(e.target.value)); };
  $('speed').onchange = () => { if (view.playing) setPlaying(true); };
  document.addEventListener('keydown', (e) => {
    if (e.target.tagName === 'SELECT' || e.target.tagName === 'INPUT') return;
    if (e.key === 'ArrowRight') $('forward').click();
    else if (e.key === 'ArrowLeft') $('back').click();
    else if (e.key === ' ') { e.preventDefault(); $('play').click(); }
    else if (e.key === 'Home') $('first').click();
    else if (e.key === 'End') $('last').click();
  });
  window.addEventListener('resize', scheduleRender);
}

function setMode(mode, text) {
  view.mode = mode;
  $('mode').textContent = text;
  $('mode').className = 'mode ' + mode;
}

function afterNewEvents() {
  if (view.follow && model.steps.length) view.step = model.steps.length - 1;
  maybeStartChapter();
  scheduleRender();
}

function startLive() {
  setMode('live', 'live');
  const es = new EventSource('events');
  es.onmessage = (m) => {
    try { addEvent(JSON.parse(m.data)); } catch (err) { return; }
    afterNewEvents();
  };
  es.onerror = () => { setMode('live', 'live (reconnecting…)'); };
  es.onopen = () => { setMode('live', 'live'); };
}

/* A recording cut short (the run was killed) lacks its closing bracket. */
function parseRecording(text) {
  try { return JSON.parse(text); } catch (err) {
    const body = text.trim().replace(/,\s*$/, '');
    return JSON.parse(body.endsWith(']') ? body : body + '\n]');
  }
}

async function startRecording() {
  setMode('recording', 'recording');
  const text = await (await fetch('recording.json')).text();
  const events = parseRecording(text);
  const evs = Array.isArray(events) ? events : events.traceEvents || [];
  for (const ev of evs) addEvent(ev);
  view.follow = false;
  if (model.steps.length) view.step = 0;
  const at = Number(params.get('step'));
  if (params.has('step') && at >= 0) { view.touched = true; goTo(at); }
  maybeStartChapter();
  scheduleRender();
}

async function main() {
  wire();
  let info = { mode: 'live' };
  try { info = await (await fetch('info')).json(); } catch (err) { /* an old server */ }
  if (info.mode === 'recording') await startRecording();
  else startLive();
  scheduleRender();
}

main();
