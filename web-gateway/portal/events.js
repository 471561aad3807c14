// Upcoming key events (rankings, policies, anniversaries, ...) with the
// accounts they concern, creating outreach tasks for them; and "My tasks".
import { put, el, mount, label, options, formatDate, formatTime, errorBox, table, notice, flash } from './dom.js';
import { call, showError, pager, isUnimplemented, notAvailable } from './api.js';
import { EVENT_CATEGORIES, TASK_STATUS } from './labels.js';

export function eventsPage() {
    const box = errorBox();
    const done = notice('');
    const within = el('select', { id: 'events-within', 'aria-label': 'Within' },
        [7, 14, 30, 60, 90].map((d) => el('option', { value: String(d), selected: d === 30 }, `Next ${d} days`)));
    const create = el('button', { type: 'button', class: 'btn btn-primary', id: 'create-tasks' }, 'Create outreach tasks');
    const [wrap, tbody] = table('events-table', ['Date', 'Event', 'Category', 'Accounts concerned']);
    const empty = el('p', { class: 'muted empty', hidden: true }, 'No key event in this window.');
    const section = el('div', { class: 'card' },
        el('div', { class: 'toolbar' }, within, create), done, box, wrap, empty);

    function row(u) {
        const e = u.event || {};
        const accounts = u.accounts || [];
        const rest = (u.accountCount || accounts.length) - accounts.length;
        return el('tr', { 'data-event-id': e.id },
            el('td', { class: 'nowrap' }, formatDate(u.occurrenceDate)),
            el('td', {}, el('strong', {}, e.title || ''), e.description ? el('div', { class: 'muted small' }, e.description) : null),
            el('td', {}, label(EVENT_CATEGORIES, e.category),
                e.industry ? el('div', { class: 'muted small' }, `industry: ${e.industry}`) : null),
            el('td', {}, accounts.map((a, i) => [i ? ', ' : '', el('a', { href: `#/accounts/${encodeURIComponent(a.id)}` }, a.name || a.id)]),
                rest > 0 ? el('span', { class: 'muted' }, ` and ${rest} more`) : null,
                !accounts.length ? el('span', { class: 'muted' }, 'none visible') : null));
    }

    async function load(createTasks) {
        box.hidden = true;
        create.disabled = true;
        try {
            const resp = await call('KeyEventService', 'ListUpcomingEvents', { withinDays: Number(within.value), createTasks });
            const list = resp.events || [];
            put(tbody, ...list.map(row));
            empty.hidden = list.length > 0;
            if (createTasks) {
                const n = resp.tasksCreated || 0;
                flash(done, n ? `${n} outreach task${n === 1 ? '' : 's'} created for the account owners.`
                    : 'No new tasks: every occurrence already has its tasks.');
            }
        } catch (err) {
            if (isUnimplemented(err)) put(section, notAvailable('The key-event calendar'));
            else showError(box, err);
        } finally {
            create.disabled = false;
        }
    }
    within.addEventListener('change', () => load(false));
    create.addEventListener('click', () => load(true));
    mount(el('div', { class: 'page-head' }, el('h1', {}, 'Upcoming events')), section);
    load(false);
}

export function tasksPage() {
    const box = errorBox();
    const done = notice('');
    const status = el('select', { id: 'tasks-status', 'aria-label': 'Status' }, options(TASK_STATUS, 'TASK_OPEN', 'All'));
    const [wrap, tbody] = table('tasks-table', ['Due', 'Account', 'Reach out about', 'Status', '']);
    const empty = el('p', { class: 'muted empty', hidden: true }, 'No tasks here.');
    const more = el('button', { type: 'button', class: 'btn', id: 'tasks-more', hidden: true }, 'Load more');
    const section = el('div', { class: 'card' }, el('div', { class: 'filters filters-one' }, status), done, box, wrap, empty,
        el('div', { class: 'actions' }, more));

    function row(t) {
        const open = t.status !== 'TASK_DONE';
        const rowBox = el('div', { class: 'alert', role: 'alert', hidden: true });
        const complete = open ? el('button', { type: 'button', class: 'btn btn-small task-complete' }, 'Mark done') : null;
        const tr = el('tr', { 'data-task-id': t.id, class: open ? null : 'row-muted' },
            el('td', { class: 'nowrap' }, formatDate(t.dueDate)),
            el('td', {}, el('a', { href: `#/accounts/${encodeURIComponent(t.accountId)}` }, t.accountName || t.accountId)),
            el('td', {}, t.title || '', rowBox),
            el('td', { class: 'task-status' }, open ? 'Open' : `Done ${formatTime(t.doneTime)}`),
            el('td', {}, complete));
        if (complete) {
            complete.addEventListener('click', async () => {
                complete.disabled = true;
                try {
                    const updated = await call('KeyEventService', 'CompleteOutreachTask', { id: t.id });
                    tr.replaceWith(row(updated));
                    flash(done, `Done: ${updated.title || 'task'} for ${updated.accountName || 'the account'}.`);
                } catch (err) {
                    showError(rowBox, err);
                    complete.disabled = false;
                }
            });
        }
        return tr;
    }

    const load = pager({
        tbody, more, render: row,
        fetchPage: async (pageToken) => {
            box.hidden = true;
            const req = { assigneeId: 'me', pageSize: 50, pageToken };
            if (status.value) req.status = status.value;
            const resp = await call('KeyEventService', 'ListOutreachTasks', req);
            return [resp.tasks || [], resp.nextPageToken];
        },
        onEmpty: (isEmpty) => { empty.hidden = !isEmpty; },
        onError: (err) => {
            if (isUnimplemented(err)) put(section, notAvailable('Outreach tasks'));
            else showError(box, err);
        },
    });
    status.addEventListener('change', () => load(false));
    mount(el('div', { class: 'page-head' }, el('h1', {}, 'My tasks')), section);
    load(false);
}
