/*
 * test_authz_matrix.c - the authorization matrix: every method of every
 * concord.v1 service, called by seven kinds of user against one account and
 * its records, through the real protocol; then row-level security checked
 * straight in SQL.
 *
 * The users: an admin; a sales manager (the account's owner is in sales, so
 * his department is involved); the owner, a sales member; a presales member on
 * the team with EDIT access; a delivery member on the team with READ access; a
 * success manager whose department is not involved; an R&D member on no team.
 *
 * The account A has a record in every area (contract, two stakeholders, an
 * activity, a handover, two account key events, an outreach task, an ICP
 * score, a tier change and a pending tier proposal), and a marker string
 * (SECRET-<run>) in its name and in the text of its records, so that a reply
 * that leaks anything of A can be recognised.
 *
 * Writes by users who may write are run for real, each such user on a copy
 * of A of their own built the same way (fixture B per user), so that their
 * destructive calls (archive, merge, delete, cancel) cannot disturb the other
 * cells. The non-member, the other department's manager and the READ member
 * work on A itself; A is snapshotted (as the admin) before and after the sweep
 * and must not have changed at all.
 *
 * The request of each method is a proto3 JSON template in the rows[] table,
 * with {placeholders} for the ids of the caller's fixture. The table must name
 * every method cc_services[] declares: a method added to a .proto without a
 * row here fails this test, so its authorization is decided deliberately.
 *
 * Environment as in test_protocol.c, plus PGHOST, PGPORT and PG_SUPERUSER for
 * the SQL part.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>
#include "cc_services.h"
#include "cc_status.h"
#include "concord_client.h"
#include "itest.h"
#include "pjson.h"

/* ---- users ---------------------------------------------------------------------------- */

/* Column order of the matrix, and the order of the sweep: those who must not
 * change A go first, so that nothing the writers do on their own fixtures can
 * have happened before A's outsiders are checked. */
enum { U_NONMEMBER, U_OTHERMGR, U_READER, U_EDITOR, U_OWNER, U_SALESMGR, U_ADMIN, N_USERS };

typedef struct {
    const char *label;      /* matrix column */
    const char *department; /* as stored: sales, presales, ... */
    const char *role;       /* member, manager, admin */
    char username[64];
    char password[64];
    char id[ITEST_ID_LEN];
    char token[ITEST_TOKEN_LEN];
    char scratch[24]; /* an account the user owns (merge target) */
    int fixture;      /* index into fixtures[] */
    cc_conn *conn;
} user;

static user users[N_USERS] = {
    [U_NONMEMBER] = {"nonmember", "rnd", "member"},
    [U_OTHERMGR] = {"othermgr", "success", "manager"},
    [U_READER] = {"reader", "delivery", "member"},
    [U_EDITOR] = {"editor", "presales", "member"},
    [U_OWNER] = {"owner", "sales", "member"},
    [U_SALESMGR] = {"salesmgr", "sales", "manager"},
    [U_ADMIN] = {"admin", "", "admin"},
};

/* Helper users outside the matrix. */
static char csm_id[24];    /* success member receiving the handovers (then taken off the team) */
static char extra_id[24];  /* delivery member that AddTeamMember tries to add */
static char victim_id[24]; /* the user DisableUser tries to disable */
static char owner_api_token_id[24];
static char rule_id[24];

static char run_id[32];
static char marker[48];
static unsigned uniq;

/* ---- fixtures: an account and one record of every kind ------------------------------ */

typedef struct {
    char acc[24], contract[24], stakeholder[24], stakeholder2[24], activity[24], handover[24],
        event[24], event2[24], task[24], proposal[24];
} fixture;

enum { MAX_FIXTURES = 8 };
static fixture fixtures[MAX_FIXTURES];
static int n_fixtures;

/* ---- the method table ------------------------------------------------------------------ */

typedef enum {
    K_READ,     /* reads an account's records: those who see the account */
    K_WRITE,    /* changes them: those who may edit the account */
    K_DECIDE,   /* changes them, for managers and admins who may edit the account only */
    K_RECEIVER, /* only the receiving user of the handover, who is none of the matrix */
    K_LIST,     /* lists over every visible account: A's rows only for those who see A */
    K_SELF,     /* about the caller alone: the same answer for everyone */
    K_MANAGER,  /* managers and admins, no account involved */
    K_ADMIN,    /* admins only */
    K_OWNTOKEN, /* the owner's API token: the owner and admins */
} row_kind;

enum {
    R_FRESH_SESSION = 1, /* run on a session of its own (Logout ends the calling one) */
    R_INSIDERS_SEE = 2,  /* a K_LIST whose reply must show A to those who see it */
};

typedef struct {
    const char *method;  /* "AccountService/GetAccount" */
    const char *variant; /* "" or what distinguishes a second row of the same method */
    row_kind kind;
    unsigned flags;
    int self_code; /* K_SELF: the code everyone gets */
    const char *request;
} row;

/*
 * Placeholders: {acc} {contract} {stakeholder} {stakeholder2} {activity}
 * {handover} {event} {event2} {task} {proposal} of the caller's fixture;
 * {v:acc} {v:contract} {v:stakeholder} {v:event} {v:rule} their current
 * versions (read by the admin just before the call, so that only authorization
 * decides); {self} {username} {password} {scratch} of the caller; {extra}
 * {reader} {csm} {victim} {owner_token} {rule} {run} {uniq} {marker}.
 *
 * Order: reads, then writes, then the destructive writes (the merge last).
 */
