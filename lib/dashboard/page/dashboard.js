// The coordination dashboard page: reads api/overview every few seconds and renders it. Every
// value from the server goes in as text (createTextNode), never as markup: job data, errors and
// names are user-controlled. Actions POST with the header the server requires against CSRF.
'use strict';

const REFRESH_MS = 3000;
const ACTION_HEADERS = { 'content-type': 'application/json', 'x-coordination-dashboard': '1' };
const SVG = 'http://www.w3.org/2000/svg';

/** An element with attributes (fixed strings of this file) and children (text or elements). */
function h(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) node.setAttribute(name, value);
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  return node;
}

function table(headings, rows) {
  if (rows.length === 0) return h('p', { class: 'muted' }, 'None.');
  return h(
    'table',
    null,
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        headings.map((text) => h('th', null, text)),
      ),
    ),
    h(
      'tbody',
      null,
      rows.map((cells) =>
        h(
          'tr',
          null,
          cells.map((cell) => h('td', null, cell)),
        ),
      ),
    ),
  );
}

/** A moment: its time of day when today, else with its date. */
function when(ms) {
  const date = new Date(ms);
  return date.toDateString() === new Date().toDateString()
    ? date.toLocaleTimeString()
    : date.toLocaleString();
}

/** A length of time in its two largest units: "850 ms", "4.2 s", "3 m 20 s", "2 d 5 h". */
function duration(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const parts = [
    [Math.floor(ms / 86_400_000), 'd'],
    [Math.floor(ms / 3_600_000) % 24, 'h'],
    [Math.floor(ms / 60_000) % 60, 'm'],
    [Math.floor(ms / 1000) % 60, 's'],
  ];
  const first = parts.findIndex(([amount]) => amount > 0);
  return parts
    .slice(first, first + 2)
    .filter(([amount], i) => i === 0 || amount > 0)
    .map(([amount, unit]) => `${amount} ${unit}`)
    .join(' ');
}

/** A count with the reader's digit grouping; anything else (e.g. "unknown") as it is. */
function count(value) {
  return typeof value === 'number' ? value.toLocaleString() : value;
}
const json = (value) => h('pre', null, value === undefined ? '' : JSON.stringify(value));

/** Shows the outcome of the last action (`status`) or load (`updated`). */
function show(id, text, isError) {
  const node = document.getElementById(id);
  node.textContent = text;
  node.className = isError ? 'error' : '';
}

/** Paths of the actions in flight: their buttons stay disabled, even when drawn again meanwhile. */
const acting = new Set();

async function act(node, path, what) {
  acting.add(path);
  node.disabled = true;
  try {
    const response = await fetch(path, { method: 'POST', headers: ACTION_HEADERS, body: '{}' });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      show('status', `Could not ${what}: ${body.message ?? response.statusText}`, true);
    } else {
      show('status', `Done: ${what}`, false);
    }
  } catch (error) {
    show('status', `Could not ${what}: ${error.message}`, true);
  } finally {
    acting.delete(path);
    node.disabled = false;
  }
  refresh();
}

/** A button POSTing to `path`; with a `question`, only once the operator confirms it. */
function button(label, path, what, question) {
  const node = h('button', { type: 'button' }, label);
  node.disabled = acting.has(path);
  node.addEventListener('click', () => {
    if (acting.has(path) || (question && !confirm(question))) return;
    void act(node, path, what);
  });
  return node;
}

