/*
 * access.c - account access checks shared by every service that works on an
 * account's records.
 */
#include "access.h"

int srv_account_access(srv_call *c, const char *field, const char *id_text, srv_access need,
                       int64_t *account_id)
{
    static const char sql[] =
        "SELECT account_editable(a.id, a.owner_id) FROM accounts a WHERE a.id = $1";
    int64_t id = srv_parse_id(c, field, id_text);
    if (srv_check(c) != CC_OK)
        return c->code;
    PGresult *r = srv_sql(c, sql, 1, srv_i64(c, id));
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0)
        return srv_fail(c, CC_NOT_FOUND, "account %s not found", id_text);
    if (need == SRV_ACCESS_EDIT && PQgetvalue(r, 0, 0)[0] != 't')
        return srv_fail(c, CC_PERMISSION_DENIED,
                        "you may see account %s but not change it: ask its owner for edit access",
                        id_text);
    if (account_id)
        *account_id = id;
    return CC_OK;
}

int srv_record_access(srv_call *c, const char *what, const char *id, const char *account_id,
                      srv_access need)
{
    if (srv_account_access(c, "id", account_id, need, NULL) == CC_OK)
        return CC_OK;
    if (c->code == CC_NOT_FOUND || c->code == CC_INVALID_ARGUMENT) {
        c->code = CC_OK;
        c->n_violations = 0;
        return srv_fail(c, CC_NOT_FOUND, "%s %s not found", what, id);
    }
    return c->code;
}
