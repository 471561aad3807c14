/*
 * auth_service.c - concord.v1.AuthService: sign-in, sessions, users, API tokens.
 *
 * Login answers every failure (unknown user, wrong password, disabled user)
 * with the same UNAUTHENTICATED message after the same amount of work, so
 * the answer does not reveal which usernames exist.
 */
#include "auth.h"
#include "concord/v1/auth.pb-c.h"
#include <stdlib.h>
#include <string.h>

#define USER_COLS                                                                                  \
    "u.id, u.username, u.display_name, u.department, u.role, u.disabled_at IS NOT NULL,"           \
    " extract(epoch from u.created_at)::text, u.version"

static Concord__V1__User *user_from_row(srv_call *c, PGresult *r, int row)
{
    Concord__V1__User *u = arena_alloc(c->arena, sizeof(*u));
    concord__v1__user__init(u);
    u->id = PQgetvalue(r, row, 0);
    u->username = PQgetvalue(r, row, 1);
    u->display_name = PQgetvalue(r, row, 2);
    u->department = srv_enum_from_db(&concord__v1__department__descriptor, PQgetvalue(r, row, 3));
    u->role = srv_enum_from_db(&concord__v1__role__descriptor, PQgetvalue(r, row, 4));
    u->disabled = PQgetvalue(r, row, 5)[0] == 't';
    u->create_time = srv_ts(c, PQgetvalue(r, row, 6));
    u->version = strtoll(PQgetvalue(r, row, 7), NULL, 10);
    return u;
}

static Concord__V1__User *load_user(srv_call *c, const char *id)
{
    static const char sql[] = "SELECT " USER_COLS " FROM users u WHERE u.id = $1";
    PGresult *r = srv_sql(c, sql, 1, id);
    if (r == NULL)
        return NULL;
    if (PQntuples(r) == 0) {
        srv_fail(c, CC_NOT_FOUND, "user %s not found", id);
        return NULL;
    }
    return user_from_row(c, r, 0);
}

/*
 * Login throttling. Per user name: from the 5th consecutive failure
 * (auth.login_backoff_user) each attempt must wait 2^(n-5) seconds (at most
 * 15 minutes); the 100th (auth.login_lockout) locks the name for an hour. Per
 * source address the same backoff from the 50th failure
 * (auth.login_backoff_address), so one address cannot try many names quickly.
 * A success clears the name's counter; counters untouched for an hour start
 * over.
 */
static int throttled(srv_call *c, const char *user_key, const char *addr_key)
{
    static const char sql[] =
        "SELECT key, ceil(extract(epoch from locked_until - now()))::int FROM login_throttle"
        " WHERE key IN ($1, $2) AND locked_until > now()"
        " ORDER BY locked_until DESC LIMIT 1";
    PGresult *r = srv_sql(c, sql, 2, user_key, addr_key);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0)
        return CC_OK;
    int secs = atoi(PQgetvalue(r, 0, 1));
    return srv_fail(c, CC_RESOURCE_EXHAUSTED, "too many failed logins %s; try again in %d second%s",
                    strncmp(PQgetvalue(r, 0, 0), "user:", 5) == 0 ? "for this user"
                                                                  : "from this address",
                    secs, secs == 1 ? "" : "s");
}

