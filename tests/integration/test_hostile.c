/*
 * test_hostile.c - hostile peers against the real concordd: frame lengths at
 * and around the limits, a trickled frame (slowloris), a connection cut
 * mid-frame with and without close_notify, payloads with bad strings, huge
 * repeated counts and many unknown fields, a client that never reads its
 * replies, and login throttling. After each, other clients must still be
 * served.
 *
 * Environment as in test_protocol.c. The test environment runs concordd with
 * server.frame_timeout = 2s. CONCORD_TEST_SLOW (default 1; tests/run-valgrind
 * sets it) multiplies the waits that only measure how fast concordd answers;
 * times concordd must keep itself (the frame timeout, the login backoff) are
 * never multiplied.
 */
#include <errno.h>
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
#include <openssl/ssl.h>
#include "concord/v1/account.pb-c.h"
#include "concord/v1/auth.pb-c.h"
#include "concord_client.h"
#include "itest.h"
#include "wire_frame.h"

static char admin_token[128];
static char run_id[32];
/* How many times slower than usual concordd answers (CONCORD_TEST_SLOW). */
static int slow = 1;

static int setup(void **state)
{
    slow = itest_slow_factor();
    itest_options()->connect_timeout_ms = 10000u * (unsigned)slow;
    itest_options()->call_timeout_ms = 30000u * (unsigned)slow;
    snprintf(run_id, sizeof(run_id), "%ld%d", (long)time(NULL), (int)getpid());
    itest_login_token(itest_env("CONCORD_ADMIN_USER"), itest_env("CONCORD_ADMIN_PASSWORD"),
                      admin_token, sizeof(admin_token));
    return 0;
}

/* ---- raw TLS connections ---------------------------------------------------- */

typedef struct {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
} raw_conn;

static void raw_open(raw_conn *r)
{
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)itest_options()->port)};
    inet_pton(AF_INET, itest_options()->host, &sa.sin_addr);
    assert_int_equal(connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {.tv_sec = 10 * slow};
    setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    r->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(r->ctx, itest_options()->ca_file, NULL);
    SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER, NULL);
    r->ssl = SSL_new(r->ctx);
    SSL_set_fd(r->ssl, r->fd);
    SSL_set_tlsext_host_name(r->ssl, "localhost");
    assert_int_equal(SSL_connect(r->ssl), 1);
}

static void raw_close(raw_conn *r, int notify)
{
    if (notify)
        SSL_shutdown(r->ssl);
    SSL_free(r->ssl);
    SSL_CTX_free(r->ctx);
    close(r->fd);
}

/* Seconds until the server closes the connection (EOF or reset), or -1 when it
 * is still open after max_s seconds (times CONCORD_TEST_SLOW). A read that
 * times out is not a close. */
static double closes_within(raw_conn *r, int max_s)
{
    struct timespec a, b;
    struct timeval tv = {.tv_sec = max_s * slow};
    setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    clock_gettime(CLOCK_MONOTONIC, &a);
    char buf[4096];
    for (;;) {
        errno = 0;
        int n = SSL_read(r->ssl, buf, sizeof(buf));
        int read_errno = errno;
        clock_gettime(CLOCK_MONOTONIC, &b);
        double t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        if (n <= 0) {
            int e = SSL_get_error(r->ssl, n);
            int timed_out = e == SSL_ERROR_WANT_READ ||
                            (e == SSL_ERROR_SYSCALL &&
                             (read_errno == EAGAIN || read_errno == EWOULDBLOCK));
            return timed_out ? -1 : t;
        }
        if (t > max_s * slow)
            return -1;
    }
}

