// Tier tab: the current tier, proposals waiting for a decision (approve,
// override with another tier, reject; managers and admins), setting the tier
// by hand with a reason, and the history of every change.
import { put, el, label, choices, formatTime, formatDate, errorBox, field, table } from './dom.js';
import { call, showError, formErrors, pager, isUnimplemented, notAvailable, isManager } from './api.js';
import { TIERS, PROPOSAL_STATUS, tierClass } from './labels.js';
import { userName } from './users.js';

export function render(ctx, body) {
    const a = ctx.account;
    const current = el('section', { class: 'card', id: 'tier-card' },
        el('div', { class: 'card-head' }, el('h2', {}, 'Tier'),
            el('span', { class: tierClass(a.tier), id: 'tier-current' }, label(TIERS, a.tier))),
        el('p', { class: 'muted small' }, 'Tiers are proposed at every month end from the tier rules and decided by a manager.'));
    const proposals = el('section', { class: 'card', id: 'proposals-card' }, el('h2', {}, 'Waiting for a decision'));
    const history = el('section', { class: 'card', id: 'tier-history-card' }, el('h2', {}, 'History'));
    put(body, current, proposals, history);
    if (isManager()) current.append(overrideForm(ctx));
    proposalsCard(ctx, proposals);
    historyCard(ctx, history);
}

function overrideForm(ctx) {
    const a = ctx.account;
    const box = errorBox();
    const tier = el('select', { id: 'override-tier', required: true, 'data-field': 'tier' },
        el('option', { value: '' }, 'Choose a tier'), choices(TIERS, ''));
    const reason = el('input', { id: 'override-reason', required: true, 'data-field': 'reason', placeholder: 'Why, for the record' });
    const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Set tier');
    const form = el('form', { id: 'override-form', class: 'grid-form', onsubmit: async (ev) => {
        ev.preventDefault();
        errors.clear();
        submit.disabled = true;
        try {
            const updated = await call('TierService', 'OverrideTier', { accountId: a.id, tier: tier.value || undefined, reason: reason.value.trim() });
            ctx.show(updated, `Tier set to ${label(TIERS, updated.tier)}.`);
        } catch (err) {
            errors.show(err);
            submit.disabled = false;
        }
    } },
    box, field('New tier', tier), field('Reason', reason), el('div', { class: 'actions span-all' }, submit));
    const errors = formErrors(form, box);
    return el('details', { class: 'inline-details', id: 'override-panel' }, el('summary', {}, 'Set the tier by hand'), form);
}

function proposalsCard(ctx, section) {
    const a = ctx.account;
    const box = errorBox();
    const list = el('div', { id: 'proposal-list' });
    const more = el('button', { type: 'button', class: 'btn', id: 'proposals-more', hidden: true }, 'Load more');
    const empty = el('p', { class: 'muted', hidden: true, id: 'no-proposals' }, 'No pending proposal for this account.');

    function item(p) {
        const itemBox = errorBox();
        const parts = [
            el('div', { class: 'proposal-head' },
                el('span', { class: tierClass(p.currentTier) }, label(TIERS, p.currentTier)), ' → ',
                el('span', { class: tierClass(p.proposedTier) }, label(TIERS, p.proposedTier)),
                el('span', { class: 'muted small' }, ` evaluated as of ${formatDate(p.asOf)}`)),
            el('ul', { class: 'reasons' }, (p.reasons || []).map((r) => el('li', {}, r))),
            itemBox,
        ];
        if (isManager()) {
            const reason = el('input', { class: 'decision-reason', 'data-field': 'reason', id: `reason-${p.id}`, placeholder: 'Reason (required to override or reject)' });
            const other = el('select', { class: 'decision-tier', 'data-field': 'tier', id: `tier-${p.id}`, 'aria-label': 'Tier instead' },
                el('option', { value: '' }, 'Override with…'), choices(TIERS, ''));
            const decide = async (decision) => {
                errors.clear();
                try {
                    const body = { id: p.id, decision, reason: reason.value.trim() };
                    if (decision === 'OVERRIDDEN' && other.value) body.tier = other.value;
                    const decided = await call('TierService', 'DecideTierProposal', body);
                    ctx.refresh(`Proposal ${label(PROPOSAL_STATUS, decided.status).toLowerCase()}.`);
                } catch (err) {
                    errors.show(err);
                }
            };
            const form = el('form', { class: 'decision', onsubmit: (ev) => ev.preventDefault() },
                el('label', { for: reason.id, class: 'visually-hidden' }, 'Reason'), reason, other,
                el('button', { type: 'button', class: 'btn btn-primary btn-small proposal-approve', onclick: () => decide('APPROVED') }, 'Approve'),
                el('button', { type: 'button', class: 'btn btn-small proposal-override', onclick: () => decide('OVERRIDDEN') }, 'Override'),
                el('button', { type: 'button', class: 'btn btn-danger btn-small proposal-reject', onclick: () => decide('REJECTED') }, 'Reject'));
            const errors = formErrors(form, itemBox);
            parts.push(form);
        }
        return el('article', { class: 'proposal', 'data-proposal-id': p.id }, parts);
    }

    const load = pager({
        tbody: list, more, render: item,
        fetchPage: async (pageToken) => {
            const resp = await call('TierService', 'ListTierProposals', { accountId: a.id, status: 'PENDING', pageSize: 20, pageToken });
            return [resp.proposals || [], resp.nextPageToken];
        },
        onEmpty: (isEmpty) => { empty.hidden = !isEmpty; },
        onError: (err) => {
            if (isUnimplemented(err)) put(section, el('h2', {}, 'Waiting for a decision'), notAvailable('Tier proposals'));
            else showError(box, err);
        },
    });
    section.append(box, list, empty, el('div', { class: 'actions' }, more));
    load(false);
}

function historyCard(ctx, section) {
    const a = ctx.account;
    const box = errorBox();
    const [wrap, tbody] = table('tier-history', ['When', 'Change', 'Reason', 'By']);
    const more = el('button', { type: 'button', class: 'btn', id: 'tier-history-more', hidden: true }, 'Load more');
    const empty = el('p', { class: 'muted empty', hidden: true }, 'The tier has not changed yet.');
    const load = pager({
        tbody, more,
        render: (c) => el('tr', {},
            el('td', { class: 'nowrap' }, formatTime(c.changeTime)),
            el('td', { class: 'nowrap' }, el('span', { class: tierClass(c.fromTier) }, c.fromTier ? label(TIERS, c.fromTier) : 'none'), ' → ',
                el('span', { class: tierClass(c.toTier) }, label(TIERS, c.toTier))),
            el('td', {}, c.reason || '–'),
            el('td', {}, userName(c.changedById))),
        fetchPage: async (pageToken) => {
            const resp = await call('TierService', 'ListTierHistory', { accountId: a.id, pageSize: 25, pageToken });
            return [resp.changes || [], resp.nextPageToken];
        },
        onEmpty: (isEmpty) => { empty.hidden = !isEmpty; },
        onError: (err) => {
            if (isUnimplemented(err)) put(section, el('h2', {}, 'History'), notAvailable('The tier history'));
            else showError(box, err);
        },
    });
    section.append(box, wrap, empty, el('div', { class: 'actions' }, more));
    load(false);
}