static int login_failed(srv_call *c, const char *user_key, const char *addr_key)
{
    static const char sql[] =
        "INSERT INTO login_throttle AS t (key, failures) VALUES ($1, 1)"
        " ON CONFLICT (key) DO UPDATE SET"
        "  failures = CASE WHEN t.last_failure < now() - interval '1 hour' THEN 1"
        "                  ELSE t.failures + 1 END,"
        "  last_failure = now()"
        " RETURNING failures";
    /* The lock runs from now, not from the start of the transaction (now()):
     * the password check before it takes a while, longer on a busy server. */
    static const char lock[] =
        "UPDATE login_throttle SET locked_until = clock_timestamp() + CASE"
        "   WHEN failures >= $2::int THEN interval '1 hour'"
        "   WHEN failures >= $3::int THEN least(interval '1 second' * power(2, failures - $3::int),"
        "                                       interval '15 minutes')"
        "   ELSE NULL END"
        " WHERE key = $1";
    const struct {
        int lockout, backoff;
    } limits[2] = {{c->cfg->login_lockout, c->cfg->login_backoff_user},
                   {100000000, c->cfg->login_backoff_address}};
    const char *keys[2] = {user_key, addr_key};
    for (int i = 0; i < 2; i++) {
        if (srv_sql(c, sql, 1, keys[i]) == NULL ||
            srv_sql(c, lock, 3, keys[i], srv_i64(c, limits[i].lockout),
                    srv_i64(c, limits[i].backoff)) == NULL)
            return c->code;
    }
    /* The counters must survive the failed call's transaction. */
    c->commit_on_failure = 1;
    return srv_fail(c, CC_UNAUTHENTICATED, "wrong username or password");
}

static int login(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__LoginRequest *req = (const void *)in;
    static const char find[] =
        "SELECT u.id, u.password_hash, u.disabled_at IS NOT NULL FROM users u"
        " WHERE u.username = $1";
    static const char create[] =
        "INSERT INTO credentials (user_id, kind, token_hash, source, idle_timeout, expires_at)"
        " VALUES ($1, 'session', $2, $3, $4::bigint * interval '1 millisecond',"
        "         now() + $5::bigint * interval '1 millisecond')"
        " RETURNING extract(epoch from expires_at)::text,"
        "           set_config('concord.user_id', $1::text, true)";

    if (req->username == NULL || *req->username == '\0')
        srv_violation(c, "username", "is required");
    if (req->password == NULL || *req->password == '\0')
        srv_violation(c, "password", "is required");
    if (srv_check(c) != CC_OK)
        return c->code;
    c->denied_type = "user";
    c->denied_id = req->username;
    const char *user_key = arena_printf(c->arena, "user:%s", req->username);
    const char *addr_key = arena_printf(c->arena, "addr:%s", c->source);
    if (throttled(c, user_key, addr_key) != CC_OK)
        return c->code;

    PGresult *r = srv_sql(c, find, 1, req->username);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0) {
        auth_password_dummy_verify(c->cfg, req->password);
        return login_failed(c, user_key, addr_key);
    }
    const char *user_id = PQgetvalue(r, 0, 0);
    int ok = auth_password_verify(PQgetvalue(r, 0, 1), req->password) == 0;
    if (!ok || PQgetvalue(r, 0, 2)[0] == 't')
        return login_failed(c, user_key, addr_key);
    static const char reset[] = "DELETE FROM login_throttle WHERE key = $1";
    if (srv_sql(c, reset, 1, user_key) == NULL)
        return c->code;

    char token[AUTH_TOKEN_MAX], hash[80];
    auth_token_new("cs_", token);
    auth_token_hash_param(token, hash);
    r = srv_sql(c, create, 5, user_id, hash, c->source, srv_i64(c, c->cfg->session_idle_timeout),
                srv_i64(c, c->cfg->session_absolute_timeout));
    if (r == NULL)
        return c->code;
    Concord__V1__LoginResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__login_response__init(resp);
    resp->token = arena_strdup(c->arena, token);
    resp->expire_time = srv_ts(c, PQgetvalue(r, 0, 0));
    c->user.id = strtoll(user_id, NULL, 10);
    snprintf(c->user.id_text, sizeof(c->user.id_text), "%s", user_id);
    resp->user = load_user(c, user_id);
    if (resp->user == NULL)
        return c->code;
    if (srv_audit(c, "login", "user", user_id, NULL, NULL) != CC_OK)
        return c->code;
    *out = &resp->base;
    return CC_OK;
}

