/*
 * test_protocol.c - concordd through the real protocol (libconcord over TLS,
 * a real PostgreSQL): login, accounts, versions, pagination, visibility,
 * idempotency, pipelining, and hostile peers that must be cut off while
 * other clients keep working.
 *
 * Runs inside the shared test environment (tests/lib/testenv): CONCORD_HOST,
 * CONCORD_PORT, CONCORD_CA, CONCORD_ADMIN_USER, CONCORD_ADMIN_PASSWORD,
 * CONCORD_DB_URL.
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <openssl/ssl.h>
#include "concord/v1/account.pb-c.h"
#include "concord/v1/auth.pb-c.h"
#include "concord_client.h"
#include "itest.h"

static char admin_token[128];
static char run_id[32];

static Concord__V1__Account *create_account(cc_conn *c, const char *name, const char *key,
                                            int *code_out)
{
    Concord__V1__CreateAccountRequest req = CONCORD__V1__CREATE_ACCOUNT_REQUEST__INIT;
    Concord__V1__Account a = CONCORD__V1__ACCOUNT__INIT;
    a.name = (char *)name;
    a.industry = "higher education";
    a.size_class = CONCORD__V1__SIZE_CLASS__LARGE;
    req.account = &a;
    /* Test names share a run prefix; duplicate detection has a test of its own. */
    req.allow_similar_name = 1;
    if (key)
        cc_conn_set_idempotency_key(c, key);
    ProtobufCMessage *resp = NULL;
    int code = cc_invoke(c, "concord.v1.AccountService/CreateAccount", &req.base,
                         &concord__v1__account__descriptor, &resp, NULL);
    if (code_out)
        *code_out = code;
    return (Concord__V1__Account *)resp;
}

static Concord__V1__Account *get_account(cc_conn *c, const char *id, int *code)
{
    Concord__V1__GetAccountRequest req = CONCORD__V1__GET_ACCOUNT_REQUEST__INIT;
    req.id = (char *)id;
    ProtobufCMessage *resp = NULL;
    *code = cc_invoke(c, "concord.v1.AccountService/GetAccount", &req.base,
                      &concord__v1__account__descriptor, &resp, NULL);
    return (Concord__V1__Account *)resp;
}

static int setup(void **state)
{
    snprintf(run_id, sizeof(run_id), "%ld%d", (long)time(NULL), (int)getpid());
    itest_login_token(itest_env("CONCORD_ADMIN_USER"), itest_env("CONCORD_ADMIN_PASSWORD"),
                      admin_token, sizeof(admin_token));
    return 0;
}

static void wrong_password_and_unknown_user_look_the_same(void **state)
{
    cc_conn *c = itest_connect(NULL);
    char token[128];
    const cc_status *st;
    assert_int_equal(itest_login_on(c, itest_env("CONCORD_ADMIN_USER"), "not-the-password", token,
                                    sizeof(token), &st),
                     CC_UNAUTHENTICATED);
    char first[256];
    snprintf(first, sizeof(first), "%s", st->message);
    assert_int_equal(
        itest_login_on(c, "no-such-user", "not-the-password", token, sizeof(token), &st),
        CC_UNAUTHENTICATED);
    assert_string_equal(first, st->message);
    /* Empty fields are named. */
    assert_int_equal(itest_login_on(c, "", "", token, sizeof(token), &st), CC_INVALID_ARGUMENT);
    assert_int_equal(st->n_violations, 2);
    assert_string_equal(st->violations[0]->field, "username");
    cc_conn_free(c);
}

static void calls_need_a_valid_token(void **state)
{
    cc_conn *c = itest_connect(NULL);
    int code;
    Concord__V1__Account *a = get_account(c, "1", &code);
    assert_null(a);
    assert_int_equal(code, CC_UNAUTHENTICATED);
    cc_conn_set_token(c, "cs_forged-token");
    a = get_account(c, "1", &code);
    assert_int_equal(code, CC_UNAUTHENTICATED);
    cc_conn_free(c);
}

