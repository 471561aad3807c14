// Lifecycle tab: the stage today, the stage timeline the contracts imply (a
// bar of periods drawn as SVG), the recorded stage changes, the contracts
// (record, cancel) and the handovers from sales to customer success.
import {
    put, el, svg, label, formatTime, formatDate, formatMoney, parseMoney, errorBox, field, table, confirmButton,
    notice, flash, dayDiff, isoDay,
} from './dom.js';
import { call, session, showError, formErrors, pager, isUnimplemented, notAvailable, ApiError } from './api.js';
import { STAGES, CONTRACT_STATUS, stageClass } from './labels.js';
import { listUsers, userPicker, userName } from './users.js';

export function render(ctx, body) {
    const stageSection = el('section', { class: 'card', id: 'lifecycle-card' }, el('h2', {}, 'Lifecycle'),
        el('p', { class: 'muted' }, 'Loading…'));
    const contractsSection = el('section', { class: 'card', id: 'contracts-card' });
    const handoverSection = el('section', { class: 'card', id: 'handovers-card' });
    put(body, stageSection, contractsSection, handoverSection);
    const contracts = contractsCard(ctx, contractsSection);
    lifecycleCard(ctx, stageSection);
    handoversCard(ctx, handoverSection, contracts);
}

// ---- stage and timeline -------------------------------------------------

async function lifecycleCard(ctx, section) {
    const a = ctx.account;
    let life;
    try {
        life = await call('ContractService', 'GetLifecycle', { accountId: a.id });
    } catch (err) {
        const box = errorBox();
        if (isUnimplemented(err)) put(section, el('h2', {}, 'Lifecycle'), notAvailable('The lifecycle'));
        else { showError(box, err); put(section, el('h2', {}, 'Lifecycle'), box); }
        return;
    }
    const periods = life.timeline || [];
    const history = life.history || [];
    put(section, 
        el('div', { class: 'card-head' }, el('h2', {}, 'Lifecycle'),
            el('span', { class: 'muted' }, `as of ${formatDate(life.asOf)}: `),
            el('span', { class: stageClass(life.stage), id: 'lifecycle-stage' }, label(STAGES, life.stage))),
        periods.length ? stageBar(periods, life.asOf) : el('p', { class: 'muted', id: 'stage-bar-empty' },
            'No contract yet: the account is a prospect. Record a contract below to start its lifecycle.'),
        periods.length ? el('ol', { class: 'periods', id: 'stage-periods' }, periods.map((p) => el('li', {},
            el('span', { class: stageClass(p.stage) }, label(STAGES, p.stage)), ' ',
            `${formatDate(p.startDate)} – ${p.endDate ? formatDate(p.endDate) : 'open'}`))) : null,
        history.length ? el('details', { class: 'inline-details', id: 'stage-history' },
            el('summary', {}, `Recorded stage changes (${history.length})`),
            el('ul', { class: 'plain' }, history.map((h) => el('li', {},
                el('strong', {}, formatDate(h.effectiveDate)), ' ',
                `${label(STAGES, h.fromStage)} → ${label(STAGES, h.toStage)}`,
                h.reason ? el('span', { class: 'muted' }, ` · ${h.reason}`) : null,
                el('span', { class: 'muted small' }, ` (recorded ${formatTime(h.recordTime)})`))))) : null);
}