static int logout(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    static const char sql[] = "UPDATE credentials SET revoked_at = now() WHERE id = $1";
    if (srv_sql(c, sql, 1, srv_i64(c, c->user.credential_id)) == NULL)
        return c->code;
    c->forget_credential_id = c->user.credential_id;
    if (srv_audit(c, "logout", "user", c->user.id_text, NULL, NULL) != CC_OK)
        return c->code;
    Concord__V1__LogoutResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__logout_response__init(resp);
    *out = &resp->base;
    return CC_OK;
}

static int who_am_i(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    static const char sql[] =
        "SELECT extract(epoch from least(expires_at, last_used_at + idle_timeout))::text"
        "  FROM credentials WHERE id = $1";
    Concord__V1__WhoAmIResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__who_am_iresponse__init(resp);
    resp->user = load_user(c, c->user.id_text);
    PGresult *r = srv_sql(c, sql, 1, srv_i64(c, c->user.credential_id));
    if (resp->user == NULL || r == NULL)
        return c->code;
    resp->credential = c->user.is_api_token ? "api_token" : "session";
    resp->expire_time = srv_ts(c, PQgetvalue(r, 0, 0));
    *out = &resp->base;
    return CC_OK;
}

static int change_password(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ChangePasswordRequest *req = (const void *)in;
    static const char find[] = "SELECT password_hash FROM users WHERE id = $1 FOR UPDATE";
    static const char set[] =
        "UPDATE users SET password_hash = $2, version = version + 1, updated_at = now()"
        " WHERE id = $1";
    /* Every other session ends; API tokens stay, they are revoked one by one. */
    static const char end_sessions[] =
        "UPDATE credentials SET revoked_at = now()"
        " WHERE user_id = $1 AND kind = 'session' AND id <> $2 AND revoked_at IS NULL";

    if (req->old_password == NULL || *req->old_password == '\0')
        srv_violation(c, "old_password", "is required");
    auth_check_password_rules(c, "new_password", req->new_password);
    if (srv_check(c) != CC_OK)
        return c->code;
    PGresult *r = srv_sql(c, find, 1, c->user.id_text);
    if (r == NULL)
        return c->code;
    if (auth_password_verify(PQgetvalue(r, 0, 0), req->old_password) != 0) {
        srv_violation(c, "old_password", "does not match the current password");
        return srv_check(c);
    }
    char hash[AUTH_HASH_MAX];
    if (auth_password_hash(c->cfg, req->new_password, hash, sizeof(hash)) != 0)
        return srv_fail(c, CC_INTERNAL, "internal error");
    if (srv_sql(c, set, 2, c->user.id_text, hash) == NULL ||
        srv_sql(c, end_sessions, 2, c->user.id_text, srv_i64(c, c->user.credential_id)) == NULL)
        return c->code;
    if (srv_audit(c, "change_password", "user", c->user.id_text, NULL, NULL) != CC_OK)
        return c->code;
    c->forget_user_id = c->user.id;
    Concord__V1__ChangePasswordResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__change_password_response__init(resp);
    *out = &resp->base;
    return CC_OK;
}

static int check_username(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return -1;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
              *p == '-'))
            return -1;
    return 0;
}