static const row rows[] = {
    /* AuthService: about users and credentials, not accounts. */
    {"AuthService/Login", "", K_SELF, 0, CC_OK,
     "{\"username\":\"{username}\",\"password\":\"{password}\"}"},
    {"AuthService/WhoAmI", "", K_SELF, 0, CC_OK, "{}"},
    /* A wrong old password: the method has no target but the caller, and a real
     * change would end the caller's other sessions (the admin's included). */
    {"AuthService/ChangePassword", "", K_SELF, 0, CC_INVALID_ARGUMENT,
     "{\"oldPassword\":\"not-the-password-{uniq}\",\"newPassword\":\"another-password-{uniq}\"}"},
    {"AuthService/ListUsers", "", K_MANAGER, 0, 0, "{\"pageSize\":5}"},
    {"AuthService/CreateUser", "", K_ADMIN, 0, 0,
     "{\"user\":{\"username\":\"mx{run}u{uniq}\",\"department\":\"RND\",\"role\":\"MEMBER\"},"
     "\"password\":\"matrix-password-1\"}"},
    {"AuthService/DisableUser", "", K_ADMIN, 0, 0, "{\"id\":\"{victim}\"}"},
    {"AuthService/CreateApiToken", "", K_SELF, 0, CC_OK,
     "{\"name\":\"matrix {uniq}\",\"ttlDays\":1}"},
    {"AuthService/RevokeApiToken", "", K_OWNTOKEN, 0, 0, "{\"id\":\"{owner_token}\"}"},
    {"AuthService/Logout", "", K_SELF, R_FRESH_SESSION, CC_OK, "{}"},

    /* AccountService */
    {"AccountService/GetAccount", "", K_READ, 0, 0, "{\"id\":\"{acc}\"}"},
    {"AccountService/ListAccounts", "", K_LIST, R_INSIDERS_SEE, 0,
     "{\"query\":\"{marker}\",\"includeTotal\":true,\"includeArchived\":true}"},
    {"AccountService/ListAccounts", "industry", K_LIST, R_INSIDERS_SEE, 0,
     "{\"industry\":\"authz-{run}\",\"pageSize\":500}"},
    {"AccountService/FindSimilarAccounts", "", K_LIST, R_INSIDERS_SEE, 0,
     "{\"name\":\"Quillfeather Polytechnic {marker}\",\"limit\":20}"},
    {"AccountService/GetAccountHierarchy", "", K_READ, 0, 0, "{\"id\":\"{acc}\"}"},
    {"AccountService/CreateAccount", "", K_SELF, 0, CC_OK,
     "{\"account\":{\"name\":\"Matrix own {run} {uniq}\"},\"allowSimilarName\":true}"},
    {"AccountService/BulkCreateAccounts", "", K_SELF, 0, CC_OK,
     "{\"accounts\":[{\"name\":\"Matrix bulk {run} {uniq}\"}]}"},
    {"AccountService/UpdateAccount", "", K_WRITE, 0, 0,
     "{\"account\":{\"id\":\"{acc}\",\"notes\":\"changed\"},\"updateMask\":\"notes\","
     "\"version\":{v:acc}}"},
    {"AccountService/ScoreAccountIcp", "", K_WRITE, 0, 0,
     "{\"accountId\":\"{acc}\",\"scores\":[{\"criterion\":\"WIN_WIN_MINDSET\",\"score\":2}]}"},

    /* TeamService */
    {"TeamService/ListTeamMembers", "", K_READ, 0, 0, "{\"accountId\":\"{acc}\"}"},
    {"TeamService/AddTeamMember", "", K_WRITE, 0, 0,
     "{\"member\":{\"accountId\":\"{acc}\",\"userId\":\"{extra}\",\"teamRole\":\"DELIVERY_LEAD\","
     "\"accessLevel\":\"READ\"}}"},
    /* The READ member trying to give himself EDIT access. */
    {"TeamService/UpdateTeamMember", "", K_WRITE, 0, 0,
     "{\"member\":{\"accountId\":\"{acc}\",\"userId\":\"{reader}\",\"accessLevel\":\"EDIT\"},"
     "\"updateMask\":\"access_level\"}"},

    /* ContractService */
    {"ContractService/GetContract", "", K_READ, 0, 0, "{\"id\":\"{contract}\"}"},
    {"ContractService/ListContracts", "", K_READ, 0, 0,
     "{\"accountId\":\"{acc}\",\"includeCancelled\":true}"},
    {"ContractService/GetLifecycle", "", K_READ, 0, 0,
     "{\"accountId\":\"{acc}\",\"asOf\":\"2026-06-01\"}"},
    {"ContractService/ListRenewals", "", K_LIST, R_INSIDERS_SEE, 0,
     "{\"withinDays\":90,\"asOf\":\"2026-12-01\",\"pageSize\":500}"},
    {"ContractService/GetHandover", "", K_READ, 0, 0, "{\"id\":\"{handover}\"}"},
    {"ContractService/ListHandovers", "", K_READ, 0, 0, "{\"accountId\":\"{acc}\"}"},
    {"ContractService/ListHandovers", "pending", K_LIST, 0, 0, "{}"},
    {"ContractService/CreateContract", "", K_WRITE, 0, 0,
     "{\"contract\":{\"accountId\":\"{acc}\",\"startDate\":\"2028-01-01\","
     "\"endDate\":\"2028-12-31\",\"annualValueMinor\":\"1000\",\"currency\":\"EUR\"}}"},
    {"ContractService/UpdateContract", "", K_WRITE, 0, 0,
     "{\"contract\":{\"id\":\"{contract}\",\"annualValueMinor\":\"2000\"},"
     "\"updateMask\":\"annual_value_minor\",\"version\":{v:contract}}"},
    {"ContractService/CreateHandover", "", K_WRITE, 0, 0,
     "{\"handover\":{\"accountId\":\"{acc}\",\"toUserId\":\"{csm}\",\"commitments\":\"more\"}}"},
    {"ContractService/AcknowledgeHandover", "", K_RECEIVER, 0, 0, "{\"id\":\"{handover}\"}"},
    {"ContractService/RefreshStages", "", K_ADMIN, 0, 0, "{}"},

    /* TierService */
    {"TierService/ListTierRules", "", K_SELF, 0, CC_OK, "{\"includeInactive\":true}"},
    {"TierService/ListTierProposals", "", K_READ, 0, 0, "{\"accountId\":\"{acc}\"}"},
    {"TierService/ListTierProposals", "all", K_LIST, R_INSIDERS_SEE, 0, "{\"pageSize\":500}"},
    {"TierService/ListTierHistory", "", K_READ, 0, 0, "{\"accountId\":\"{acc}\"}"},
    {"TierService/EvaluateTiers", "dry run, all", K_MANAGER, 0, 0,
     "{\"asOf\":\"2026-06-30\",\"dryRun\":true}"},
    {"TierService/CreateTierRule", "", K_ADMIN, 0, 0,
     "{\"rule\":{\"tier\":\"TIER_S\",\"name\":\"Matrix {run} {uniq}\","
     "\"minAnnualValueMinor\":\"999999999999\",\"currency\":\"EUR\"}}"},
    {"TierService/UpdateTierRule", "", K_ADMIN, 0, 0,
     "{\"rule\":{\"id\":\"{rule}\",\"name\":\"Matrix {run} renamed {uniq}\"},"
     "\"updateMask\":\"name\",\"version\":{v:rule}}"},
    {"TierService/DecideTierProposal", "", K_DECIDE, 0, 0,
     "{\"id\":\"{proposal}\",\"decision\":\"REJECTED\",\"reason\":\"kept\"}"},
    {"TierService/OverrideTier", "", K_DECIDE, 0, 0,
     "{\"accountId\":\"{acc}\",\"tier\":\"TIER_A\",\"reason\":\"by hand\"}"},
    {"TierService/EvaluateTiers", "", K_DECIDE, 0, 0,
     "{\"accountId\":\"{acc}\",\"asOf\":\"2026-06-30\"}"},

    /* StakeholderService */
    {"StakeholderService/GetStakeholder", "", K_READ, 0, 0, "{\"id\":\"{stakeholder}\"}"},
    {"StakeholderService/ListStakeholders", "", K_READ, 0, 0, "{\"accountId\":\"{acc}\"}"},
    {"StakeholderService/GetCoverage", "", K_READ, 0, 0, "{\"accountId\":\"{acc}\"}"},
    {"StakeholderService/CreateStakeholder", "", K_WRITE, 0, 0,
     "{\"stakeholder\":{\"accountId\":\"{acc}\",\"name\":\"New person\",\"level\":\"STAFF\"}}"},
    {"StakeholderService/UpdateStakeholder", "", K_WRITE, 0, 0,
     "{\"stakeholder\":{\"id\":\"{stakeholder}\",\"title\":\"changed\"},"
     "\"updateMask\":\"title\",\"version\":{v:stakeholder}}"},

    /* ActivityService */
    {"ActivityService/GetActivity", "", K_READ, 0, 0, "{\"id\":\"{activity}\"}"},
    {"ActivityService/ListActivities", "", K_READ, 0, 0, "{\"accountId\":\"{acc}\"}"},
    {"ActivityService/GetAccountTimeline", "", K_READ, 0, 0,
     "{\"accountId\":\"{acc}\",\"pageSize\":500}"},
    {"ActivityService/CreateActivity", "", K_WRITE, 0, 0,
     "{\"activity\":{\"accountId\":\"{acc}\",\"kind\":\"NOTE\",\"subject\":\"a note\","
     "\"occurTime\":\"2026-05-02T10:00:00Z\"}}"},
    {"ActivityService/BulkCreateActivities", "", K_WRITE, 0, 0,
     "{\"activities\":[{\"accountId\":\"{acc}\",\"kind\":\"CALL\",\"subject\":\"a call\","
     "\"occurTime\":\"2026-05-03T10:00:00Z\"}]}"},

    /* ReportService */
    {"ReportService/GetMonthlyReport", "", K_READ, 0, 0,
     "{\"accountId\":\"{acc}\",\"month\":\"2026-05\"}"},

    /* KeyEventService */
    {"KeyEventService/ListKeyEvents", "", K_READ, 0, 0, "{\"accountId\":\"{acc}\"}"},
    {"KeyEventService/ListKeyEvents", "all", K_LIST, R_INSIDERS_SEE, 0,
     "{\"scope\":\"ACCOUNT_EVENT\",\"pageSize\":500}"},
    {"KeyEventService/ListOutreachTasks", "", K_READ, 0, 0, "{\"accountId\":\"{acc}\"}"},
    {"KeyEventService/ListOutreachTasks", "all", K_LIST, R_INSIDERS_SEE, 0, "{\"pageSize\":500}"},
    /* Also a write: tasks for every visible account concerned (A's exists already). */
    {"KeyEventService/ListUpcomingEvents", "", K_LIST, R_INSIDERS_SEE, 0,
     "{\"withinDays\":30,\"asOf\":\"2031-03-01\",\"createTasks\":true,\"maxAccounts\":1000}"},
    {"KeyEventService/CreateKeyEvent", "", K_WRITE, 0, 0,
     "{\"event\":{\"scope\":\"ACCOUNT_EVENT\",\"title\":\"New event\",\"date\":\"2031-09-01\","
     "\"accountId\":\"{acc}\"}}"},
    {"KeyEventService/CreateKeyEvent", "industry", K_MANAGER, 0, 0,
     "{\"event\":{\"scope\":\"INDUSTRY_EVENT\",\"title\":\"Ranking\",\"date\":\"2031-09-01\","
     "\"industry\":\"authz-industry-{run}\"}}"},
    {"KeyEventService/UpdateKeyEvent", "", K_WRITE, 0, 0,
     "{\"event\":{\"id\":\"{event}\",\"description\":\"changed\"},"
     "\"updateMask\":\"description\",\"version\":{v:event}}"},
    {"KeyEventService/CompleteOutreachTask", "", K_WRITE, 0, 0, "{\"id\":\"{task}\"}"},

    /* Destructive writes, last. */
    {"TeamService/RemoveTeamMember", "", K_WRITE, 0, 0,
     "{\"accountId\":\"{acc}\",\"userId\":\"{reader}\"}"},
    {"StakeholderService/DeleteStakeholder", "", K_WRITE, 0, 0, "{\"id\":\"{stakeholder2}\"}"},
    {"KeyEventService/DeleteKeyEvent", "", K_WRITE, 0, 0, "{\"id\":\"{event2}\"}"},
    {"ContractService/CancelContract", "", K_WRITE, 0, 0, "{\"id\":\"{contract}\"}"},
    {"AccountService/ArchiveAccount", "", K_WRITE, 0, 0, "{\"id\":\"{acc}\"}"},
    {"AccountService/MergeAccounts", "", K_WRITE, 0, 0,
     "{\"sourceId\":\"{acc}\",\"targetId\":\"{scratch}\"}"},
};
enum { N_ROWS = sizeof(rows) / sizeof(rows[0]) };

