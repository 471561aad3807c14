// The account view of the Concord portal in headless Chromium, as the admin
// and a customer success manager use it: create an account, score its ideal
// customer profile, see its group, merge a duplicate, staff its team, record a
// contract and see the lifecycle, add stakeholders and see the relationship
// map and coverage, log an activity and find it on the timeline, set and
// decide the tier, run renewals, upcoming events and tasks, and acknowledge a
// handover as its receiver. Any console error or Content-Security-Policy
// violation that a step did not expect fails the run.
//
// Methods the server does not implement yet answer `unimplemented` (501): the
// steps that need them are reported as skipped ("ok N - ... # SKIP ...") after
// checking that the portal shows its calm "not available yet" note instead.
//
// Environment (tests/lib/with-env): CONCORD_GATEWAY_URL, CONCORD_ADMIN_USER,
// CONCORD_ADMIN_PASSWORD, CONCORD_TEST_DIR (screenshots go there).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

const base = process.env.CONCORD_GATEWAY_URL;
const adminUser = process.env.CONCORD_ADMIN_USER;
const adminPassword = process.env.CONCORD_ADMIN_PASSWORD;
const outDir = process.env.CONCORD_TEST_DIR || '.';
if (!base || !adminUser || !adminPassword) {
    console.error('CONCORD_GATEWAY_URL, CONCORD_ADMIN_USER and CONCORD_ADMIN_PASSWORD must be set');
    process.exit(1);
}
const executablePath = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p));
if (!executablePath) {
    console.error('Chromium not found in /usr/lib/chromium/chromium or /usr/bin/chromium');
    process.exit(1);
}

let passed = 0;
let failed = 0;
let num = 0;
const skipped = [];
const problems = [];
let expected = []; // [{status, path}] HTTP failures the current step provokes on purpose

function ok(desc) { num++; passed++; console.log(`ok ${num} - ${desc}`); }
function notOk(desc, detail) {
    num++; failed++;
    console.log(`not ok ${num} - ${desc}`);
    if (detail) console.log(String(detail).split('\n').map((l) => `#   ${l}`).join('\n'));
}
function skip(desc, why) {
    num++;
    skipped.push(`${desc}: ${why}`);
    console.log(`ok ${num} - ${desc} # SKIP ${why}`);
}

// Runs one step; a failed step stops the run because later steps build on it.
async function step(desc, fn) {
    try {
        await fn();
        ok(desc);
    } catch (err) {
        notOk(desc, err && err.stack ? err.stack : err);
        throw new Error('stopping after a failed step');
    }
}

function expect(cond, what) {
    if (!cond) throw new Error(`expected ${what}`);
}

const run = `p${process.pid}r${Math.floor(Math.random() * 1e6)}`;
const name = `Account View ${run}`;
const pad = (n) => String(n).padStart(2, '0');
function day(offset) {
    const d = new Date();
    d.setDate(d.getDate() + offset);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// Methods found unimplemented; their 501 answers are expected everywhere.
const unimplemented = new Set();

async function newPage(who, allowed) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
    await context.exposeBinding('__reportCsp', (source, text) => { problems.push(`${who}: CSP violation: ${text}`); });
    await context.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => {
            window.__reportCsp(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
        });
    });
    const page = await context.newPage();
    page.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        const text = msg.text();
        const url = msg.location() && msg.location().url ? msg.location().url : '';
        // Chromium reports every HTTP error answer to fetch() as a console error.
        const m = text.match(/status of (\d{3})/);
        if (m) {
            const path = url.replace(/^https?:\/\/[^/]+/, '');
            if (m[1] === '501' && unimplemented.has(path)) return;
            if ((allowed || []).concat(expected).some((e) => String(e.status) === m[1] && path === e.path)) return;
        }
        problems.push(`${who}: console error: ${text}${url ? ` (${url})` : ''}`);
    });
    page.on('pageerror', (err) => problems.push(`${who}: page error: ${err.message}`));
    return [context, page];
}