static int create_user(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__CreateUserRequest *req = (const void *)in;
    static const char sql[] =
        "INSERT INTO users AS u (username, display_name, department, role, password_hash)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING " USER_COLS;
    const Concord__V1__User *u = req->user;
    if (u == NULL) {
        srv_violation(c, "user", "is required");
        return srv_check(c);
    }
    if (check_username(u->username) != 0)
        srv_violation(c, "user.username", "must be 1-64 characters of a-z, 0-9, '.', '_', '-'");
    if (u->display_name && strlen(u->display_name) > 200)
        srv_violation(c, "user.display_name", "must be at most 200 characters");
    if (u->department == 0 || !srv_enum_valid(&concord__v1__department__descriptor, u->department))
        srv_violation(c, "user.department",
                      "is required: sales, presales, delivery, rnd or success");
    if (u->role == 0 || !srv_enum_valid(&concord__v1__role__descriptor, u->role))
        srv_violation(c, "user.role", "is required: member, manager or admin");
    auth_check_password_rules(c, "password", req->password);
    if (srv_check(c) != CC_OK)
        return c->code;
    char hash[AUTH_HASH_MAX];
    if (auth_password_hash(c->cfg, req->password, hash, sizeof(hash)) != 0)
        return srv_fail(c, CC_INTERNAL, "internal error");
    PGresult *r = srv_sql(c, sql, 5, u->username, u->display_name ? u->display_name : "",
                          srv_enum_to_db(c, &concord__v1__department__descriptor, u->department),
                          srv_enum_to_db(c, &concord__v1__role__descriptor, u->role), hash);
    if (r == NULL) {
        if (c->code == CC_ALREADY_EXISTS) {
            c->code = CC_OK;
            return srv_fail(c, CC_ALREADY_EXISTS, "user %s already exists", u->username);
        }
        return c->code;
    }
    Concord__V1__User *created = user_from_row(c, r, 0);
    if (srv_audit(c, "create_user", "user", created->id, NULL, &created->base) != CC_OK)
        return c->code;
    *out = &created->base;
    return CC_OK;
}

static int list_users(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListUsersRequest *req = (const void *)in;
    static const char sql[] = "SELECT " USER_COLS " FROM users u"
                              " WHERE ($1::text IS NULL OR u.username > $1)"
                              "   AND ($2::text IS NULL OR u.department = $2)"
                              "   AND ($3::boolean OR u.disabled_at IS NULL)"
                              " ORDER BY u.username LIMIT $4";
    if (!srv_is_admin(c) && strcmp(c->user.role, "manager") != 0)
        return srv_fail(c, CC_PERMISSION_DENIED, "only admins and managers may list users");
    int size = srv_page_size(c, "page_size", req->page_size);
    const char *after = srv_page_token_decode(c, "page_token", req->page_token);
    if (req->department != 0 &&
        !srv_enum_valid(&concord__v1__department__descriptor, req->department))
        srv_violation(c, "department", "is not a department");
    if (srv_check(c) != CC_OK)
        return c->code;
    PGresult *r = srv_sql(c, sql, 4, after,
                          srv_enum_to_db(c, &concord__v1__department__descriptor, req->department),
                          req->include_disabled ? "true" : "false", srv_i64(c, size + 1));
    if (r == NULL)
        return c->code;
    Concord__V1__ListUsersResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_users_response__init(resp);
    int n = PQntuples(r);
    int shown = n > size ? size : n;
    resp->users = arena_alloc(c->arena, sizeof(*resp->users) * (size_t)(shown ? shown : 1));
    for (int i = 0; i < shown; i++)
        resp->users[i] = user_from_row(c, r, i);
    resp->n_users = (size_t)shown;
    resp->next_page_token =
        n > size ? (char *)srv_page_token_encode(c, PQgetvalue(r, shown - 1, 1)) : "";
    *out = &resp->base;
    return CC_OK;
}

static int disable_user(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__DisableUserRequest *req = (const void *)in;
    static const char sql[] =
        "UPDATE users u SET disabled_at = coalesce(disabled_at, now()), version = version + 1,"
        " updated_at = now() WHERE id = $1 RETURNING " USER_COLS;
    static const char revoke[] =
        "UPDATE credentials SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL";
    int64_t id = srv_parse_id(c, "id", req->id);
    if (srv_check(c) != CC_OK)
        return c->code;
    if (id == c->user.id)
        return srv_fail(c, CC_FAILED_PRECONDITION, "you cannot disable yourself");
    Concord__V1__User *before = load_user(c, srv_i64(c, id));
    if (before == NULL)
        return c->code;
    PGresult *r = srv_sql(c, sql, 1, srv_i64(c, id));
    if (r == NULL || srv_sql(c, revoke, 1, srv_i64(c, id)) == NULL)
        return c->code;
    Concord__V1__User *after = user_from_row(c, r, 0);
    if (srv_audit(c, "disable_user", "user", after->id, &before->base, &after->base) != CC_OK)
        return c->code;
    c->forget_user_id = id;
    *out = &after->base;
    return CC_OK;
}

