// Team tab: who works the account, in which role and with which access. The
// account's owner, admins and members with edit access manage the team.
import { put, el, label, choices, formatTime, errorBox, field, table, confirmButton, notice, flash } from './dom.js';
import { call, showError, formErrors, pager, isUnimplemented, notAvailable } from './api.js';
import { DEPARTMENTS, TEAM_ROLES, ACCESS } from './labels.js';
import { listUsers, userPicker, remember } from './users.js';

export function render(ctx, body) {
    const a = ctx.account;
    const box = errorBox();
    const done = notice('');
    const [wrap, tbody] = table('team-table', ['Name', 'Department', 'Team role', 'Access', 'Joined', '']);
    const empty = el('p', { class: 'muted empty', hidden: true }, 'Nobody is on this team yet.');
    const more = el('button', { type: 'button', class: 'btn', id: 'team-more', hidden: true }, 'Load more');

    function row(m) {
        remember(m.userId, m.displayName || m.username);
        const role = el('select', { 'aria-label': 'Team role', class: 'member-role' }, choices(TEAM_ROLES, m.teamRole));
        const access = el('select', { 'aria-label': 'Access', class: 'member-access' }, choices(ACCESS, m.accessLevel || 'EDIT'));
        const rowBox = el('div', { class: 'alert', role: 'alert', hidden: true });
        const save = el('button', { type: 'button', class: 'btn btn-small member-save', disabled: true }, 'Save');
        const changed = () => { save.disabled = role.value === m.teamRole && access.value === (m.accessLevel || 'EDIT'); };
        role.addEventListener('change', changed);
        access.addEventListener('change', changed);
        save.addEventListener('click', async () => {
            const mask = [];
            if (role.value !== m.teamRole) mask.push('team_role');
            if (access.value !== (m.accessLevel || 'EDIT')) mask.push('access_level');
            save.disabled = true;
            try {
                const updated = await call('TeamService', 'UpdateTeamMember', {
                    member: { accountId: a.id, userId: m.userId, teamRole: role.value, accessLevel: access.value },
                    updateMask: mask.join(','),
                });
                tr.replaceWith(row(updated));
                flash(done, `${updated.displayName || updated.username} updated.`);
            } catch (err) {
                showError(rowBox, err);
                changed();
            }
        });
        const remove = confirmButton('Remove', 'Click again to remove', { class: 'btn btn-danger btn-small member-remove' }, async () => {
            try {
                await call('TeamService', 'RemoveTeamMember', { accountId: a.id, userId: m.userId });
                tr.remove();
                flash(done, `${m.displayName || m.username} removed from the team.`);
            } catch (err) {
                showError(rowBox, err);
            }
        });
        const tr = el('tr', { 'data-user-id': m.userId },
            el('td', {}, el('strong', {}, m.displayName || m.username || m.userId), el('div', { class: 'muted small' }, m.username || ''), rowBox),
            el('td', {}, label(DEPARTMENTS, m.department)),
            el('td', {}, role), el('td', {}, access),
            el('td', { class: 'nowrap' }, formatTime(m.addTime)),
            el('td', { class: 'nowrap' }, save, ' ', remove));
        return tr;
    }

    const load = pager({
        tbody, more, render: row,
        fetchPage: async (pageToken) => {
            const resp = await call('TeamService', 'ListTeamMembers', { accountId: a.id, pageSize: 50, pageToken });
            return [resp.members || [], resp.nextPageToken];
        },
        onEmpty: (isEmpty) => { empty.hidden = !isEmpty; },
        onError: (err) => {
            if (isUnimplemented(err)) wrap.replaceWith(notAvailable('The team list'));
            else showError(box, err);
        },
    });

    const addSlot = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
    put(body, 
        el('section', { class: 'card' }, el('h2', {}, 'Team'), done, box, wrap, empty, el('div', { class: 'actions' }, more)),
        el('section', { class: 'card', id: 'team-add' }, el('h2', {}, 'Add a member'), addSlot));
    load(false);

    // Admins and managers pick from the user list; everyone else types the id.
    listUsers().catch(() => null).then((users) => {
        const formBox = errorBox();
        const user = userPicker({ id: 'member-user', 'data-field': 'member.user_id', required: true }, users);
        const role = el('select', { id: 'member-role', 'data-field': 'member.team_role', required: true },
            el('option', { value: '' }, 'Choose a role'), choices(TEAM_ROLES, ''));
        const access = el('select', { id: 'member-access', 'data-field': 'member.access_level' }, choices(ACCESS, 'EDIT'));
        const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Add to team');
        const form = el('form', { id: 'member-form', class: 'grid-form', onsubmit: async (ev) => {
            ev.preventDefault();
            errors.clear();
            submit.disabled = true;
            try {
                const m = await call('TeamService', 'AddTeamMember', {
                    member: { accountId: a.id, userId: user.value.trim(), teamRole: role.value || undefined, accessLevel: access.value || undefined },
                });
                form.reset();
                flash(done, `${m.displayName || m.username} added to the team.`);
                load(false);
            } catch (err) {
                errors.show(err);
            } finally {
                submit.disabled = false;
            }
        } },
        formBox,
        users ? null : el('p', { class: 'muted small span-all' }, 'Only admins and managers can list users: enter the user id.'),
        field('User', user), field('Team role', role), field('Access', access),
        el('div', { class: 'actions span-all' }, submit));
        const errors = formErrors(form, formBox);
        put(addSlot, form);
    });
}
