/*
 * team_service.c - concord.v1.TeamService: who works which account.
 *
 * Everyone who can see an account can list its team; admins, the owner,
 * members with EDIT access and managers of an involved department (the
 * account_editable rule) change it. Team membership is what makes an account
 * visible to a member (account_visible), so adding a user grants access and
 * removing one takes it away at once.
 */
#include "access.h"
#include "call.h"
#include "concord/v1/team.pb-c.h"
#include "records.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Concord__V1__TeamMember *load_member(srv_call *c, const char *account_id,
                                            const char *user_id, int lock)
{
    static const char get[] = "SELECT " SRV_TEAM_MEMBER_COLS " FROM account_team t JOIN users u"
                              " ON u.id = t.user_id WHERE t.account_id = $1 AND t.user_id = $2";
    static const char get_lock[] =
        "SELECT " SRV_TEAM_MEMBER_COLS " FROM account_team t JOIN users u ON u.id = t.user_id"
        " WHERE t.account_id = $1 AND t.user_id = $2 FOR UPDATE OF t";
    PGresult *r = srv_sql(c, lock ? get_lock : get, 2, account_id, user_id);
    if (r == NULL)
        return NULL;
    if (PQntuples(r) == 0) {
        srv_fail(c, CC_NOT_FOUND, "user %s is not on the team of account %s", user_id, account_id);
        return NULL;
    }
    return srv_team_member_from_row(c, r, 0);
}

static void check_role_access(srv_call *c, const Concord__V1__TeamMember *m, int role_required)
{
    if ((role_required && m->team_role == 0) ||
        !srv_enum_valid(&concord__v1__team_role__descriptor, m->team_role))
        srv_violation(c, "member.team_role",
                      "must be account_owner, solution_lead, delivery_lead, rnd_liaison, "
                      "customer_success_manager or executive_sponsor");
    if (!srv_enum_valid(&concord__v1__access_level__descriptor, m->access_level))
        srv_violation(c, "member.access_level", "must be read or edit");
}

static int add_team_member(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__AddTeamMemberRequest *req = (const void *)in;
    static const char user[] = "SELECT disabled_at IS NOT NULL FROM users WHERE id = $1";
    static const char insert[] =
        "INSERT INTO account_team (account_id, user_id, team_role, access_level)"
        " VALUES ($1, $2, $3, $4)";
    const Concord__V1__TeamMember *m = req->member;
    if (m == NULL) {
        srv_violation(c, "member", "is required");
        return srv_check(c);
    }
    int64_t user_id = srv_parse_id(c, "member.user_id", m->user_id);
    check_role_access(c, m, 1);
    int64_t account_id;
    if (srv_check(c) != CC_OK || srv_account_access(c, "member.account_id", m->account_id,
                                                    SRV_ACCESS_EDIT, &account_id) != CC_OK)
        return c->code;
    PGresult *r = srv_sql(c, user, 1, srv_i64(c, user_id));
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0 || PQgetvalue(r, 0, 0)[0] == 't') {
        srv_violation(c, "member.user_id", "is not an enabled user");
        return srv_check(c);
    }
    const char *level =
        m->access_level ? srv_enum_to_db(c, &concord__v1__access_level__descriptor, m->access_level)
                        : "edit";
    r = srv_sql(c, insert, 4, srv_i64(c, account_id), srv_i64(c, user_id),
                srv_enum_to_db(c, &concord__v1__team_role__descriptor, m->team_role), level);
    if (r == NULL) {
        if (c->code == CC_ALREADY_EXISTS) {
            c->code = CC_OK;
            return srv_fail(c, CC_ALREADY_EXISTS,
                            "user %s is already on the team of account %s: update the member "
                            "instead",
                            m->user_id, m->account_id);
        }
        return c->code;
    }
    Concord__V1__TeamMember *added = load_member(c, srv_i64(c, account_id), srv_i64(c, user_id), 0);
    if (added == NULL ||
        srv_audit(c, "add_team_member", "account", added->account_id, NULL, &added->base) != CC_OK)
        return c->code;
    *out = &added->base;
    return CC_OK;
}