// Calls the API through a context's cookie session, as the page would.
async function apiFor(context) {
    const csrf = (await (await context.request.get(base + '/auth/csrf')).json()).csrfToken;
    return async (service, method, body, wantOk = true) => {
        const resp = await context.request.post(`${base}/concord.v1.${service}/${method}`, {
            headers: { 'X-CSRF-Token': csrf }, data: body || {},
        });
        const json = await resp.json().catch(() => ({}));
        if (wantOk && resp.status() !== 200) {
            throw new Error(`${service}/${method} answered ${resp.status()}: ${JSON.stringify(json)}`);
        }
        return { status: resp.status(), body: json };
    };
}

async function signIn(page, username, password) {
    await page.goto(base + '/#/accounts');
    await page.waitForSelector('#login-form');
    await page.fill('#login-username', username);
    await page.fill('#login-password', password);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#accounts-table');
}

async function shot(page, file) {
    await page.screenshot({ path: join(outDir, file), fullPage: true });
}

// Opens a tab afresh (a reload when the page shows it already: the same hash
// would not route again).
async function openTab(page, id, tab) {
    const url = `${base}/#/accounts/${encodeURIComponent(id)}/${tab}`;
    if (page.url() === url) await page.reload();
    else await page.goto(url);
    await page.waitForSelector(`#tab-body-${tab}`);
}

// Waits until a selector's text matches; returns the text.
async function waitText(page, selector, re, timeout = 10000) {
    await page.waitForFunction(([s, src, flags]) => {
        const node = document.querySelector(s);
        return node && new RegExp(src, flags).test(node.textContent);
    }, [selector, re.source, re.flags], { timeout });
    return page.textContent(selector);
}

const [adminContext, page] = await newPage('admin', [
    // Before signing in, the page probes its session.
    { status: 401, path: '/auth/csrf' },
]);
let api;
let accountId = '';
const csName = `cs${run}`;
const csPassword = randomBytes(12).toString('hex');
let csUser = null;
let dlUser = null;
const needs = (...methods) => methods.filter((m) => unimplemented.has(`/concord.v1.${m}`));

// Checks that a tab shows its "not available yet" note for a missing service,
// then records the step as skipped.
async function skipWithNote(desc, missing, tab, selector) {
    if (tab) {
        await openTab(page, accountId, tab);
        await page.waitForSelector(selector || '.na-note');
    }
    skip(desc, `not implemented on the server yet: ${missing.join(', ')}`);
}

