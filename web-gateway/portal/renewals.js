// Renewals: contracts ending within a chosen number of days, soonest first,
// with whether a later contract already renews them.
import { put, el, mount, label, formatDate, formatMoney, errorBox, table } from './dom.js';
import { call, showError, pager, isUnimplemented, notAvailable } from './api.js';
import { TIERS, STAGES, tierClass } from './labels.js';

export function renewalsPage() {
    const box = errorBox();
    const within = el('select', { id: 'renewals-within', 'aria-label': 'Ending within' },
        [30, 60, 90, 180, 365].map((d) => el('option', { value: String(d), selected: d === 90 }, `Ending within ${d} days`)));
    const [wrap, tbody] = table('renewals-table', ['Account', 'Tier', 'Stage', 'Contract ends', 'Days left', 'Annual value', 'Renewed']);
    const empty = el('p', { class: 'muted empty', hidden: true }, 'No contract ends in this window.');
    const more = el('button', { type: 'button', class: 'btn', id: 'renewals-more', hidden: true }, 'Load more');
    const section = el('div', { class: 'card' }, el('div', { class: 'filters filters-one' }, within), box, wrap, empty,
        el('div', { class: 'actions' }, more));

    const load = pager({
        tbody, more,
        render: (r) => {
            const a = r.account || {};
            const c = r.contract || {};
            const days = r.daysLeft || 0;
            return el('tr', { 'data-account-id': a.id, class: r.renewed ? 'row-muted' : (days <= 30 ? 'row-warn' : null) },
                el('td', {}, el('a', { href: `#/accounts/${encodeURIComponent(a.id)}/lifecycle`, class: 'account-link' }, a.name || a.id)),
                el('td', {}, el('span', { class: tierClass(a.tier) }, label(TIERS, a.tier))),
                el('td', {}, label(STAGES, a.stage)),
                el('td', { class: 'nowrap' }, formatDate(c.endDate)),
                el('td', { class: 'num' }, String(days)),
                el('td', { class: 'nowrap' }, formatMoney(c.annualValueMinor, c.currency)),
                el('td', {}, r.renewed ? el('span', { class: 'badge badge-ok' }, 'renewed') : el('span', { class: 'badge badge-warn' }, 'open')));
        },
        fetchPage: async (pageToken) => {
            box.hidden = true;
            const resp = await call('ContractService', 'ListRenewals', { withinDays: Number(within.value), pageSize: 50, pageToken });
            return [resp.renewals || [], resp.nextPageToken];
        },
        onEmpty: (isEmpty) => { empty.hidden = !isEmpty; },
        onError: (err) => {
            if (isUnimplemented(err)) put(section, notAvailable('The renewals list'));
            else showError(box, err);
        },
    });
    within.addEventListener('change', () => load(false));
    mount(el('div', { class: 'page-head' }, el('h1', {}, 'Renewals')), section);
    load(false);
}