/* ---- plumbing -------------------------------------------------------------------------- */

/* The outcome of one call: the code, the reply as proto3 JSON (NULL unless
 * OK) and the status message with its field violations. */
typedef struct {
    int code;
    char *json;
    char msg[1024];
} outcome;

static void outcome_free(outcome *o)
{
    free(o->json);
    o->json = NULL;
}

/* Calls "Service/Method" with a proto3 JSON request. */
static outcome call_json(cc_conn *c, const char *method, const char *request)
{
    outcome o = {0};
    char full[160];
    snprintf(full, sizeof(full), "concord.v1.%s", method);
    const ProtobufCMethodDescriptor *m = cc_method_lookup(full, NULL);
    if (m == NULL)
        fail_msg("no method %s", full);
    ProtobufCMessage *req = NULL;
    pjson_error err;
    if (pjson_decode(m->input, request, strlen(request), NULL, &req, &err) != 0)
        fail_msg("%s: the request does not fit %s: %s: %s\n%s", method, m->input->name, err.field,
                 err.description, request);
    ProtobufCMessage *resp = NULL;
    const cc_status *st = NULL;
    o.code = itest_call(c, full, req, m->output, &resp, &st);
    protobuf_c_message_free_unpacked(req, NULL);
    if (st != NULL) {
        size_t n = (size_t)snprintf(o.msg, sizeof(o.msg), "%s", st->message);
        for (size_t i = 0; i < st->n_violations && n < sizeof(o.msg); i++)
            n += (size_t)snprintf(o.msg + n, sizeof(o.msg) - n, " [%s: %s]",
                                  st->violations[i]->field, st->violations[i]->description);
    }
    if (o.code == CC_OK) {
        o.json = pjson_encode(resp);
        protobuf_c_message_free_unpacked(resp, NULL);
        assert_non_null(o.json);
    }
    return o;
}