// The periods as a horizontal bar: one rectangle per stage, its length
// proportional to its days; a marker shows the as-of day.
function stageBar(periods, asOf) {
    const W = 1000;
    const start = periods[0].startDate;
    let end = asOf || start;
    for (const p of periods) {
        if (p.endDate && p.endDate > end) end = p.endDate;
        if (p.startDate > end) end = p.startDate;
    }
    // An open-ended period (churned, or a prospect) is drawn a little past the end.
    const span = Math.max(dayDiff(start, end), 1);
    const openTail = Math.max(Math.round(span * 0.08), 15);
    const total = span + (periods.some((p) => !p.endDate) ? openTail : 1);
    const x = (day) => Math.round((dayDiff(start, day) / total) * W);
    const g = svg('svg', { viewBox: `0 0 ${W} 74`, class: 'stage-bar', id: 'stage-bar', role: 'img',
        'aria-label': 'Lifecycle stages over time' });
    let lastTick = -100;
    periods.forEach((p) => {
        const x0 = x(p.startDate);
        const x1 = p.endDate ? Math.round(((dayDiff(start, p.endDate) + 1) / total) * W) : W;
        const width = Math.max(x1 - x0, 2);
        g.append(svg('rect', { x: x0, y: 18, width, height: 26, rx: 3, class: `seg seg-${(p.stage || '').toLowerCase()}` },
            svg('title', {}, `${label(STAGES, p.stage)}: ${p.startDate} – ${p.endDate || 'open'}`)));
        if (width > 80) {
            g.append(svg('text', { x: x0 + 6, y: 36, class: 'seg-label' }, label(STAGES, p.stage)));
        }
        if (x0 - lastTick > 90) {
            g.append(svg('line', { x1: x0, x2: x0, y1: 44, y2: 50, class: 'tick' }));
            g.append(svg('text', { x: Math.min(x0, W - 80), y: 64, class: 'tick-label' }, p.startDate));
            lastTick = x0;
        }
    });
    const last = periods[periods.length - 1];
    if (last.endDate && W - lastTick > 170) {
        g.append(svg('text', { x: W - 80, y: 64, class: 'tick-label' }, last.endDate));
    }
    if (asOf && asOf >= start) {
        const t = Math.min(x(asOf), W - 1);
        g.append(svg('line', { x1: t, x2: t, y1: 12, y2: 48, class: 'today' }));
        g.append(svg('text', { x: Math.min(Math.max(t - 16, 0), W - 40), y: 10, class: 'today-label' }, 'today'));
    }
    return el('div', { class: 'stage-bar-wrap' }, g);
}

// ---- contracts ----------------------------------------------------------