/** Completed and dead jobs per interval, and the waiting backlog, as polylines on one scale. */
function chart(samples, sampleEveryMs) {
  const width = 320;
  const height = 80;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  const max = Math.max(1, ...samples.flatMap((s) => [s.completed, s.dead, s.waiting ?? 0]));
  const x = (i) => (samples.length < 2 ? 0 : (i * width) / (samples.length - 1));
  const y = (value) => height - 4 - (value * (height - 8)) / max;
  for (const [field, color] of [
    ['waiting', '#3563c9'],
    ['completed', '#2a7d2a'],
    ['dead', '#c0392b'],
  ]) {
    const line = document.createElementNS(SVG, 'polyline');
    const points = samples.map((s, i) => `${x(i).toFixed(1)},${y(s[field] ?? 0).toFixed(1)}`);
    line.setAttribute('points', points.join(' '));
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', color);
    line.setAttribute('stroke-width', '1.5');
    svg.append(line);
  }
  const every = duration(sampleEveryMs);
  return h(
    'div',
    { class: 'row' },
    svg,
    h(
      'div',
      null,
      h('div', { class: 'legend-completed' }, `completed per ${every}`),
      h('div', { class: 'legend-dead' }, `dead per ${every}`),
      h('div', { class: 'legend-waiting' }, 'waiting'),
      h('div', { class: 'muted' }, `max ${count(max)}, ${count(samples.length)} samples`),
    ),
  );
}

function queueCard(queue, sampleEveryMs) {
  const base = `api/queues/${encodeURIComponent(queue.name)}`;
  const { counts } = queue;
  const deadRows = queue.dead.map((job) => [
    job.id,
    job.name ?? '',
    job.decodeError === undefined
      ? json(job.data)
      : h('span', { class: 'error' }, `Cannot decode: ${job.decodeError}`),
    h(
      'div',
      null,
      job.history.map((attempt) =>
        h('div', null, `#${attempt.attempt} at ${when(attempt.at)}: ${attempt.error}`),
      ),
    ),
    when(job.diedAt),
    h(
      'div',
      { class: 'row' },
      button('Retry', `${base}/jobs/${encodeURIComponent(job.id)}/retry`, `retry job ${job.id}`),
      button(
        'Remove',
        `${base}/jobs/${encodeURIComponent(job.id)}/remove`,
        `remove job ${job.id}`,
        `Remove dead job ${job.id} for good?`,
      ),
    ),
  ]);
  return h(
    'div',
    { class: 'card queue', 'data-queue': queue.name },
    h(
      'div',
      { class: 'row' },
      h('h3', null, queue.name),
      counts.paused
        ? button('Resume', `${base}/resume`, `resume queue ${queue.name}`)
        : button('Pause', `${base}/pause`, `pause queue ${queue.name}`),
    ),
    h(
      'div',
      { class: 'counts' },
      ['waiting', 'active', 'delayed', 'completed', 'dead'].map((state) =>
        h('div', { class: `count-${state}` }, h('b', null, count(counts[state])), state),
      ),
      h('div', null, h('b', null, counts.paused ? 'paused' : 'running'), 'state'),
      h(
        'div',
        null,
        h('b', null, queue.oldestWaitingMs === null ? 'none' : duration(queue.oldestWaitingMs)),
        'oldest waiting',
      ),
    ),
    chart(queue.throughput, sampleEveryMs),
    h('h4', null, 'Dead jobs'),
    table(['Job', 'Name', 'Data', 'Attempts', 'Died', ''], deadRows),
    h('h4', null, 'Schedulers'),
    table(
      ['Scheduler', 'Pattern', 'Next run', 'Last job'],
      queue.schedulers.map((s) => [s.id, json(s.pattern), when(s.nextRunAt), s.lastJobId ?? '']),
    ),
  );
}

function channelCard(channel) {
  return h(
    'div',
    { class: 'card' },
    h('h3', null, channel.name),
    h('h4', null, 'Groups'),
    table(
      ['Group', 'Consumers', 'Pending', 'Lag', 'Last delivered'],
      channel.groups.map((g) => [
        g.group,
        count(g.consumers),
        count(g.pending),
        count(g.lag ?? 'unknown'),
        g.lastDeliveredId,
      ]),
    ),
    h('h4', null, 'Dead letters'),
    table(
      ['Entry', 'Group', 'Payload', 'Error', 'Deliveries'],
      channel.deadLetters.map((d) => [
        d.id,
        d.group,
        h('pre', null, d.payload),
        d.error,
        count(d.deliveries),
      ]),
    ),
  );
}

