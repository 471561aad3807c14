/*
 * loadgen.c - concord-loadgen, the load generator of the benchmark suite
 * (tests/bench/run): drives concordd through libconcord's asynchronous layer
 * with many TLS connections and a pipeline of calls on each, and prints one
 * machine-readable line of results with a latency histogram's percentiles.
 *
 * Methods:
 *   get     GetAccount of random ids in [--id-min, --id-max]
 *   list    ListAccounts pages of 50; each pipeline slot walks the pages with
 *           the returned page token and starts over after the last page
 *   search  ListAccounts with a query picked at random from --query (comma list)
 *   timeline
 *           GetAccountTimeline pages of 50 of the account --account
 *   report  GetMonthlyReport of the account --account for --month (YYYY-MM;
 *           default: the previous month, as the server takes it)
 *   update  GetAccount then UpdateAccount (notes) with the version read; one
 *           operation is the pair, as a client does it; ABORTED (a concurrent
 *           writer won) is counted apart from errors
 *   idle    opens --connections TLS connections, makes one authenticated call
 *           on each (WhoAmI), writes --ready-file and holds them for --duration
 *   login   logs in and prints the session token (for other load tools)
 *
 * list, search and timeline take --skip-pages N: before the run one blocking
 * connection walks N pages and every call then asks for page N+1 with the
 * token found (N = 0: always the first page), so that a deep keyset page is
 * measured on its own. --tag and --industry add those filters to list and
 * search.
 *
 * Invariants: the loop is single-threaded, so no state is shared between
 * threads. Only operations that finish inside the measured window (after the
 * warm-up, before the end) are counted, so the rate is operations finished per
 * second of window. Every call's callback runs exactly once (libconcord's
 * contract), so a slot is never left waiting: a failed call ends the slot's
 * operation and, while the run lasts, starts the next one.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "concord_client.h"
#include "concord/v1/account.pb-c.h"
#include "concord/v1/activity.pb-c.h"
#include "concord/v1/auth.pb-c.h"
#include "concord/v1/report.pb-c.h"

#define METHOD_GET "concord.v1.AccountService/GetAccount"
#define METHOD_LIST "concord.v1.AccountService/ListAccounts"
#define METHOD_UPDATE "concord.v1.AccountService/UpdateAccount"
#define METHOD_WHOAMI "concord.v1.AuthService/WhoAmI"
#define METHOD_TIMELINE "concord.v1.ActivityService/GetAccountTimeline"
#define METHOD_REPORT "concord.v1.ReportService/GetMonthlyReport"

/* Latency histogram: 8 buckets per power of two of microseconds (about 9% wide). */
#define HIST_SUB 8
#define HIST_BUCKETS (40 * HIST_SUB)

typedef struct lg_hist {
    uint64_t count[HIST_BUCKETS];
    uint64_t total;
    uint64_t max_us;
} lg_hist;

typedef enum {
    LG_GET, LG_LIST, LG_SEARCH, LG_UPDATE, LG_IDLE, LG_LOGIN, LG_TIMELINE, LG_REPORT
} lg_method;

typedef struct lg_run lg_run;

typedef struct lg_conn {
    lg_run *run;
    cc_client *client;
    int connected;
    int lost;
    int attempts;       /* idle: connection attempts made */
} lg_conn;

/* One pipeline slot: one operation in flight at a time. */
typedef struct lg_slot {
    lg_conn *conn;
    uint64_t start_ns;
    char *page_token; /* list: where this slot's walk continues; NULL for the first page */
} lg_slot;

struct lg_run {
    uv_loop_t *loop;
    cc_options opts;
    lg_method method;
    const char *token;
    int n_conns;
    int depth;
    double duration_s;
    double warmup_s;
    int64_t id_min, id_max;
    char **queries;
    int n_queries;
    const char *ready_file;
    int connect_parallel;
    const char *account;    /* timeline, report: the account */
    const char *month;      /* report: the month, NULL for the server's default */
    const char *tag;        /* list, search: only accounts with this tag */
    const char *industry;   /* list, search: only accounts in this industry */
    const char *order_by;   /* list, search: the order ("" for the server's default) */
    int skip_pages;         /* -1: list walks the pages; else the fixed page after N */
    char *fixed_token;      /* the token of that page; NULL for the first page */