/* A call that must succeed; returns the reply parsed (json_decref it). */
static json_t *must(cc_conn *c, const char *method, const char *fmt, ...)
{
    char request[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(request, sizeof(request), fmt, ap);
    va_end(ap);
    outcome o = call_json(c, method, request);
    if (o.code != CC_OK)
        fail_msg("%s %s: %s %s", method, request, cc_code_name(o.code), o.msg);
    json_t *j = json_loads(o.json, 0, NULL);
    outcome_free(&o);
    assert_non_null(j);
    return j;
}

/* Copies the string at a dotted path ("user.id", "proposals.0.id") into out. */
static void jcopy(json_t *j, const char *path, char *out, size_t len)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *v = j;
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part && v;
         part = strtok_r(NULL, ".", &save))
        v = json_is_array(v) ? json_array_get(v, strtoul(part, NULL, 10))
                             : json_object_get(v, part);
    if (!json_is_string(v))
        fail_msg("no string at %s in %s", path, json_dumps(j, JSON_COMPACT));
    snprintf(out, len, "%s", json_string_value(v));
}

static void must_id(cc_conn *c, char *out, const char *path, const char *method, const char *fmt,
                    ...)
{
    char request[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(request, sizeof(request), fmt, ap);
    va_end(ap);
    json_t *j = must(c, method, "%s", request);
    jcopy(j, path, out, 24);
    json_decref(j);
}

/* Logs u in on a connection of its own, which sends u's new token. */
static void login(user *u)
{
    itest_user session;
    itest_login(&session, u->username, u->password);
    snprintf(u->token, sizeof(u->token), "%s", session.token);
    snprintf(u->id, sizeof(u->id), "%s", session.id);
    u->conn = session.conn;
}

static void create_user(const char *name, const char *department, const char *role, char *id)
{
    char dept[16];
    snprintf(dept, sizeof(dept), "%s", department);
    for (char *p = dept; *p; p++)
        *p = (char)(*p - 'a' + 'A');
    char role_uc[16];
    snprintf(role_uc, sizeof(role_uc), "%s", role);
    for (char *p = role_uc; *p; p++)
        *p = (char)(*p - 'a' + 'A');
    must_id(users[U_ADMIN].conn, id, "id", "AuthService/CreateUser",
            "{\"user\":{\"username\":\"%s\",\"displayName\":\"Matrix %s\",\"department\":\"%s\","
            "\"role\":\"%s\"},\"password\":\"matrix-password-1\"}",
            name, role, dept, role_uc);
}

/* ---- placeholders ---------------------------------------------------------------------- */

/* The "version" of the object whose "id" is id, anywhere in j; -1 if none. */
static long long find_version(json_t *j, const char *id)
{
    if (json_is_object(j)) {
        json_t *jid = json_object_get(j, "id");
        json_t *jv = json_object_get(j, "version");
        if (json_is_string(jid) && strcmp(json_string_value(jid), id) == 0)
            return json_is_string(jv) ? atoll(json_string_value(jv)) : 0;
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            long long r = find_version(v, id);
            if (r >= 0)
                return r;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            long long r = find_version(v, id);
            if (r >= 0)
                return r;
        }
    }
    return -1;
}

/* The current version of a record, read by the admin. */
static long long version_of(const char *what, const fixture *f)
{
    cc_conn *a = users[U_ADMIN].conn;
    json_t *j = NULL;
    const char *id = NULL;
    if (strcmp(what, "acc") == 0)
        j = must(a, "AccountService/GetAccount", "{\"id\":\"%s\"}", id = f->acc);
    else if (strcmp(what, "contract") == 0)
        j = must(a, "ContractService/GetContract", "{\"id\":\"%s\"}", id = f->contract);
    else if (strcmp(what, "stakeholder") == 0)
        j = must(a, "StakeholderService/GetStakeholder", "{\"id\":\"%s\"}", id = f->stakeholder);
    else if (strcmp(what, "event") == 0)
        j = must(a, "KeyEventService/ListKeyEvents", "{\"accountId\":\"%s\",\"pageSize\":500}",
                 (id = f->event, f->acc));
    else if (strcmp(what, "rule") == 0)
        j = must(a, "TierService/ListTierRules", "{\"includeInactive\":true}"), id = rule_id;
    else
        fail_msg("unknown version placeholder v:%s", what);
    long long v = find_version(j, id);
    json_decref(j);
    if (v < 0)
        fail_msg("no version of %s %s", what, id);
    return v;
}

