/*
 * access.h - the caller's access to an account, checked by handlers before
 * they act (row-level security enforces the same rules underneath).
 *
 * Visibility: admins see every account; owners and team members see theirs;
 * department managers see accounts their department is involved in. Editing:
 * admins, the owner, team members with EDIT access, and those managers.
 */
#ifndef SRV_ACCESS_H
#define SRV_ACCESS_H

#include "call.h"

typedef enum {
    SRV_ACCESS_READ = 1, /* may see the account and what is linked to it */
    SRV_ACCESS_EDIT = 2, /* may also change them */
} srv_access;

/**
 * Checks that the caller has at least `need` on the account whose id is
 * id_text (field names the request field, for INVALID_ARGUMENT on a bad id).
 * Returns CC_OK, or records and returns INVALID_ARGUMENT, NOT_FOUND (not
 * visible: existence is not revealed) or PERMISSION_DENIED (visible, not
 * editable). On CC_OK *account_id (optional) receives the parsed id.
 */
int srv_account_access(srv_call *c, const char *field, const char *id_text, srv_access need,
                       int64_t *account_id);

/**
 * The same check for a record read by its own id (a contract, a stakeholder):
 * the caller needs `need` on the record's account. A record of an account the
 * caller may not see is reported as the record not found ("<what> <id> not
 * found"), naming neither the account nor its existence. Row-level security
 * hides such records already; this keeps the rule in the handler as well.
 */
int srv_record_access(srv_call *c, const char *what, const char *id, const char *account_id,
                      srv_access need);

#endif