function contractsCard(ctx, section) {
    const a = ctx.account;
    const box = errorBox();
    const done = notice('');
    const [wrap, tbody] = table('contracts-table', ['Period', 'Annual value', 'Products', 'Status', 'Recorded', '']);
    const empty = el('p', { class: 'muted empty', hidden: true }, 'No contracts recorded.');
    const more = el('button', { type: 'button', class: 'btn', id: 'contracts-more', hidden: true }, 'Load more');
    const withCancelled = el('input', { type: 'checkbox', id: 'contracts-cancelled' });
    const known = []; // contracts loaded, for the handover form

    function row(c) {
        known.push(c);
        const rowBox = el('div', { class: 'alert', role: 'alert', hidden: true });
        const cancel = c.status === 'CONTRACT_CANCELLED' ? null
            : confirmButton('Cancel', 'Click again to cancel', { class: 'btn btn-danger btn-small contract-cancel' }, async () => {
                try {
                    await call('ContractService', 'CancelContract', { id: c.id, version: c.version });
                    ctx.refresh('Contract cancelled.');
                } catch (err) {
                    showError(rowBox, err, ctx.reload);
                }
            });
        return el('tr', { 'data-contract-id': c.id, class: c.status === 'CONTRACT_CANCELLED' ? 'row-muted' : null },
            el('td', { class: 'nowrap' }, `${formatDate(c.startDate)} – ${formatDate(c.endDate)}`, rowBox),
            el('td', { class: 'nowrap' }, formatMoney(c.annualValueMinor, c.currency)),
            el('td', {}, (c.products || []).map((p) => el('span', { class: 'tag' }, p))),
            el('td', {}, label(CONTRACT_STATUS, c.status || 'CONTRACT_ACTIVE')),
            el('td', { class: 'nowrap' }, formatTime(c.createTime)),
            el('td', {}, cancel));
    }

    const load = pager({
        tbody, more, render: row,
        fetchPage: async (pageToken) => {
            if (!pageToken) known.length = 0;
            const resp = await call('ContractService', 'ListContracts', {
                accountId: a.id, includeCancelled: withCancelled.checked, pageSize: 50, pageToken,
            });
            return [resp.contracts || [], resp.nextPageToken];
        },
        onEmpty: (isEmpty) => { empty.hidden = !isEmpty; },
        onError: (err) => {
            if (isUnimplemented(err)) put(section, el('h2', {}, 'Contracts'), notAvailable('Contracts'));
            else showError(box, err);
        },
    });
    withCancelled.addEventListener('change', () => load(false));

    const formBox = errorBox();
    const f = {
        startDate: el('input', { id: 'contract-start', type: 'date', required: true, 'data-field': 'contract.start_date', value: isoDay(0) }),
        endDate: el('input', { id: 'contract-end', type: 'date', required: true, 'data-field': 'contract.end_date', value: isoDay(364) }),
        value: el('input', { id: 'contract-value', inputmode: 'decimal', placeholder: '120000.00', 'data-field': 'contract.annual_value_minor' }),
        currency: el('input', { id: 'contract-currency', value: 'EUR', maxlength: 3, 'data-field': 'contract.currency' }),
        products: el('input', { id: 'contract-products', placeholder: 'comma, separated', 'data-field': 'contract.products' }),
    };
    const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Record contract');
    const form = el('form', { id: 'contract-form', class: 'grid-form', onsubmit: async (ev) => {
        ev.preventDefault();
        errors.clear();
        const minor = f.value.value.trim() ? parseMoney(f.value.value) : '0';
        if (minor === null) {
            errors.show(new ApiError('invalid_argument', 'the annual value is not an amount',
                [{ field: 'contract.annual_value_minor', description: 'must be an amount such as 120000.00' }]));
            return;
        }
        submit.disabled = true;
        try {
            await call('ContractService', 'CreateContract', { contract: {
                accountId: a.id, startDate: f.startDate.value, endDate: f.endDate.value,
                annualValueMinor: minor, currency: f.currency.value.trim().toUpperCase(),
                products: f.products.value.split(',').map((p) => p.trim()).filter(Boolean),
            } });
            ctx.refresh('Contract recorded.');
        } catch (err) {
            errors.show(err);
            submit.disabled = false;
        }
    } },
    formBox,
    field('First day', f.startDate), field('Last day', f.endDate), field('Annual value', f.value),
    field('Currency', f.currency), field('Products', f.products),
    el('div', { class: 'actions span-all' }, submit));
    const errors = formErrors(form, formBox, ctx.reload);

    put(section, 
        el('div', { class: 'card-head' }, el('h2', {}, 'Contracts'),
            el('label', { class: 'check' }, withCancelled, ' Show cancelled')),
        done, box, wrap, empty, el('div', { class: 'actions' }, more),
        el('details', { class: 'inline-details', id: 'contract-panel' }, el('summary', {}, 'Record a contract'), form));
    load(false);
    return known;
}

// ---- handovers ----------------------------------------------------------