static const char *placeholder(const char *name, int u, char *buf, size_t len)
{
    const fixture *f = &fixtures[users[u].fixture];
    static const struct {
        const char *name;
        size_t off;
    } fx[] = {
        {"acc", offsetof(fixture, acc)},
        {"contract", offsetof(fixture, contract)},
        {"stakeholder", offsetof(fixture, stakeholder)},
        {"stakeholder2", offsetof(fixture, stakeholder2)},
        {"activity", offsetof(fixture, activity)},
        {"handover", offsetof(fixture, handover)},
        {"event", offsetof(fixture, event)},
        {"event2", offsetof(fixture, event2)},
        {"task", offsetof(fixture, task)},
        {"proposal", offsetof(fixture, proposal)},
    };
    for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++)
        if (strcmp(name, fx[i].name) == 0)
            return (const char *)f + fx[i].off;
    if (strncmp(name, "v:", 2) == 0) {
        snprintf(buf, len, "\"%lld\"", version_of(name + 2, f));
        return buf;
    }
    if (strcmp(name, "uniq") == 0) {
        snprintf(buf, len, "%u", ++uniq);
        return buf;
    }
    const char *simple[][2] = {
        {"self", users[u].id},
        {"username", users[u].username},
        {"password", users[u].password},
        {"scratch", users[u].scratch},
        {"extra", extra_id},
        {"reader", users[U_READER].id},
        {"csm", csm_id},
        {"victim", victim_id},
        {"owner_token", owner_api_token_id},
        {"rule", rule_id},
        {"run", run_id},
        {"marker", marker},
    };
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
        if (strcmp(name, simple[i][0]) == 0)
            return simple[i][1];
    fail_msg("unknown placeholder {%s}", name);
    return "";
}

static void expand(const char *tmpl, int u, char *out, size_t len)
{
    size_t n = 0;
    for (const char *p = tmpl; *p;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        /* JSON's own braces are never followed by a placeholder name and '}'. */
        if (close && close > p + 1 &&
            strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_2:") == (size_t)(close - p - 1)) {
            char name[32], buf[64];
            snprintf(name, sizeof(name), "%.*s", (int)(close - p - 1), p + 1);
            n += (size_t)snprintf(out + n, len - n, "%s", placeholder(name, u, buf, sizeof(buf)));
            p = close + 1;
        } else {
            if (n + 1 < len)
                out[n++] = *p;
            p++;
        }
        assert_true(n + 1 < len);
    }
    out[n] = '\0';
}

/* ---- setup: users, fixtures ------------------------------------------------------------ */

static void build_fixture(fixture *f, const char *label)
{
    cc_conn *a = users[U_ADMIN].conn;
    must_id(a, f->acc, "id", "AccountService/CreateAccount",
            "{\"account\":{\"name\":\"Quillfeather Polytechnic %s %s\",\"industry\":\"authz-%s\","
            "\"ownerId\":\"%s\",\"notes\":\"notes %s\",\"tags\":[\"%s\"]},"
            "\"allowSimilarName\":true}",
            marker, label, run_id, users[U_OWNER].id, marker, marker);
    json_decref(must(a, "TeamService/AddTeamMember",
                     "{\"member\":{\"accountId\":\"%s\",\"userId\":\"%s\","
                     "\"teamRole\":\"DELIVERY_LEAD\",\"accessLevel\":\"READ\"}}",
                     f->acc, users[U_READER].id));
    json_decref(must(a, "TeamService/AddTeamMember",
                     "{\"member\":{\"accountId\":\"%s\",\"userId\":\"%s\","
                     "\"teamRole\":\"SOLUTION_LEAD\",\"accessLevel\":\"EDIT\"}}",
                     f->acc, users[U_EDITOR].id));
    must_id(a, f->contract, "id", "ContractService/CreateContract",
            "{\"contract\":{\"accountId\":\"%s\",\"startDate\":\"2026-01-15\","
            "\"endDate\":\"2027-01-14\",\"annualValueMinor\":\"100000\",\"currency\":\"EUR\","
            "\"products\":[\"%s\"]}}",
            f->acc, marker);
    must_id(a, f->stakeholder, "id", "StakeholderService/CreateStakeholder",
            "{\"stakeholder\":{\"accountId\":\"%s\",\"name\":\"Dana %s\",\"level\":\"EXECUTIVE\","
            "\"notes\":\"%s\",\"email\":\"dana@example.edu\"}}",
            f->acc, marker, marker);
    must_id(a, f->stakeholder2, "id", "StakeholderService/CreateStakeholder",
            "{\"stakeholder\":{\"accountId\":\"%s\",\"name\":\"Eli %s\",\"level\":\"STAFF\"}}",
            f->acc, marker);
    must_id(a, f->activity, "id", "ActivityService/CreateActivity",
            "{\"activity\":{\"accountId\":\"%s\",\"kind\":\"MEETING\",\"subject\":\"Review %s\","
            "\"notes\":\"%s\",\"occurTime\":\"2026-05-01T10:00:00Z\",\"stakeholderIds\":[\"%s\"]}}",
            f->acc, marker, marker, f->stakeholder);
    must_id(a, f->handover, "id", "ContractService/CreateHandover",
            "{\"handover\":{\"accountId\":\"%s\",\"contractId\":\"%s\",\"toUserId\":\"%s\","
            "\"commitments\":\"%s\",\"risks\":\"%s\"}}",
            f->acc, f->contract, csm_id, marker, marker);
    /* The handover put its receiver on the team; taking him off keeps the
     * success department uninvolved, so that its manager stays an outsider. */
    json_decref(must(a, "TeamService/RemoveTeamMember", "{\"accountId\":\"%s\",\"userId\":\"%s\"}",
                     f->acc, csm_id));
    must_id(a, f->event, "id", "KeyEventService/CreateKeyEvent",
            "{\"event\":{\"scope\":\"ACCOUNT_EVENT\",\"category\":\"ANNIVERSARY\","
            "\"title\":\"Founding day %s\",\"description\":\"%s\",\"date\":\"2031-03-10\","
            "\"accountId\":\"%s\"}}",
            marker, marker, f->acc);
    must_id(a, f->event2, "id", "KeyEventService/CreateKeyEvent",
            "{\"event\":{\"scope\":\"ACCOUNT_EVENT\",\"title\":\"New rector %s\","
            "\"date\":\"2031-06-01\",\"accountId\":\"%s\"}}",
            marker, f->acc);
    json_decref(must(a, "AccountService/ScoreAccountIcp",
                     "{\"accountId\":\"%s\",\"scores\":[{\"criterion\":\"SCALE_AND_MATURITY\","
                     "\"score\":4,\"note\":\"%s\"}]}",
                     f->acc, marker));
    /* A tier change with a reason (history), then an evaluation that proposes
     * another tier (no rule gives S to this small contract). */
    json_decref(must(a, "TierService/OverrideTier",
                     "{\"accountId\":\"%s\",\"tier\":\"TIER_S\",\"reason\":\"%s\"}", f->acc,
                     marker));
    must_id(a, f->proposal, "proposals.0.id", "TierService/EvaluateTiers",
            "{\"accountId\":\"%s\",\"asOf\":\"2026-06-30\"}", f->acc);
}

