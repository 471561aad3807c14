// Stakeholders tab: the customer's people (level, attitude, influence, last
// contact), a form to record or edit one, the relationship map (who reports
// to whom, as an indented tree) and the coverage matrix: which of our
// departments reached which level, with the single-threaded warning.
import { put, el, label, choices, options, formatTime, errorBox, field, table, notice, flash } from './dom.js';
import { call, showError, formErrors, isUnimplemented, notAvailable } from './api.js';
import { LEVELS, ATTITUDES, DEPARTMENTS } from './labels.js';

const FIELDS = [
    // [JSON name, proto name]
    ['name', 'name'], ['title', 'title'], ['level', 'level'], ['department', 'department'], ['role', 'role'],
    ['attitude', 'attitude'], ['influence', 'influence'], ['reportsToId', 'reports_to_id'], ['email', 'email'],
    ['phone', 'phone'], ['notes', 'notes'],
];

export function render(ctx, body) {
    const a = ctx.account;
    const box = errorBox();
    const done = notice('');
    const [wrap, tbody] = table('stakeholders-table', ['Name', 'Level', 'Attitude', 'Influence', 'Reports to', 'Last contact', '']);
    const empty = el('p', { class: 'muted empty', hidden: true }, 'No stakeholders recorded yet.');
    const more = el('button', { type: 'button', class: 'btn', id: 'stakeholders-more', hidden: true }, 'Load more');
    const mapSection = el('section', { class: 'card', id: 'relationship-map' }, el('h2', {}, 'Relationship map'));
    const coverageSection = el('section', { class: 'card', id: 'coverage-card' }, el('h2', {}, 'Coverage'));
    const formSlot = el('section', { class: 'card', id: 'stakeholder-form-card' });
    let people = [];
    let next = '';

    function row(s) {
        const boss = people.find((p) => p.id === s.reportsToId);
        return el('tr', { 'data-stakeholder-id': s.id },
            el('td', {}, el('strong', {}, s.name), s.title ? el('div', { class: 'muted small' }, s.title) : null),
            el('td', {}, label(LEVELS, s.level)),
            el('td', {}, el('span', { class: `badge attitude-${(s.attitude || 'ATTITUDE_UNSPECIFIED').toLowerCase()}` }, label(ATTITUDES, s.attitude))),
            el('td', {}, s.influence ? el('span', { class: 'influence', title: `${s.influence} of 5` }, '●'.repeat(s.influence) + '○'.repeat(5 - s.influence)) : '–'),
            el('td', {}, boss ? boss.name : '–'),
            el('td', { class: 'nowrap' }, formatTime(s.lastContactTime)),
            el('td', {}, el('button', { type: 'button', class: 'btn btn-small stakeholder-edit', onclick: () => showForm(s) }, 'Edit')));
    }

    async function load(append) {
        more.disabled = true;
        try {
            const resp = await call('StakeholderService', 'ListStakeholders', { accountId: a.id, pageSize: 100, pageToken: append ? next : '' });
            people = append ? people.concat(resp.stakeholders || []) : (resp.stakeholders || []);
            next = resp.nextPageToken || '';
            put(tbody, ...people.map(row));
            more.hidden = !next;
            empty.hidden = people.length > 0;
            drawMap();
        } catch (err) {
            if (isUnimplemented(err)) {
                put(body, el('section', { class: 'card' }, el('h2', {}, 'Stakeholders'), notAvailable('Stakeholders')));
                return false;
            }
            showError(box, err);
        } finally {
            more.disabled = false;
        }
        return true;
    }
    more.addEventListener('click', () => load(true));

    // Everyone without a (known) boss is a root; children are indented under their boss.
    function drawMap() {
        const ids = new Set(people.map((p) => p.id));
        const children = new Map();
        for (const p of people) {
            const parent = p.reportsToId && ids.has(p.reportsToId) ? p.reportsToId : '';
            if (!children.has(parent)) children.set(parent, []);
            children.get(parent).push(p);
        }
        const seen = new Set();
        const branch = (parent) => el('ul', { class: 'tree' }, (children.get(parent) || []).filter((p) => !seen.has(p.id)).map((p) => {
            seen.add(p.id);
            return el('li', { 'data-stakeholder-id': p.id },
                el('span', { class: 'tree-node' }, el('strong', {}, p.name),
                    el('span', { class: 'muted' }, ` · ${[p.title, label(LEVELS, p.level)].filter(Boolean).join(', ')}`),
                    ' ', el('span', { class: `badge attitude-${(p.attitude || 'ATTITUDE_UNSPECIFIED').toLowerCase()}` }, label(ATTITUDES, p.attitude))),
                children.has(p.id) ? branch(p.id) : null);
        }));
        put(mapSection, el('h2', {}, 'Relationship map'),
            people.length ? branch('') : el('p', { class: 'muted' }, 'The map appears once stakeholders are recorded.'));
    }

    function showForm(s) {
        const editing = Boolean(s);
        s = s || {};
        const formBox = errorBox();
        const id = (k) => `stakeholder-${k}`;
        const f = {
            name: el('input', { id: id('name'), required: true, value: s.name || '', 'data-field': 'stakeholder.name' }),
            title: el('input', { id: id('title'), value: s.title || '', 'data-field': 'stakeholder.title' }),
            level: el('select', { id: id('level'), required: true, 'data-field': 'stakeholder.level' },
                el('option', { value: '' }, 'Choose a level'), choices(LEVELS, s.level)),
            department: el('input', { id: id('department'), value: s.department || '', placeholder: 'e.g. IT', 'data-field': 'stakeholder.department' }),
            role: el('input', { id: id('role'), value: s.role || '', placeholder: 'e.g. economic buyer', 'data-field': 'stakeholder.role' }),
            attitude: el('select', { id: id('attitude'), 'data-field': 'stakeholder.attitude' }, options(ATTITUDES, s.attitude || '', 'Not known')),
            influence: el('select', { id: id('influence'), 'data-field': 'stakeholder.influence' },
                el('option', { value: '0' }, 'Not known'),
                [1, 2, 3, 4, 5].map((n) => el('option', { value: String(n), selected: n === s.influence }, `${n} of 5`))),
            reportsToId: el('select', { id: id('reports-to'), 'data-field': 'stakeholder.reports_to_id' },
                el('option', { value: '' }, 'Nobody recorded'),
                people.filter((p) => p.id !== s.id).map((p) => el('option', { value: p.id, selected: p.id === s.reportsToId }, p.name))),
            email: el('input', { id: id('email'), type: 'email', value: s.email || '', 'data-field': 'stakeholder.email' }),
            phone: el('input', { id: id('phone'), type: 'tel', value: s.phone || '', 'data-field': 'stakeholder.phone' }),
            notes: el('textarea', { id: id('notes'), rows: 3, 'data-field': 'stakeholder.notes' }, s.notes || ''),
        };
        const value = (k) => (k === 'influence' ? Number(f[k].value) : f[k].value.trim());
        const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, editing ? 'Save' : 'Add stakeholder');
        const cancel = el('button', { type: 'button', class: 'btn', hidden: !editing, onclick: () => showForm(null) }, 'Cancel');
        const form = el('form', { id: 'stakeholder-form', class: 'grid-form', onsubmit: async (ev) => {
            ev.preventDefault();
            errors.clear();
            submit.disabled = true;
            let message = '';
            try {
                if (editing) {
                    const changed = { id: s.id };
                    const mask = [];
                    for (const [key, proto] of FIELDS) {
                        const before = key === 'influence' ? (s.influence || 0) : (s[key] || '');
                        // An enum cleared to '' is sent as unset (its zero value).
                        if (value(key) !== before) { changed[key] = value(key) === '' ? undefined : value(key); mask.push(proto); }
                    }
                    if (!mask.length) { showForm(null); return; }
                    await call('StakeholderService', 'UpdateStakeholder', { stakeholder: changed, updateMask: mask.join(','), version: s.version });
                    message = `${f.name.value.trim()} saved.`;
                } else {
                    const created = { accountId: a.id };
                    for (const [key] of FIELDS) if (value(key)) created[key] = value(key);
                    await call('StakeholderService', 'CreateStakeholder', { stakeholder: created });
                    message = `${f.name.value.trim()} added.`;
                }
                // The notice comes once the list shows the change.
                await load(false);
                flash(done, message);
                showForm(null);
                loadCoverage();
            } catch (err) {
                errors.show(err);
            } finally {
                submit.disabled = false;
            }
        } },
        formBox,
        field('Name', f.name), field('Title', f.title), field('Level', f.level), field('Their department', f.department),
        field('Role in decisions', f.role), field('Attitude', f.attitude), field('Influence', f.influence),
        field('Reports to', f.reportsToId), field('Email', f.email), field('Phone', f.phone), field('Notes', f.notes, true),
        el('div', { class: 'actions span-all' }, cancel, submit));
        const errors = formErrors(form, formBox, () => { showForm(null); load(false); });
        put(formSlot, el('h2', {}, editing ? `Edit ${s.name}` : 'Add a stakeholder'), form);
        if (editing) formSlot.scrollIntoView({ block: 'nearest' });
    }

    async function loadCoverage() {
        try {
            const cov = await call('StakeholderService', 'GetCoverage', { accountId: a.id });
            put(coverageSection, el('h2', {}, 'Coverage (last 180 days)'), coverageMatrix(cov));
        } catch (err) {
            if (isUnimplemented(err)) put(coverageSection, el('h2', {}, 'Coverage'), notAvailable('The coverage view'));
            else {
                const covBox = errorBox();
                showError(covBox, err);
                put(coverageSection, el('h2', {}, 'Coverage'), covBox);
            }
        }
    }

    put(body, 
        el('section', { class: 'card' }, el('h2', {}, 'Stakeholders'), done, box, wrap, empty, el('div', { class: 'actions' }, more)),
        el('div', { class: 'columns' }, mapSection, coverageSection),
        formSlot);
    load(false).then((ok) => {
        if (!ok) return;
        showForm(null);
        loadCoverage();
    });
}

