// The sign-in page and the session kept in the cookie.
import { el, mount, errorBox } from './dom.js';
import { post, session, showError } from './api.js';
import { forgetUsers } from './users.js';

export function setSession(user, csrf) {
    session.user = user;
    session.csrf = csrf;
    const signedIn = Boolean(user);
    document.getElementById('session').hidden = !signedIn;
    document.getElementById('topnav').hidden = !signedIn;
    document.getElementById('who').textContent =
        signedIn ? (user.displayName || user.username || '') : '';
    if (!signedIn) forgetUsers();
}

// Brings back the session of a reloaded page (the cookie is HttpOnly, so the
// page asks the gateway for its CSRF token and user).
export async function restoreSession() {
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

export async function logout() {
    try { await post('/auth/logout', {}); } catch (e) { /* the cookie is cleared anyway */ }
    session.onSignedOut();
}

export function loginPage() {
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
            // Open the page the address asked for (a shared link), or the account list.
            if (!location.hash || location.hash === '#/login') location.hash = '#/accounts';
            else window.dispatchEvent(new HashChangeEvent('hashchange'));
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