function handoversCard(ctx, section, contracts) {
    const a = ctx.account;
    const box = errorBox();
    const done = notice('');
    const list = el('div', { id: 'handover-list' });
    const more = el('button', { type: 'button', class: 'btn', id: 'handovers-more', hidden: true }, 'Load more');
    const empty = el('p', { class: 'muted empty', hidden: true }, 'No handovers yet.');

    function item(h) {
        const mine = session.user && h.toUserId === session.user.id;
        const itemBox = el('div', { class: 'alert', role: 'alert', hidden: true });
        const ack = !h.acknowledgeTime && mine
            ? el('button', { type: 'button', class: 'btn btn-primary btn-small handover-ack' }, 'Acknowledge') : null;
        if (ack) {
            ack.addEventListener('click', async () => {
                ack.disabled = true;
                try {
                    await call('ContractService', 'AcknowledgeHandover', { id: h.id });
                    ctx.refresh('Handover acknowledged: you now own this account.');
                } catch (err) {
                    showError(itemBox, err);
                    ack.disabled = false;
                }
            });
        }
        const parts = [['Commitments', h.commitments], ['Stakeholders', h.stakeholders], ['Risks', h.risks], ['Notes', h.notes]]
            .filter(([, v]) => v);
        return el('article', { class: 'handover', 'data-handover-id': h.id },
            el('div', { class: 'handover-head' },
                el('strong', {}, `${userName(h.fromUserId)} → ${userName(h.toUserId)}`),
                el('span', { class: 'muted small' }, ` written ${formatTime(h.createTime)}`),
                h.acknowledgeTime
                    ? el('span', { class: 'badge badge-ok handover-state' }, `acknowledged ${formatTime(h.acknowledgeTime)}`)
                    : el('span', { class: 'badge badge-warn handover-state' }, 'waiting for acknowledgement'),
                ack),
            itemBox,
            el('dl', { class: 'fields compact' }, parts.map(([t, v]) => [el('dt', {}, t), el('dd', {}, v)])));
    }

    const load = pager({
        tbody: list, more, render: item,
        fetchPage: async (pageToken) => {
            const resp = await call('ContractService', 'ListHandovers', { accountId: a.id, pageSize: 20, pageToken });
            return [resp.handovers || [], resp.nextPageToken];
        },
        onEmpty: (isEmpty) => { empty.hidden = !isEmpty; },
        onError: (err) => {
            if (isUnimplemented(err)) put(section, el('h2', {}, 'Handovers'), notAvailable('Handovers'));
            else showError(box, err);
        },
    });

    const formSlot = el('div', {});
    put(section, el('h2', {}, 'Handovers'), done, box, list, empty, el('div', { class: 'actions' }, more),
        el('details', { class: 'inline-details', id: 'handover-panel' }, el('summary', {}, 'Write a handover'), formSlot));
    load(false);

    listUsers().catch(() => null).then((users) => {
        const formBox = errorBox();
        const to = userPicker({ id: 'handover-to', required: true, 'data-field': 'handover.to_user_id' }, users,
            (u) => u.department === 'SUCCESS');
        const contract = el('select', { id: 'handover-contract', 'data-field': 'handover.contract_id' },
            el('option', { value: '' }, 'No particular contract'));
        const refreshContracts = () => put(contract, el('option', { value: '' }, 'No particular contract'),
            contracts.filter((c) => c.status !== 'CONTRACT_CANCELLED').map((c) =>
                el('option', { value: c.id }, `${c.startDate} – ${c.endDate}`)));
        contract.addEventListener('focus', refreshContracts);
        refreshContracts();
        const text = (id, name, placeholder) => el('textarea', { id, rows: 3, 'data-field': `handover.${name}`, placeholder });
        const commitments = text('handover-commitments', 'commitments', 'What was promised to the customer');
        const stakeholders = text('handover-stakeholders', 'stakeholders', 'Who matters on their side and how they stand');
        const risks = text('handover-risks', 'risks', 'Known risks');
        const notes = text('handover-notes', 'notes', 'Anything else');
        const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Hand over');
        const form = el('form', { id: 'handover-form', class: 'grid-form', onsubmit: async (ev) => {
            ev.preventDefault();
            errors.clear();
            submit.disabled = true;
            try {
                await call('ContractService', 'CreateHandover', { handover: {
                    accountId: a.id, toUserId: to.value.trim(), contractId: contract.value || undefined,
                    commitments: commitments.value.trim(), stakeholders: stakeholders.value.trim(),
                    risks: risks.value.trim(), notes: notes.value.trim(),
                } });
                form.reset();
                flash(done, 'Handover written; the receiving manager acknowledges it.');
                load(false);
            } catch (err) {
                errors.show(err);
            } finally {
                submit.disabled = false;
            }
        } },
        formBox,
        field('To (customer success)', to), field('Contract', contract),
        field('Commitments', commitments, true), field('Stakeholders', stakeholders, true),
        field('Risks', risks, true), field('Notes', notes, true),
        el('div', { class: 'actions span-all' }, submit));
        const errors = formErrors(form, formBox);
        put(formSlot, form);
    });
}