static int setup(void **state)
{
    snprintf(run_id, sizeof(run_id), "%ld%d", (long)time(NULL) % 1000000, (int)getpid());
    snprintf(marker, sizeof(marker), "SECRET-%s", run_id);

    user *admin = &users[U_ADMIN];
    snprintf(admin->username, sizeof(admin->username), "%s", itest_env("CONCORD_ADMIN_USER"));
    snprintf(admin->password, sizeof(admin->password), "%s", itest_env("CONCORD_ADMIN_PASSWORD"));
    login(admin);
    for (int u = 0; u < N_USERS; u++) {
        if (u == U_ADMIN)
            continue;
        snprintf(users[u].username, sizeof(users[u].username), "mx%s%s", users[u].label, run_id);
        snprintf(users[u].password, sizeof(users[u].password), "matrix-password-1");
        create_user(users[u].username, users[u].department, users[u].role, users[u].id);
        login(&users[u]);
    }
    char name[64];
    snprintf(name, sizeof(name), "mxcsm%s", run_id);
    create_user(name, "success", "member", csm_id);
    snprintf(name, sizeof(name), "mxextra%s", run_id);
    create_user(name, "delivery", "member", extra_id);
    snprintf(name, sizeof(name), "mxvictim%s", run_id);
    create_user(name, "rnd", "member", victim_id);

    /* A for those who must not change it; a copy for each user who may. */
    build_fixture(&fixtures[0], "A");
    n_fixtures = 1;
    for (int u = 0; u < N_USERS; u++) {
        int writer = u == U_EDITOR || u == U_OWNER || u == U_SALESMGR || u == U_ADMIN;
        users[u].fixture = writer ? n_fixtures : 0;
        if (writer) {
            char label[32];
            snprintf(label, sizeof(label), "B-%s", users[u].label);
            build_fixture(&fixtures[n_fixtures++], label);
        }
        must_id(users[u].conn, users[u].scratch, "id", "AccountService/CreateAccount",
                "{\"account\":{\"name\":\"Matrix scratch %s %s\"},\"allowSimilarName\":true}",
                users[u].label, run_id);
    }
    /* The owner sees exactly the fixtures: his call creates their outreach tasks
     * (an admin's would create tasks for every account of the environment). */
    json_decref(must(users[U_OWNER].conn, "KeyEventService/ListUpcomingEvents",
                     "{\"withinDays\":30,\"asOf\":\"2031-03-01\",\"createTasks\":true}"));
    for (int i = 0; i < n_fixtures; i++)
        must_id(admin->conn, fixtures[i].task, "tasks.0.id", "KeyEventService/ListOutreachTasks",
                "{\"accountId\":\"%s\"}", fixtures[i].acc);
    must_id(users[U_OWNER].conn, owner_api_token_id, "apiToken.id", "AuthService/CreateApiToken",
            "{\"name\":\"matrix victim\",\"ttlDays\":1}");
    must_id(admin->conn, rule_id, "id", "TierService/CreateTierRule",
            "{\"rule\":{\"tier\":\"TIER_S\",\"name\":\"Matrix rule %s\","
            "\"minAnnualValueMinor\":\"999999999999\",\"currency\":\"EUR\"}}",
            run_id);
    /* Stages as of today now, so that the daily refresh has nothing left to change on A. */
    json_decref(must(admin->conn, "ContractService/RefreshStages", "{}"));
    return 0;
}

static int teardown(void **state)
{
    for (int u = 0; u < N_USERS; u++)
        cc_conn_free(users[u].conn);
    return 0;
}

/* ---- judging one cell ------------------------------------------------------------------- */

static int is_fixture_account(const char *id)
{
    for (int i = 0; i < n_fixtures; i++)
        if (strcmp(fixtures[i].acc, id) == 0)
            return 1;
    return 0;
}

/* True when the JSON names one of the fixture accounts in an account reference. */
static int names_fixture(json_t *j)
{
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            if ((strcmp(k, "accountId") == 0 || strcmp(k, "sourceId") == 0 ||
                 strcmp(k, "targetId") == 0 || strcmp(k, "parentId") == 0) &&
                json_is_string(v) && is_fixture_account(json_string_value(v)))
                return 1;
            if (names_fixture(v))
                return 1;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) if (names_fixture(v)) return 1;
    }
    return 0;
}

/* What of the fixtures a reply shows: the marker, or a reference to a fixture account. */
static int shows_fixture(const outcome *o)
{
    if (strstr(o->msg, marker) != NULL)
        return 1;
    if (o->json == NULL)
        return 0;
    if (strstr(o->json, marker) != NULL)
        return 1;
    json_t *j = json_loads(o->json, 0, NULL);
    int r = j != NULL && names_fixture(j);
    json_decref(j);
    return r;
}

static int is_outsider(int u)
{
    return u == U_NONMEMBER || u == U_OTHERMGR;
}