    lg_conn *conns;
    lg_slot *slots;
    int next_connect;   /* idle: next connection to open */
    int connecting;     /* idle: connects in progress */
    int n_connected;
    int n_ready;        /* connections whose first call succeeded */
    int n_failed_conns;
    int n_lost;

    uint64_t t_start, t_measure, t_end;
    int stopping;
    uv_timer_t end_timer;
    uv_timer_t grace_timer;
    int timers_live;

    lg_hist hist;
    uint64_t ok, aborted, errors, outside;
    int shown_error;
    uint64_t rng;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, and good enough to pick ids. */
static uint64_t lg_rand(lg_run *r)
{
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return r->rng * 2685821657736338717ull;
}

static int hist_bucket(uint64_t us)
{
    if (us < HIST_SUB)
        return (int)us;
    int log2 = 63 - __builtin_clzll(us);
    int sub = (int)((us >> (log2 - 3)) & (HIST_SUB - 1));
    int b = (log2 - 2) * HIST_SUB + sub;
    return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

/* The largest value that falls in bucket b, so percentiles never flatter. */
static uint64_t hist_upper(int b)
{
    if (b < HIST_SUB)
        return (uint64_t)b;
    int log2 = b / HIST_SUB + 2;
    int sub = b % HIST_SUB;
    return ((uint64_t)(HIST_SUB + sub + 1) << (log2 - 3)) - 1;
}

static void hist_add(lg_hist *h, uint64_t us)
{
    h->count[hist_bucket(us)]++;
    h->total++;
    if (us > h->max_us)
        h->max_us = us;
}

static double hist_pct_ms(const lg_hist *h, double pct)
{
    if (h->total == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(pct / 100.0 * (double)h->total);
    if (want == 0)
        want = 1;
    uint64_t seen = 0;
    for (int b = 0; b < HIST_BUCKETS; b++) {
        seen += h->count[b];
        if (seen >= want) {
            uint64_t v = hist_upper(b);
            return (double)(v < h->max_us ? v : h->max_us) / 1000.0;
        }
    }
    return (double)h->max_us / 1000.0;
}

static void note_error(lg_run *r, const char *what, const cc_status *st)
{
    /* Calls cut short by the end of the run are not failures of the server. */
    if (r->stopping)
        return;
    r->errors++;
    if (!r->shown_error) {
        r->shown_error = 1;
        fprintf(stderr, "concord-loadgen: %s failed: code %d: %s\n", what, st->code, st->message);
    }
}

/* Counts an operation that started at start_ns and ended now, if inside the window. */
static void finish_op(lg_run *r, uint64_t start_ns, int code)
{
    uint64_t t = now_ns();
    if (start_ns < r->t_measure || t > r->t_end) {
        r->outside++;
        return;
    }
    if (code == CC_OK) {
        r->ok++;
        hist_add(&r->hist, (t - start_ns) / 1000);
    } else if (code == CC_ABORTED) {
        r->aborted++;
    }
}

static void start_op(lg_slot *s);

/* Sends a call for slot s; on a send failure the operation ends at once. */
static int send_call(lg_slot *s, const char *method, const ProtobufCMessage *req, cc_reply_cb cb)
{
    lg_run *r = s->conn->run;
    uint8_t stack[1024];
    size_t len = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = len <= sizeof(stack) ? stack : malloc(len);
    if (buf == NULL)
        return CC_ENOMEM;
    protobuf_c_message_pack(req, buf);
    int rc = cc_client_call(s->conn->client, method, buf, len, r->token, NULL, 0, cb, s);
    if (buf != stack)
        free(buf);
    return rc;
}

static void after_op(lg_slot *s)
{
    if (!s->conn->run->stopping && cc_client_ready(s->conn->client))
        start_op(s);
}

static void on_simple_reply(cc_client *c, const cc_status *st, const uint8_t *payload, size_t len,
                            void *ud)
{
    (void)c;
    lg_slot *s = ud;
    lg_run *r = s->conn->run;
    if (st->code != CC_OK)
        note_error(r, "call", st);
    else if (r->method == LG_LIST && r->skip_pages < 0) {
        /* Continue the walk where this page ended. */
        Concord__V1__ListAccountsResponse *resp =
            concord__v1__list_accounts_response__unpack(NULL, len, payload);
        free(s->page_token);
        s->page_token = NULL;
        if (resp != NULL && resp->next_page_token && *resp->next_page_token)
            s->page_token = strdup(resp->next_page_token);
        if (resp != NULL)
            concord__v1__list_accounts_response__free_unpacked(resp, NULL);
    }
    finish_op(r, s->start_ns, st->code);
    after_op(s);
}

static void on_update_reply(cc_client *c, const cc_status *st, const uint8_t *payload, size_t len,
                            void *ud)
{
    (void)c;
    (void)payload;
    (void)len;
    lg_slot *s = ud;
    lg_run *r = s->conn->run;
    if (st->code != CC_OK && st->code != CC_ABORTED)
        note_error(r, "UpdateAccount", st);
    finish_op(r, s->start_ns, st->code);
    after_op(s);
}

static void on_update_read(cc_client *c, const cc_status *st, const uint8_t *payload, size_t len,
                           void *ud)
{
    (void)c;
    lg_slot *s = ud;
    lg_run *r = s->conn->run;
    if (st->code != CC_OK) {
        note_error(r, "GetAccount before UpdateAccount", st);
        finish_op(r, s->start_ns, st->code);
        after_op(s);
        return;
    }
    Concord__V1__Account *got = concord__v1__account__unpack(NULL, len, payload);
    if (got == NULL) {
        cc_status bad = {.code = CC_INTERNAL, .message = "cannot decode the account"};
        note_error(r, "GetAccount before UpdateAccount", &bad);
        finish_op(r, s->start_ns, CC_INTERNAL);
        after_op(s);
        return;
    }
    char notes[96];
    snprintf(notes, sizeof(notes), "Benchmark note %llu: follow-up call planned.",
             (unsigned long long)(lg_rand(r) % 1000000));
    Concord__V1__Account acc = CONCORD__V1__ACCOUNT__INIT;
    acc.id = got->id;
    acc.notes = notes;
    char *paths[] = {"notes"};
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.n_paths = 1;
    mask.paths = paths;
    Concord__V1__UpdateAccountRequest req = CONCORD__V1__UPDATE_ACCOUNT_REQUEST__INIT;
    req.account = &acc;
    req.update_mask = &mask;
    req.version = got->version;
    int rc = send_call(s, METHOD_UPDATE, &req.base, on_update_reply);
    concord__v1__account__free_unpacked(got, NULL);
    if (rc != 0) {
        r->errors++;
        finish_op(r, s->start_ns, CC_UNAVAILABLE);
    }
}

static void start_op(lg_slot *s)
{
    lg_run *r = s->conn->run;
    char id[24];
    int rc = 0;
    s->start_ns = now_ns();
    switch (r->method) {
    case LG_GET:
    case LG_UPDATE: {
        int64_t span = r->id_max - r->id_min + 1;
        snprintf(id, sizeof(id), "%lld", (long long)(r->id_min + (int64_t)(lg_rand(r) % (uint64_t)span)));
        Concord__V1__GetAccountRequest req = CONCORD__V1__GET_ACCOUNT_REQUEST__INIT;
        req.id = id;
        rc = send_call(s, METHOD_GET, &req.base,
                       r->method == LG_GET ? on_simple_reply : on_update_read);
        break;
    }
    case LG_LIST:
    case LG_SEARCH: {
        Concord__V1__ListAccountsRequest req = CONCORD__V1__LIST_ACCOUNTS_REQUEST__INIT;
        req.page_size = 50;
        if (r->skip_pages >= 0)
            req.page_token = r->fixed_token;
        else if (r->method == LG_LIST && s->page_token)
            req.page_token = s->page_token;
        if (r->method == LG_SEARCH)
            req.query = r->queries[lg_rand(r) % (uint64_t)r->n_queries];
        req.tag = (char *)r->tag;
        req.industry = (char *)r->industry;
        req.order_by = (char *)r->order_by;
        rc = send_call(s, METHOD_LIST, &req.base, on_simple_reply);
        break;
    }
    case LG_TIMELINE: {
        Concord__V1__GetAccountTimelineRequest req =
            CONCORD__V1__GET_ACCOUNT_TIMELINE_REQUEST__INIT;
        req.account_id = (char *)r->account;
        req.page_size = 50;
        req.page_token = r->fixed_token;
        rc = send_call(s, METHOD_TIMELINE, &req.base, on_simple_reply);
        break;
    }
    case LG_REPORT: {
        Concord__V1__GetMonthlyReportRequest req = CONCORD__V1__GET_MONTHLY_REPORT_REQUEST__INIT;
        req.account_id = (char *)r->account;
        req.month = (char *)r->month;
        rc = send_call(s, METHOD_REPORT, &req.base, on_simple_reply);
        break;
    }
    default:
        break;
    }
    if (rc != 0)
        r->errors++;
}

/* ---- connections ------------------------------------------------------------------- */

static void maybe_finish_idle_setup(lg_run *r);
static void connect_next(lg_run *r);
static int open_conn(lg_run *r, int i);

/*
 * idle: a connection that failed to open or to make its first call is tried
 * again (at most 3 times), so that a slow handshake on a loaded machine does
 * not lower the count held; only the last failure counts.
 */
static void idle_failed(lg_conn *k, const char *why)
{
    lg_run *r = k->run;
    if (k->client) {
        cc_client_close(k->client);
        k->client = NULL;
    }
    if (k->attempts < 3 && !r->stopping && open_conn(r, (int)(k - r->conns)) == 0)
        return;
    if (r->n_failed_conns++ == 0)
        fprintf(stderr, "concord-loadgen: a connection failed 3 times: %s\n", why);
    r->connecting--;
    connect_next(r);
    maybe_finish_idle_setup(r);
}

static void on_lost(cc_client *c, int err, void *ud)
{
    (void)c;
    (void)err;
    lg_conn *k = ud;
    if (!k->lost && !k->run->stopping) {
        k->lost = 1;
        k->run->n_lost++;
    }
}

static void on_whoami(cc_client *c, const cc_status *st, const uint8_t *payload, size_t len,
                      void *ud)
{
    (void)c;
    (void)payload;
    (void)len;
    lg_conn *k = ud;
    lg_run *r = k->run;
    if (st->code != CC_OK) {
        if (st->code != CC_UNAVAILABLE && st->code != CC_DEADLINE_EXCEEDED)
            note_error(r, "WhoAmI", st);
        idle_failed(k, st->message);
        return;
    }
    r->n_ready++;
    r->connecting--;
    connect_next(r);
    maybe_finish_idle_setup(r);
}

static void on_connect(cc_client *c, int status, void *ud)
{
    lg_conn *k = ud;
    lg_run *r = k->run;
    if (status != 0) {
        if (r->method == LG_IDLE) {
            idle_failed(k, cc_client_error(c));
            return;
        }
        if (r->n_failed_conns++ == 0)
            fprintf(stderr, "concord-loadgen: connect failed: %s\n", cc_client_error(c));
        return;
    }
    k->connected = 1;
    r->n_connected++;
    cc_client_on_lost(c, on_lost, k);
    if (r->method == LG_IDLE) {
        /* One authenticated call, as a real client makes after connecting. */
        Concord__V1__WhoAmIRequest req = CONCORD__V1__WHO_AM_IREQUEST__INIT;
        uint8_t buf[16];
        size_t len = protobuf_c_message_pack(&req.base, buf);
        if (cc_client_call(c, METHOD_WHOAMI, buf, len, r->token, NULL, 0, on_whoami, k) != 0)
            idle_failed(k, "cannot send WhoAmI");
        return;
    }
    /* Load methods start once every connection is up (see start_load). */
}

static int open_conn(lg_run *r, int i)
{
    lg_conn *k = &r->conns[i];
    k->run = r;
    k->attempts++;
    int rc = cc_client_new(r->loop, &r->opts, &k->client);
    if (rc != 0) {
        fprintf(stderr, "concord-loadgen: cannot create a client: %s\n", cc_strerror(rc));
        return rc;
    }
    rc = cc_client_connect(k->client, on_connect, k);
    if (rc != 0) {
        fprintf(stderr, "concord-loadgen: cannot connect: %s\n", cc_client_error(k->client));
        cc_client_close(k->client);
        k->client = NULL;
    }
    return rc;
}

static void connect_next(lg_run *r)
{
    while (r->next_connect < r->n_conns && r->connecting < r->connect_parallel && !r->stopping) {
        int i = r->next_connect++;
        r->connecting++;
        if (open_conn(r, i) != 0) {
            r->connecting--;
            r->n_failed_conns++;
        }
    }
}

static void close_all(lg_run *r)
{
    for (int i = 0; i < r->n_conns; i++)
        if (r->conns[i].client) {
            cc_client_close(r->conns[i].client);
            r->conns[i].client = NULL;
        }
    if (r->timers_live) {
        uv_close((uv_handle_t *)&r->end_timer, NULL);
        uv_close((uv_handle_t *)&r->grace_timer, NULL);
        r->timers_live = 0;
    }
}

static void on_grace(uv_timer_t *t)
{
    close_all(t->data);
}

static size_t total_in_flight(lg_run *r)
{
    size_t n = 0;
    for (int i = 0; i < r->n_conns; i++)
        if (r->conns[i].client)
            n += cc_client_in_flight(r->conns[i].client);
    return n;
}

/* The run's end: no new operations; close once the last replies are in (or after 5 s). */
static void on_end(uv_timer_t *t)
{
    lg_run *r = t->data;
    r->stopping = 1;
    if (r->method == LG_IDLE || total_in_flight(r) == 0) {
        close_all(r);
        return;
    }
    uv_timer_start(&r->end_timer, on_end, 50, 0);
    if (!uv_is_active((uv_handle_t *)&r->grace_timer))
        uv_timer_start(&r->grace_timer, on_grace, 5000, 0);
}

static void arm_end(lg_run *r, double seconds)
{
    uv_timer_start(&r->end_timer, on_end, (uint64_t)(seconds * 1000), 0);
}

static void maybe_finish_idle_setup(lg_run *r)
{
    if (r->n_ready + r->n_failed_conns < r->n_conns || r->t_start != 0)
        return;
    r->t_start = now_ns();
    fprintf(stderr, "concord-loadgen: holding %d connections (%d failed)\n", r->n_ready,
            r->n_failed_conns);
    if (r->ready_file) {
        FILE *f = fopen(r->ready_file, "w");
        if (f) {
            fprintf(f, "%d\n", r->n_ready);
            fclose(f);
        }
    }
    arm_end(r, r->duration_s);
}

/* ---- setup ------------------------------------------------------------------------- */

static int login(const cc_options *o, const char *user, const char *password, char **token)
{
    cc_conn *conn = NULL;
    char err[256] = "";
    int rc = cc_connect(o, &conn, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "concord-loadgen: %s\n", err);
        return rc;
    }
    Concord__V1__LoginRequest req = CONCORD__V1__LOGIN_REQUEST__INIT;
    req.username = (char *)user;
    req.password = (char *)password;
    ProtobufCMessage *resp = NULL;
    const cc_status *st = NULL;
    int code = cc_invoke(conn, "concord.v1.AuthService/Login", &req.base,
                         &concord__v1__login_response__descriptor, &resp, &st);
    if (code != CC_OK) {
        fprintf(stderr, "concord-loadgen: login failed: %s\n", st ? st->message : "?");
        cc_conn_free(conn);
        return CC_EPROTO;
    }
    *token = strdup(((Concord__V1__LoginResponse *)resp)->token);
    protobuf_c_message_free_unpacked(resp, NULL);
    cc_conn_free(conn);
    return *token ? 0 : CC_ENOMEM;
}

/*
 * Walks r->skip_pages pages of the run's request on one blocking connection
 * and keeps the token of the page after them in r->fixed_token (NULL when no
 * page is skipped). Fails when the listing ends before that page.
 */
static int find_page(lg_run *r)
{
    if (r->skip_pages <= 0)
        return 0;
    cc_conn *conn = NULL;
    char err[256] = "";
    int rc = cc_connect(&r->opts, &conn, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "concord-loadgen: %s\n", err);
        return rc;
    }
    cc_conn_set_token(conn, r->token);
    char *token = NULL;
    for (int page = 0; page < r->skip_pages && rc == 0; page++) {
        ProtobufCMessage *resp = NULL;
        const cc_status *st = NULL;
        const char *next = NULL;
        int code;
        if (r->method == LG_TIMELINE) {
            Concord__V1__GetAccountTimelineRequest req =
                CONCORD__V1__GET_ACCOUNT_TIMELINE_REQUEST__INIT;
            req.account_id = (char *)r->account;
            req.page_size = 50;
            req.page_token = token;
            code = cc_invoke(conn, METHOD_TIMELINE, &req.base,
                             &concord__v1__get_account_timeline_response__descriptor, &resp, &st);
            if (code == CC_OK)
                next = ((Concord__V1__GetAccountTimelineResponse *)resp)->next_page_token;
        } else {
            Concord__V1__ListAccountsRequest req = CONCORD__V1__LIST_ACCOUNTS_REQUEST__INIT;
            req.page_size = 50;
            req.page_token = token;
            if (r->method == LG_SEARCH)
                req.query = r->queries[0];
            req.tag = (char *)r->tag;
            req.industry = (char *)r->industry;
            req.order_by = (char *)r->order_by;
            code = cc_invoke(conn, METHOD_LIST, &req.base,
                             &concord__v1__list_accounts_response__descriptor, &resp, &st);
            if (code == CC_OK)
                next = ((Concord__V1__ListAccountsResponse *)resp)->next_page_token;
        }
        free(token);
        token = NULL;
        if (code != CC_OK) {
            fprintf(stderr, "concord-loadgen: page %d: code %d: %s\n", page + 1, code,
                    st ? st->message : "?");
            rc = CC_EPROTO;
        } else if (next == NULL || *next == '\0') {
            fprintf(stderr, "concord-loadgen: only %d pages, cannot skip %d\n", page + 1,
                    r->skip_pages);
            rc = CC_EINVAL;
        } else if ((token = strdup(next)) == NULL) {
            rc = CC_ENOMEM;
        }
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
    }
    cc_conn_free(conn);
    if (rc != 0) {
        free(token);
        return rc;
    }
    r->fixed_token = token;
    return 0;
}

static char *read_secret(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "concord-loadgen: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char buf[1024];
    char *line = fgets(buf, sizeof(buf), f);
    fclose(f);
    if (line == NULL)
        return strdup("");
    buf[strcspn(buf, "\r\n")] = '\0';
    return strdup(buf);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: concord-loadgen --server HOST:PORT --ca FILE --user NAME --password-file FILE\n"
            "         [--method get|list|search|update|timeline|report|idle|login] [--connections N]\n"
            "         [--depth D] [--account ID] [--skip-pages N] [--tag T] [--industry I]\n"
            "         [--order-by ORDER]\n"
            "         [--duration S] [--warmup S] [--id-min A --id-max B] [--query W1,W2,...]\n"
            "         [--server-name NAME] [--ready-file PATH] [--label TEXT] [--month YYYY-MM]\n");
    exit(2);
}

