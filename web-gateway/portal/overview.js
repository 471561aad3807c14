// Overview tab: every field of the account (with edit and archive), the ideal
// customer profile score, the group hierarchy with its roll-up, and merging a
// duplicate into this account.
import {
    put, el, label, options, formatTime, errorBox, field, confirmButton, confirmDialog, formatMoney, notice,
} from './dom.js';
import { call, showError, formErrors, isUnimplemented, notAvailable } from './api.js';
import { TIERS, STAGES, SIZES, MODES, MODELS, CRITERIA } from './labels.js';
import { userName } from './users.js';

const EDITABLE = [
    // [JSON name, proto name, label, kind, enum map]
    ['name', 'name', 'Name', 'text'],
    ['legalName', 'legal_name', 'Legal name', 'text'],
    ['industry', 'industry', 'Industry', 'text'],
    ['region', 'region', 'Region', 'text'],
    ['sizeClass', 'size_class', 'Size', 'enum', SIZES],
    ['sellingMode', 'selling_mode', 'Selling mode', 'enum', MODES],
    ['businessModel', 'business_model', 'Business model', 'enum', MODELS],
    ['website', 'website', 'Web site', 'text'],
    ['tags', 'tags', 'Tags', 'tags'],
    ['notes', 'notes', 'Notes', 'area'],
];

function display(a, key, kind, map) {
    if (kind === 'enum') return label(map, a[key]);
    if (kind === 'tags') return (a.tags || []).length ? a.tags.map((t) => el('span', { class: 'tag' }, t)) : '–';
    return a[key] || '–';
}

export function render(ctx, body) {
    const a = ctx.account;
    const box = errorBox();
    const rows = EDITABLE.map(([key, , text, kind, map]) =>
        [el('dt', {}, text), el('dd', { 'data-field': key }, display(a, key, kind, map))]);
    const status = [
        ['Tier', label(TIERS, a.tier)], ['Stage', label(STAGES, a.stage)],
        ['Owner', userName(a.ownerId)],
        ['Archived', a.archived ? 'yes' : 'no'], ['Version', a.version || '0'],
        ['Created', formatTime(a.createTime)], ['Updated', formatTime(a.updateTime)], ['Id', a.id],
    ].map(([t, v]) => [el('dt', {}, t), el('dd', {}, v)]);

    const edit = el('button', { type: 'button', class: 'btn btn-primary', id: 'edit' }, 'Edit');
    edit.addEventListener('click', () => renderEdit(ctx, body));
    const archive = confirmButton('Archive', 'Click again to archive', { id: 'archive', hidden: a.archived }, async () => {
        try {
            const updated = await call('AccountService', 'ArchiveAccount', { id: a.id, version: a.version });
            ctx.show(updated, 'Account archived.');
        } catch (err) {
            showError(box, err, ctx.reload);
        }
    });

    put(body, 
        box,
        el('div', { class: 'columns' },
            el('section', { class: 'card' },
                el('div', { class: 'card-head' }, el('h2', {}, 'Profile'), el('div', { class: 'actions' }, edit, archive)),
                el('dl', { class: 'fields' }, rows)),
            el('section', { class: 'card' }, el('h2', {}, 'Status'), el('dl', { class: 'fields' }, status))),
        icpCard(ctx),
        el('div', { class: 'columns' }, hierarchyCard(ctx), mergeCard(ctx)));
}

function renderEdit(ctx, body) {
    const a = ctx.account;
    const box = errorBox();
    const inputs = {};
    const fields = EDITABLE.map(([key, proto, text, kind, map]) => {
        let input;
        const attrs = { id: `edit-${key}`, name: key, 'data-field': `account.${proto}` };
        if (kind === 'enum') input = el('select', attrs, options(map, a[key] || '', 'Not known'));
        else if (kind === 'area') input = el('textarea', Object.assign(attrs, { rows: 4 }), a[key] || '');
        else if (kind === 'tags') input = el('input', Object.assign(attrs, { value: (a.tags || []).join(', '), placeholder: 'comma, separated' }));
        else input = el('input', Object.assign(attrs, { value: a[key] || '', required: key === 'name' }));
        inputs[key] = [input, kind, proto];
        return field(text, input, kind === 'area');
    });
    const save = el('button', { type: 'submit', class: 'btn btn-primary', id: 'save' }, 'Save');
    const cancel = el('button', { type: 'button', class: 'btn', onclick: () => render(ctx, body) }, 'Cancel');
    const form = el('form', { class: 'card grid-form', id: 'edit-form', onsubmit: async (ev) => {
        ev.preventDefault();
        errors.clear();
        const changed = {};
        const mask = [];
        for (const [key, [input, kind, proto]] of Object.entries(inputs)) {
            let value = input.value.trim();
            if (kind === 'tags') {
                value = value ? value.split(',').map((t) => t.trim()).filter(Boolean) : [];
                if (JSON.stringify(value) === JSON.stringify(a.tags || [])) continue;
            } else if (value === (a[key] || '')) {
                continue;
            }
            changed[key] = kind === 'enum' && !value ? undefined : value;
            mask.push(proto);
        }
        if (!mask.length) { ctx.show(a, 'Nothing changed.'); return; }
        save.disabled = true;
        try {
            const updated = await call('AccountService', 'UpdateAccount', {
                account: Object.assign({ id: a.id }, changed), updateMask: mask.join(','), version: a.version,
            });
            ctx.show(updated, 'Saved.');
        } catch (err) {
            errors.show(err);
            save.disabled = false;
        }
    } },
    el('h2', { class: 'span-all' }, `Edit ${a.name || 'account'}`),
    box, fields, el('div', { class: 'actions span-all' }, cancel, save));
    const errors = formErrors(form, box, ctx.reload);
    put(body, form);
}