static int is_manager(int u)
{
    return u == U_OTHERMGR || u == U_SALESMGR || u == U_ADMIN;
}

static int may_edit(int u)
{
    return u == U_EDITOR || u == U_OWNER || u == U_SALESMGR || u == U_ADMIN;
}

/* The code a cell must have: a single code, or -1 for "refused without leaking". */
static int expected(const row *r, int u)
{
    switch (r->kind) {
    case K_READ:
        return is_outsider(u) ? -1 : CC_OK;
    case K_WRITE:
        return is_outsider(u) ? -1 : may_edit(u) ? CC_OK : CC_PERMISSION_DENIED;
    case K_DECIDE:
        return is_outsider(u) ? -1 : may_edit(u) && is_manager(u) ? CC_OK : CC_PERMISSION_DENIED;
    case K_RECEIVER:
        return is_outsider(u) ? -1 : CC_PERMISSION_DENIED;
    case K_LIST:
        return CC_OK;
    case K_SELF:
        return r->self_code;
    case K_MANAGER:
        return is_manager(u) ? CC_OK : CC_PERMISSION_DENIED;
    case K_ADMIN:
        return u == U_ADMIN ? CC_OK : CC_PERMISSION_DENIED;
    case K_OWNTOKEN:
        return u == U_OWNER || u == U_ADMIN ? CC_OK : CC_NOT_FOUND;
    }
    return CC_OK;
}

/* Returns NULL when the cell is as it must be, else why not (static text). */
static const char *judge(const row *r, int u, const outcome *o)
{
    int want = expected(r, u);
    int shown = shows_fixture(o);
    if (is_outsider(u) && shown)
        return "LEAK: the reply shows the account or its records";
    if (want == -1) {
        /* Refused, or a read that answers without any trace of A. */
        if (o->code == CC_NOT_FOUND || o->code == CC_PERMISSION_DENIED)
            return NULL;
        if (o->code == CC_OK && r->kind == K_READ)
            return NULL;
        return o->code == CC_OK ? "a write by someone outside the account succeeded"
                                : "neither NOT_FOUND nor PERMISSION_DENIED";
    }
    if (o->code != want)
        return "unexpected code";
    /* Reads must show the account to those who see it: this is what makes the
     * leak check above meaningful for the outsiders' replies. */
    if (o->code == CC_OK && !is_outsider(u) && !shown &&
        (r->kind == K_READ || (r->kind == K_LIST && (r->flags & R_INSIDERS_SEE))))
        return "the reply does not show the account to someone who sees it";
    return NULL;
}

static const char *short_code(int code)
{
    switch (code) {
    case CC_OK:
        return "ok";
    case CC_NOT_FOUND:
        return "NF";
    case CC_PERMISSION_DENIED:
        return "PD";
    case CC_INVALID_ARGUMENT:
        return "IA";
    case CC_FAILED_PRECONDITION:
        return "FP";
    case CC_ABORTED:
        return "AB";
    case CC_UNAUTHENTICATED:
        return "UA";
    default:
        return "??";
    }
}

/* ---- A's state, as the admin sees it ----------------------------------------------------- */

static char *snapshot(const fixture *f)
{
    static const struct {
        const char *method, *request;
    } reads[] = {
        {"AccountService/GetAccount", "{\"id\":\"%s\"}"},
        {"ContractService/ListContracts", "{\"accountId\":\"%s\",\"includeCancelled\":true}"},
        {"ContractService/GetLifecycle", "{\"accountId\":\"%s\",\"asOf\":\"2026-06-01\"}"},
        {"ContractService/ListHandovers", "{\"accountId\":\"%s\"}"},
        {"StakeholderService/ListStakeholders", "{\"accountId\":\"%s\"}"},
        {"ActivityService/ListActivities", "{\"accountId\":\"%s\"}"},
        {"KeyEventService/ListKeyEvents", "{\"accountId\":\"%s\"}"},
        {"KeyEventService/ListOutreachTasks", "{\"accountId\":\"%s\"}"},
        {"TeamService/ListTeamMembers", "{\"accountId\":\"%s\"}"},
        {"TierService/ListTierProposals", "{\"accountId\":\"%s\"}"},
        {"TierService/ListTierHistory", "{\"accountId\":\"%s\"}"},
    };
    size_t cap = 1 << 16, n = 0;
    char *all = malloc(cap);
    assert_non_null(all);
    all[0] = '\0';
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        json_t *j = must(users[U_ADMIN].conn, reads[i].method, reads[i].request, f->acc);
        char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(j);
        size_t len = strlen(text) + strlen(reads[i].method) + 2;
        while (n + len + 1 > cap)
            assert_non_null(all = realloc(all, cap *= 2));
        n += (size_t)sprintf(all + n, "%s %s\n", reads[i].method, text);
        free(text);
    }
    return all;
}

/* ---- the matrix ------------------------------------------------------------------------- */