static int update_team_member(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__UpdateTeamMemberRequest *req = (const void *)in;
    static const char update[] = "UPDATE account_team SET team_role = $3, access_level = $4"
                                 " WHERE account_id = $1 AND user_id = $2";
    const Concord__V1__TeamMember *m = req->member;
    if (m == NULL)
        srv_violation(c, "member", "is required");
    if (req->update_mask == NULL || req->update_mask->n_paths == 0)
        srv_violation(c, "update_mask", "must name team_role and/or access_level");
    if (srv_check(c) != CC_OK)
        return c->code;
    int64_t user_id = srv_parse_id(c, "member.user_id", m->user_id);
    check_role_access(c, m, 0);
    int64_t account_id;
    if (srv_check(c) != CC_OK || srv_account_access(c, "member.account_id", m->account_id,
                                                    SRV_ACCESS_EDIT, &account_id) != CC_OK)
        return c->code;
    Concord__V1__TeamMember *before =
        load_member(c, srv_i64(c, account_id), srv_i64(c, user_id), 1);
    if (before == NULL)
        return c->code;
    int role = before->team_role, level = before->access_level;
    for (size_t i = 0; i < req->update_mask->n_paths; i++) {
        const char *path = req->update_mask->paths[i];
        if (strcmp(path, "team_role") == 0) {
            if (m->team_role == 0)
                srv_violation(c, "member.team_role", "must not be empty");
            role = m->team_role;
        } else if (strcmp(path, "access_level") == 0) {
            if (m->access_level == 0)
                srv_violation(c, "member.access_level", "must be read or edit");
            level = m->access_level;
        } else {
            srv_violation(c, "update_mask", "\"%s\" cannot be changed (team_role, access_level)",
                          path);
        }
    }
    if (srv_check(c) != CC_OK)
        return c->code;
    if (srv_sql(c, update, 4, before->account_id, before->user_id,
                srv_enum_to_db(c, &concord__v1__team_role__descriptor, role),
                srv_enum_to_db(c, &concord__v1__access_level__descriptor, level)) == NULL)
        return c->code;
    Concord__V1__TeamMember *after = load_member(c, before->account_id, before->user_id, 0);
    if (after == NULL || srv_audit(c, "update_team_member", "account", after->account_id,
                                   &before->base, &after->base) != CC_OK)
        return c->code;
    *out = &after->base;
    return CC_OK;
}

static int remove_team_member(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__RemoveTeamMemberRequest *req = (const void *)in;
    static const char del[] = "DELETE FROM account_team WHERE account_id = $1 AND user_id = $2";
    int64_t user_id = srv_parse_id(c, "user_id", req->user_id);
    int64_t account_id;
    if (srv_check(c) != CC_OK ||
        srv_account_access(c, "account_id", req->account_id, SRV_ACCESS_EDIT, &account_id) != CC_OK)
        return c->code;
    Concord__V1__TeamMember *before =
        load_member(c, srv_i64(c, account_id), srv_i64(c, user_id), 1);
    if (before == NULL || srv_sql(c, del, 2, before->account_id, before->user_id) == NULL ||
        srv_audit(c, "remove_team_member", "account", before->account_id, &before->base, NULL) !=
            CC_OK)
        return c->code;
    Concord__V1__RemoveTeamMemberResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__remove_team_member_response__init(resp);
    *out = &resp->base;
    return CC_OK;
}

static int list_team_members(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListTeamMembersRequest *req = (const void *)in;
    static const char sql[] =
        "SELECT " SRV_TEAM_MEMBER_COLS " FROM account_team t JOIN users u ON u.id = t.user_id"
        " WHERE t.account_id = $1 AND ($2::text IS NULL OR u.username > $2)"
        " ORDER BY u.username LIMIT $3";
    int size = srv_page_size(c, "page_size", req->page_size);
    const char *after = srv_page_token_decode(c, "page_token", req->page_token);
    int64_t account_id;
    if (srv_check(c) != CC_OK ||
        srv_account_access(c, "account_id", req->account_id, SRV_ACCESS_READ, &account_id) != CC_OK)
        return c->code;
    PGresult *r = srv_sql(c, sql, 3, srv_i64(c, account_id), after, srv_i64(c, size + 1));
    if (r == NULL)
        return c->code;
    Concord__V1__ListTeamMembersResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_team_members_response__init(resp);
    int n = PQntuples(r);
    int shown = n > size ? size : n;
    resp->members = arena_alloc(c->arena, sizeof(*resp->members) * (size_t)(shown ? shown : 1));
    for (int i = 0; i < shown; i++)
        resp->members[i] = srv_team_member_from_row(c, r, i);
    resp->n_members = (size_t)shown;
    resp->next_page_token =
        n > size ? (char *)srv_page_token_encode(c, PQgetvalue(r, shown - 1, 2)) : "";
    *out = &resp->base;
    return CC_OK;
}

static const srv_method methods[] = {
    {"AddTeamMember", add_team_member, SRV_WRITE},
    {"UpdateTeamMember", update_team_member, SRV_WRITE},
    {"RemoveTeamMember", remove_team_member, SRV_WRITE},
    {"ListTeamMembers", list_team_members, 0},
    {NULL, NULL, 0},
};

const srv_service srv_team_service = {&concord__v1__team_service__descriptor, methods};