static int create_api_token(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__CreateApiTokenRequest *req = (const void *)in;
    static const char sql[] =
        "INSERT INTO credentials (user_id, kind, name, token_hash, source, expires_at)"
        " VALUES ($1, 'api_token', $2, $3, $4, now() + $5::int * interval '1 day')"
        " RETURNING id, extract(epoch from created_at)::text, extract(epoch from expires_at)::text";
    size_t n = req->name ? strlen(req->name) : 0;
    if (n == 0 || n > 100)
        srv_violation(c, "name", "must be 1-100 characters");
    if (req->ttl_days < 0 || req->ttl_days > 365)
        srv_violation(c, "ttl_days", "must be between 1 and 365 (0 means 90)");
    if (srv_check(c) != CC_OK)
        return c->code;
    char token[AUTH_TOKEN_MAX], hash[80];
    auth_token_new("ct_", token);
    auth_token_hash_param(token, hash);
    PGresult *r = srv_sql(c, sql, 5, c->user.id_text, req->name, hash, c->source,
                          srv_i64(c, req->ttl_days ? req->ttl_days : 90));
    if (r == NULL)
        return c->code;
    Concord__V1__ApiToken *t = arena_alloc(c->arena, sizeof(*t));
    concord__v1__api_token__init(t);
    t->id = PQgetvalue(r, 0, 0);
    t->name = req->name;
    t->create_time = srv_ts(c, PQgetvalue(r, 0, 1));
    t->expire_time = srv_ts(c, PQgetvalue(r, 0, 2));
    if (srv_audit(c, "create_api_token", "api_token", t->id, NULL, &t->base) != CC_OK)
        return c->code;
    Concord__V1__CreateApiTokenResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__create_api_token_response__init(resp);
    resp->api_token = t;
    resp->token = arena_strdup(c->arena, token);
    *out = &resp->base;
    return CC_OK;
}

static int revoke_api_token(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__RevokeApiTokenRequest *req = (const void *)in;
    static const char sql[] =
        "UPDATE credentials SET revoked_at = coalesce(revoked_at, now())"
        " WHERE id = $1 AND kind = 'api_token' AND (user_id = $2 OR $3::boolean) RETURNING id";
    int64_t id = srv_parse_id(c, "id", req->id);
    if (srv_check(c) != CC_OK)
        return c->code;
    PGresult *r =
        srv_sql(c, sql, 3, srv_i64(c, id), c->user.id_text, srv_is_admin(c) ? "true" : "false");
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0)
        return srv_fail(c, CC_NOT_FOUND, "API token %s not found", req->id);
    c->forget_credential_id = id;
    if (srv_audit(c, "revoke_api_token", "api_token", req->id, NULL, NULL) != CC_OK)
        return c->code;
    Concord__V1__RevokeApiTokenResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__revoke_api_token_response__init(resp);
    *out = &resp->base;
    return CC_OK;
}

static const srv_method methods[] = {
    {"Login", login, SRV_PUBLIC | SRV_WRITE},
    {"Logout", logout, SRV_WRITE},
    {"WhoAmI", who_am_i, 0},
    {"ChangePassword", change_password, SRV_WRITE},
    {"CreateUser", create_user, SRV_WRITE | SRV_ADMIN},
    {"ListUsers", list_users, 0},
    {"DisableUser", disable_user, SRV_WRITE | SRV_ADMIN},
    {"CreateApiToken", create_api_token, SRV_WRITE},
    {"RevokeApiToken", revoke_api_token, SRV_WRITE},
    {NULL, NULL, 0},
};

const srv_service srv_auth_service = {&concord__v1__auth_service__descriptor, methods};
