// The Client Registry View: a page that is one more client of /api/v1.
//
// No framework and no build step: the DOM is built with `h()` below, and
// every text that came from a device (usernames, client ids, topics) goes
// in as text, never as markup, because devices are not trusted. The page
// keeps what it shows in step through the event stream: a `change` (the
// state moved, whoever moved it: this page, another admin, the CLI) makes
// it reload what is on screen; the server stays the only source of truth.
'use strict';

const PAGES = ['registry', 'users', 'roles', 'bans', 'clients', 'audit'];
const TOKEN_KEY = 'mqreg.token';

const session = { token: null, mayChange: false, actor: '', stream: null, roles: [] };

// ---------------------------------------------------------------- helpers

const $ = (selector) => document.querySelector(selector);

/** An element with properties (`on*` are listeners) and children. */
function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else if (key === 'class') element.className = value;
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (key in element && typeof value !== 'string') element[key] = value;
    else element.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** What the API answered instead of what was asked. */
class Failure extends Error {
  constructor(status, message, data) {
    super(message);
    this.status = status;
    this.data = data;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${session.token}` };
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`api/v1/${path}`, init);
  } catch (error) {
    throw new Failure(0, `the gateway did not answer (${error.message}); is mqreg serve running?`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) {
    const message = (data && data.error) || `${response.status} ${response.statusText}`;
    if (response.status === 401 && path !== 'whoami') {
      signOut(`Signed out: the gateway no longer accepts this token (${message}).`);
    }
    throw new Failure(response.status, message, data);
  }
  return data;
}

const segment = (text) => encodeURIComponent(text);

/** Shows `error` (or clears it) in the error line `slot`. */
function say(slot, error, prefix = '') {
  const element = typeof slot === 'string' ? $(slot) : slot;
  element.textContent = error ? `${prefix}${error.message || error}` : '';
}

let noticeTimer = 0;
function notice(text) {
  const element = $('#notice');
  element.textContent = text;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { element.textContent = ''; }, 6000);
}

/** Runs `work` with `button` busy, showing a failure in `slot`. */
async function act(button, slot, work, prefix = '') {
  if (slot) say(slot, null);
  if (button) button.disabled = true;
  try {
    return await work();
  } catch (error) {
    if (slot) say(slot, error, prefix);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// ---------------------------------------------------------------- time

function ago(iso) {
  if (!iso) return '—';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

function local(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A `<time>` that keeps saying how long ago it was. */
function when(iso) {
  if (!iso) return '—';
  return h('time', { class: 'ago', datetime: iso, title: local(iso) }, ago(iso));
}

/** A `<time>` with the moment itself: the time of day, and the date unless today. */
function stamp(iso) {
  const moment = new Date(iso);
  const today = moment.toDateString() === new Date().toDateString();
  const text = today
    ? moment.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : local(iso);
  return h('time', { datetime: iso, title: local(iso) }, text);
}

/** A `<time>` for a moment to come: "in 3h", or "never". */
function until(iso) {
  if (!iso) return 'never';
  const seconds = Math.round((Date.parse(iso) - Date.now()) / 1000);
  const text = seconds <= 0 ? 'expired' : seconds < 3600 ? `in ${Math.ceil(seconds / 60)}m`
    : seconds < 86400 ? `in ${Math.round(seconds / 3600)}h` : `in ${Math.round(seconds / 86400)}d`;
  return h('time', { datetime: iso, title: local(iso) }, text);
}

/** `MQTT 3.1.1`, `MQTT 5`, or `REST (HTTPS)` for a device enrolling over HTTPS. */
function protocolText(protocol) {
  return protocol === 'REST' ? 'REST (HTTPS)' : `MQTT ${protocol}`;
}

function clock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

setInterval(() => {
  for (const element of document.querySelectorAll('time.ago')) {
    element.textContent = ago(element.getAttribute('datetime'));
  }
  tickWindow();
}, 1000);

// ---------------------------------------------------------------- tables

/** A cell that keeps its column's name, for the phone layout. */
function cell(label, ...content) {
  return h('td', { dataset: { label } }, ...content);
}

/**
 * Replaces a table's rows, keeping the keyboard focus on the row (or the
 * control in it) it was on, so a live update never throws a keyboard user
 * back to the top of the page.
 */
function fill(table, items, row, emptyNote) {
  const body = table.tBodies[0];
  const focused = document.activeElement;
  const focusedRow = focused && body.contains(focused) ? focused.closest('tr') : null;
  const key = focusedRow && focusedRow.dataset.key;
  const focusedLabel = focused && focused !== focusedRow ? focused.getAttribute('aria-label') : null;
  body.replaceChildren(...items.map(row));
  table.hidden = items.length === 0;
  if (emptyNote) $(emptyNote).hidden = items.length !== 0;
  if (key !== undefined && key !== null) {
    const again = [...body.rows].find((tr) => tr.dataset.key === key);
    const control = again && focusedLabel
      ? [...again.querySelectorAll('[aria-label]')].find((e) => e.getAttribute('aria-label') === focusedLabel)
      : null;
    (control || again || body).focus?.();
  }
}

/** A row that opens something with a click, Enter or Space. */
function openable(key, label, open, ...cells) {
  return h('tr', {
    class: 'openable',
    tabindex: '0',
    dataset: { key },
    'aria-label': label,
    onclick: open,
    onkeydown: (event) => {
      if (event.target === event.currentTarget && (event.key === 'Enter' || event.key === ' ')) {
        event.preventDefault();
        open();
      }
    },
  }, ...cells);
}

/** Checkboxes for the roles, inside `fieldset` after its legend. */
function roleChoices(fieldset, checked = [], idPrefix) {
  const legend = fieldset.querySelector('legend');
  const boxes = session.roles.map((role) => {
    const id = `${idPrefix}-${role.name}`;
    return h('label', { class: 'choice', for: id },
      h('input', { type: 'checkbox', id, value: role.name, checked: checked.includes(role.name) }),
      h('span', {}, role.name),
      role.permissions.length
        ? h('small', {}, role.permissions.map(permissionText).join(', '))
        : h('small', {}, 'no permissions yet'));
  });
  const none = h('p', { class: 'hint' }, 'No roles yet: create one under ',
    h('a', { href: '#roles' }, 'Roles'), '. Without a role a device may log in but use no topic.');
  fieldset.replaceChildren(legend, ...(boxes.length ? boxes : [none]));
}

const chosenRoles = (fieldset) =>
  [...fieldset.querySelectorAll('input[type=checkbox]:checked')].map((box) => box.value);

function permissionText(permission) {
  return typeof permission === 'string' ? permission : `${permission.access}:${permission.filter}`;
}

// ---------------------------------------------------------------- loading

/**
 * What needs reloading, gathered for a moment so that a burst of events
 * reloads each view once. Each loader drops an answer older than the one
 * it already showed.
 */
const loaders = {};
const wanted = new Set();
let loadTimer = 0;

function want(...names) {
  for (const name of names) wanted.add(name);
  if (!loadTimer) loadTimer = setTimeout(runWanted, 120);
}

function runWanted() {
  loadTimer = 0;
  const names = [...wanted];
  wanted.clear();
  for (const name of names) loaders[name]?.();
}

function loader(name, load) {
  let latest = 0;
  loaders[name] = async () => {
    const ticket = ++latest;
    try {
      const result = await load.fetch();
      if (ticket === latest) load.show(result);
    } catch (error) {
      if (ticket === latest && load.slot) say(load.slot, error, 'Could not load: ');
    }
  };
}

const current = () => {
  const page = location.hash.slice(1);
  return PAGES.includes(page) ? page : 'registry';
};

function reloadVisible() {
  want('status', 'roles', current());
  if (current() === 'registry') want('refused');
}

// ---------------------------------------------------------------- registry

let windowDeadline = null;

loader('status', {
  slot: '#window-error',
  fetch: () => api('GET', 'registry'),
  show(status) {
    windowDeadline = status.locked ? null : performance.now() + status.remaining_seconds * 1000;
    const count = $('#pending-count');
    count.textContent = status.pending ? String(status.pending) : '';
    count.setAttribute('aria-label', `${status.pending} pending`);
    tickWindow(status);
  },
});

let lastStatus = null;
function tickWindow(status = lastStatus) {
  if (!status) return;
  lastStatus = status;
  const badge = $('#registry-badge');
  const line = $('#window-state');
  badge.hidden = false;
  if (windowDeadline === null) {
    badge.textContent = 'Locked';
    badge.className = 'badge locked';
    line.replaceChildren(h('strong', {}, 'Locked.'),
      ' Unknown devices are refused and nothing is recorded.');
  } else {
    const left = (windowDeadline - performance.now()) / 1000;
    if (left <= 0) {
      windowDeadline = null;
      want('status', 'pending');
      return;
    }
    badge.textContent = `Unlocked · ${clock(left)}`;
    badge.className = 'badge unlocked';
    line.replaceChildren(h('strong', {}, 'Unlocked'), ` for ${clock(left)} more. `,
      'Unknown devices are refused but recorded as pending requests; it locks itself.');
  }
  $('#lock').disabled = windowDeadline === null;
}

$('#unlock-form').addEventListener('submit', (event) => {
  event.preventDefault();
  act($('#unlock'), '#window-error', async () => {
    await api('POST', 'registry/unlock', { for: $('#unlock-for').value });
    want('status');
  });
});

$('#lock').addEventListener('click', () =>
  act($('#lock'), '#window-error', async () => {
    await api('POST', 'registry/lock');
    want('status');
  }));

loader('pending', {
  slot: '#window-error',
  fetch: () => api('GET', 'registry/requests'),
  show(requests) {
    fill($('#pending'), requests, (request) => openable(
      request.username,
      `${request.conflict ? 'Conflict: ' : ''}pending request ${request.username}, open to grant access`,
      () => openGrant(request.username),
      cell('Username', h('strong', {}, request.username)),
      cell('Client ID', request.client_id || h('span', { class: 'muted' }, '(none)')),
      cell('Address', request.address),
      cell('Protocol', protocolText(request.protocol)),
      cell('First seen', when(request.first_seen)),
      cell('Last seen', when(request.last_seen)),
      cell('Attempts', String(request.attempts)),
      cell('Conflict', request.conflict
        ? h('span', { class: 'flag' }, `${request.passwords} passwords`)
        : h('span', { class: 'muted' }, 'no')),
    ), '#pending-empty');
    if (grant.username) grantStillPending(requests.some((r) => r.username === grant.username));
  },
});

loader('refused', {
  fetch: () => api('GET', 'registry/refused'),
  show(refused) {
    $('#refused-count').textContent = refused.length ? String(refused.length) : '';
    fill($('#refused'), refused.slice().reverse(), (entry) => h('tr', {},
      cell('Username', entry.username || h('span', { class: 'muted' }, '(none)')),
      cell('Address', entry.address),
      cell('Reason', entry.reason),
      cell('Count', String(entry.count)),
      cell('Last seen', when(entry.last_seen))));
  },
});

loaders.registry = () => { want('status', 'pending', 'refused'); };

// Grant Access: one pending request, its attempts when it is a conflict,
// the roles to grant, Allow and Reject.
const grant = { username: null, conflict: false };

async function openGrant(username) {
  const dialog = $('#grant');
  grant.username = username;
  grant.conflict = false;
  say('#grant-error', null);
  $('#grant-title').textContent = `Grant access to ${username}`;
  $('#grant-details').replaceChildren();
  $('#grant-attempts').hidden = true;
  $('#grant-allow').disabled = true;
  $('#grant-reject').disabled = false;
  roleChoices($('#grant-roles'), [], 'grant-role');
  if (!dialog.open) dialog.showModal();
  try {
    const [request] = await Promise.all([
      api('GET', `registry/requests/${segment(username)}`),
      loaders.roles(),
    ]);
    if (grant.username !== username) return;
    showGrant(request);
  } catch (error) {
    say('#grant-error', error);
  }
}

function detail(list, name, ...value) {
  list.append(h('dt', {}, name), h('dd', {}, ...value));
}

function showGrant(request) {
  const list = $('#grant-details');
  list.replaceChildren();
  detail(list, 'Username', h('strong', {}, request.username));
  detail(list, 'Client ID', request.client_id || '(none)');
  detail(list, 'Address', request.address);
  detail(list, 'Protocol', protocolText(request.protocol));
  detail(list, 'First seen', when(request.first_seen));
  detail(list, 'Last seen', when(request.last_seen));
  detail(list, 'Attempts', String(request.attempts));
  if (!request.conflict && request.passwords[0]) enrolmentDetails(list, request.passwords[0]);
  roleChoices($('#grant-roles'), chosenRoles($('#grant-roles')), 'grant-role');
  grant.conflict = request.conflict;
  const attempts = $('#grant-attempts');
  attempts.hidden = !request.conflict;
  if (request.conflict) {
    $('#grant-attempt-list').replaceChildren(...request.passwords.map((attempt) => {
      const id = `attempt-${attempt.attempt}`;
      return h('label', { class: 'choice attempt', for: id },
        h('input', {
          type: 'radio', name: 'attempt', id, value: String(attempt.attempt),
          onchange: () => { $('#grant-allow').disabled = false; },
        }),
        h('span', {}, `Attempt ${attempt.attempt}`),
        h('small', {}, `client id ${attempt.client_id || '(none)'} from ${attempt.address}, ${protocolText(attempt.protocol)}, `,
          `${attempt.count} time${attempt.count === 1 ? '' : 's'}, first `, when(attempt.first_seen),
          ', last ', when(attempt.last_seen),
          attempt.csr ? `; CSR ${attempt.csr.subject}, key SHA-256 ${attempt.csr.key_fingerprint}` : '',
          attempt.context ? `; context ${JSON.stringify(attempt.context)}` : ''));
    }));
  }
  $('#grant-allow').disabled = request.conflict;
}

/** What a device enrolling over HTTPS sent: its CSR's subject and key
 * (compare the fingerprint with the device's label) and its context. */
function enrolmentDetails(list, attempt) {
  if (attempt.csr) {
    detail(list, 'CSR', attempt.csr.subject, ` (${attempt.csr.key_type})`);
    detail(list, 'Key SHA-256', h('code', { class: 'fingerprint' }, attempt.csr.key_fingerprint));
    detail(list, 'Password', attempt.password ? 'yes' : 'none: it will log in with its certificate');
  }
  if (attempt.context) detail(list, 'Context', h('code', {}, JSON.stringify(attempt.context)));
}

function grantStillPending(pending) {
  if (!pending && $('#grant').open && !$('#grant-allow').dataset.busy) {
    say('#grant-error', `${grant.username} is no longer pending: it was approved or rejected meanwhile.`);
    $('#grant-allow').disabled = true;
    $('#grant-reject').disabled = true;
  }
}

function closeGrant() {
  const username = grant.username;
  grant.username = null;
  $('#grant').close();
  return username;
}

/** After a dialog, the keyboard goes back to the row it came from, even if
 * a live update replaced that row meanwhile. */
function refocus(table, key) {
  if (document.activeElement && document.activeElement !== document.body) return;
  const row = [...$(table).tBodies[0].rows].find((tr) => tr.dataset.key === key);
  row?.focus();
}

$('#grant').addEventListener('close', () => {
  const username = grant.username;
  grant.username = null;
  if (username) refocus('#pending', username);
});
$('#grant-cancel').addEventListener('click', closeGrant);

$('#grant-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const username = grant.username;
  const roles = chosenRoles($('#grant-roles'));
  const body = { roles };
  if (grant.conflict) {
    const picked = $('#grant-attempt-list input:checked');
    if (!picked) {
      say('#grant-error', 'Choose the attempt that is your device first.');
      return;
    }
    body.force = true;
    body.attempt = Number(picked.value);
  }
  const allow = $('#grant-allow');
  allow.dataset.busy = '1';
  act(allow, '#grant-error', async () => {
    await api('POST', `registry/requests/${segment(username)}/approve`, body);
    closeGrant();
    notice(`Approved ${username}${roles.length ? ` with ${roles.join(', ')}` : ' (no role yet)'}; it gets its topics when it reconnects.`);
    want('pending', 'status');
  }).finally(() => { delete allow.dataset.busy; });
});

$('#grant-reject').addEventListener('click', () => {
  const username = grant.username;
  act($('#grant-reject'), '#grant-error', async () => {
    await api('POST', `registry/requests/${segment(username)}/reject`);
    closeGrant();
    notice(`Rejected ${username}.`);
    want('pending', 'status');
  });
});

// Bulk approval by glob, previewed as it is typed.
let previewTimer = 0;
let previewTicket = 0;
$('#bulk-match').addEventListener('input', () => {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, 250);
});

async function preview() {
  const pattern = $('#bulk-match').value.trim();
  const ticket = ++previewTicket;
  const button = $('#bulk-approve');
  say('#bulk-error', null);
  button.disabled = true;
  button.textContent = 'Approve matching';
  if (!pattern) {
    $('#bulk-preview').replaceChildren('A glob: ', h('code', {}, '*'), ' any text, ', h('code', {}, '?'), ' one character.');
    return;
  }
  try {
    const { matches } = await api('POST', 'registry/approve', { match: pattern, preview: true });
    if (ticket !== previewTicket) return;
    $('#bulk-preview').textContent = matches.length
      ? `Matches ${matches.length}: ${matches.join(', ')}`
      : 'Matches no pending request.';
    button.disabled = matches.length === 0;
    button.textContent = matches.length ? `Approve ${matches.length} matching` : 'Approve matching';
  } catch (error) {
    if (ticket === previewTicket) say('#bulk-error', error);
  }
}

$('#bulk-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const pattern = $('#bulk-match').value.trim();
  const roles = chosenRoles($('#bulk-roles'));
  act($('#bulk-approve'), '#bulk-error', async () => {
    try {
      const result = await api('POST', 'registry/approve', { match: pattern, roles });
      notice(`Approved ${result.approved.length}: ${result.approved.join(', ')}.`);
    } catch (error) {
      // Some may be approved and others skipped (conflicts): say both.
      if (error.data && error.data.approved && error.data.approved.length) {
        notice(`Approved ${error.data.approved.length}: ${error.data.approved.join(', ')}.`);
      }
      throw error;
    } finally {
      want('pending', 'status');
      preview();
    }
  });
});

// ---------------------------------------------------------------- roles

loader('roles', {
  slot: '#role-error',
  fetch: () => api('GET', 'roles'),
  show(roles) {
    session.roles = roles;
    if (!$('#bulk-roles').querySelector('input:focus')) {
      roleChoices($('#bulk-roles'), chosenRoles($('#bulk-roles')), 'bulk-role');
    }
    if (current() === 'roles') showRoles(roles);
  },
});

function showRoles(roles) {
  const list = $('#roles');
  const focusedLabel = list.contains(document.activeElement) ? document.activeElement.getAttribute('aria-label') : null;
  list.replaceChildren(...roles.map(roleCard));
  $('#roles-empty').hidden = roles.length !== 0;
  if (focusedLabel) {
    [...list.querySelectorAll('[aria-label]')].find((e) => e.getAttribute('aria-label') === focusedLabel)?.focus();
  }
}

function roleCard(role) {
  const error = h('p', { class: 'error', role: 'alert' });
  const access = h('select', { 'aria-label': `Access for a new permission of ${role.name}` },
    h('option', { value: 'read' }, 'read'),
    h('option', { value: 'write' }, 'write'),
    h('option', { value: 'readwrite' }, 'readwrite'));
  const filter = h('input', {
    type: 'text', placeholder: 'sensors/{username}/#', spellcheck: 'false', autocomplete: 'off',
    'aria-label': `Topic filter for a new permission of ${role.name}`,
  });
  const add = h('button', { type: 'submit', 'aria-label': `Allow on ${role.name}` }, 'Allow');
  return h('article', { class: 'panel role', dataset: { key: role.name } },
    h('header', {},
      h('h2', {}, role.name),
      h('button', {
        type: 'button', class: 'danger quiet change', 'aria-label': `Delete role ${role.name}`,
        onclick: () => confirmThen(`Delete the role ${role.name}? Users who have it lose its permissions at once.`,
          `Delete ${role.name}`, async () => {
            await api('DELETE', `roles/${segment(role.name)}`);
            notice(`Deleted role ${role.name}.`);
            want('roles');
          }),
      }, 'Delete')),
    role.permissions.length
      ? h('ul', { class: 'permissions' }, role.permissions.map((permission) => {
        const text = permissionText(permission);
        return h('li', {}, h('code', {}, text),
          h('button', {
            type: 'button', class: 'quiet change', 'aria-label': `Remove ${text} from ${role.name}`,
            onclick: (event) => act(event.currentTarget, error, async () => {
              await api('POST', `roles/${segment(role.name)}/disallow`, { permissions: [text] });
              want('roles');
            }, `Remove ${text}: `),
          }, '×'));
      }))
      : h('p', { class: 'muted' }, 'No permissions: its users may use no topic.'),
    h('form', {
      class: 'inline change', novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        act(add, error, async () => {
          await api('POST', `roles/${segment(role.name)}/allow`,
            { permissions: [`${access.value}:${filter.value.trim()}`] });
          want('roles');
        });
      },
    }, access, filter, add),
    error);
}

$('#role-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('#role-name').value.trim();
  act(event.submitter, '#role-error', async () => {
    await api('POST', 'roles', { name });
    $('#role-name').value = '';
    notice(`Created role ${name}; allow it some topics below.`);
    want('roles');
  });
});

// ---------------------------------------------------------------- users

function ruleText(rule) {
  if (Array.isArray(rule)) return rule.join(', ');
  if (rule && typeof rule === 'object') return JSON.stringify(rule);
  return String(rule ?? 'any');
}

loader('users', {
  slot: '#users-error',
  fetch: () => api('GET', 'users'),
  show(users) {
    fill($('#users'), users, (user) => openable(
      user.username, `user ${user.username}, open to change`, () => openUser(user.username),
      cell('Username', h('strong', {}, user.username)),
      cell('Roles', user.roles.length ? user.roles.map((role) => h('span', { class: 'chip' }, role))
        : h('span', { class: 'muted' }, 'none')),
      cell('Status', user.disabled ? h('span', { class: 'flag' }, 'disabled') : 'active'),
      cell('Client IDs', ruleText(user.client_ids)),
      cell('Certificates', certificateCount(user.certificates)),
      cell('Created', when(user.created))), '#users-empty');
    if (userDialog.username && $('#user').open) {
      const user = users.find((u) => u.username === userDialog.username);
      if (user) showUser(user, false);
      else say('#user-error', `${userDialog.username} was deleted meanwhile.`);
    }
  },
});

function certificateCount(certificates = []) {
  const valid = certificates.filter((c) => c.status === 'valid').length;
  if (!certificates.length) return h('span', { class: 'muted' }, 'none');
  return `${valid} valid${certificates.length > valid ? ` of ${certificates.length}` : ''}`;
}

const userDialog = { username: null, roles: [], disabled: false };

async function openUser(username) {
  userDialog.username = username;
  say('#user-error', null);
  $('#user-title').textContent = username;
  try {
    const [user] = await Promise.all([api('GET', `users/${segment(username)}`), loaders.roles()]);
    showUser(user, true);
    if (!$('#user').open) $('#user').showModal();
  } catch (error) {
    say('#users-error', error, `${username}: `);
  }
}

function showUser(user, fresh) {
  userDialog.roles = user.roles;
  userDialog.disabled = user.disabled;
  const list = $('#user-details');
  list.replaceChildren();
  detail(list, 'Status', user.disabled ? 'disabled: refused at login' : 'active');
  detail(list, 'Client IDs', ruleText(user.client_ids));
  if (user.registered_client_ids && user.registered_client_ids.length) {
    detail(list, 'Registered client IDs', user.registered_client_ids.join(', '));
  }
  detail(list, 'Created', when(user.created));
  if (user.certificates && user.certificates.length) {
    detail(list, 'Certificates', h('ul', { class: 'certificates' }, user.certificates.map((certificate) =>
      h('li', {},
        h('span', { class: certificate.status === 'valid' ? '' : 'flag' }, certificate.status),
        ` until ${local(certificate.not_after)} · serial `, h('code', {}, certificate.serial),
        certificate.status === 'valid' ? h('button', {
          type: 'button', class: 'quiet danger change',
          'aria-label': `Revoke certificate ${certificate.serial} of ${user.username}`,
          onclick: () => confirmThen(
            `Revoke the certificate ${certificate.serial} of ${user.username}? Connections made with it close now and it no longer logs in. Other certificates of the user (a renewal) stay valid.`,
            'Revoke certificate', async () => {
              await api('POST', `users/${segment(user.username)}/revoke-cert`, { serial: certificate.serial });
              notice(`Revoked a certificate of ${user.username}; its connections were closed.`);
              want('users');
            }),
        }, 'Revoke…') : null))));
    if (user.certificates.filter((c) => c.status === 'valid').length > 1) {
      list.append(h('dt', {}, ''), h('dd', {}, h('button', {
        type: 'button', class: 'quiet danger change',
        'aria-label': `Revoke every certificate of ${user.username}`,
        onclick: () => confirmThen(
          `Revoke every certificate of ${user.username}? Its certificate connections close now.`,
          'Revoke all', async () => {
            await api('POST', `users/${segment(user.username)}/revoke-cert`, {});
            notice(`Revoked every certificate of ${user.username}.`);
            want('users');
          }),
      }, 'Revoke all…')));
    }
  }
  detail(list, 'Permissions', user.permissions.length
    ? h('ul', { class: 'permissions' }, user.permissions.map((p) => h('li', {}, h('code', {}, permissionText(p)))))
    : 'none');
  if (fresh) roleChoices($('#user-roles'), user.roles, 'user-role');
  $('#user-toggle').textContent = user.disabled ? 'Enable' : 'Disable';
  for (const box of $('#user-roles').querySelectorAll('input')) box.disabled = !session.mayChange;
}

$('#user-close').addEventListener('click', () => $('#user').close());
$('#user').addEventListener('close', () => {
  const username = userDialog.username;
  userDialog.username = null;
  if (username) refocus('#users', username);
});

$('#user-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const chosen = chosenRoles($('#user-roles'));
  const grantRoles = chosen.filter((role) => !userDialog.roles.includes(role));
  const revoke = userDialog.roles.filter((role) => !chosen.includes(role));
  const username = userDialog.username;
  act($('#user-save'), '#user-error', async () => {
    if (grantRoles.length || revoke.length) {
      await api('POST', `users/${segment(username)}/roles`, { grant: grantRoles, revoke });
    }
    $('#user').close();
    notice(`Saved the roles of ${username}: ${chosen.join(', ') || 'none'}.`);
    want('users');
  });
});

$('#user-toggle').addEventListener('click', () => {
  const username = userDialog.username;
  const verb = userDialog.disabled ? 'enable' : 'disable';
  act($('#user-toggle'), '#user-error', async () => {
    await api('POST', `users/${segment(username)}/${verb}`);
    notice(`${verb === 'enable' ? 'Enabled' : 'Disabled'} ${username}.`);
    want('users');
  });
});

$('#user-delete').addEventListener('click', () => {
  const username = userDialog.username;
  confirmThen(`Delete the user ${username}? Its connections are closed and it must register again.`,
    `Delete ${username}`, async () => {
      await api('DELETE', `users/${segment(username)}`);
      $('#user').close();
      notice(`Deleted ${username}.`);
      want('users');
    });
});

// A confirmation before what cannot be undone.
let confirmed = null;
function confirmThen(text, yes, work) {
  $('#confirm-title').textContent = `${yes}?`;
  $('#confirm-text').textContent = text;
  $('#confirm-yes').textContent = yes;
  say('#confirm-error', null);
  confirmed = work;
  $('#confirm').showModal();
  $('#confirm-no').focus();
}
$('#confirm-no').addEventListener('click', () => $('#confirm').close());
$('#confirm-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const work = confirmed;
  act($('#confirm-yes'), '#confirm-error', async () => {
    await work();
    $('#confirm').close();
  });
});

// ---------------------------------------------------------------- bans

loader('bans', {
  slot: '#bans-error',
  fetch: () => api('GET', 'bans'),
  show(bans) {
    fill($('#bans'), bans, (ban) => h('tr', { dataset: { key: String(ban.id) } },
      cell('ID', String(ban.id)),
      cell('Kind', ban.kind === 'flood' ? h('span', { class: 'flag' }, 'flood shut-out') : ban.kind.replace('_', ' ')),
      cell('Value', h('code', {}, ban.value)),
      cell('Since', when(ban.created)),
      cell('Until', until(ban.until)),
      cell('Reason', ban.reason || h('span', { class: 'muted' }, '—')),
      h('td', { class: 'change' }, h('button', {
        type: 'button', class: 'quiet', 'aria-label': `Remove ban ${ban.id} on ${ban.value}`,
        onclick: (event) => act(event.currentTarget, '#bans-error', async () => {
          await api('DELETE', `bans/${ban.id}`);
          notice(`Removed ban ${ban.id} on ${ban.value}.`);
          want('bans');
        }, `Remove ban ${ban.id}: `),
      }, 'Remove'))), '#bans-empty');
  },
});

$('#ban-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const body = { [$('#ban-kind').value]: $('#ban-value').value.trim() };
  const duration = $('#ban-for').value.trim();
  const reason = $('#ban-reason').value.trim();
  if (duration) body.for = duration;
  if (reason) body.reason = reason;
  act(event.submitter, '#ban-error', async () => {
    await api('POST', 'bans', body);
    $('#ban-value').value = '';
    $('#ban-reason').value = '';
    want('bans');
  });
});

// ---------------------------------------------------------------- clients

loader('clients', {
  slot: '#clients-error',
  fetch: () => api('GET', 'clients'),
  show(clients) {
    fill($('#clients'), clients, (client) => h('tr', { dataset: { key: client.client_id } },
      cell('Client ID', h('strong', {}, client.client_id)),
      cell('Username', client.username || h('span', { class: 'muted' }, '(none)')),
      cell('Address', client.address),
      cell('Protocol', protocolText(client.protocol)),
      cell('Connected', when(client.connected_at)),
      cell('Subscriptions', String(client.subscriptions)),
      cell('Queued', String(client.queued)),
      cell('In flight', String(client.inflight)),
      h('td', { class: 'change' }, h('button', {
        type: 'button', class: 'quiet', 'aria-label': `Kick ${client.client_id}`,
        onclick: (event) => act(event.currentTarget, '#clients-error', async () => {
          await api('DELETE', `clients/${segment(client.client_id)}`);
          notice(`Kicked ${client.client_id}.`);
          want('clients');
        }, `Kick ${client.client_id}: `),
      }, 'Kick'))), '#clients-empty');
  },
});

// ---------------------------------------------------------------- audit

let auditEntries = [];
loader('audit', {
  slot: '#audit-error',
  fetch: () => api('GET', 'audit?lines=500'),
  show(entries) {
    auditEntries = entries.slice().reverse();
    showAudit();
  },
});

function showAudit() {
  const actor = $('#audit-actor').value.trim().toLowerCase();
  const action = $('#audit-action').value.trim().toLowerCase();
  const shown = auditEntries.filter((entry) =>
    (!actor || String(entry.actor).toLowerCase().includes(actor))
    && (!action || String(entry.action).toLowerCase().includes(action))).slice(0, 200);
  fill($('#audit'), shown, (entry) => h('tr', {},
    cell('Time', stamp(entry.time)),
    cell('Actor', h('code', {}, entry.actor)),
    cell('Action', entry.action),
    cell('Target', entry.target || h('span', { class: 'muted' }, '—')),
    cell('Outcome', h('span', { class: entry.outcome === 'ok' ? '' : 'flag' }, entry.outcome)),
    cell('Detail', entry.detail || '')), '#audit-empty');
}
$('#audit-actor').addEventListener('input', showAudit);
$('#audit-action').addEventListener('input', showAudit);
$('#audit-filter').addEventListener('submit', (event) => event.preventDefault());

// ---------------------------------------------------------------- pages

function showPage() {
  const page = current();
  for (const name of PAGES) $(`#page-${name}`).hidden = name !== page;
  for (const link of document.querySelectorAll('.tabs a')) {
    if (link.dataset.page === page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `mqreg · ${page[0].toUpperCase()}${page.slice(1)}`;
  reloadVisible();
}
window.addEventListener('hashchange', () => { if (session.token) showPage(); });

// ---------------------------------------------------------------- events

/**
 * The event stream, read with fetch: EventSource cannot send the token in
 * a header, and the API never takes one from a URL (URLs end up in logs).
 * A stream that ends is opened again, and everything is reloaded then,
 * since events sent meanwhile are lost.
 */
let listening = 0;
async function listen() {
  // A sign-out and a new sign-in during a reconnect wait must not leave two
  // loops reading two streams: each loop ends when a newer one started.
  const mine = ++listening;
  let delay = 1000;
  while (session.token && mine === listening) {
    const controller = new AbortController();
    session.stream = controller;
    try {
      const response = await fetch('api/v1/events', {
        headers: { Authorization: `Bearer ${session.token}` },
        cache: 'no-store',
        signal: controller.signal,
      });
      if (response.status === 401) {
        signOut('Signed out: the gateway no longer accepts this token.');
        return;
      }
      if (!response.ok) throw new Error(`${response.status}`);
      live(true);
      delay = 1000;
      reloadVisible();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replaceAll('\r\n', '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
    }
    if (!session.token || mine !== listening) return;
    live(false);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 15000);
  }
}

function dispatch(block) {
  let kind = 'message';
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) kind = line.slice(6).trim();
  }
  switch (kind) {
    case 'change':
    case 'lagged':
      reloadVisible();
      break;
    case 'request':
      want('status', 'pending');
      break;
    case 'refused':
      if (current() === 'registry') want('refused');
      break;
    case 'login':
    case 'logout':
      if (current() === 'clients') want('clients');
      break;
    default:
  }
}

function live(on) {
  const element = $('#live');
  element.hidden = false;
  element.className = on ? 'live on' : 'live off';
  element.textContent = on ? 'Live' : 'Reconnecting…';
  element.title = on ? 'Changes appear as they happen' : 'The event stream was lost; trying again';
}

// ---------------------------------------------------------------- session

async function signIn(token) {
  session.token = token;
  const me = await api('GET', 'whoami');
  sessionStorage.setItem(TOKEN_KEY, token);
  session.mayChange = me.may_change;
  session.actor = me.actor;
  document.body.classList.toggle('readonly', !me.may_change);
  const who = $('#who');
  who.hidden = false;
  who.textContent = me.may_change ? me.actor : `${me.actor} · read-only`;
  who.title = me.may_change ? 'Signed in as an admin' : 'A viewer token: you can look, not change';
  $('#sign-out').hidden = false;
  $('#sign-in').hidden = true;
  $('#app').hidden = false;
  if (!location.hash) history.replaceState(null, '', '#registry');
  showPage();
  listen();
}

function signOut(message = '') {
  session.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  session.stream?.abort();
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  $('#app').hidden = true;
  $('#sign-out').hidden = true;
  $('#who').hidden = true;
  $('#live').hidden = true;
  $('#registry-badge').hidden = true;
  $('#sign-in').hidden = false;
  $('#token').value = '';
  say('#sign-in-error', message || null);
  $('#token').focus();
}

$('#sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = $('#token').value.trim();
  if (!token) {
    say('#sign-in-error', 'Paste an API token first.');
    return;
  }
  const button = event.submitter;
  await act(button, '#sign-in-error', () => signIn(token), 'The gateway refused this token: ');
  if (!sessionStorage.getItem(TOKEN_KEY)) session.token = null;
});

$('#sign-out').addEventListener('click', () => signOut());

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  signIn(saved).catch((error) => signOut(`Signed out: ${error.message}`));
} else {
  signOut();
}
