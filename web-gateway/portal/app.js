// Concord portal: sign-in, the account list and the account detail.
//
// Plain JavaScript, no build step. The page talks to concord-gateway only:
// /auth/* for the session cookie and the Connect JSON API
// (POST /concord.v1.<Service>/<Method>) for data. Every element is built with
// textContent, never innerHTML, so data from the server cannot inject markup;
// the Content-Security-Policy forbids inline scripts and styles anyway.
'use strict';

(function () {
  const state = {
    csrf: '',   // X-CSRF-Token for cookie-authenticated calls
    user: null, // the signed-in concord.v1.User (JSON form)
  };

  const TIERS = { TIER_UNSPECIFIED: '–', TIER_S: 'S · strategic', TIER_A: 'A · key', TIER_B: 'B · general' };
  const STAGES = {
    LIFECYCLE_STAGE_UNSPECIFIED: '–', PROSPECT: 'Prospect', HANDOVER: 'Handover',
    ONBOARDING: 'Onboarding', ADOPTION: 'Adoption', RENEWAL: 'Renewal', CHURNED: 'Churned',
  };
  const SIZES = { SIZE_CLASS_UNSPECIFIED: '–', LARGE: 'Large', MEDIUM: 'Medium', SMALL: 'Small', ENTRY: 'Entry' };
  const MODES = {
    SELLING_MODE_UNSPECIFIED: '–', TRANSACTIONAL: 'Transactional', CONSULTATIVE: 'Consultative',
    ENTERPRISE: 'Enterprise',
  };
  const MODELS = {
    BUSINESS_MODEL_UNSPECIFIED: '–', PROFESSIONAL_SERVICES: 'Professional services',
    SOLUTION: 'Solution', PRODUCT: 'Product', ONLINE_SERVICE: 'Online service',
  };

  // ---- DOM helpers ------------------------------------------------------

  // el('div', {class: 'x', onclick: fn}, child, 'text', ...) builds an element.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (key === 'text') node.textContent = value;
      else if (value === true) node.setAttribute(key, '');
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function mount(...children) {
    const app = document.getElementById('app');
    app.replaceChildren(...children);
  }

  function label(map, value) {
    return map[value] || map[Object.keys(map)[0]];
  }

  function options(map, selected, firstLabel) {
    return Object.entries(map).map(([value, text], i) =>
      el('option', { value: i === 0 ? '' : value, selected: value === selected },
        i === 0 && firstLabel ? firstLabel : text));
  }

  function formatTime(ts) {
    if (!ts) return '–';
    const d = new Date(ts);
    if (isNaN(d.getTime())) return ts;
    const pad = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function errorBox() {
    return el('div', { class: 'alert', role: 'alert', hidden: true });
  }

  function showError(box, err, extra) {
    box.replaceChildren(el('strong', {}, err.title || 'Something went wrong'), ' ',
      err.message || String(err), extra || '');
    box.hidden = false;
  }

  // ---- the gateway ------------------------------------------------------

  class ApiError extends Error {
    constructor(code, message, violations) {
      super(message);
      this.code = code;
      this.violations = violations || [];
      this.title = {
        invalid_argument: 'Check the form:',
        aborted: 'Conflict:',
        permission_denied: 'Not allowed:',
        not_found: 'Not found:',
        unavailable: 'Server unavailable:',
        unauthenticated: 'Signed out:',
      }[code] || 'Error:';
    }
  }

  async function parseError(resp) {
    let body = {};
    try { body = await resp.json(); } catch (e) { /* not JSON: keep the status */ }
    return new ApiError(body.code || 'unknown', body.message || `HTTP ${resp.status}`,
      body.fieldViolations);
  }

  async function post(path, body) {
    const headers = { 'Content-Type': 'application/json' };
    if (state.csrf) headers['X-CSRF-Token'] = state.csrf;
    let resp;
    try {
      resp = await fetch(path, {
        method: 'POST', headers, body: JSON.stringify(body || {}), credentials: 'same-origin',
      });
    } catch (e) {
      throw new ApiError('unavailable', 'the gateway cannot be reached');
    }
    if (!resp.ok) {
      const err = await parseError(resp);
      if (err.code === 'unauthenticated' && path.startsWith('/concord.')) signedOut();
      throw err;
    }
    return resp.json();
  }

  function call(service, method, body) {
    return post(`/concord.v1.${service}/${method}`, body);
  }

  // ---- session ----------------------------------------------------------

  function setSession(user, csrf) {
    state.user = user;
    state.csrf = csrf;
    const signedIn = Boolean(user);
    document.getElementById('session').hidden = !signedIn;
    document.getElementById('topnav').hidden = !signedIn;
    document.getElementById('who').textContent =
      signedIn ? (user.displayName || user.username || '') : '';
  }

  function signedOut() {
    setSession(null, '');
    if (location.hash !== '#/login') location.hash = '#/login';
    else route();
  }

  async function restoreSession() {
    try {
      const resp = await fetch('/auth/csrf', { credentials: 'same-origin' });
      if (!resp.ok) return false;
      const body = await resp.json();
      setSession(body.user || { username: '' }, body.csrfToken);
      return true;
    } catch (e) {
      return false;
    }
  }

  async function logout() {
    try { await post('/auth/logout', {}); } catch (e) { /* the cookie is cleared anyway */ }
    signedOut();
  }

  // ---- login page -------------------------------------------------------

  function loginPage() {
    const box = errorBox();
    const username = el('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true, autofocus: true });
    const password = el('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
    const form = el('form', { class: 'card login', id: 'login-form', onsubmit: async (ev) => {
      ev.preventDefault();
      box.hidden = true;
      submit.disabled = true;
      try {
        const body = await post('/auth/login', { username: username.value, password: password.value });
        setSession(body.user, body.csrfToken);
        location.hash = '#/accounts';
      } catch (err) {
        err.title = 'Sign-in failed:';
        showError(box, err);
        password.value = '';
        password.focus();
      } finally {
        submit.disabled = false;
      }
    } },
    el('h1', {}, 'Sign in to Concord'),
    el('p', { class: 'muted' }, 'One account view for sales, presales, delivery, R&D and customer success.'),
    box,
    el('label', { for: 'login-username' }, 'Username'), username,
    el('label', { for: 'login-password' }, 'Password'), password,
    el('div', { class: 'actions' }, submit));
    mount(el('div', { class: 'center' }, form));
    username.focus();
  }

  // ---- account list -----------------------------------------------------

  function accountRow(a) {
    return el('tr', {},
      el('td', {}, el('a', { href: `#/accounts/${encodeURIComponent(a.id)}`, class: 'account-link' }, a.name || '(unnamed)')),
      el('td', {}, a.industry || '–'),
      el('td', {}, a.region || '–'),
      el('td', {}, el('span', { class: `badge tier-${(a.tier || 'TIER_UNSPECIFIED').toLowerCase()}` }, label(TIERS, a.tier))),
      el('td', {}, label(STAGES, a.stage)),
      el('td', { class: 'nowrap' }, formatTime(a.updateTime)));
  }

  function createForm(onCreated) {
    const box = errorBox();
    const f = {
      name: el('input', { id: 'new-name', name: 'name', required: true, maxlength: 200 }),
      industry: el('input', { id: 'new-industry', name: 'industry' }),
      region: el('input', { id: 'new-region', name: 'region' }),
      website: el('input', { id: 'new-website', name: 'website', type: 'url', placeholder: 'https://' }),
      sizeClass: el('select', { id: 'new-size', name: 'sizeClass' }, options(SIZES, '', 'Not known')),
      sellingMode: el('select', { id: 'new-mode', name: 'sellingMode' }, options(MODES, '', 'Not known')),
      businessModel: el('select', { id: 'new-model', name: 'businessModel' }, options(MODELS, '', 'Not known')),
    };
    const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Create account');
    // Similar names are refused unless the user confirms: the server names the
    // look-alikes and "Create anyway" repeats the call with allowSimilarName.
    async function create(allowSimilarName) {
      const account = {};
      for (const [key, input] of Object.entries(f)) if (input.value.trim()) account[key] = input.value.trim();
      submit.disabled = true;
      try {
        const created = await call('AccountService', 'CreateAccount', { account, allowSimilarName });
        form.reset();
        box.hidden = true;
        onCreated(created);
      } catch (err) {
        if (err.code === 'failed_precondition' && /similar names/.test(err.message)) {
          const anyway = el('button', { type: 'button', id: 'create-anyway', class: 'btn',
            onclick: () => create(true) }, 'Create anyway');
          showError(box, Object.assign(err, { title: 'Possible duplicate.' }), anyway);
        } else {
          showError(box, err);
        }
      } finally {
        submit.disabled = false;
      }
    }
    const form = el('form', { id: 'create-form', class: 'grid-form', onsubmit: async (ev) => {
      ev.preventDefault();
      box.hidden = true;
      await create(false);
    } },
    box,
    field('Name', f.name), field('Industry', f.industry), field('Region', f.region),
    field('Web site', f.website), field('Size', f.sizeClass), field('Selling mode', f.sellingMode),
    field('Business model', f.businessModel),
    el('div', { class: 'actions span-all' }, submit));
    return el('details', { class: 'card', id: 'create-panel' },
      el('summary', {}, 'New account'), form);
  }

  function field(text, input, wide) {
    return el('div', { class: wide ? 'field span-all' : 'field' },
      el('label', { for: input.id }, text), input);
  }

  function accountsPage() {
    const box = errorBox();
    const query = el('input', { id: 'search', type: 'search', placeholder: 'Search by name', 'aria-label': 'Search by name' });
    const tier = el('select', { id: 'filter-tier', 'aria-label': 'Tier' }, options(TIERS, '', 'All tiers'));
    const stage = el('select', { id: 'filter-stage', 'aria-label': 'Stage' }, options(STAGES, '', 'All stages'));
    const size = el('select', { id: 'filter-size', 'aria-label': 'Size' }, options(SIZES, '', 'All sizes'));
    const tbody = el('tbody', { id: 'account-rows' });
    const empty = el('p', { class: 'muted empty', hidden: true }, 'No accounts match.');
    const more = el('button', { type: 'button', class: 'btn', id: 'load-more', hidden: true }, 'Load more');
    let nextToken = '';
    let generation = 0;

    async function load(append) {
      const mine = ++generation;
      const req = { pageSize: 25 };
      if (query.value.trim()) req.query = query.value.trim();
      if (tier.value) req.tier = tier.value;
      if (stage.value) req.stage = stage.value;
      if (size.value) req.sizeClass = size.value;
      if (append) req.pageToken = nextToken;
      box.hidden = true;
      more.disabled = true;
      try {
        const resp = await call('AccountService', 'ListAccounts', req);
        if (mine !== generation) return; // a newer search replaced this one
        const rows = (resp.accounts || []).map(accountRow);
        if (append) tbody.append(...rows); else tbody.replaceChildren(...rows);
        nextToken = resp.nextPageToken || '';
        more.hidden = !nextToken;
        empty.hidden = tbody.children.length > 0;
      } catch (err) {
        if (mine === generation) showError(box, err);
      } finally {
        more.disabled = false;
      }
    }

    let timer = 0;
    query.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => load(false), 250); });
    for (const s of [tier, stage, size]) s.addEventListener('change', () => load(false));
    more.addEventListener('click', () => load(true));

    mount(
      el('div', { class: 'page-head' }, el('h1', {}, 'Accounts')),
      createForm((a) => { location.hash = `#/accounts/${encodeURIComponent(a.id)}`; }),
      el('div', { class: 'card' },
        el('div', { class: 'filters' }, query, tier, stage, size),
        box,
        el('div', { class: 'table-wrap' },
          el('table', { class: 'table', id: 'accounts-table' },
            el('thead', {}, el('tr', {},
              ['Name', 'Industry', 'Region', 'Tier', 'Stage', 'Updated'].map((h) => el('th', { scope: 'col' }, h)))),
            tbody)),
        empty,
        el('div', { class: 'actions' }, more)));
    load(false);
  }

  // ---- account detail ---------------------------------------------------

  const EDITABLE = [
    // [JSON name, label, kind, enum map]
    ['name', 'Name', 'text'],
    ['legalName', 'Legal name', 'text'],
    ['industry', 'Industry', 'text'],
    ['region', 'Region', 'text'],
    ['sizeClass', 'Size', 'enum', SIZES],
    ['sellingMode', 'Selling mode', 'enum', MODES],
    ['businessModel', 'Business model', 'enum', MODELS],
    ['website', 'Web site', 'text'],
    ['tags', 'Tags', 'tags'],
    ['notes', 'Notes', 'area'],
  ];

  function display(a, key, kind, map) {
    if (kind === 'enum') return label(map, a[key]);
    if (kind === 'tags') return (a.tags || []).length ? a.tags.map((t) => el('span', { class: 'tag' }, t)) : '–';
    return a[key] || '–';
  }

  async function detailPage(id) {
    mount(el('p', { class: 'muted' }, 'Loading…'));
    let account;
    try {
      account = await call('AccountService', 'GetAccount', { id });
    } catch (err) {
      const box = errorBox();
      showError(box, err);
      mount(el('p', {}, el('a', { href: '#/accounts' }, '← Accounts')), box);
      return;
    }
    renderDetail(account);
  }

  function renderDetail(a, notice) {
    const box = errorBox();
    const info = el('div', { class: 'notice', hidden: !notice, role: 'status' }, notice || '');
    const rows = EDITABLE.map(([key, text, kind, map]) =>
      [el('dt', {}, text), el('dd', { 'data-field': key }, display(a, key, kind, map))]);
    const server = [
      ['Tier', label(TIERS, a.tier)], ['Stage', label(STAGES, a.stage)],
      ['Archived', a.archived ? 'yes' : 'no'], ['Version', a.version || '0'],
      ['Created', formatTime(a.createTime)], ['Updated', formatTime(a.updateTime)], ['Id', a.id],
    ].map(([t, v]) => [el('dt', {}, t), el('dd', {}, v)]);

    const edit = el('button', { type: 'button', class: 'btn btn-primary', id: 'edit' }, 'Edit');
    const archive = el('button', { type: 'button', class: 'btn btn-danger', id: 'archive', hidden: a.archived }, 'Archive');
    let armed = false;
    archive.addEventListener('click', async () => {
      // A second click confirms: archiving hides the account from lists.
      if (!armed) { armed = true; archive.textContent = 'Click again to archive'; return; }
      archive.disabled = true;
      try {
        const updated = await call('AccountService', 'ArchiveAccount', { id: a.id, version: a.version });
        renderDetail(updated, 'Account archived.');
      } catch (err) {
        showError(box, err, conflictHint(err, a.id));
        archive.disabled = false;
      }
    });
    edit.addEventListener('click', () => renderEdit(a));

    mount(
      el('p', { class: 'crumbs' }, el('a', { href: '#/accounts' }, '← Accounts')),
      el('div', { class: 'page-head' },
        el('h1', { id: 'account-title' }, a.name || '(unnamed)'),
        a.archived ? el('span', { class: 'badge badge-muted' }, 'archived') : null,
        el('div', { class: 'actions' }, edit, archive)),
      info, box,
      el('div', { class: 'columns' },
        el('section', { class: 'card' }, el('h2', {}, 'Profile'), el('dl', { class: 'fields' }, rows)),
        el('section', { class: 'card' }, el('h2', {}, 'Status'), el('dl', { class: 'fields' }, server))));
  }

  function conflictHint(err, id) {
    if (err.code !== 'aborted') return '';
    return el('span', {}, ' Someone else changed this account since you opened it. ',
      el('a', { href: '#', class: 'reload', onclick: (ev) => { ev.preventDefault(); detailPage(id); } },
        'Reload the latest version'), ' and apply your change again.');
  }

  function renderEdit(a) {
    const box = errorBox();
    const inputs = {};
    const fields = EDITABLE.map(([key, text, kind, map]) => {
      let input;
      const id = `edit-${key}`;
      if (kind === 'enum') input = el('select', { id, name: key }, options(map, a[key] || '', 'Not known'));
      else if (kind === 'area') input = el('textarea', { id, name: key, rows: 4 }, a[key] || '');
      else if (kind === 'tags') input = el('input', { id, name: key, value: (a.tags || []).join(', '), placeholder: 'comma, separated' });
      else input = el('input', { id, name: key, value: a[key] || '', required: key === 'name' });
      inputs[key] = [input, kind];
      return field(text, input, kind === 'area');
    });
    const save = el('button', { type: 'submit', class: 'btn btn-primary', id: 'save' }, 'Save');
    const cancel = el('button', { type: 'button', class: 'btn', onclick: () => renderDetail(a) }, 'Cancel');
    const form = el('form', { class: 'card grid-form', id: 'edit-form', onsubmit: async (ev) => {
      ev.preventDefault();
      box.hidden = true;
      const changed = {};
      const mask = [];
      for (const [key, [input, kind]] of Object.entries(inputs)) {
        let value = input.value.trim();
        if (kind === 'tags') {
          value = value ? value.split(',').map((t) => t.trim()).filter(Boolean) : [];
          if (JSON.stringify(value) === JSON.stringify(a.tags || [])) continue;
        } else if (value === (a[key] || '')) {
          continue;
        }
        changed[key] = kind === 'enum' && !value ? undefined : value;
        mask.push(key);
      }
      if (!mask.length) { renderDetail(a, 'Nothing changed.'); return; }
      save.disabled = true;
      try {
        const updated = await call('AccountService', 'UpdateAccount', {
          account: Object.assign({ id: a.id }, changed), updateMask: mask.join(','), version: a.version,
        });
        renderDetail(updated, 'Saved.');
      } catch (err) {
        showError(box, err, conflictHint(err, a.id));
        save.disabled = false;
      }
    } },
    box, fields, el('div', { class: 'actions span-all' }, cancel, save));
    mount(
      el('p', { class: 'crumbs' }, el('a', { href: '#/accounts' }, '← Accounts')),
      el('div', { class: 'page-head' }, el('h1', {}, `Edit ${a.name || 'account'}`)),
      form);
  }

  // ---- routing ----------------------------------------------------------

  function route() {
    const hash = location.hash || '#/accounts';
    if (!state.user) { loginPage(); return; }
    const m = hash.match(/^#\/accounts\/([^/]+)$/);
    if (m) detailPage(decodeURIComponent(m[1]));
    else if (hash === '#/login') location.hash = '#/accounts';
    else accountsPage();
  }

  async function start() {
    document.getElementById('logout').addEventListener('click', logout);
    window.addEventListener('hashchange', route);
    await restoreSession();
    route();
  }

  start();
}());