/* Reads one reply frame; returns its status code or -1 when the connection closed. */
static int read_reply(raw_conn *r, char *msg, size_t msglen)
{
    uint8_t hdr[4];
    int got = 0;
    while (got < 4) {
        int n = SSL_read(r->ssl, hdr + got, 4 - got);
        if (n <= 0)
            return -1;
        got += n;
    }
    size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    uint8_t *body = malloc(len ? len : 1);
    size_t have = 0;
    while (have < len) {
        int n = SSL_read(r->ssl, body + have, (int)(len - have));
        if (n <= 0) {
            free(body);
            return -1;
        }
        have += (size_t)n;
    }
    Concord__V1__Frame *f = concord__v1__frame__unpack(NULL, len, body);
    free(body);
    assert_non_null(f);
    assert_int_equal(f->kind_case, CONCORD__V1__FRAME__KIND_REPLY);
    int code = f->reply->status->code;
    if (msg)
        snprintf(msg, msglen, "%s%s%s", f->reply->status->message,
                 f->reply->status->n_field_violations ? " | " : "",
                 f->reply->status->n_field_violations ? f->reply->status->field_violations[0]->field
                                                      : "");
    concord__v1__frame__free_unpacked(f, NULL);
    return code;
}

static void send_call(raw_conn *r, uint64_t id, const char *method, const uint8_t *payload,
                      size_t len, const char *token)
{
    Concord__V1__Frame f = CONCORD__V1__FRAME__INIT;
    Concord__V1__Call call = CONCORD__V1__CALL__INIT;
    f.id = id;
    f.kind_case = CONCORD__V1__FRAME__KIND_CALL;
    f.call = &call;
    call.method = (char *)method;
    call.payload.data = (uint8_t *)payload;
    call.payload.len = len;
    call.auth_token = (char *)(token ? token : "");
    uint8_t *buf;
    size_t n;
    assert_int_equal(wire_frame_pack(&f, 64u << 20, &buf, &n), 0);
    assert_int_equal(SSL_write(r->ssl, buf, (int)n), (int)n);
    free(buf);
}

/* Like send_call, but a failed write (the server already closed) is not an error. */
static void send_call_quiet(raw_conn *r, uint64_t id, const char *method, const uint8_t *payload,
                            size_t len, const char *token)
{
    Concord__V1__Frame f = CONCORD__V1__FRAME__INIT;
    Concord__V1__Call call = CONCORD__V1__CALL__INIT;
    f.id = id;
    f.kind_case = CONCORD__V1__FRAME__KIND_CALL;
    f.call = &call;
    call.method = (char *)method;
    call.payload.data = (uint8_t *)payload;
    call.payload.len = len;
    call.auth_token = (char *)token;
    uint8_t *buf;
    size_t n;
    assert_int_equal(wire_frame_pack(&f, 1u << 20, &buf, &n), 0);
    (void)SSL_write(r->ssl, buf, (int)n);
    free(buf);
}

/* ---- frames ---------------------------------------------------------------- */

static void zero_length_frame_closes(void **state)
{
    raw_conn r;
    raw_open(&r);
    const uint8_t zero[4] = {0, 0, 0, 0};
    SSL_write(r.ssl, zero, 4);
    /* An empty Frame has no call: a protocol error. */
    assert_true(closes_within(&r, 5) >= 0);
    raw_close(&r, 0);
    itest_still_serving(admin_token);
}