static void create_get_update_with_versions(void **state)
{
    cc_conn *c = itest_connect(admin_token);
    char name[64];
    snprintf(name, sizeof(name), "Northern University %s", run_id);
    int code;
    Concord__V1__Account *a = create_account(c, name, NULL, &code);
    assert_int_equal(code, CC_OK);
    assert_string_equal(a->name, name);
    assert_int_equal(a->version, 1);
    assert_int_equal(a->size_class, CONCORD__V1__SIZE_CLASS__LARGE);
    assert_int_equal(a->stage, CONCORD__V1__LIFECYCLE_STAGE__PROSPECT);
    assert_non_null(a->create_time);
    time_t now = time(NULL);
    assert_true(a->create_time->seconds > now - 300 && a->create_time->seconds < now + 300);

    /* Update with the version read. */
    Concord__V1__UpdateAccountRequest up = CONCORD__V1__UPDATE_ACCOUNT_REQUEST__INIT;
    Concord__V1__Account change = CONCORD__V1__ACCOUNT__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *paths[] = {"name", "tags"};
    char *tags[] = {"university", "pilot"};
    change.id = a->id;
    change.name = "Renamed University";
    change.n_tags = 2;
    change.tags = tags;
    change.region = "ignored: not in the mask";
    mask.n_paths = 2;
    mask.paths = paths;
    up.account = &change;
    up.update_mask = &mask;
    up.version = 1;
    ProtobufCMessage *resp = NULL;
    const cc_status *st;
    code = cc_invoke(c, "concord.v1.AccountService/UpdateAccount", &up.base,
                     &concord__v1__account__descriptor, &resp, &st);
    assert_int_equal(code, CC_OK);
    Concord__V1__Account *u = (Concord__V1__Account *)resp;
    assert_int_equal(u->version, 2);
    assert_string_equal(u->name, "Renamed University");
    assert_string_equal(u->region, "");
    assert_int_equal(u->n_tags, 2);
    assert_string_equal(u->tags[1], "pilot");
    protobuf_c_message_free_unpacked(resp, NULL);

    /* A stale version is refused and changes nothing. */
    change.name = "Stale Write";
    code = cc_invoke(c, "concord.v1.AccountService/UpdateAccount", &up.base,
                     &concord__v1__account__descriptor, &resp, &st);
    assert_int_equal(code, CC_ABORTED);
    assert_non_null(strstr(st->message, "version 2"));
    Concord__V1__Account *g = get_account(c, a->id, &code);
    assert_int_equal(code, CC_OK);
    assert_string_equal(g->name, "Renamed University");
    assert_int_equal(g->version, 2);
    protobuf_c_message_free_unpacked(&g->base, NULL);

    /* Server-owned fields in the mask are refused, naming the mask. */
    char *bad_paths[] = {"version"};
    mask.n_paths = 1;
    mask.paths = bad_paths;
    up.version = 2;
    code = cc_invoke(c, "concord.v1.AccountService/UpdateAccount", &up.base,
                     &concord__v1__account__descriptor, &resp, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_string_equal(st->violations[0]->field, "update_mask");

    /* Missing account: NOT_FOUND; bad id: INVALID_ARGUMENT naming the field. */
    g = get_account(c, "999999999", &code);
    assert_int_equal(code, CC_NOT_FOUND);
    g = get_account(c, "abc", &code);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    cc_conn_free(c);
}

static void invalid_fields_are_named(void **state)
{
    cc_conn *c = itest_connect(admin_token);
    Concord__V1__CreateAccountRequest req = CONCORD__V1__CREATE_ACCOUNT_REQUEST__INIT;
    Concord__V1__Account a = CONCORD__V1__ACCOUNT__INIT;
    char *tags[] = {"ok", ""};
    a.name = "";
    a.size_class = 42;
    a.n_tags = 2;
    a.tags = tags;
    req.account = &a;
    ProtobufCMessage *resp = NULL;
    const cc_status *st;
    int code = cc_invoke(c, "concord.v1.AccountService/CreateAccount", &req.base,
                         &concord__v1__account__descriptor, &resp, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_int_equal(st->n_violations, 3);
    assert_string_equal(st->violations[0]->field, "account.name");
    assert_string_equal(st->violations[1]->field, "account.size_class");
    assert_string_equal(st->violations[2]->field, "account.tags[1]");
    cc_conn_free(c);
}

static void list_paginates_with_filters(void **state)
{
    cc_conn *c = itest_connect(admin_token);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "Paging %s", run_id);
    for (int i = 0; i < 5; i++) {
        char name[96];
        snprintf(name, sizeof(name), "%s %c", prefix, 'A' + i);
        int code;
        Concord__V1__Account *a = create_account(c, name, NULL, &code);
        assert_int_equal(code, CC_OK);
        protobuf_c_message_free_unpacked(&a->base, NULL);
    }
    /* With a query the default order is newest first; by name on request. */
    Concord__V1__ListAccountsRequest req = CONCORD__V1__LIST_ACCOUNTS_REQUEST__INIT;
    req.query = prefix;
    req.page_size = 2;
    req.include_total = 1;
    for (int by_name = 0; by_name < 2; by_name++) {
        req.order_by = by_name ? "name" : "";
        char seen[5][96];
        int n = 0;
        char token[512] = "";
        for (int page = 0; page < 4; page++) {
            req.page_token = token;
            ProtobufCMessage *resp = NULL;
            int code = cc_invoke(c, "concord.v1.AccountService/ListAccounts", &req.base,
                                 &concord__v1__list_accounts_response__descriptor, &resp, NULL);
            assert_int_equal(code, CC_OK);
            Concord__V1__ListAccountsResponse *lr = (void *)resp;
            assert_int_equal(lr->total_size, 5);
            for (size_t i = 0; i < lr->n_accounts; i++) {
                assert_true(n < 5);
                snprintf(seen[n++], sizeof(seen[0]), "%s", lr->accounts[i]->name);
            }
            snprintf(token, sizeof(token), "%s", lr->next_page_token);
            protobuf_c_message_free_unpacked(resp, NULL);
            if (token[0] == '\0')
                break;
        }
        assert_int_equal(n, 5);
        for (int i = 0; i < 5; i++) {
            char want[96];
            snprintf(want, sizeof(want), "%s %c", prefix, by_name ? 'A' + i : 'E' - i);
            assert_string_equal(seen[i], want);
        }
    }
    req.order_by = "";
    /* A forged page token is named. */
    req.page_token = "garbage";
    const cc_status *st;
    ProtobufCMessage *resp = NULL;
    int code = cc_invoke(c, "concord.v1.AccountService/ListAccounts", &req.base,
                         &concord__v1__list_accounts_response__descriptor, &resp, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_string_equal(st->violations[0]->field, "page_token");
    cc_conn_free(c);
}

static void idempotent_create_writes_once(void **state)
{
    cc_conn *c = itest_connect(admin_token);
    char key[64], name[64];
    snprintf(key, sizeof(key), "create-%s", run_id);
    snprintf(name, sizeof(name), "Idempotent %s", run_id);
    int code;
    Concord__V1__Account *a = create_account(c, name, key, &code);
    assert_int_equal(code, CC_OK);
    Concord__V1__Account *b = create_account(c, name, key, &code);
    assert_int_equal(code, CC_OK);
    assert_string_equal(a->id, b->id);
    /* Same key, different request. */
    Concord__V1__Account *d = create_account(c, "Something else", key, &code);
    assert_null(d);
    assert_int_equal(code, CC_FAILED_PRECONDITION);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    protobuf_c_message_free_unpacked(&b->base, NULL);
    cc_conn_free(c);
}

static void similar_names_need_confirmation(void **state)
{
    cc_conn *c = itest_connect(admin_token);
    char name[96];
    snprintf(name, sizeof(name), "Zephyr Polytechnic Institute %s", run_id);
    int code;
    Concord__V1__Account *a = create_account(c, name, NULL, &code);
    assert_int_equal(code, CC_OK);
    /* Without allow_similar_name, a near-identical name is refused, naming the account. */
    Concord__V1__CreateAccountRequest req = CONCORD__V1__CREATE_ACCOUNT_REQUEST__INIT;
    Concord__V1__Account b = CONCORD__V1__ACCOUNT__INIT;
    char similar[100];
    snprintf(similar, sizeof(similar), "Zephyr Polytechnic Inst. %s", run_id);
    b.name = similar;
    req.account = &b;
    ProtobufCMessage *resp = NULL;
    const cc_status *st;
    code = cc_invoke(c, "concord.v1.AccountService/CreateAccount", &req.base,
                     &concord__v1__account__descriptor, &resp, &st);
    assert_int_equal(code, CC_FAILED_PRECONDITION);
    assert_non_null(strstr(st->message, a->id));
    assert_non_null(strstr(st->message, "allow_similar_name"));
    /* FindSimilarAccounts ranks it first. */
    Concord__V1__FindSimilarAccountsRequest fr = CONCORD__V1__FIND_SIMILAR_ACCOUNTS_REQUEST__INIT;
    fr.name = similar;
    assert_int_equal(cc_invoke(c, "concord.v1.AccountService/FindSimilarAccounts", &fr.base,
                               &concord__v1__find_similar_accounts_response__descriptor, &resp,
                               NULL),
                     CC_OK);
    Concord__V1__FindSimilarAccountsResponse *fs = (void *)resp;
    assert_true(fs->n_accounts >= 1);
    assert_string_equal(fs->accounts[0]->id, a->id);
    assert_true(fs->accounts[0]->similarity >= 0.5 && fs->accounts[0]->similarity <= 1.0);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* Confirmed, it is created. */
    req.allow_similar_name = 1;
    assert_int_equal(cc_invoke(c, "concord.v1.AccountService/CreateAccount", &req.base,
                               &concord__v1__account__descriptor, &resp, NULL),
                     CC_OK);
    protobuf_c_message_free_unpacked(resp, NULL);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    cc_conn_free(c);
}

static void other_members_do_not_see_the_account(void **state)
{
    cc_conn *c = itest_connect(admin_token);
    char username[64], name[64];
    snprintf(username, sizeof(username), "outsider%s", run_id);
    Concord__V1__CreateUserRequest cu = CONCORD__V1__CREATE_USER_REQUEST__INIT;
    Concord__V1__User u = CONCORD__V1__USER__INIT;
    u.username = username;
    u.display_name = "Out Sider";
    u.department = CONCORD__V1__DEPARTMENT__RND;
    u.role = CONCORD__V1__ROLE__MEMBER;
    cu.user = &u;
    cu.password = "outsider-password-1";
    ProtobufCMessage *resp = NULL;
    assert_int_equal(cc_invoke(c, "concord.v1.AuthService/CreateUser", &cu.base,
                               &concord__v1__user__descriptor, &resp, NULL),
                     CC_OK);
    protobuf_c_message_free_unpacked(resp, NULL);
    snprintf(name, sizeof(name), "Secret %s", run_id);
    int code;
    Concord__V1__Account *a = create_account(c, name, NULL, &code);
    assert_int_equal(code, CC_OK);

    cc_conn *o = itest_connect(NULL);
    char token[128];
    const cc_status *st;
    assert_int_equal(itest_login_on(o, username, "outsider-password-1", token, sizeof(token), &st),
                     CC_OK);
    cc_conn_set_token(o, token);
    assert_null(get_account(o, a->id, &code));
    assert_int_equal(code, CC_NOT_FOUND);
    Concord__V1__ListAccountsRequest lr = CONCORD__V1__LIST_ACCOUNTS_REQUEST__INIT;
    lr.query = name;
    lr.include_total = 1;
    assert_int_equal(cc_invoke(o, "concord.v1.AccountService/ListAccounts", &lr.base,
                               &concord__v1__list_accounts_response__descriptor, &resp, NULL),
                     CC_OK);
    assert_int_equal(((Concord__V1__ListAccountsResponse *)resp)->n_accounts, 0);
    assert_int_equal(((Concord__V1__ListAccountsResponse *)resp)->total_size, 0);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* A member cannot create users. */
    u.username = "should-not-exist";
    assert_int_equal(cc_invoke(o, "concord.v1.AuthService/CreateUser", &cu.base,
                               &concord__v1__user__descriptor, &resp, &st),
                     CC_PERMISSION_DENIED);
    cc_conn_free(o);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    cc_conn_free(c);
}

static void app_role_without_caller_sees_nothing(void **state)
{
    PGconn *pg = PQconnectdb(itest_env("CONCORD_DB_URL"));
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    PGresult *r = PQexec(pg, "SELECT count(*) FROM concord.accounts");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    r = PQexec(pg, "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user");
    assert_string_equal(PQgetvalue(r, 0, 0), "f");
    assert_string_equal(PQgetvalue(r, 0, 1), "f");
    PQclear(r);
    /* The audit log is append-only for the application. */
    r = PQexec(pg, "DELETE FROM concord.audit_log");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    PQfinish(pg);
}

static void unknown_method_is_unimplemented(void **state)
{
    cc_conn *c = itest_connect(admin_token);
    uint8_t *out = NULL;
    size_t len = 0;
    const cc_status *st;
    int code =
        cc_invoke_raw(c, "concord.v1.AccountService/DropEverything", NULL, 0, &out, &len, &st);
    assert_int_equal(code, CC_UNIMPLEMENTED);
    /* A payload that is not the request type is INVALID_ARGUMENT. */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    code = cc_invoke_raw(c, "concord.v1.AccountService/GetAccount", junk, sizeof(junk), &out, &len,
                         &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    free(out);
    cc_conn_free(c);
}

/* ---- pipelining through the async client ---------------------------------- */

typedef struct {
    int connected;
    int answered;
    int ok;
    int failed;
} pipe_state;

static void on_connect(cc_client *c, int status, void *ud)
{
    ((pipe_state *)ud)->connected = status == 0 ? 1 : -1;
}

static void on_reply(cc_client *c, const cc_status *st, const uint8_t *payload, size_t len,
                     void *ud)
{
    pipe_state *s = ud;
    s->answered++;
    if (st->code == CC_OK)
        s->ok++;
    else
        s->failed++;
}

static void many_calls_in_flight_on_one_connection(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    cc_client *cl;
    pipe_state s = {0};
    assert_int_equal(cc_client_new(&loop, itest_options(), &cl), 0);
    assert_int_equal(cc_client_connect(cl, on_connect, &s), 0);
    while (s.connected == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(s.connected, 1);
    Concord__V1__ListAccountsRequest req = CONCORD__V1__LIST_ACCOUNTS_REQUEST__INIT;
    req.page_size = 5;
    uint8_t buf[64];
    size_t len = protobuf_c_message_pack(&req.base, buf);
    enum { N = 200 };
    for (int i = 0; i < N; i++)
        assert_int_equal(cc_client_call(cl, "concord.v1.AccountService/ListAccounts", buf, len,
                                        admin_token, NULL, 0, on_reply, &s),
                         0);
    while (s.answered < N)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(s.ok, N);
    cc_client_close(cl);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/*
 * A call started on a blocking connection leaves at once, not at the next
 * poll: the caller may do other work first (an import reads its input). After
 * a pause longer than the server needs to answer, a poll that does not wait
 * finds the reply already there.
 */
static void started_call_is_sent_before_the_next_poll(void **state)
{
    cc_conn *c = itest_connect(admin_token);
    Concord__V1__ListAccountsRequest req = CONCORD__V1__LIST_ACCOUNTS_REQUEST__INIT;
    req.page_size = 5;
    uint8_t buf[64];
    size_t len = protobuf_c_message_pack(&req.base, buf);
    pipe_state s = {0};
    assert_int_equal(
        cc_conn_start(c, "concord.v1.AccountService/ListAccounts", buf, len, on_reply, &s), 0);
    struct timespec pause = {.tv_sec = itest_slow_factor(), .tv_nsec = 0};
    nanosleep(&pause, NULL);
    for (int i = 0; i < 10 && s.answered == 0; i++)
        (void)cc_conn_poll(c, 0);
    assert_int_equal(s.answered, 1);
    assert_int_equal(s.ok, 1);
    cc_conn_free(c);
}

/* ---- hostile peers -------------------------------------------------------- */

static int tcp_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)itest_options()->port)};
    inet_pton(AF_INET, itest_options()->host, &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* True when the server closes the connection (EOF or reset) within the timeout. */
static int closed_by_server(int fd, SSL *ssl)
{
    char buf[256];
    for (int i = 0; i < 100; i++) {
        ssize_t n = ssl ? SSL_read(ssl, buf, sizeof(buf)) : read(fd, buf, sizeof(buf));
        if (n <= 0)
            return 1;
    }
    return 0;
}

static SSL *tls_connect(int fd, SSL_CTX **ctx)
{
    *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(*ctx, itest_options()->ca_file, NULL);
    SSL_CTX_set_verify(*ctx, SSL_VERIFY_PEER, NULL);
    SSL *ssl = SSL_new(*ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    assert_int_equal(SSL_connect(ssl), 1);
    return ssl;
}

static void plain_tcp_client_is_cut_off(void **state)
{
    int fd = tcp_connect();
    const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
    assert_true(closed_by_server(fd, NULL));
    close(fd);
    itest_still_serving(admin_token);
}

static void oversized_frame_closes_the_connection(void **state)
{
    SSL_CTX *ctx;
    int fd = tcp_connect();
    SSL *ssl = tls_connect(fd, &ctx);
    /* 2^32-1 bytes announced: refused on the header alone. */
    const uint8_t hdr[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(SSL_write(ssl, hdr, 4), 4);
    assert_true(closed_by_server(fd, ssl));
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    /* Before login the limit is smaller: 1 MiB is refused too. */
    fd = tcp_connect();
    ssl = tls_connect(fd, &ctx);
    const uint8_t mib[4] = {0x00, 0x10, 0x00, 0x00};
    assert_int_equal(SSL_write(ssl, mib, 4), 4);
    assert_true(closed_by_server(fd, ssl));
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    itest_still_serving(admin_token);
}

static void random_bytes_close_the_connection(void **state)
{
    SSL_CTX *ctx;
    int fd = tcp_connect();
    SSL *ssl = tls_connect(fd, &ctx);
    uint8_t junk[512];
    srand(7);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)rand();
    junk[0] = 0, junk[1] = 0, junk[2] = 0x01, junk[3] = 0xfc; /* one 508-byte frame of junk */
    assert_int_equal(SSL_write(ssl, junk, sizeof(junk)), (int)sizeof(junk));
    assert_true(closed_by_server(fd, ssl));
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    itest_still_serving(admin_token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wrong_password_and_unknown_user_look_the_same),
        cmocka_unit_test(calls_need_a_valid_token),
        cmocka_unit_test(create_get_update_with_versions),
        cmocka_unit_test(invalid_fields_are_named),
        cmocka_unit_test(list_paginates_with_filters),
        cmocka_unit_test(idempotent_create_writes_once),
        cmocka_unit_test(similar_names_need_confirmation),
        cmocka_unit_test(other_members_do_not_see_the_account),
        cmocka_unit_test(app_role_without_caller_sees_nothing),
        cmocka_unit_test(unknown_method_is_unimplemented),
        cmocka_unit_test(many_calls_in_flight_on_one_connection),
        cmocka_unit_test(started_call_is_sent_before_the_next_poll),
        cmocka_unit_test(plain_tcp_client_is_cut_off),
        cmocka_unit_test(oversized_frame_closes_the_connection),
        cmocka_unit_test(random_bytes_close_the_connection),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