static void every_declared_method_has_a_row(void **state)
{
    int missing = 0;
    for (size_t s = 0; cc_services[s] != NULL; s++) {
        const ProtobufCServiceDescriptor *d = cc_services[s];
        for (unsigned m = 0; m < d->n_methods; m++) {
            char name[160];
            snprintf(name, sizeof(name), "%s/%s", d->short_name, d->methods[m].name);
            int found = 0;
            for (size_t i = 0; i < N_ROWS; i++)
                found |= strcmp(rows[i].method, name) == 0;
            if (!found) {
                print_error("%s has no row in the authorization matrix: add one to rows[]\n", name);
                missing++;
            }
        }
    }
    /* And every row names a declared method. */
    for (size_t i = 0; i < N_ROWS; i++) {
        char full[160];
        snprintf(full, sizeof(full), "concord.v1.%s", rows[i].method);
        if (cc_method_lookup(full, NULL) == NULL) {
            print_error("row %s names no declared method\n", rows[i].method);
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

static int cells[N_ROWS][N_USERS];
static const char *problems[N_ROWS][N_USERS];

static void sweep_every_method_as_every_user(void **state)
{
    char *before = snapshot(&fixtures[0]);
    char request[4096];
    for (int u = 0; u < N_USERS; u++) {
        for (size_t i = 0; i < N_ROWS; i++) {
            const row *r = &rows[i];
            expand(r->request, u, request, sizeof(request));
            cc_conn *c = users[u].conn, *fresh = NULL;
            if (r->flags & R_FRESH_SESSION) {
                user tmp = users[u];
                login(&tmp);
                fresh = c = tmp.conn;
            }
            outcome o = call_json(c, r->method, request);
            cc_conn_free(fresh);
            cells[i][u] = o.code;
            problems[i][u] = judge(r, u, &o);
            if (problems[i][u] != NULL)
                print_error("%s%s%s as %s: %s: got %s (%s)\n  request %s\n  reply %s\n", r->method,
                            *r->variant ? "#" : "", r->variant, users[u].label, problems[i][u],
                            cc_code_name(o.code), o.msg, request, o.json ? o.json : "-");
            outcome_free(&o);
        }
    }

    /* The matrix. */
    printf("\n%-46s", "method \\ caller");
    for (int u = 0; u < N_USERS; u++)
        printf(" %-9s", users[u].label);
    printf("\n");
    int bad = 0;
    for (size_t i = 0; i < N_ROWS; i++) {
        char name[96];
        snprintf(name, sizeof(name), "%s%s%s", rows[i].method, *rows[i].variant ? "#" : "",
                 rows[i].variant);
        printf("%-46.46s", name);
        for (int u = 0; u < N_USERS; u++) {
            printf(" %s%-8s", short_code(cells[i][u]), problems[i][u] ? "!" : "");
            bad += problems[i][u] != NULL;
        }
        printf("\n");
    }
    printf("(ok, NF not found, PD permission denied, IA invalid argument, FP failed precondition;"
           " ! marks a cell that is not as it must be)\n\n");
    if (bad) {
        printf("unexpected cells:\n");
        for (size_t i = 0; i < N_ROWS; i++)
            for (int u = 0; u < N_USERS; u++)
                if (problems[i][u])
                    printf("  %s%s%s as %s: %s (%s)\n", rows[i].method, *rows[i].variant ? "#" : "",
                           rows[i].variant, users[u].label, problems[i][u],
                           cc_code_name(cells[i][u]));
    }
    fflush(stdout);

    /* Nothing of A changed: the outsiders' and the READ member's writes all failed. */
    char *after = snapshot(&fixtures[0]);
    if (strcmp(before, after) != 0)
        print_error("account A changed during the sweep:\nbefore:\n%s\nafter:\n%s\n", before,
                    after);
    int changed = strcmp(before, after) != 0;
    free(before);
    free(after);
    assert_int_equal(bad, 0);
    assert_false(changed);
}

/* ---- row-level security straight in SQL -------------------------------------------------- */

static long count_rows(PGconn *pg, const char *table, const char *account_id)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM concord.%s WHERE %s = $1", table,
             strcmp(table, "accounts") == 0 ? "id" : "account_id");
    const char *p[1] = {account_id};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static void exec_ok(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

/* The team rows are readable by any signed-in caller in SQL by design (the
 * accounts policy needs them; see 0001_init.sql); TeamService shows a team
 * only to those who see its account, which the sweep checks. */
static int readable_by_design(const char *table)
{
    return strcmp(table, "account_team") == 0;
}

static void rls_in_sql_per_caller(void **state)
{
    PGconn *su = itest_pg_superuser();
    PGconn *app = itest_pg_connect(itest_env("CONCORD_DB_URL"));
    /* accounts itself, and every table of the schema with an account_id column
     * that concord_app may read. */
    PGresult *t = PQexec(su, "SELECT 'accounts' UNION SELECT c.relname FROM pg_class c"
                             " JOIN pg_namespace n ON n.oid = c.relnamespace"
                             " JOIN pg_attribute a ON a.attrelid = c.oid"
                             " WHERE n.nspname = 'concord' AND c.relkind = 'r'"
                             "   AND a.attname = 'account_id' AND NOT a.attisdropped"
                             "   AND has_table_privilege('concord_app', c.oid, 'SELECT')"
                             " ORDER BY 1");
    if (PQresultStatus(t) != PGRES_TUPLES_OK)
        fail_msg("tables with account_id: %s", PQresultErrorMessage(t));
    int n = PQntuples(t);
    assert_true(n >= 8);
    const char *acc = fixtures[0].acc;
    int bad = 0, with_rows = 0;
    printf("\n%-24s %6s", "table (rows of A)", "all");
    for (int u = 0; u < N_USERS; u++)
        printf(" %9s", users[u].label);
    printf(" %9s\n", "no caller");
    for (int k = 0; k < n; k++) {
        const char *table = PQgetvalue(t, k, 0);
        long all = count_rows(su, table, acc);
        with_rows += all > 0;
        printf("%-24s %6ld", table, all);
        for (int u = 0; u <= N_USERS; u++) {
            exec_ok(app, "BEGIN");
            if (u < N_USERS) {
                const char *p[3] = {users[u].id, users[u].role, users[u].department};
                PGresult *r = PQexecParams(app,
                                           "SELECT set_config('concord.user_id', $1, true),"
                                           " set_config('concord.role', $2, true),"
                                           " set_config('concord.department', $3, true)",
                                           3, NULL, p, NULL, NULL, 0);
                assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
                PQclear(r);
            }
            long seen = count_rows(app, table, acc);
            exec_ok(app, "COMMIT");
            long want = u == N_USERS ? 0 : is_outsider(u) && !readable_by_design(table) ? 0 : all;
            printf(" %8ld%s", seen, seen == want ? " " : "!");
            if (seen != want) {
                bad++;
                print_error("%s: %s sees %ld rows of account A in SQL, not %ld\n", table,
                            u == N_USERS ? "no caller" : users[u].label, seen, want);
            }
        }
        printf("\n");
    }
    PQclear(t);
    PQfinish(app);
    PQfinish(su);
    fflush(stdout);
    /* A has rows in every area, so the zeros above mean something. */
    assert_true(with_rows >= 9);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_declared_method_has_a_row),
        cmocka_unit_test(sweep_every_method_as_every_user),
        cmocka_unit_test(rls_in_sql_per_caller),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
