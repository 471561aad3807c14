// The account detail page: a head with the account's name, tier and stage, and
// one tab per area of work. Routes: #/accounts/<id> and #/accounts/<id>/<tab>.
//
// Each tab module exports render(ctx, body): it fills `body` and may call
// ctx.show(account, text) to redraw the page with a changed account and a
// notice, ctx.refresh(text) to read the account again and show a notice, or
// ctx.reload() to read it again without one.
import { el, mount, label, errorBox, notice } from './dom.js';
import { call, showError } from './api.js';
import { TIERS, STAGES, tierClass, stageClass } from './labels.js';
import * as overview from './overview.js';
import * as team from './team.js';
import * as lifecycle from './lifecycle.js';
import * as stakeholders from './stakeholders.js';
import * as timeline from './timeline.js';
import * as tier from './tier.js';

const TABS = [
    ['overview', 'Overview', overview],
    ['team', 'Team', team],
    ['lifecycle', 'Lifecycle', lifecycle],
    ['stakeholders', 'Stakeholders', stakeholders],
    ['timeline', 'Timeline', timeline],
    ['tier', 'Tier', tier],
];

let shown = ''; // id of the account on screen, so a tab switch does not blank the page

export async function detailPage(id, tab) {
    if (shown !== id) mount(el('p', { class: 'muted' }, 'Loading…'));
    let account;
    try {
        account = await call('AccountService', 'GetAccount', { id });
    } catch (err) {
        shown = '';
        const box = errorBox();
        showError(box, err);
        mount(el('p', { class: 'crumbs' }, el('a', { href: '#/accounts' }, '← Accounts')), box);
        return;
    }
    renderDetail(account, tab);
}

export function leaveDetail() {
    shown = '';
}

function renderDetail(a, tabName, noticeText) {
    const current = TABS.find(([name]) => name === tabName) || TABS[0];
    shown = a.id;
    const ctx = {
        account: a,
        reload: () => detailPage(a.id, current[0]),
        show: (updated, text) => renderDetail(updated, current[0], text),
        // Reads the account again (its stage or tier may have moved) and shows a notice.
        refresh: async (text) => {
            try {
                renderDetail(await call('AccountService', 'GetAccount', { id: a.id }), current[0], text);
            } catch (err) {
                detailPage(a.id, current[0]);
            }
        },
    };
    const nav = el('nav', { class: 'tabs', 'aria-label': 'Account sections' },
        TABS.map(([name, text]) => el('a', {
            href: `#/accounts/${encodeURIComponent(a.id)}/${name}`, id: `tab-${name}`,
            class: name === current[0] ? 'tab active' : 'tab',
            'aria-current': name === current[0] ? 'page' : false,
        }, text)));
    const body = el('div', { class: 'tab-body', id: `tab-body-${current[0]}` });
    mount(
        el('p', { class: 'crumbs' }, el('a', { href: '#/accounts' }, '← Accounts')),
        el('div', { class: 'page-head' },
            el('h1', { id: 'account-title' }, a.name || '(unnamed)'),
            el('span', { class: tierClass(a.tier), id: 'head-tier', title: 'Tier' }, a.tier ? label(TIERS, a.tier) : 'no tier'),
            el('span', { class: stageClass(a.stage), id: 'head-stage', title: 'Lifecycle stage' }, a.stage ? label(STAGES, a.stage) : 'no stage'),
            a.archived ? el('span', { class: 'badge badge-muted' }, 'archived') : null,
            a.mergedIntoId ? el('a', { class: 'badge badge-muted', href: `#/accounts/${encodeURIComponent(a.mergedIntoId)}` }, 'merged: open the surviving account') : null),
        notice(noticeText),
        nav, body);
    current[2].render(ctx, body);
}