// ---- ideal customer profile ---------------------------------------------

function icpCard(ctx) {
    const a = ctx.account;
    const box = errorBox();
    const scored = new Map((a.icpScores || []).map((s) => [s.criterion, s]));
    const rows = Object.keys(CRITERIA).slice(1).map((criterion) => {
        const have = scored.get(criterion);
        const current = have ? String(have.score || 0) : '';
        const score = el('select', { id: `icp-score-${criterion}`, class: 'icp-score', 'aria-label': `${CRITERIA[criterion]}: score` },
            el('option', { value: '' }, 'Not scored'),
            [0, 1, 2, 3, 4, 5].map((n) => el('option', { value: String(n), selected: String(n) === current }, String(n))));
        const note = el('input', { id: `icp-note-${criterion}`, class: 'icp-note', value: have ? have.note || '' : '',
            placeholder: 'Why, in a sentence', 'aria-label': `${CRITERIA[criterion]}: note` });
        return { criterion, score, note, have, current };
    });
    const total = el('span', { id: 'icp-total', class: 'icp-total' }, `${a.icpTotal || 0} / 25`);
    const save = el('button', { type: 'submit', class: 'btn btn-primary', id: 'icp-save' }, 'Save scores');
    const form = el('form', { id: 'icp-form', onsubmit: async (ev) => {
        ev.preventDefault();
        errors.clear();
        // Only criteria whose score or note changed are sent; the rest keep theirs.
        const sent = rows.filter((r) => r.score.value !== '' &&
            (r.score.value !== r.current || r.note.value.trim() !== ((r.have && r.have.note) || '')));
        if (!sent.length) {
            showError(box, { title: 'Nothing to save:', message: 'choose a score (0-5) for at least one criterion.' });
            return;
        }
        sent.forEach((r, i) => {
            r.score.dataset.field = `scores[${i}].score`;
            r.note.dataset.field = `scores[${i}].note`;
        });
        save.disabled = true;
        try {
            const updated = await call('AccountService', 'ScoreAccountIcp', {
                accountId: a.id,
                scores: sent.map((r) => ({ criterion: r.criterion, score: Number(r.score.value), note: r.note.value.trim() })),
            });
            ctx.show(updated, `ICP scores saved: ${updated.icpTotal || 0} of 25.`);
        } catch (err) {
            errors.show(err);
        } finally {
            save.disabled = false;
        }
    } },
    box,
    el('div', { class: 'table-wrap' }, el('table', { class: 'table icp-table' },
        el('thead', {}, el('tr', {}, ['Criterion', 'Score (0-5)', 'Note', 'Scored'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, rows.map((r) => el('tr', {},
            el('td', {}, CRITERIA[r.criterion]),
            el('td', { class: 'narrow' }, r.score),
            el('td', {}, r.note),
            el('td', { class: 'muted small' }, r.have ? `${userName(r.have.scoredById)}, ${formatTime(r.have.scoreTime)}` : '–')))))),
    el('div', { class: 'actions' }, save));
    const errors = formErrors(form, box);
    return el('section', { class: 'card', id: 'icp-card' },
        el('div', { class: 'card-head' }, el('h2', {}, 'Ideal customer profile'),
            el('span', { class: 'muted' }, 'Total '), total),
        form);
}

// ---- hierarchy ----------------------------------------------------------

// A search box that lists matching accounts as buttons; onPick(account).
function accountSearch(idPrefix, exclude, onPick, initial) {
    const input = el('input', { id: `${idPrefix}-search`, type: 'search', placeholder: 'Search accounts by name', 'aria-label': 'Search accounts by name' });
    const list = el('ul', { class: 'picker', id: `${idPrefix}-results` });
    function show(accounts) {
        const shownAccounts = accounts.filter((x) => !exclude.includes(x.id));
        put(list, ...shownAccounts.map((x) => el('li', {},
            el('button', { type: 'button', class: 'btn btn-small', onclick: () => onPick(x) }, 'Choose'),
            ' ', el('span', {}, x.name), x.industry ? el('span', { class: 'muted' }, ` · ${x.industry}`) : null,
            x.similarity ? el('span', { class: 'muted' }, ` · ${Math.round(x.similarity * 100)}% similar`) : null)));
        if (!shownAccounts.length && input.value.trim()) put(list, el('li', { class: 'muted' }, 'No matching accounts.'));
    }
    let timer = 0;
    input.addEventListener('input', () => {
        clearTimeout(timer);
        timer = setTimeout(async () => {
            const q = input.value.trim();
            if (!q) { put(list); return; }
            try {
                const resp = await call('AccountService', 'ListAccounts', { query: q, pageSize: 8 });
                show(resp.accounts || []);
            } catch (err) {
                put(list, el('li', { class: 'alert' }, err.message));
            }
        }, 250);
    });
    if (initial) initial.then(show).catch(() => {});
    return el('div', { class: 'account-search' }, input, list);
}

function hierarchyCard(ctx) {
    const a = ctx.account;
    const box = errorBox();
    const tree = el('ul', { class: 'tree', id: 'hierarchy' }, el('li', { class: 'muted' }, 'Loading…'));
    const rollup = el('dl', { class: 'fields compact', id: 'rollup' });
    const section = el('section', { class: 'card', id: 'hierarchy-card' }, el('h2', {}, 'Group'), box, tree, rollup);

    async function setParent(parentId) {
        try {
            const updated = await call('AccountService', 'UpdateAccount', {
                account: { id: a.id, parentId }, updateMask: 'parent_id', version: a.version,
            });
            ctx.show(updated, parentId ? 'Parent account set.' : 'Parent account removed.');
        } catch (err) {
            showError(box, err, ctx.reload);
        }
    }

    call('AccountService', 'GetAccountHierarchy', { id: a.id }).then((h) => {
        const nodes = h.nodes || [];
        put(tree, ...nodes.map((n) => {
            const x = n.account || {};
            const depth = Math.min(n.depth || 0, 6);
            const name = x.id === a.id ? el('strong', {}, x.name || x.id)
                : el('a', { href: `#/accounts/${encodeURIComponent(x.id)}` }, x.name || x.id);
            return el('li', { class: `depth-${depth}` }, depth ? '└ ' : '', name,
                x.stage ? el('span', { class: 'muted' }, ` · ${label(STAGES, x.stage)}`) : null);
        }));
        const money = (h.annualValue || []).map((m) => formatMoney(m.amountMinor, m.currency)).join(', ') || '–';
        put(rollup, 
            el('dt', {}, 'Accounts'), el('dd', { id: 'rollup-accounts' }, String(h.accountCount || nodes.length)),
            el('dt', {}, 'Annual value'), el('dd', { id: 'rollup-value' }, money),
            el('dt', {}, 'Stakeholders'), el('dd', { id: 'rollup-stakeholders' }, String(h.stakeholderCount || 0)));
    }).catch((err) => {
        put(tree);
        if (isUnimplemented(err)) tree.replaceWith(notAvailable('The group view'));
        else showError(box, err);
    });

    const parentTools = a.parentId
        ? el('div', { class: 'actions' }, confirmButton('Remove parent', 'Click again to remove the parent', { id: 'remove-parent' }, () => setParent('')))
        : el('details', { class: 'inline-details' }, el('summary', {}, 'Set a parent account'),
            accountSearch('parent', [a.id], (p) => setParent(p.id)));
    section.append(parentTools);
    return section;
}

// ---- merge --------------------------------------------------------------

function mergeCard(ctx) {
    const a = ctx.account;
    const box = errorBox();
    const done = notice('');
    // Suggest look-alikes by name; the search box finds any other account.
    const similar = call('AccountService', 'FindSimilarAccounts', { name: a.name, limit: 5 })
        .then((r) => (r.accounts || []));
    const picker = accountSearch('merge', [a.id], async (source) => {
        box.hidden = true;
        const ok = await confirmDialog('Merge accounts?',
            `“${source.name}” will be merged into “${a.name}”: its contracts, stakeholders, activities and ` +
            'team move here and it is archived. This cannot be undone.', 'Merge');
        if (!ok) return;
        try {
            const resp = await call('AccountService', 'MergeAccounts', {
                sourceId: source.id, targetId: a.id, sourceVersion: source.version || '0',
            });
            const moved = Object.entries(resp.moved || {}).filter(([, n]) => Number(n) > 0)
                .map(([kind, n]) => `${n} ${kind}`).join(', ');
            ctx.show(resp.target || a, `Merged “${source.name}” into this account${moved ? ` (moved ${moved})` : ''}.`);
        } catch (err) {
            showError(box, err, ctx.reload);
        }
    }, similar);
    return el('section', { class: 'card', id: 'merge-card' },
        el('h2', {}, 'Merge a duplicate'),
        el('p', { class: 'muted small' }, 'Pick the duplicate account; everything linked to it moves into this one.'),
        box, done, picker);
}