/** Draws a section under its heading, or the error it could not be read with (it is empty then). */
function fill(id, error, ...content) {
  const section = document.getElementById(id);
  section.replaceChildren(
    section.querySelector('h2'),
    ...(error
      ? [h('p', { class: 'error' }, `Could not read: ${error.message}`)]
      : content.flat().filter(Boolean)),
  );
}

function render(overview) {
  const { errors } = overview;
  const { sampleEveryMs } = overview;
  fill(
    'queues',
    errors.queues,
    overview.queues.length === 0
      ? h('p', { class: 'muted' }, 'No queues.')
      : overview.queues.map((queue) => queueCard(queue, sampleEveryMs)),
  );
  fill(
    'channels',
    errors.channels,
    overview.channels.length === 0
      ? h('p', { class: 'muted' }, 'No durable channels.')
      : overview.channels.map(channelCard),
  );
  fill(
    'locks',
    errors.locks,
    table(
      ['Resource', 'Mode', 'Holders', 'Fencing token', 'Time left', 'Waiters'],
      overview.locks.held.map((lock) => [
        lock.resource,
        lock.mode,
        lock.holders.join(', '),
        lock.fencingToken ?? '',
        duration(lock.expiresInMs),
        count(lock.waiters),
      ]),
    ),
    overview.locks.truncated ? h('p', { class: 'muted' }, 'More locks may be held.') : null,
  );
  fill(
    'elections',
    errors.elections,
    table(
      ['Election', 'Leader', 'Term'],
      overview.elections.map((e) => [e.name, e.state.leader ?? 'none', e.state.term ?? '']),
    ),
  );
  fill(
    'semaphores',
    errors.semaphores,
    table(
      ['Semaphore', 'Available', 'Limit'],
      overview.semaphores.map((s) => [s.name, count(s.available), count(s.limit)]),
    ),
  );
  fill(
    'services',
    errors.services,
    table(
      ['Service', 'Instance', 'Address', 'Status', 'Registered'],
      overview.services.flatMap((s) =>
        s.instances.length === 0
          ? [[s.name, h('span', { class: 'muted' }, 'no instances'), '', '', '']]
          : s.instances.map((i) => [s.name, i.id, i.address, i.status, when(i.registeredAt)]),
      ),
    ),
  );
  fill(
    'config',
    null,
    table(
      ['Key', 'Version'],
      overview.config.map((c) => [c.name, c.version]),
    ),
  );
}

// One overview request at a time: the next is scheduled when it has finished (a slow server
// is not sent more), and none while the tab is hidden.
/** Sequence number of the newest overview asked for. */
let requested = 0;
let loading = false;
let timer;

/** Asks for a fresh overview: now, or right after the one in flight. */
function refresh() {
  requested += 1;
  clearTimeout(timer);
  if (!loading) void load();
}

async function load() {
  loading = true;
  const sequence = requested;
  // Drawn only if no newer overview was asked for meanwhile: one asked for after an action must
  // not be overwritten by an answer read before it.
  const current = () => sequence === requested;
  try {
    const response = await fetch('api/overview', { headers: { accept: 'application/json' } });
    const body = await response.json();
    if (!response.ok) throw new Error(body.message ?? response.statusText);
    if (current()) {
      render(body);
      show('updated', `Updated ${when(body.at)}`, false);
    }
  } catch (error) {
    if (current()) show('updated', `Could not load: ${error.message}`, true);
  } finally {
    loading = false;
  }
  if (!current()) void load();
  else if (!document.hidden) timer = setTimeout(refresh, REFRESH_MS);
}

document.addEventListener('visibilitychange', () => {
  if (document.hidden) clearTimeout(timer);
  else refresh();
});
refresh();