try {
    await step('the admin signs in', async () => {
        await signIn(page, adminUser, adminPassword);
        api = await apiFor(adminContext);
    });

    await step('the server is probed for methods not implemented yet', async () => {
        const methods = [
            'AccountService/ScoreAccountIcp', 'AccountService/GetAccountHierarchy', 'AccountService/MergeAccounts',
            'TeamService/AddTeamMember', 'TeamService/ListTeamMembers', 'TeamService/UpdateTeamMember',
            'TeamService/RemoveTeamMember',
            'ContractService/CreateContract', 'ContractService/ListContracts', 'ContractService/GetLifecycle',
            'ContractService/ListRenewals', 'ContractService/CreateHandover', 'ContractService/ListHandovers',
            'ContractService/AcknowledgeHandover',
            'StakeholderService/CreateStakeholder', 'StakeholderService/ListStakeholders',
            'StakeholderService/GetCoverage',
            'ActivityService/CreateActivity', 'ActivityService/GetAccountTimeline',
            'TierService/OverrideTier', 'TierService/ListTierHistory', 'TierService/ListTierProposals',
            'TierService/EvaluateTiers', 'TierService/DecideTierProposal',
            'KeyEventService/CreateKeyEvent', 'KeyEventService/ListUpcomingEvents',
            'KeyEventService/ListOutreachTasks', 'KeyEventService/CompleteOutreachTask',
        ];
        // An empty request is refused by a real handler (400, 404, ...) or
        // answered; only a missing handler says 501.
        // EvaluateTiers would evaluate every account: a dry run of an unknown one.
        const bodies = { 'TierService/EvaluateTiers': { dryRun: true, accountId: '0' } };
        for (const m of methods) {
            const [service, method] = m.split('/');
            const r = await api(service, method, bodies[m] || {}, false);
            if (r.status === 501) unimplemented.add(`/concord.v1.${m}`);
        }
        console.log(`# not implemented yet: ${unimplemented.size ? [...unimplemented].join(', ') : 'none'}`);
    });

    await step('users for the team exist (created through the API)', async () => {
        csUser = (await api('AuthService', 'CreateUser', {
            user: { username: csName, displayName: `Casey Success ${run}`, department: 'SUCCESS', role: 'MEMBER' },
            password: csPassword,
        })).body;
        dlUser = (await api('AuthService', 'CreateUser', {
            user: { username: `dl${run}`, displayName: `Dana Delivery ${run}`, department: 'DELIVERY', role: 'MEMBER' },
            password: randomBytes(12).toString('hex'),
        })).body;
        expect(csUser.id && dlUser.id, 'two user ids');
    });

    await step('an account is created through the form and opens on the overview tab', async () => {
        await page.click('#create-panel summary');
        await page.fill('#new-name', name);
        await page.fill('#new-industry', `industry ${run}`);
        await page.fill('#new-region', 'EMEA');
        await page.click('#create-form button[type=submit]');
        await page.waitForSelector('#account-title, #create-anyway');
        if (await page.$('#create-anyway')) await page.click('#create-anyway');
        await page.waitForSelector('#account-title');
        accountId = decodeURIComponent((await page.evaluate(() => location.hash)).split('/')[2]);
        expect(accountId, 'an account id in the URL');
        await page.waitForSelector('#tab-body-overview #icp-form');
        expect((await page.textContent('#icp-total')).trim() === '0 / 25', 'an ICP total of 0 / 25');
    });

    const missingIcp = needs('AccountService/ScoreAccountIcp');
    if (missingIcp.length) skip('ICP scoring', missingIcp.join(', '));
    else {
        await step('the five ICP criteria are scored with notes and the total shows', async () => {
            const scores = { SCALE_AND_MATURITY: '4', INDUSTRY_INFLUENCE: '3', HEALTHY_GROWTH: '5', IT_AS_STRATEGY: '2', WIN_WIN_MINDSET: '4' };
            for (const [criterion, score] of Object.entries(scores)) {
                await page.selectOption(`#icp-score-${criterion}`, score);
                await page.fill(`#icp-note-${criterion}`, `scored ${score} in the portal test`);
            }
            await page.click('#icp-save');
            await waitText(page, '.notice', /ICP scores saved: 18 of 25/);
            expect((await page.textContent('#icp-total')).trim() === '18 / 25', 'an ICP total of 18 / 25');
            expect(await page.inputValue('#icp-note-HEALTHY_GROWTH') === 'scored 5 in the portal test', 'the note kept');
        });
    }

    const missingGroup = needs('AccountService/GetAccountHierarchy');
    if (missingGroup.length) await skipWithNote('the group hierarchy', missingGroup, 'overview');
    else {
        await step('a child account shows in the group with the roll-up', async () => {
            await api('AccountService', 'CreateAccount', {
                account: { name: `Child Campus ${run}`, parentId: accountId }, allowSimilarName: true,
            });
            await openTab(page, accountId, 'overview');
            await waitText(page, '#hierarchy', new RegExp(`Child Campus ${run}`));
            expect((await page.textContent('#rollup-accounts')).trim() === '2', 'two accounts in the roll-up');
        });
    }

    const missingMerge = needs('AccountService/MergeAccounts');
    if (missingMerge.length) skip('merging a duplicate', missingMerge.join(', '));
    else {
        await step('a duplicate is merged into the account after the confirm dialog', async () => {
            await api('AccountService', 'CreateAccount', {
                account: { name: `Dup ${run}`, industry: `industry ${run}` }, allowSimilarName: true,
            });
            await page.fill('#merge-search', `Dup ${run}`);
            // Look-alike suggestions show first; choose exactly the duplicate.
            await page.locator('#merge-results li', { hasText: `Dup ${run}` }).locator('button').click();
            await page.waitForSelector('dialog[open] #dialog-confirm');
            await shot(page, 'accountview-merge-dialog.png');
            await page.click('#dialog-confirm');
            await waitText(page, '.notice', new RegExp(`Merged “Dup ${run}”`));
            const dup = await api('AccountService', 'ListAccounts', { query: `Dup ${run}`, includeArchived: true });
            const merged = (dup.body.accounts || [])[0] || {};
            expect(merged.archived && merged.mergedIntoId === accountId, 'the duplicate archived and merged into the account');
        });
    }
    await shot(page, 'accountview-overview.png');

    const missingTeam = needs('TeamService/AddTeamMember', 'TeamService/ListTeamMembers', 'TeamService/UpdateTeamMember',
        'TeamService/RemoveTeamMember');
    if (missingTeam.length) await skipWithNote('the team', missingTeam, 'team');
    else {
        await step('team members are added by picking users', async () => {
            await openTab(page, accountId, 'team');
            await page.waitForSelector('#member-form select#member-user');
            for (const [u, role, access] of [[csUser, 'CUSTOMER_SUCCESS_MANAGER', 'READ'], [dlUser, 'DELIVERY_LEAD', 'EDIT']]) {
                await page.selectOption('#member-user', u.id);
                await page.selectOption('#member-role', role);
                await page.selectOption('#member-access', access);
                await page.click('#member-form button[type=submit]');
                await page.waitForSelector(`#team-table tr[data-user-id="${u.id}"]`);
            }
            expect(await page.inputValue(`tr[data-user-id="${csUser.id}"] .member-role`) === 'CUSTOMER_SUCCESS_MANAGER', 'the role');
        });

        await step('a missing role is shown next to its field', async () => {
            expected = [{ status: 400, path: '/concord.v1.TeamService/AddTeamMember' }];
            await page.selectOption('#member-user', csUser.id);
            await page.$eval('#member-role', (s) => { s.required = false; s.value = ''; });
            await page.click('#member-form button[type=submit]');
            await page.waitForSelector('#member-form .field-error');
            const err = await page.textContent('#member-form .field-error');
            expect(/Team role/.test(err), `an error naming the team role, got "${err}"`);
            expected = [];
        });

        await step('a member\'s access is changed and another member removed', async () => {
            await page.selectOption(`tr[data-user-id="${csUser.id}"] .member-access`, 'EDIT');
            await page.click(`tr[data-user-id="${csUser.id}"] .member-save`);
            await waitText(page, '#tab-body-team .notice', /updated/);
            await page.click(`tr[data-user-id="${dlUser.id}"] .member-remove`);
            await page.click(`tr[data-user-id="${dlUser.id}"] .member-remove`);
            await page.waitForSelector(`tr[data-user-id="${dlUser.id}"]`, { state: 'detached' });
            const team = await api('TeamService', 'ListTeamMembers', { accountId });
            const cs = (team.body.members || []).find((m) => m.userId === csUser.id);
            expect(cs && cs.accessLevel === 'EDIT', 'edit access stored');
            expect(!(team.body.members || []).some((m) => m.userId === dlUser.id), 'the removed member gone');
            await shot(page, 'accountview-team.png');
        });
    }

    const missingContracts = needs('ContractService/CreateContract', 'ContractService/ListContracts', 'ContractService/GetLifecycle');
    if (missingContracts.length) await skipWithNote('contracts and the lifecycle', missingContracts, 'lifecycle');
    else {
        await step('a contract with its last day before its first is refused, naming the field', async () => {
            await openTab(page, accountId, 'lifecycle');
            await page.waitForSelector('#lifecycle-stage, #stage-bar-empty');
            expected = [{ status: 400, path: '/concord.v1.ContractService/CreateContract' }];
            await page.click('#contract-panel summary');
            await page.fill('#contract-start', day(-30));
            await page.fill('#contract-end', day(-40));
            await page.fill('#contract-value', '120000.00');
            await page.click('#contract-form button[type=submit]');
            await page.waitForSelector('#contract-form [data-error-for="contract.end_date"]');
            expected = [];
        });

        await step('a contract is recorded and the lifecycle shows the stage and its timeline', async () => {
            await page.fill('#contract-end', day(60));
            await page.fill('#contract-products', 'campus suite, analytics');
            await page.click('#contract-form button[type=submit]');
            await waitText(page, '.notice', /Contract recorded/);
            await page.waitForSelector('#contracts-table tbody tr');
            const rowText = await page.textContent('#contracts-table tbody tr');
            expect(rowText.includes(day(60)) && /120,000\.00 EUR/.test(rowText), `the contract row, got "${rowText}"`);
            await page.waitForSelector('#stage-bar rect.seg');
            const stage = (await page.textContent('#lifecycle-stage')).trim();
            expect(stage && stage !== 'Prospect' && stage !== '–', `a stage after the contract, got "${stage}"`);
            const segs = await page.$$eval('#stage-bar rect.seg', (r) => r.length);
            expect(segs >= 1, 'periods drawn on the stage bar');
            await shot(page, 'accountview-lifecycle.png');
        });
    }

    const missingStake = needs('StakeholderService/CreateStakeholder', 'StakeholderService/ListStakeholders');
    if (missingStake.length) await skipWithNote('stakeholders', missingStake, 'stakeholders');
    else {
        await step('two stakeholders are added and form the relationship map', async () => {
            await openTab(page, accountId, 'stakeholders');
            await page.waitForSelector('#stakeholder-form');
            await page.fill('#stakeholder-name', `Ada Vice-Rector ${run}`);
            await page.fill('#stakeholder-title', 'Vice-rector');
            await page.selectOption('#stakeholder-level', 'EXECUTIVE');
            await page.selectOption('#stakeholder-attitude', 'CHAMPION');
            await page.selectOption('#stakeholder-influence', '5');
            await page.click('#stakeholder-form button[type=submit]');
            await waitText(page, '#stakeholders-table tbody', new RegExp(`Ada Vice-Rector ${run}`));
            await page.waitForFunction(() => document.querySelectorAll('#stakeholder-reports-to option').length === 2);
            await page.fill('#stakeholder-name', `Ben IT Director ${run}`);
            await page.selectOption('#stakeholder-level', 'DIRECTOR');
            await page.selectOption('#stakeholder-attitude', 'NEUTRAL');
            await page.selectOption('#stakeholder-influence', '3');
            const ada = await page.getAttribute('#stakeholders-table tbody tr', 'data-stakeholder-id');
            await page.selectOption('#stakeholder-reports-to', ada);
            await page.click('#stakeholder-form button[type=submit]');
            await waitText(page, '#stakeholders-table tbody', new RegExp(`Ben IT Director ${run}`));
            const nested = await page.textContent(`#relationship-map li[data-stakeholder-id="${ada}"] ul`);
            expect(nested.includes(`Ben IT Director ${run}`), 'the director under the vice-rector in the map');
            const rows = await page.$$eval('#stakeholders-table tbody tr', (r) => r.map((x) => x.textContent));
            expect(rows.some((r) => r.includes('Executive') && r.includes('Champion')), 'level and attitude in the list');
        });

        await step('a stakeholder is edited', async () => {
            const ben = page.locator('#stakeholders-table tbody tr', { hasText: `Ben IT Director ${run}` });
            await ben.locator('.stakeholder-edit').click();
            await waitText(page, '#stakeholder-form-card h2', /Edit Ben/);
            await page.selectOption('#stakeholder-attitude', 'SUPPORTER');
            await page.fill('#stakeholder-title', 'Head of IT');
            await page.click('#stakeholder-form button[type=submit]');
            await waitText(page, '#tab-body-stakeholders .notice', /saved/);
            await page.waitForFunction((n) => [...document.querySelectorAll('#stakeholders-table tbody tr')]
                .some((r) => r.textContent.includes(n) && r.textContent.includes('Supporter') &&
                    r.textContent.includes('Head of IT')), `Ben IT Director ${run}`);
        });
    }

    const missingCoverage = needs('StakeholderService/GetCoverage');
    const missingActivity = needs('ActivityService/CreateActivity', 'ActivityService/GetAccountTimeline');
    if (missingActivity.length || missingStake.length) {
        await skipWithNote('logging an activity and the timeline', missingActivity.concat(missingStake), 'timeline');
    } else {
        await step('an activity with a stakeholder is logged and appears on the timeline', async () => {
            await openTab(page, accountId, 'timeline');
            await page.waitForSelector('#activity-stakeholders input[type=checkbox]');
            await page.selectOption('#activity-kind', 'MEETING');
            await page.fill('#activity-subject', `Quarterly review ${run}`);
            await page.fill('#activity-notes', 'Talked about the analytics roll-out.');
            await page.locator('#activity-stakeholders label', { hasText: `Ada Vice-Rector ${run}` }).locator('input').check();
            await page.click('#activity-form button[type=submit]');
            await waitText(page, '#tab-body-timeline .notice', /Activity logged/);
            await waitText(page, '#timeline', new RegExp(`Quarterly review ${run}`));
        });

        await step('the timeline filters by type', async () => {
            await page.uncheck('#filter-timeline_activity');
            await page.waitForFunction((s) => !document.querySelector('#timeline').textContent.includes(s), `Quarterly review ${run}`);
            await page.check('#filter-timeline_activity');
            await waitText(page, '#timeline', new RegExp(`Quarterly review ${run}`));
            await shot(page, 'accountview-timeline.png');
        });

        if (missingCoverage.length) await skipWithNote('the coverage matrix', missingCoverage, 'stakeholders', '#coverage-card .na-note');
        else {
            await step('the coverage matrix counts the contact and flags single-threading', async () => {
                await openTab(page, accountId, 'stakeholders');
                await page.waitForSelector('#coverage-matrix');
                // The admin (sales) met the executive: one contact through one person.
                const cell = await page.textContent('#coverage-matrix tr[data-level="EXECUTIVE"] td.cell-on');
                expect(cell.trim() === '1', `one executive covered, got "${cell}"`);
                expect(await page.isVisible('#single-threaded'), 'the single-threaded flag');
                await page.waitForSelector('#stakeholders-table tbody tr td:nth-child(6)');
                const ada = await page.textContent(`#stakeholders-table tbody tr:has-text("Ada Vice-Rector ${run}") td:nth-child(6)`);
                expect(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}/.test(ada), `a last contact time, got "${ada}"`);
                await shot(page, 'accountview-stakeholders.png');
            });
        }
    }

    const missingTier = needs('TierService/OverrideTier', 'TierService/ListTierHistory', 'TierService/ListTierProposals');
    if (missingTier.length) await skipWithNote('the tier override and history', missingTier, 'tier');
    else {
        await step('the tier is set by hand with a reason and shows in the history', async () => {
            await openTab(page, accountId, 'tier');
            await page.click('#override-panel summary');
            await page.selectOption('#override-tier', 'TIER_A');
            await page.fill('#override-reason', `portal test ${run}`);
            await page.click('#override-form button[type=submit]');
            await waitText(page, '.notice', /Tier set to A/);
            expect((await page.textContent('#head-tier')).startsWith('A'), 'tier A in the head');
            await waitText(page, '#tier-history tbody', new RegExp(`portal test ${run}`));
        });

        const missingDecide = needs('TierService/EvaluateTiers', 'TierService/DecideTierProposal');
        if (missingDecide.length || missingContracts.length) {
            skip('deciding a tier proposal', `not implemented on the server yet: ${missingDecide.concat(missingContracts).join(', ')}`);
        } else {
            await step('a pending proposal is approved by the admin', async () => {
                // Tier rules of other tests may give this account any tier: set a
                // tier the rules do not give, so that the evaluation proposes a change.
                for (const tier of ['TIER_B', 'TIER_S', 'TIER_A']) {
                    const dry = await api('TierService', 'EvaluateTiers', { accountId, dryRun: true });
                    if ((dry.body.proposals || []).some((p) => p.accountId === accountId)) break;
                    await api('TierService', 'OverrideTier', { accountId, tier, reason: `set up a proposal ${run}` });
                }
                const ev = await api('TierService', 'EvaluateTiers', { accountId });
                const mine = (ev.body.proposals || []).find((p) => p.accountId === accountId);
                expect(mine, `a proposal for the account, got ${JSON.stringify(ev.body)}`);
                await openTab(page, accountId, 'tier');
                await page.waitForSelector(`[data-proposal-id="${mine.id}"] .proposal-approve`);
                await shot(page, 'accountview-tier.png');
                await page.click(`[data-proposal-id="${mine.id}"] .proposal-approve`);
                await waitText(page, '.notice', /Proposal approved/);
                const tier = (await page.textContent('#head-tier')).trim();
                expect(tier.startsWith(mine.proposedTier.replace('TIER_', '')), `the proposed tier applied, got "${tier}"`);
                await page.waitForSelector('#no-proposals:not([hidden])');
            });
        }
    }

    const missingRenewals = needs('ContractService/ListRenewals');
    if (missingRenewals.length || missingContracts.length) {
        skip('renewals', `not implemented on the server yet: ${missingRenewals.concat(missingContracts).join(', ')}`);
    } else {
        await step('the renewals page lists the contract ending in 60 days', async () => {
            await page.click('#nav-renewals');
            await page.waitForSelector('#renewals-table');
            await page.selectOption('#renewals-within', '90');
            for (;;) {
                await page.waitForFunction(() => !document.querySelector('#renewals-more').disabled);
                if (await page.$(`#renewals-table tr[data-account-id="${accountId}"]`)) break;
                expect(await page.isVisible('#renewals-more'), 'the account among the renewals');
                await page.click('#renewals-more');
            }
            const row = await page.textContent(`#renewals-table tr[data-account-id="${accountId}"]`);
            expect(row.includes(day(60)) && row.includes('open'), `the renewal row, got "${row}"`);
            await page.selectOption('#renewals-within', '30');
            await page.waitForSelector(`#renewals-table tr[data-account-id="${accountId}"]`, { state: 'detached' });
            await page.selectOption('#renewals-within', '90');
            await page.waitForSelector(`#renewals-table tr[data-account-id="${accountId}"]`);
            await shot(page, 'accountview-renewals.png');
        });
    }

    const missingEvents = needs('KeyEventService/CreateKeyEvent', 'KeyEventService/ListUpcomingEvents',
        'KeyEventService/ListOutreachTasks', 'KeyEventService/CompleteOutreachTask');
    if (missingEvents.length) {
        await page.goto(`${base}/#/events`);
        await page.waitForSelector('.na-note, #events-table');
        skip('upcoming events and tasks', `not implemented on the server yet: ${missingEvents.join(', ')}`);
    } else {
        await step('an upcoming event creates an outreach task that is completed', async () => {
            const title = `Founding anniversary ${run}`;
            await api('KeyEventService', 'CreateKeyEvent', {
                event: { scope: 'ACCOUNT_EVENT', category: 'ANNIVERSARY', title, date: day(5), accountId },
            });
            await page.click('#nav-events');
            await waitText(page, '#events-table tbody', new RegExp(title));
            const row = await page.textContent(`#events-table tr:has-text("${title}")`);
            expect(row.includes(name) && row.includes(day(5)), `the event with the account, got "${row}"`);
            await page.click('#create-tasks');
            await waitText(page, '.notice', /task|tasks/);
            await shot(page, 'accountview-events.png');
            await page.click('#nav-tasks');
            await waitText(page, '#tasks-table tbody', new RegExp(title));
            const task = page.locator('#tasks-table tbody tr', { hasText: title });
            await task.locator('.task-complete').click();
            await waitText(page, '.notice', /Done:/);
            await page.selectOption('#tasks-status', '');
            await page.waitForFunction((t) => [...document.querySelectorAll('#tasks-table tbody tr')]
                .some((r) => r.textContent.includes(t) && /Done/.test(r.querySelector('.task-status').textContent)), title);
            await shot(page, 'accountview-tasks.png');
        });
    }

    const missingHandover = needs('ContractService/CreateHandover', 'ContractService/ListHandovers', 'ContractService/AcknowledgeHandover');
    if (missingHandover.length || missingTeam.length) {
        skip('the handover', `not implemented on the server yet: ${missingHandover.concat(missingTeam).join(', ')}`);
    } else {
        await step('a handover is written to the customer success manager', async () => {
            await openTab(page, accountId, 'lifecycle');
            await page.click('#handover-panel summary');
            await page.waitForSelector('#handover-form select#handover-to');
            await page.selectOption('#handover-to', csUser.id);
            await page.fill('#handover-commitments', 'Analytics live by the next term.');
            await page.fill('#handover-risks', 'IT is short of staff.');
            await page.click('#handover-form button[type=submit]');
            await page.waitForSelector('#handover-list .handover');
            const text = await page.textContent('#handover-list .handover');
            expect(/waiting for acknowledgement/.test(text) && text.includes('Casey Success'), `the handover, got "${text}"`);
            expect(!(await page.$('#handover-list .handover-ack')), 'no acknowledge button for the writer');
        });

        await step('the receiver signs in and acknowledges the handover', async () => {
            // A member may not list users: the portal falls back to user ids, quietly.
            const [csContext, csPage] = await newPage('receiver', [
                { status: 401, path: '/auth/csrf' },
                { status: 403, path: '/concord.v1.AuthService/ListUsers' },
            ]);
            try {
                await signIn(csPage, csName, csPassword);
                await csPage.goto(`${base}/#/accounts/${encodeURIComponent(accountId)}/lifecycle`);
                await csPage.waitForSelector('#handover-list .handover-ack');
                await csPage.click('#handover-list .handover-ack');
                await waitText(csPage, '.notice', /acknowledged/);
                await csPage.waitForSelector('#handover-list .badge-ok');
                await csPage.click('#tab-team');
                await csPage.waitForSelector('#member-form input#member-user');
                await shot(csPage, 'accountview-receiver-team.png');
            } finally {
                await csContext.close();
            }
            const acc = await api('AccountService', 'GetAccount', { id: accountId });
            expect(acc.body.ownerId === csUser.id, 'the receiver owns the account');
        });
    }

    await step('a section whose method answers unimplemented shows a calm note, the rest works', async () => {
        // The browser is given a 501 `unimplemented` answer, as a server without
        // the method gives, for two methods; the other sections must still load.
        const answer = { status: 501, contentType: 'application/json',
            body: JSON.stringify({ code: 'unimplemented', message: 'method not implemented' }) };
        await page.route('**/concord.v1.StakeholderService/GetCoverage', (r) => r.fulfill(answer));
        await page.route('**/concord.v1.ContractService/ListHandovers', (r) => r.fulfill(answer));
        expected = [{ status: 501, path: '/concord.v1.StakeholderService/GetCoverage' },
            { status: 501, path: '/concord.v1.ContractService/ListHandovers' }];
        try {
            await openTab(page, accountId, 'stakeholders');
            await waitText(page, '#coverage-card .na-note', /not available yet/i);
            await page.waitForSelector('#stakeholders-table tbody tr');
            await openTab(page, accountId, 'lifecycle');
            await waitText(page, '#handovers-card .na-note', /not available yet/i);
            await page.waitForSelector('#contracts-table tbody tr, #lifecycle-card .na-note');
            expect(!(await page.$('#tab-body-lifecycle .alert:not([hidden])')), 'no error box');
            await shot(page, 'accountview-not-available.png');
        } finally {
            await page.unrouteAll();
            expected = [];
        }
    });

    await step('every tab renders after all the changes', async () => {
        for (const tab of ['overview', 'team', 'lifecycle', 'stakeholders', 'timeline', 'tier']) {
            await openTab(page, accountId, tab);
            await page.waitForLoadState('networkidle');
            expect(!(await page.$(`#tab-body-${tab} .alert:not([hidden])`)), `no error shown on the ${tab} tab`);
        }
    });
} catch (err) {
    if (!String(err.message).startsWith('stopping')) notOk('the run ended early', err.stack);
    try {
        await shot(page, 'accountview-failure.png');
        console.log(`# screenshot of the failure: ${join(outDir, 'accountview-failure.png')}`);
    } catch (e) { /* the page may be gone */ }
}

if (problems.length === 0) ok('no console errors and no CSP violations');
else notOk('no console errors and no CSP violations', problems.join('\n'));

await browser.close();
if (skipped.length) console.log(`# skipped (server side not implemented yet):\n${skipped.map((s) => `#   ${s}`).join('\n')}`);
console.log(`${passed} passed, ${failed} failed, ${skipped.length} skipped`);
process.exit(failed === 0 ? 0 : 1);
