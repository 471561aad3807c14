// The account list: search, filters, "Load more" paging and the create form.
import { el, mount, label, options, formatTime, errorBox, field, table } from './dom.js';
import { call, showError, formErrors, pager } from './api.js';
import { TIERS, STAGES, SIZES, MODES, MODELS, tierClass } from './labels.js';

function accountRow(a) {
    return el('tr', {},
        el('td', {}, el('a', { href: `#/accounts/${encodeURIComponent(a.id)}`, class: 'account-link' }, a.name || '(unnamed)')),
        el('td', {}, a.industry || '–'),
        el('td', {}, a.region || '–'),
        el('td', {}, el('span', { class: tierClass(a.tier) }, label(TIERS, a.tier))),
        el('td', {}, label(STAGES, a.stage)),
        el('td', { class: 'nowrap' }, formatTime(a.updateTime)));
}

function createForm(onCreated) {
    const box = errorBox();
    const f = {
        name: el('input', { id: 'new-name', name: 'name', 'data-field': 'account.name', required: true, maxlength: 200 }),
        industry: el('input', { id: 'new-industry', name: 'industry', 'data-field': 'account.industry' }),
        region: el('input', { id: 'new-region', name: 'region', 'data-field': 'account.region' }),
        website: el('input', { id: 'new-website', name: 'website', 'data-field': 'account.website', type: 'url', placeholder: 'https://' }),
        sizeClass: el('select', { id: 'new-size', name: 'sizeClass', 'data-field': 'account.size_class' }, options(SIZES, '', 'Not known')),
        sellingMode: el('select', { id: 'new-mode', name: 'sellingMode', 'data-field': 'account.selling_mode' }, options(MODES, '', 'Not known')),
        businessModel: el('select', { id: 'new-model', name: 'businessModel', 'data-field': 'account.business_model' }, options(MODELS, '', 'Not known')),
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
            errors.clear();
            onCreated(created);
        } catch (err) {
            if (err.code === 'failed_precondition' && /similar names/.test(err.message)) {
                const anyway = el('button', { type: 'button', id: 'create-anyway', class: 'btn',
                    onclick: () => create(true) }, 'Create anyway');
                showError(box, Object.assign(err, { title: 'Possible duplicate.' }));
                box.append(' ', anyway);
            } else {
                errors.show(err);
            }
        } finally {
            submit.disabled = false;
        }
    }
    const form = el('form', { id: 'create-form', class: 'grid-form', onsubmit: async (ev) => {
        ev.preventDefault();
        errors.clear();
        await create(false);
    } },
    box,
    field('Name', f.name), field('Industry', f.industry), field('Region', f.region),
    field('Web site', f.website), field('Size', f.sizeClass), field('Selling mode', f.sellingMode),
    field('Business model', f.businessModel),
    el('div', { class: 'actions span-all' }, submit));
    const errors = formErrors(form, box);
    return el('details', { class: 'card', id: 'create-panel' },
        el('summary', {}, 'New account'), form);
}

export function accountsPage() {
    const box = errorBox();
    const query = el('input', { id: 'search', type: 'search', placeholder: 'Search by name', 'aria-label': 'Search by name' });
    const tier = el('select', { id: 'filter-tier', 'aria-label': 'Tier' }, options(TIERS, '', 'All tiers'));
    const stage = el('select', { id: 'filter-stage', 'aria-label': 'Stage' }, options(STAGES, '', 'All stages'));
    const size = el('select', { id: 'filter-size', 'aria-label': 'Size' }, options(SIZES, '', 'All sizes'));
    const [wrap, tbody] = table('accounts-table', ['Name', 'Industry', 'Region', 'Tier', 'Stage', 'Updated']);
    tbody.id = 'account-rows';
    const empty = el('p', { class: 'muted empty', hidden: true }, 'No accounts match.');
    const more = el('button', { type: 'button', class: 'btn', id: 'load-more', hidden: true }, 'Load more');

    const load = pager({
        tbody, more, render: accountRow,
        fetchPage: async (pageToken) => {
            box.hidden = true;
            const req = { pageSize: 25, pageToken };
            if (query.value.trim()) req.query = query.value.trim();
            if (tier.value) req.tier = tier.value;
            if (stage.value) req.stage = stage.value;
            if (size.value) req.sizeClass = size.value;
            const resp = await call('AccountService', 'ListAccounts', req);
            return [resp.accounts || [], resp.nextPageToken];
        },
        onEmpty: (isEmpty) => { empty.hidden = !isEmpty; },
        onError: (err) => showError(box, err),
    });

    let timer = 0;
    query.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => load(false), 250); });
    for (const s of [tier, stage, size]) s.addEventListener('change', () => load(false));

    mount(
        el('div', { class: 'page-head' }, el('h1', {}, 'Accounts')),
        createForm((a) => { location.hash = `#/accounts/${encodeURIComponent(a.id)}`; }),
        el('div', { class: 'card' },
            el('div', { class: 'filters' }, query, tier, stage, size),
            box, wrap, empty,
            el('div', { class: 'actions' }, more)));
    load(false);
}