// Levels (rows) by our departments (columns); each cell counts the
// stakeholders of that level our department was in touch with.
function coverageMatrix(cov) {
    const levels = Object.keys(LEVELS).slice(1);
    const depts = Object.keys(DEPARTMENTS).slice(1);
    const cells = new Map((cov.cells || []).map((c) => [`${c.level}/${c.department}`, c]));
    const known = cov.knownPerLevel || [];
    const uncovered = new Set(cov.uncoveredLevels || []);
    const flag = cov.singleThreaded
        ? el('div', { class: 'flag-warn', id: 'single-threaded', role: 'status' },
            el('strong', {}, 'Single-threaded. '), cov.explanation || 'All contact goes through one person.')
        : el('div', { class: 'flag-ok', id: 'multi-threaded' }, 'Contact is spread over several people.');
    return el('div', {}, flag,
        el('div', { class: 'table-wrap' }, el('table', { class: 'table matrix', id: 'coverage-matrix' },
            el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Level'), el('th', { scope: 'col' }, 'Known'),
                depts.map((d) => el('th', { scope: 'col' }, label(DEPARTMENTS, d))))),
            el('tbody', {}, levels.map((lvl, i) => el('tr', { class: uncovered.has(lvl) ? 'row-warn' : null, 'data-level': lvl },
                el('th', { scope: 'row' }, label(LEVELS, lvl), uncovered.has(lvl) ? el('span', { class: 'badge badge-warn' }, 'no contact') : null),
                el('td', {}, String(known[i] || 0)),
                depts.map((d) => {
                    const c = cells.get(`${lvl}/${d}`);
                    return c ? el('td', { class: 'cell-on', title: `last contact ${formatTime(c.lastContactTime)}` }, String(c.stakeholders || 0))
                        : el('td', { class: 'cell-off' }, '·');
                })))))));
}
