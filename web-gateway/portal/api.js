// The gateway: the session, Connect JSON calls and how their errors are shown.
//
// Every call is POST /concord.v1.<Service>/<Method> with a proto3 JSON body and
// the X-CSRF-Token header of the cookie session. Errors are Connect error
// objects; `fieldViolations` (a Concord extension) names the fields at fault,
// by proto name ("contract.end_date"), and the forms show each one next to its
// input.
import { put, el } from './dom.js';

export const session = {
    csrf: '',   // X-CSRF-Token for cookie-authenticated calls
    user: null, // the signed-in concord.v1.User (JSON form)
    onSignedOut: () => {},
};

const TITLES = {
    invalid_argument: 'Check the form:',
    aborted: 'Conflict:',
    permission_denied: 'Not allowed:',
    not_found: 'Not found:',
    failed_precondition: 'Not possible now:',
    unavailable: 'Server unavailable:',
    unauthenticated: 'Signed out:',
    unimplemented: 'Not available yet:',
    already_exists: 'Already exists:',
};

export class ApiError extends Error {
    constructor(code, message, violations) {
        super(message);
        this.code = code;
        this.violations = violations || [];
        this.title = TITLES[code] || 'Error:';
    }
}

async function parseError(resp) {
    let body = {};
    try { body = await resp.json(); } catch (e) { /* not JSON: keep the status */ }
    return new ApiError(body.code || 'unknown', body.message || `HTTP ${resp.status}`,
        body.fieldViolations);
}

export async function post(path, body) {
    const headers = { 'Content-Type': 'application/json' };
    if (session.csrf) headers['X-CSRF-Token'] = session.csrf;
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
        if (err.code === 'unauthenticated' && path.startsWith('/concord.')) session.onSignedOut();
        throw err;
    }
    return resp.json();
}

export function call(service, method, body) {
    return post(`/concord.v1.${service}/${method}`, body);
}

export function isUnimplemented(err) {
    return err && err.code === 'unimplemented';
}

export function isManager() {
    const role = session.user && session.user.role;
    return role === 'ADMIN' || role === 'MANAGER';
}

// The calm note a section shows while its server side is not there yet.
export function notAvailable(what) {
    return el('p', { class: 'na-note', role: 'status' },
        `Not available yet on this server: ${what.charAt(0).toLowerCase()}${what.slice(1)}. ` +
        'The rest of the page works as usual.');
}

// Shows an error in a box; for a version conflict, `reload` is offered.
export function showError(box, err, reload) {
    const parts = [el('strong', {}, err.title || 'Something went wrong'), ' ', err.message || String(err)];
    if (err.code === 'aborted') {
        parts.push(' Someone else changed this since you opened it. ',
            el('a', { href: '#', class: 'reload', onclick: (ev) => { ev.preventDefault(); if (reload) reload(); else location.reload(); } },
                'Reload the latest version'), ' and apply your change again.');
    }
    put(box, ...parts);
    box.hidden = false;
}

// Error display for one form: the box at the top and a message under every
// input a field violation names. Inputs declare their proto field with
// data-field ("contract.end_date", "scores[2].note", ...); a violation matches
// an input by the full path or, failing that, by its last name.
export function formErrors(form, box, reload) {
    function clear() {
        box.hidden = true;
        for (const p of form.querySelectorAll('.field-error')) p.remove();
        for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
    }
    // Field paths come by proto name from the server and by JSON name from the
    // gateway's decoder ("member.teamRole"): compare them in snake case.
    const snake = (p) => p.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
    function find(path) {
        const inputs = [...form.querySelectorAll('[data-field]')];
        const want = snake(path);
        const exact = inputs.find((i) => i.dataset.field === want);
        if (exact) return exact;
        const last = want.replace(/\[\d+\]/g, '').split('.').pop();
        return inputs.find((i) => i.dataset.field.replace(/\[\d+\]/g, '').split('.').pop() === last);
    }
    function show(err) {
        clear();
        showError(box, err, reload);
        for (const v of err.violations || []) {
            const input = find(v.field || '');
            if (!input) continue;
            input.setAttribute('aria-invalid', 'true');
            const labelText = form.querySelector(`label[for="${input.id}"]`);
            const msg = el('p', { class: 'field-error', 'data-error-for': v.field },
                `${labelText ? labelText.textContent : v.field}: ${v.description}`);
            input.insertAdjacentElement('afterend', msg);
        }
    }
    return { clear, show };
}

// Fills `tbody` page by page: fetchPage(token) resolves to [items, nextToken]
// and each item becomes a row through render(item); the "Load more" button
// shows while there are more. Errors go to onError. Returns load(append).
export function pager({ tbody, more, fetchPage, render, onEmpty, onError }) {
    let next = '';
    let generation = 0;
    async function load(append) {
        const mine = ++generation;
        more.disabled = true;
        try {
            const [items, token] = await fetchPage(append ? next : '');
            if (mine !== generation) return;
            const rows = items.map(render);
            if (append) tbody.append(...rows); else put(tbody, ...rows);
            next = token || '';
            more.hidden = !next;
            if (onEmpty) onEmpty(tbody.children.length === 0);
        } catch (err) {
            if (mine === generation) onError(err);
        } finally {
            more.disabled = false;
        }
    }
    more.addEventListener('click', () => load(true));
    return load;
}
