// Names of users. Many records carry only user ids; this module remembers the
// names it has seen (from AuthService/ListUsers, which only admins and managers
// may call, and from team lists, which everyone on the account sees).
import { call, session } from './api.js';
import { el, label } from './dom.js';
import { DEPARTMENTS } from './labels.js';

const names = new Map();
let listed = null; // the users from ListUsers, or false once it was refused

export function remember(id, name) {
    if (id && name) names.set(id, name);
}

export function userName(id) {
    if (!id) return '–';
    if (session.user && id === session.user.id) return `${names.get(id) || session.user.displayName || session.user.username} (you)`;
    return names.get(id) || `user ${id}`;
}

// Every enabled user (all pages), or null when the caller may not list users:
// forms then fall back to typing a user id.
export async function listUsers() {
    if (listed === false) return null;
    if (listed) return listed;
    const users = [];
    let pageToken = '';
    try {
        do {
            const resp = await call('AuthService', 'ListUsers', { pageSize: 500, pageToken });
            users.push(...(resp.users || []));
            pageToken = resp.nextPageToken || '';
        } while (pageToken);
    } catch (err) {
        if (err.code === 'permission_denied') {
            listed = false;
            return null;
        }
        throw err;
    }
    for (const u of users) remember(u.id, u.displayName || u.username);
    listed = users;
    return users;
}

// Forget the list (after signing out, the next user may see other people).
export function forgetUsers() {
    listed = null;
    names.clear();
}

// An input for choosing a user: a <select> of `users` (optionally filtered),
// or, when the list is not available to the caller, a text field for the id.
export function userPicker(attrs, users, filter) {
    if (!users) {
        return el('input', Object.assign({ placeholder: 'User id' }, attrs));
    }
    const shown = users.filter((u) => !u.disabled && (!filter || filter(u)));
    return el('select', attrs,
        el('option', { value: '' }, shown.length ? 'Choose a user' : 'No matching users'),
        shown.map((u) => el('option', { value: u.id },
            `${u.displayName || u.username} (${u.username}${u.department ? `, ${label(DEPARTMENTS, u.department)}` : ''})`)));
}
