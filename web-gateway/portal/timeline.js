// Timeline tab: everything that happened with the account, newest first
// (activities, stage and tier changes, notable record changes), filtered by
// type and paged with "Load more"; and a form to log an activity.
import { put, el, label, choices, formatTime, errorBox, field, notice, flash, localInputValue } from './dom.js';
import { call, showError, formErrors, pager, isUnimplemented, notAvailable, ApiError } from './api.js';
import { ENTRY_TYPES, ENTRY_TYPE, ACTIVITY_KINDS, LEVELS } from './labels.js';
import { userName } from './users.js';

export function render(ctx, body) {
    const a = ctx.account;
    const box = errorBox();
    const done = notice('');
    const list = el('ol', { class: 'timeline', id: 'timeline' });
    const empty = el('p', { class: 'muted empty', hidden: true }, 'Nothing on the timeline for these types.');
    const more = el('button', { type: 'button', class: 'btn', id: 'timeline-more', hidden: true }, 'Load more');
    const filters = Object.entries(ENTRY_TYPES).slice(1).map(([value, text]) => {
        const box = el('input', { type: 'checkbox', value, checked: true, id: `filter-${value.toLowerCase()}` });
        return [box, el('label', { class: 'check', for: box.id }, box, ` ${text}`)];
    });
    const listSection = el('section', { class: 'card', id: 'timeline-card' },
        el('div', { class: 'card-head' }, el('h2', {}, 'Timeline'),
            el('div', { class: 'filter-checks', role: 'group', 'aria-label': 'Entry types' }, filters.map(([, l]) => l))),
        done, box, list, empty, el('div', { class: 'actions' }, more));

    function entry(e) {
        const type = (e.type || 'TIMELINE_ENTRY_TYPE_UNSPECIFIED').toLowerCase();
        return el('li', { class: `entry entry-${type}`, 'data-ref-id': e.refId || '' },
            el('div', { class: 'entry-time' }, formatTime(e.time)),
            el('div', { class: 'entry-body' },
                el('div', {}, el('span', { class: `badge type-${type}` }, label(ENTRY_TYPE, e.type)), ' ',
                    el('strong', { class: 'entry-title' }, e.title || '')),
                e.detail ? el('div', { class: 'entry-detail' }, e.detail) : null,
                e.actorId ? el('div', { class: 'muted small' }, userName(e.actorId)) : null));
    }

    const load = pager({
        tbody: list, more, render: entry,
        fetchPage: async (pageToken) => {
            box.hidden = true;
            const chosen = filters.filter(([c]) => c.checked).map(([c]) => c.value);
            if (!chosen.length) return [[], ''];
            // All types checked is the same as no filter.
            const types = chosen.length === filters.length ? [] : chosen;
            const resp = await call('ActivityService', 'GetAccountTimeline', { accountId: a.id, types, pageSize: 25, pageToken });
            return [resp.entries || [], resp.nextPageToken];
        },
        onEmpty: (isEmpty) => { empty.hidden = !isEmpty; },
        onError: (err) => {
            if (isUnimplemented(err)) put(listSection, el('h2', {}, 'Timeline'), notAvailable('The timeline'));
            else showError(box, err);
        },
    });
    for (const [c] of filters) c.addEventListener('change', () => load(false));

    const formSection = el('section', { class: 'card', id: 'activity-card' }, el('h2', {}, 'Log an activity'));
    put(body, listSection, formSection);
    load(false);
    activityForm(a, formSection, (text) => { flash(done, text); load(false); });
}

function activityForm(a, section, onLogged) {
    const formBox = errorBox();
    const kind = el('select', { id: 'activity-kind', required: true, 'data-field': 'activity.kind' },
        el('option', { value: '' }, 'Choose a kind'), choices(ACTIVITY_KINDS, ''));
    const subject = el('input', { id: 'activity-subject', required: true, maxlength: 200, 'data-field': 'activity.subject', placeholder: 'e.g. Quarterly review with IT' });
    const when = el('input', { id: 'activity-time', type: 'datetime-local', required: true, 'data-field': 'activity.occur_time', value: localInputValue(new Date()) });
    const notes = el('textarea', { id: 'activity-notes', rows: 3, 'data-field': 'activity.notes' });
    const people = el('fieldset', { class: 'people', id: 'activity-stakeholders', 'data-field': 'activity.stakeholder_ids' },
        el('legend', {}, 'Stakeholders involved'), el('p', { class: 'muted small' }, 'Loading…'));
    const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Log activity');
    const form = el('form', { id: 'activity-form', class: 'grid-form', onsubmit: async (ev) => {
        ev.preventDefault();
        errors.clear();
        // datetime-local is the browser's local time; the API wants UTC.
        const t = new Date(when.value);
        if (isNaN(t.getTime())) {
            errors.show(new ApiError('invalid_argument', 'the time is not valid',
                [{ field: 'activity.occur_time', description: 'must be a date and time' }]));
            return;
        }
        const stakeholderIds = [...people.querySelectorAll('input:checked')].map((c) => c.value);
        submit.disabled = true;
        try {
            const act = await call('ActivityService', 'CreateActivity', { activity: {
                accountId: a.id, kind: kind.value || undefined, subject: subject.value.trim(), notes: notes.value.trim(),
                occurTime: t.toISOString(), stakeholderIds,
            } });
            form.reset();
            when.value = localInputValue(new Date());
            onLogged(`Activity logged: ${act.subject || subject.value}.`);
        } catch (err) {
            errors.show(err);
        } finally {
            submit.disabled = false;
        }
    } },
    formBox, field('Kind', kind), field('When (your time)', when), field('Subject', subject, true),
    field('Notes', notes, true), el('div', { class: 'span-all' }, people),
    el('div', { class: 'actions span-all' }, submit));
    const errors = formErrors(form, formBox);
    section.append(form);

    call('StakeholderService', 'ListStakeholders', { accountId: a.id, pageSize: 200 }).then((resp) => {
        const list = resp.stakeholders || [];
        put(people, el('legend', {}, 'Stakeholders involved'),
            list.length ? list.map((s) => el('label', { class: 'check' },
                el('input', { type: 'checkbox', value: s.id, name: 'stakeholder' }),
                ` ${s.name}`, el('span', { class: 'muted small' }, ` (${label(LEVELS, s.level)})`)))
                : el('p', { class: 'muted small' }, 'No stakeholders recorded yet (Stakeholders tab).'));
    }).catch((err) => {
        put(people, el('legend', {}, 'Stakeholders involved'),
            el('p', { class: 'muted small' }, isUnimplemented(err) ? 'Stakeholders are not available yet.' : err.message));
    });
}