static int parse_method(const char *s, lg_method *m)
{
    static const struct { const char *name; lg_method m; } names[] = {
        {"get", LG_GET}, {"list", LG_LIST}, {"search", LG_SEARCH},
        {"update", LG_UPDATE}, {"idle", LG_IDLE}, {"login", LG_LOGIN},
        {"timeline", LG_TIMELINE}, {"report", LG_REPORT},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i].name) == 0) {
            *m = names[i].m;
            return 0;
        }
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},     {"ca", required_argument, NULL, 'a'},
        {"server-name", required_argument, NULL, 'n'}, {"user", required_argument, NULL, 'u'},
        {"password-file", required_argument, NULL, 'p'}, {"method", required_argument, NULL, 'm'},
        {"connections", required_argument, NULL, 'c'}, {"depth", required_argument, NULL, 'd'},
        {"duration", required_argument, NULL, 't'},   {"warmup", required_argument, NULL, 'w'},
        {"id-min", required_argument, NULL, 'i'},     {"id-max", required_argument, NULL, 'I'},
        {"query", required_argument, NULL, 'q'},      {"ready-file", required_argument, NULL, 'r'},
        {"label", required_argument, NULL, 'l'},      {"help", no_argument, NULL, 'h'},
        {"account", required_argument, NULL, 'A'},    {"skip-pages", required_argument, NULL, 'S'},
        {"tag", required_argument, NULL, 'T'},        {"industry", required_argument, NULL, 'D'},
        {"month", required_argument, NULL, 'M'},      {"order-by", required_argument, NULL, 'O'},
        {NULL, 0, NULL, 0},
    };
    lg_run r;
    memset(&r, 0, sizeof(r));
    r.method = LG_GET;
    r.n_conns = 8;
    r.depth = 1;
    r.duration_s = 10;
    r.warmup_s = 1;
    r.id_min = 1;
    r.id_max = 1000;
    r.connect_parallel = 16;
    r.skip_pages = -1;
    r.order_by = "";
    r.rng = (uint64_t)now_ns() | 1;
    const char *server = "127.0.0.1:7433", *user = NULL, *password_file = NULL, *label = NULL;
    char *query_list = NULL;
    r.opts.server_name = "localhost";
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': server = optarg; break;
        case 'a': r.opts.ca_file = optarg; break;
        case 'n': r.opts.server_name = optarg; break;
        case 'u': user = optarg; break;
        case 'p': password_file = optarg; break;
        case 'm':
            if (parse_method(optarg, &r.method) != 0)
                usage();
            break;
        case 'c': r.n_conns = atoi(optarg); break;
        case 'd': r.depth = atoi(optarg); break;
        case 't': r.duration_s = atof(optarg); break;
        case 'w': r.warmup_s = atof(optarg); break;
        case 'i': r.id_min = atoll(optarg); break;
        case 'I': r.id_max = atoll(optarg); break;
        case 'q': query_list = optarg; break;
        case 'r': r.ready_file = optarg; break;
        case 'l': label = optarg; break;
        case 'A': r.account = optarg; break;
        case 'S': r.skip_pages = atoi(optarg); break;
        case 'T': r.tag = optarg; break;
        case 'D': r.industry = optarg; break;
        case 'M': r.month = optarg; break;
        case 'O': r.order_by = optarg; break;
        default: usage();
        }
    }
    if (user == NULL || password_file == NULL || r.n_conns < 1 || r.depth < 1 ||
        r.duration_s <= 0 || r.warmup_s < 0 || r.id_max < r.id_min)
        usage();
    if (r.method == LG_TIMELINE && r.account == NULL) {
        fprintf(stderr, "concord-loadgen: timeline needs --account\n");
        usage();
    }
    if (r.method == LG_REPORT && r.account == NULL) {
        fprintf(stderr, "concord-loadgen: report needs --account\n");
        usage();
    }
    if (r.method == LG_SEARCH && query_list == NULL) {
        fprintf(stderr, "concord-loadgen: search needs --query\n");
        usage();
    }

    /* HOST:PORT, the host possibly in brackets. */
    static char host[256];
    const char *colon = strrchr(server, ':');
    if (colon == NULL || (size_t)(colon - server) >= sizeof(host))
        usage();
    memcpy(host, server, (size_t)(colon - server));
    host[colon - server] = '\0';
    if (host[0] == '[') {
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    r.opts.host = host;
    r.opts.port = atoi(colon + 1);
    r.opts.call_timeout_ms = 60000;

    if (query_list) {
        r.queries = calloc(64, sizeof(char *));
        for (char *w = strtok(query_list, ","); w && r.n_queries < 64; w = strtok(NULL, ","))
            r.queries[r.n_queries++] = w;
        if (r.n_queries == 0)
            usage();
    }

    int rc = 1;
    char *password = read_secret(password_file);
    char *token = NULL;
    if (password == NULL || login(&r.opts, user, password, &token) != 0)
        goto out;
    r.token = token;
    if (r.method == LG_LOGIN) {
        printf("%s\n", token);
        rc = 0;
        goto out;
    }
    if ((r.method == LG_LIST || r.method == LG_SEARCH || r.method == LG_TIMELINE) &&
        find_page(&r) != 0)
        goto out;

    signal(SIGPIPE, SIG_IGN);
    r.loop = uv_default_loop();
    r.conns = calloc((size_t)r.n_conns, sizeof(*r.conns));
    r.slots = calloc((size_t)r.n_conns * (size_t)r.depth, sizeof(*r.slots));
    if (r.conns == NULL || r.slots == NULL)
        goto out;
    uv_timer_init(r.loop, &r.end_timer);
    uv_timer_init(r.loop, &r.grace_timer);
    r.end_timer.data = &r;
    r.grace_timer.data = &r;
    r.timers_live = 1;

    if (r.method == LG_IDLE) {
        connect_next(&r);
        uv_run(r.loop, UV_RUN_DEFAULT);
    } else {
        for (int i = 0; i < r.n_conns; i++)
            if (open_conn(&r, i) != 0)
                r.n_failed_conns++;
        while (r.n_connected + r.n_failed_conns < r.n_conns)
            uv_run(r.loop, UV_RUN_ONCE);
        if (r.n_failed_conns > 0) {
            fprintf(stderr, "concord-loadgen: %d of %d connections failed\n", r.n_failed_conns,
                    r.n_conns);
            close_all(&r);
            uv_run(r.loop, UV_RUN_DEFAULT);
            goto out;
        }
        r.t_start = now_ns();
        r.t_measure = r.t_start + (uint64_t)(r.warmup_s * 1e9);
        r.t_end = r.t_measure + (uint64_t)(r.duration_s * 1e9);
        for (int i = 0; i < r.n_conns; i++)
            for (int d = 0; d < r.depth; d++) {
                lg_slot *s = &r.slots[i * r.depth + d];
                s->conn = &r.conns[i];
                start_op(s);
            }
        arm_end(&r, r.warmup_s + r.duration_s);
        uv_run(r.loop, UV_RUN_DEFAULT);
    }

    static const char *const method_names[] = {"get",  "list",  "search",   "update",
                                               "idle", "login", "timeline", "report"};
    if (r.method == LG_IDLE) {
        printf("result method=idle label=%s connections=%d held=%d failed=%d lost=%d errors=%llu\n",
               label ? label : "-", r.n_conns, r.n_ready, r.n_failed_conns, r.n_lost,
               (unsigned long long)r.errors);
        rc = r.n_ready == r.n_conns ? 0 : 1;
    } else {
        double secs = r.duration_s;
        printf("result method=%s label=%s connections=%d depth=%d seconds=%.2f ok=%llu "
               "aborted=%llu errors=%llu lost=%d rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
               "max_ms=%.3f\n",
               method_names[r.method], label ? label : "-", r.n_conns, r.depth, secs,
               (unsigned long long)r.ok, (unsigned long long)r.aborted,
               (unsigned long long)r.errors, r.n_lost, (double)r.ok / secs,
               hist_pct_ms(&r.hist, 50), hist_pct_ms(&r.hist, 90), hist_pct_ms(&r.hist, 99),
               (double)r.hist.max_us / 1000.0);
        rc = r.ok > 0 && r.n_lost == 0 ? 0 : 1;
    }
    fflush(stdout);
    uv_loop_close(r.loop);
out:
    if (r.slots)
        for (int i = 0; i < r.n_conns * r.depth; i++)
            free(r.slots[i].page_token);
    free(r.slots);
    free(r.conns);
    free(r.queries);
    free(r.fixed_token);
    free(password);
    free(token);
    return rc;
}