static void prelogin_limit_then_full_limit(void **state)
{
    /* Before an authenticated call: 64 KiB is fine, 64 KiB + 1 closes. */
    raw_conn r;
    raw_open(&r);
    uint8_t big[4] = {0x00, 0x01, 0x00, 0x01}; /* 65537 */
    SSL_write(r.ssl, big, 4);
    assert_true(closes_within(&r, 5) >= 0);
    raw_close(&r, 0);

    /* After one authenticated call, a 1 MiB request is read and answered. */
    raw_open(&r);
    Concord__V1__WhoAmIRequest who = CONCORD__V1__WHO_AM_IREQUEST__INIT;
    uint8_t small[16];
    size_t n = protobuf_c_message_pack(&who.base, small);
    send_call(&r, 1, "concord.v1.AuthService/WhoAmI", small, n, admin_token);
    assert_int_equal(read_reply(&r, NULL, 0), CC_OK);
    /* A GetAccount request padded with a 1 MiB unknown field (field 99, bytes). */
    size_t pad = 1 << 20;
    uint8_t *payload = malloc(pad + 16);
    size_t off = 0;
    payload[off++] = 0x0a; /* field 1 (id), length 1, "1" */
    payload[off++] = 1;
    payload[off++] = '1';
    unsigned key = 99u << 3 | 2u; /* field 99, wire type 2 (length-delimited) */
    payload[off++] = (uint8_t)((key & 0x7f) | 0x80);
    payload[off++] = (uint8_t)(key >> 7);
    size_t v = pad;
    while (v >= 0x80) {
        payload[off++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    payload[off++] = (uint8_t)v;
    memset(payload + off, 'x', pad);
    off += pad;
    send_call(&r, 2, "concord.v1.AccountService/GetAccount", payload, off, admin_token);
    int code = read_reply(&r, NULL, 0);
    assert_true(code == CC_OK || code == CC_NOT_FOUND);
    free(payload);
    raw_close(&r, 1);
    itest_still_serving(admin_token);
}

static void trickled_frame_is_cut_off(void **state)
{
    raw_conn r;
    raw_open(&r);
    /* Announce 100 bytes, then send one byte a second: frame_timeout (2 s) ends it. */
    const uint8_t hdr[4] = {0, 0, 0, 100};
    SSL_write(r.ssl, hdr, 4);
    struct timeval tv = {.tv_sec = 1};
    setsockopt(r.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int closed = 0;
    for (int i = 0; i < 8 && !closed; i++) {
        char b = 'x';
        if (SSL_write(r.ssl, &b, 1) <= 0) {
            closed = 1;
            break;
        }
        char buf[64];
        int n = SSL_read(r.ssl, buf, sizeof(buf));
        if (n == 0 || (n < 0 && SSL_get_error(r.ssl, n) != SSL_ERROR_WANT_READ &&
                       SSL_get_error(r.ssl, n) != SSL_ERROR_SYSCALL))
            closed = 1;
        else if (n < 0 && SSL_get_error(r.ssl, n) == SSL_ERROR_SYSCALL && errno != EAGAIN &&
                 errno != EWOULDBLOCK)
            closed = 1;
    }
    assert_true(closed);
    raw_close(&r, 0);
    itest_still_serving(admin_token);
}

static void cut_mid_frame(void **state)
{
    for (int notify = 0; notify < 2; notify++) {
        raw_conn r;
        raw_open(&r);
        const uint8_t part[6] = {0, 0, 0, 50, 0x08, 0x01};
        SSL_write(r.ssl, part, sizeof(part));
        raw_close(&r, notify);
        itest_still_serving(admin_token);
    }
}

/* ---- payloads ---------------------------------------------------------------- */

static void bad_strings_are_refused_by_field(void **state)
{
    raw_conn r;
    raw_open(&r);
    Concord__V1__CreateAccountRequest req = CONCORD__V1__CREATE_ACCOUNT_REQUEST__INIT;
    Concord__V1__Account a = CONCORD__V1__ACCOUNT__INIT;
    char bad[] = {'B', 'a', 'd', (char)0xff, 0};
    a.name = bad;
    req.account = &a;
    uint8_t buf[256];
    size_t n = protobuf_c_message_pack(&req.base, buf);
    send_call(&r, 1, "concord.v1.AccountService/CreateAccount", buf, n, admin_token);
    char msg[256];
    assert_int_equal(read_reply(&r, msg, sizeof(msg)), CC_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "account.name"));
    /* A NUL inside the name: patch "NulName" to "Nul\0ame". */
    a.name = "NulName";
    n = protobuf_c_message_pack(&req.base, buf);
    for (size_t i = 0; i + 7 <= n; i++)
        if (memcmp(buf + i, "NulName", 7) == 0)
            buf[i + 3] = 0;
    send_call(&r, 2, "concord.v1.AccountService/CreateAccount", buf, n, admin_token);
    assert_int_equal(read_reply(&r, msg, sizeof(msg)), CC_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "NUL"));
    raw_close(&r, 1);
}

static void huge_repeated_and_unknown_fields(void **state)
{
    raw_conn r;
    raw_open(&r);
    /* Authenticate the connection so that the 4 MiB limit applies. */
    Concord__V1__WhoAmIRequest who = CONCORD__V1__WHO_AM_IREQUEST__INIT;
    uint8_t small[16];
    size_t n = protobuf_c_message_pack(&who.base, small);
    send_call(&r, 1, "concord.v1.AuthService/WhoAmI", small, n, admin_token);
    assert_int_equal(read_reply(&r, NULL, 0), CC_OK);

    /* 100000 tags of one byte each in CreateAccount: refused by validation (max 50). */
    size_t cap = 100000 * 3 + 64;
    uint8_t *p = malloc(cap);
    size_t inner = 0;
    uint8_t *acc = malloc(cap);
    acc[inner++] = 0x12; /* name */
    acc[inner++] = 4;
    memcpy(acc + inner, "Many", 4);
    inner += 4;
    for (int i = 0; i < 100000; i++) {
        acc[inner++] = 0x5a; /* field 11 (tags), wire type 2 */
        acc[inner++] = 1;
        acc[inner++] = 't';
    }
    size_t off = 0;
    p[off++] = 0x0a; /* CreateAccountRequest.account */
    size_t v = inner;
    while (v >= 0x80) {
        p[off++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[off++] = (uint8_t)v;
    memcpy(p + off, acc, inner);
    off += inner;
    send_call(&r, 2, "concord.v1.AccountService/CreateAccount", p, off, admin_token);
    char msg[256];
    assert_int_equal(read_reply(&r, msg, sizeof(msg)), CC_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "account.tags"));

    /* 100000 unknown varint fields in GetAccount: ignored, the call is answered. */
    off = 0;
    p[off++] = 0x0a;
    p[off++] = 1;
    p[off++] = '1';
    for (int i = 0; i < 100000; i++) {
        p[off++] = 0xf8; /* field 127, varint */
        p[off++] = 0x07;
        p[off++] = 0x01;
    }
    send_call(&r, 3, "concord.v1.AccountService/GetAccount", p, off, admin_token);
    int code = read_reply(&r, NULL, 0);
    assert_true(code == CC_OK || code == CC_NOT_FOUND);
    free(p);
    free(acc);
    raw_close(&r, 1);
    itest_still_serving(admin_token);
}

/* Lines of concordd's log that contain needle. */
static int log_count(const char *needle)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/concordd.log", itest_env("CONCORD_TEST_DIR"));
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* A client that sends many calls and never reads is disconnected at the output
 * cap (server.write_queue_max, 1 MiB in the test environment); others are not. */
static void client_that_never_reads_is_dropped(void **state)
{
    static const char reason[] = "client does not read its replies";
    int before = log_count(reason);
    /* Make replies big: 200 accounts with long notes, listed 500 at a time. */
    cc_conn *c = itest_connect(admin_token);
    Concord__V1__BulkCreateAccountsRequest bulk = CONCORD__V1__BULK_CREATE_ACCOUNTS_REQUEST__INIT;
    Concord__V1__Account accs[200], *ptrs[200];
    char names[200][48];
    static char notes[2001];
    memset(notes, 'n', 2000);
    for (int i = 0; i < 200; i++) {
        concord__v1__account__init(&accs[i]);
        snprintf(names[i], sizeof(names[i]), "Reader %s %d", run_id, i);
        accs[i].name = names[i];
        accs[i].notes = notes;
        ptrs[i] = &accs[i];
    }
    bulk.n_accounts = 200;
    bulk.accounts = ptrs;
    ProtobufCMessage *resp = NULL;
    assert_int_equal(cc_invoke(c, "concord.v1.AccountService/BulkCreateAccounts", &bulk.base,
                               &concord__v1__bulk_create_accounts_response__descriptor, &resp,
                               NULL),
                     CC_OK);
    protobuf_c_message_free_unpacked(resp, NULL);
    cc_conn_free(c);

    raw_conn r;
    raw_open(&r);
    Concord__V1__ListAccountsRequest req = CONCORD__V1__LIST_ACCOUNTS_REQUEST__INIT;
    req.page_size = 500;
    req.query = run_id;
    uint8_t buf[128];
    size_t n = protobuf_c_message_pack(&req.base, buf);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(r.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    /* Each reply is about 400 KiB; a few dozen calls pass the 1 MiB cap. */
    for (uint64_t id = 1; id <= 200; id++) {
        send_call_quiet(&r, id, "concord.v1.AccountService/ListAccounts", buf, n, admin_token);
        if (id % 50 == 0)
            itest_still_serving(admin_token);
    }
    /* The server must have closed it; wait for its log line. */
    int after = before;
    for (int i = 0; i < 100 * slow && after == before; i++) {
        usleep(100 * 1000);
        after = log_count(reason);
    }
    assert_true(after > before);
    raw_close(&r, 0);
    itest_still_serving(admin_token);
}

/* ---- login throttling ------------------------------------------------------- */

static void repeated_wrong_passwords_are_slowed_down(void **state)
{
    cc_conn *c = itest_connect(admin_token);
    char username[64];
    snprintf(username, sizeof(username), "throttle%s", run_id);
    Concord__V1__CreateUserRequest cu = CONCORD__V1__CREATE_USER_REQUEST__INIT;
    Concord__V1__User u = CONCORD__V1__USER__INIT;
    u.username = username;
    u.department = CONCORD__V1__DEPARTMENT__SALES;
    u.role = CONCORD__V1__ROLE__MEMBER;
    cu.user = &u;
    cu.password = "throttle-password-1";
    ProtobufCMessage *resp = NULL;
    assert_int_equal(cc_invoke(c, "concord.v1.AuthService/CreateUser", &cu.base,
                               &concord__v1__user__descriptor, &resp, NULL),
                     CC_OK);
    protobuf_c_message_free_unpacked(resp, NULL);
    cc_conn_free(c);

    /* The fifth failure makes the name wait one second. The failures and the
     * next attempt share a connection, so that the attempt arrives well within
     * that second even when concordd runs slowly: no handshake in between. */
    cc_conn *t = itest_connect(NULL);
    for (int i = 0; i < 5; i++)
        assert_int_equal(itest_login_on(t, username, "wrong-password-x", NULL, 0, NULL),
                         CC_UNAUTHENTICATED);
    /* Now even the right password must wait. */
    assert_int_equal(itest_login_on(t, username, "throttle-password-1", NULL, 0, NULL),
                     CC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(itest_last.message, "try again in"));
    cc_conn_free(t);
    sleep(2);
    char token[128];
    assert_int_equal(itest_try_login(NULL, username, "throttle-password-1", token, sizeof(token)),
                     CC_OK);
    /* The success cleared the counter: one more failure is not throttled. */
    assert_int_equal(itest_try_login(NULL, username, "wrong-password-x", NULL, 0),
                     CC_UNAUTHENTICATED);
    assert_int_equal(itest_try_login(NULL, username, "throttle-password-1", token, sizeof(token)),
                     CC_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zero_length_frame_closes),
        cmocka_unit_test(prelogin_limit_then_full_limit),
        cmocka_unit_test(trickled_frame_is_cut_off),
        cmocka_unit_test(cut_mid_frame),
        cmocka_unit_test(bad_strings_are_refused_by_field),
        cmocka_unit_test(huge_repeated_and_unknown_fields),
        cmocka_unit_test(client_that_never_reads_is_dropped),
        cmocka_unit_test(repeated_wrong_passwords_are_slowed_down),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
