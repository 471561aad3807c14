/*
 * gw_http.c - answers HTTP requests: the Connect unary mapping of every
 * concord.v1 method, portal sign-in with a session cookie and CSRF tokens,
 * health, the OpenAPI document and the portal's static files.
 *
 * Lifetime: a request whose answer needs concordd gets a gw_call (owning an
 * arena with the request payload; finished calls are kept, up to
 * MAX_SPARE_CALLS, with their arena's first block for the next request).
 * The request's pool holds a req_state that points to the call; when h2o
 * disposes the request (answer sent, or client gone), the state's dispose
 * callback clears call->req, so a reply that arrives later is dropped instead
 * of touching freed memory. The call itself is released only by its reply
 * callback, which libconcord runs exactly once.
 *
 * Security: every response gets the security headers from one output filter,
 * also h2o's own error responses (registered on the fallback path too).
 * Error bodies carry canonical codes and messages meant for people; internal
 * failures say "internal error" and are logged here instead.
 *
 * Access log: one line per request in cc_log's format (event=request), built
 * here into the worker's access_buf and written with one write(2) per loop
 * turn (a prepare handle runs before the loop waits) or when the buffer is
 * full, so a busy gateway does not pay a system call and a vfprintf per
 * request. The write holds gw->access_lock, so the lines of two workers never
 * mix within a line.
 *
 * Threads: each worker thread answers the requests of its own h2o context;
 * the worker is found from the request's context, and everything a request
 * changes (calls, counters, the access buffer) belongs to that worker.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "arena.h"
#include "cc_log.h"
#include "cc_services.h"
#include "cc_status.h"
#include "concord/v1/auth.pb-c.h"
#include "concord/v1/wire.pb-c.h"
#include "gateway.h"
#include "gw_auth.h"
#include "gw_route.h"
#include "pjson.h"

#define CSP                                                                                   \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
#define MAX_TOKEN_LEN 512
#define MAX_IDEMPOTENCY_KEY_LEN 200
#define MAX_SPARE_CALLS 256
#define ACCESS_LINE_MAX 2048 /* longest access line: method 15 and path 255 bytes, escaped */

typedef enum {
    CALL_CONNECT, /* a Connect call forwarded as is */
    CALL_LOGIN,   /* POST /auth/login: AuthService/Login, then the cookie */
    CALL_LOGOUT,  /* POST /auth/logout: AuthService/Logout, then clear the cookie */
    CALL_CSRF,    /* GET /auth/csrf: AuthService/WhoAmI, then the CSRF token */
} call_kind;

typedef struct gw_call gw_call;

/* Lives in the request's pool; disposed with the request. */
typedef struct req_state {
    gw_worker *w;
    gw_call *call;     /* the pending call, or NULL */
    h2o_req_t *req;    /* valid in the dispose callback: h2o frees it after the pool */
    uint64_t start_ns; /* when the handler saw the request, for the access log */
} req_state;

struct gw_call {
    gateway *gw;
    gw_worker *w;      /* the worker whose loop runs the call */
    h2o_req_t *req;    /* NULL once the request was disposed */
    req_state *state;  /* valid while req is not NULL */
    call_kind kind;
    int json;          /* JSON in and out; otherwise application/proto */
    const ProtobufCMethodDescriptor *method;
    char *token;       /* the session token the call carries (arena), or NULL */
    arena arena;       /* payload, token, unpacked reply */
    gw_call *next_spare; /* in w->spare_calls while not in use */
};

typedef struct gw_handler {
    h2o_handler_t super;
    gateway *gw;
} gw_handler;

/* The worker that runs a request: the owner of the request's h2o context. */
static gw_worker *worker_of(h2o_req_t *req)
{
    return container_of(req->conn->ctx, gw_worker, h2o_ctx);
}

/* One violation of an error response. */
typedef struct gw_violation {
    const char *field;
    const char *description;
} gw_violation;

/* ---- responses ---------------------------------------------------------- */

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 499: return "Client Closed Request";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status >= 500 ? "Internal Server Error" : "Error";
    }
}

static void add_header(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 1, NULL, value,
                          strlen(value));
}

/* A complete response body in the request's pool, handed to h2o in pull mode. */
typedef struct body_generator {
    h2o_generator_t super;
    h2o_iovec_t body;
    size_t sent;
} body_generator;

/* Copies as much of the body as fits into buf. */
static h2o_send_state_t body_pull(h2o_generator_t *g, h2o_req_t *req, h2o_iovec_t *buf)
{
    (void)req;
    body_generator *bg = (body_generator *)g;
    size_t n = bg->body.len - bg->sent;
    if (n > buf->len)
        n = buf->len;
    memcpy(buf->base, bg->body.base + bg->sent, n);
    buf->len = n;
    bg->sent += n;
    return bg->sent == bg->body.len ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS;
}

/*
 * Sends a complete response; body is copied. In pull mode h2o puts the header
 * block and the body in one buffer before it encrypts, so a response that fits
 * one TLS record (h2o cuts records at about 1,400 bytes for a connection's
 * first 200 KiB, 16 KiB after) leaves as one; with h2o_send the two buffers
 * always became separate records. The pull interface is the one h2o's own
 * file handler uses.
 */
static void send_body(h2o_req_t *req, int status, const char *type, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason_of(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type,
                   strlen(type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
    if (h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD"))) {
        h2o_send_inline(req, body, len); /* headers only */
        return;
    }
    body_generator *bg = h2o_mem_alloc_pool(&req->pool, sizeof *bg);
    bg->super = (h2o_generator_t){NULL, NULL};
    bg->body = h2o_strdup(&req->pool, body, len);
    bg->sent = 0;
    h2o_start_response(req, &bg->super);
    if (req->_ostr_top->start_pull != NULL)
        req->_ostr_top->start_pull(req->_ostr_top, body_pull);
    else
        h2o_send(req, &bg->body, 1, H2O_SEND_STATE_FINAL);
}

static void send_json(h2o_req_t *req, int status, json_t *doc)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (text == NULL) {
        static const char oom[] = "{\"code\":\"internal\",\"message\":\"internal error\"}";
        send_body(req, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    send_body(req, status, "application/json", text, strlen(text));
    free(text);
}

static json_t *json_str(const char *s)
{
    json_t *j = json_string(s != NULL ? s : "");
    return j != NULL ? j : json_string("(not valid UTF-8)");
}

/* One Connect error detail: the violation as an encoded concord.v1.FieldViolation. */
static json_t *violation_detail(const gw_violation *v)
{
    Concord__V1__FieldViolation pb = CONCORD__V1__FIELD_VIOLATION__INIT;
    pb.field = (char *)v->field;
    pb.description = (char *)v->description;
    size_t n = concord__v1__field_violation__get_packed_size(&pb);
    uint8_t *bin = malloc(n + 1);
    char *b64 = malloc(4 * n / 3 + 8);
    json_t *d = NULL;
    if (bin != NULL && b64 != NULL) {
        concord__v1__field_violation__pack(&pb, bin);
        gw_base64(bin, n, b64);
        d = json_pack("{s:s,s:s,s:{s:o,s:o}}", "type", "concord.v1.FieldViolation", "value", b64,
                      "debug", "field", json_str(v->field), "description",
                      json_str(v->description));
    }
    free(bin);
    free(b64);
    return d;
}

/*
 * Sends a Connect error. http 0 takes the status from the code's row in
 * cc_status.h. Violations go in the message, in details (as
 * concord.v1.FieldViolation) and in the "fieldViolations" extension.
 */
static void send_error(h2o_req_t *req, int http, int code, const char *message,
                       const gw_violation *v, size_t n)
{
    if (code == CC_INTERNAL || code == CC_UNKNOWN || code == CC_DATA_LOSS)
        message = "internal error";
    char msg[1024];
    size_t off = (size_t)snprintf(msg, sizeof msg, "%s", message);
    if (n > 0 && strstr(message, v[0].field) == NULL) {
        for (size_t i = 0; i < n && off < sizeof msg; i++)
            off += (size_t)snprintf(msg + off, sizeof msg - off, "%s%s: %s", i == 0 ? " (" : "; ",
                                    v[i].field, v[i].description);
        if (off < sizeof msg)
            snprintf(msg + off, sizeof msg - off, ")");
    }
    json_t *details = json_array();
    json_t *fv = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(details, violation_detail(&v[i]));
        json_array_append_new(fv, json_pack("{s:o,s:o}", "field", json_str(v[i].field),
                                            "description", json_str(v[i].description)));
    }
    json_t *doc = json_pack("{s:s,s:o,s:o}", "code", cc_code_connect(code), "message",
                            json_str(msg), "details", details);
    if (doc != NULL && n > 0)
        json_object_set(doc, "fieldViolations", fv);
    json_decref(fv);
    send_json(req, http != 0 ? http : cc_code_http(code), doc);
    json_decref(doc);
}

static void send_status(h2o_req_t *req, const cc_status *st)
{
    gw_violation v[16];
    size_t n = st->n_violations < 16 ? st->n_violations : 16;
    for (size_t i = 0; i < n; i++) {
        v[i].field = st->violations[i]->field;
        v[i].description = st->violations[i]->description;
    }
    send_error(req, 0, st->code, st->message, v, n);
}

/* ---- request helpers ---------------------------------------------------- */

static int header_get(h2o_req_t *req, const char *name, h2o_iovec_t *out)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (i < 0)
        return 0;
    *out = req->headers.entries[i].value;
    return 1;
}

static int method_is(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

/* Media type of the body without parameters: "application/json; charset=utf-8" -> json. */
static int content_type_is(h2o_req_t *req, const char *type)
{
    h2o_iovec_t ct;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return 0;
    ct = req->headers.entries[i].value;
    size_t n = 0;
    while (n < ct.len && ct.base[n] != ';' && ct.base[n] != ' ')
        n++;
    return h2o_lcstris(ct.base, n, type, strlen(type));
}

/* The origin pages of this gateway are served from. */
static int origin_ok(gateway *gw, h2o_req_t *req)
{
    h2o_iovec_t o;
    if (!header_get(req, "origin", &o))
        return 1;
    if (gw->cfg.origin != NULL)
        return h2o_lcstris(o.base, o.len, gw->cfg.origin, strlen(gw->cfg.origin));
    static const char scheme[] = "https://";
    size_t sl = sizeof scheme - 1;
    return o.len == sl + req->authority.len && h2o_lcstris(o.base, sl, scheme, sl) &&
           h2o_lcstris(o.base + sl, o.len - sl, req->authority.base, req->authority.len);
}

typedef struct gw_cred {
    const char *token; /* borrowed from the request headers */
    size_t len;
    int from_cookie;   /* the session cookie, which needs the CSRF header */
} gw_cred;

/* Finds the caller's credentials: a bearer token first, then the session cookie. */
static int find_credentials(h2o_req_t *req, gw_cred *c)
{
    c->token = NULL;
    c->len = 0;
    c->from_cookie = 0;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i >= 0) {
        h2o_iovec_t a = req->headers.entries[i].value;
        if (a.len > 7 && h2o_lcstris(a.base, 7, "bearer ", 7)) {
            c->token = a.base + 7;
            c->len = a.len - 7;
            while (c->len > 0 && *c->token == ' ') {
                c->token++;
                c->len--;
            }
            return c->len > 0;
        }
        return 0;
    }
    for (i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (gw_cookie_find(v.base, v.len, GW_SESSION_COOKIE, &c->token, &c->len) && c->len > 0) {
            c->from_cookie = 1;
            return 1;
        }
    }
    return 0;
}

static int csrf_ok(gateway *gw, h2o_req_t *req, const gw_cred *c)
{
    h2o_iovec_t v;
    if (!c->from_cookie)
        return 1;
    if (!header_get(req, "x-csrf-token", &v))
        return 0;
    return gw_csrf_valid(gw->csrf_key, gw->csrf_key_len, c->token, c->len, v.base, v.len);
}

/* ---- access log --------------------------------------------------------- */

void gw_http_flush_log(gw_worker *w)
{
    gateway *gw = w->gw;
    size_t off = 0;
    if (w->access_len == 0)
        return;
    uv_mutex_lock(&gw->access_lock);
    while (off < w->access_len) {
        ssize_t n = write(gw->access_fd, w->access_buf + off, w->access_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* as cc_log: a log that cannot be written is dropped */
        off += (size_t)n;
    }
    uv_mutex_unlock(&gw->access_lock);
    w->access_len = 0;
}

static void on_access_flush(uv_prepare_t *h)
{
    gw_http_flush_log(container_of(h, gw_worker, access_flush));
}

static char *put_str(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}

static char *put_uint(char *w, unsigned long long v, int min_digits)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 || n < min_digits);
    while (n > 0)
        *w++ = tmp[--n];
    return w;
}

/*
 * Appends the request's access line: the same text as
 *   log_event(LOG_INFO, "request", "method", M, "path", P, "status", S, "duration_ms", D, NULL)
 * with the path cut at '?' (the query may carry values not meant for logs).
 */
static void log_request(gw_worker *w, h2o_req_t *req, uint64_t ns)
{
    if (!log_enabled(LOG_INFO))
        return;
    if (sizeof w->access_buf - w->access_len < ACCESS_LINE_MAX)
        gw_http_flush_log(w);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if ((long long)ts.tv_sec != w->access_sec || w->access_ts[0] == '\0') {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(w->access_ts, sizeof w->access_ts, "ts=%04d-%02d-%02dT%02d:%02d:%02d.",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        w->access_sec = (long long)ts.tv_sec;
    }
    size_t plen = req->input.path.len;
    for (size_t i = 0; i < plen; i++)
        if (req->input.path.base[i] == '?')
            plen = i;
    size_t mlen = req->input.method.len;
    char *out = w->access_buf + w->access_len;
    out = put_str(out, w->access_ts, strlen(w->access_ts));
    out = put_uint(out, (unsigned long long)(ts.tv_nsec / 1000000), 3);
    out = put_str(out, "Z level=info event=request method=", 34);
    out += log_value_write(out, req->input.method.base, mlen < 15 ? mlen : 15);
    out = put_str(out, " path=", 6);
    out += log_value_write(out, req->input.path.base, plen < 255 ? plen : 255);
    out = put_str(out, " status=", 8);
    int status = req->res.status;
    if (status < 0) {
        *out++ = '-';
        status = -status;
    }
    out = put_uint(out, (unsigned long long)status, 1);
    /* Milliseconds with three decimals, rounded to the microsecond. */
    unsigned long long us = (unsigned long long)((ns + 500) / 1000);
    out = put_str(out, " duration_ms=", 13);
    out = put_uint(out, us / 1000, 1);
    *out++ = '.';
    out = put_uint(out, us % 1000, 3);
    *out++ = '\n';
    w->access_len = (size_t)(out - w->access_buf);
}

/* ---- calls to concordd -------------------------------------------------- */

static void on_req_disposed(void *p)
{
    req_state *rs = p;
    log_request(rs->w, rs->req, uv_hrtime() - rs->start_ns);
    if (rs->call != NULL)
        rs->call->req = NULL;
    rs->w->in_flight--;
    if (rs->w->draining)
        gw_main_request_done(rs->w);
}

static gw_call *call_new(req_state *rs, h2o_req_t *req, call_kind kind)
{
    gw_worker *w = rs->w;
    gw_call *call = w->spare_calls;
    if (call != NULL) {
        /* A spare call's arena was reset when it was put aside; keep it, clear the rest. */
        w->spare_calls = call->next_spare;
        w->n_spare_calls--;
        arena kept = call->arena;
        memset(call, 0, sizeof *call);
        call->arena = kept;
    } else {
        call = calloc(1, sizeof *call);
        if (call == NULL)
            return NULL;
        arena_init(&call->arena, 4096);
    }
    call->gw = w->gw;
    call->w = w;
    call->req = req;
    call->state = rs;
    call->kind = kind;
    rs->call = call;
    return call;
}

static void call_free(gw_call *call)
{
    gw_worker *w = call->w;
    if (call->req != NULL)
        call->state->call = NULL;
    if (w->n_spare_calls < MAX_SPARE_CALLS) {
        arena_reset(&call->arena);
        call->req = NULL;
        call->next_spare = w->spare_calls;
        w->spare_calls = call;
        w->n_spare_calls++;
        return;
    }
    arena_free(&call->arena);
    free(call);
}

static void on_reply(cc_client *c, const cc_status *st, const uint8_t *payload, size_t len,
                     void *ud);

/* Sends the call upstream, or answers 503 when no connection is ready. */
static void call_start(gw_call *call, const char *method, const uint8_t *payload, size_t len,
                       const char *idempotency_key, uint32_t deadline_ms)
{
    h2o_req_t *req = call->req;
    int rc = gw_upstream_call(call->w->upstream, method, payload, len, call->token,
                              idempotency_key, deadline_ms, on_reply, call);
    if (rc != 0) {
        if (rc != CC_ECLOSED)
            log_event(LOG_WARN, "upstream_call_failed", "error", cc_strerror(rc), NULL);
        call_free(call);
        send_error(req, 0, CC_UNAVAILABLE, "the Concord server is not reachable; retry later",
                   NULL, 0);
    }
}

/* Packs msg into the call's arena. */
static uint8_t *pack_message(gw_call *call, const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = arena_alloc(&call->arena, *len + 1);
    protobuf_c_message_pack(msg, buf);
    return buf;
}

/* Decodes a JSON body into desc; on failure answers invalid_argument and returns NULL. */
static ProtobufCMessage *decode_json(gw_call *call, const ProtobufCMessageDescriptor *desc)
{
    h2o_req_t *req = call->req;
    ProtobufCMessage *msg = NULL;
    pjson_error perr = {{0}, {0}};
    int rc = pjson_decode(desc, req->entity.base != NULL ? req->entity.base : "",
                          req->entity.len, arena_pbc(&call->arena), &msg, &perr);
    if (rc == 0)
        return msg;
    if (rc == CC_EJSON) {
        gw_violation v = {perr.field[0] != '\0' ? perr.field : "(body)", perr.description};
        char message[600];
        snprintf(message, sizeof message, "invalid request body: %s: %s", v.field,
                 v.description);
        send_error(req, 0, CC_INVALID_ARGUMENT, message, &v, 1);
    } else {
        send_error(req, 0, CC_INTERNAL, "", NULL, 0);
    }
    return NULL;
}

/* The session token as a string in the call's arena; NULL when it cannot be a token. */
static char *copy_token(gw_call *call, const gw_cred *c)
{
    if (c->token == NULL || c->len == 0 || c->len > MAX_TOKEN_LEN)
        return NULL;
    if (memchr(c->token, '\0', c->len) != NULL)
        return NULL;
    return arena_strndup(&call->arena, c->token, c->len);
}

/* ---- replies ------------------------------------------------------------ */

static void set_session_cookie(h2o_req_t *req, const char *token, long max_age)
{
    char buf[MAX_TOKEN_LEN + 160];
    if (token == NULL)
        snprintf(buf, sizeof buf, GW_SESSION_COOKIE "=" GW_COOKIE_ATTRS "; Max-Age=0");
    else if (max_age > 0)
        snprintf(buf, sizeof buf, GW_SESSION_COOKIE "=%s" GW_COOKIE_ATTRS "; Max-Age=%ld", token,
                 max_age);
    else
        snprintf(buf, sizeof buf, GW_SESSION_COOKIE "=%s" GW_COOKIE_ATTRS, token);
    /* h2o keeps a pointer to the value, so it must live in the request's pool. */
    h2o_iovec_t v = h2o_strdup(&req->pool, buf, strlen(buf));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, v.base, v.len);
}

static void reply_connect(gw_call *call, h2o_req_t *req, const uint8_t *payload, size_t len)
{
    if (!call->json) {
        send_body(req, 200, "application/proto", (const char *)payload, len);
        return;
    }
    ProtobufCMessage *msg =
        protobuf_c_message_unpack(call->method->output, arena_pbc(&call->arena), len, payload);
    char *text = msg != NULL ? pjson_encode(msg) : NULL;
    if (text == NULL) {
        log_event(LOG_ERROR, "bad_reply", "type", call->method->output->name, NULL);
        send_error(req, 0, CC_INTERNAL, "", NULL, 0);
        return;
    }
    send_body(req, 200, "application/json", text, strlen(text));
    free(text);
}

static json_t *user_json(const Concord__V1__User *u)
{
    return u != NULL ? pjson_from_message(&u->base) : json_object();
}

static void reply_login(gw_call *call, h2o_req_t *req, const uint8_t *payload, size_t len)
{
    gateway *gw = call->gw;
    char csrf[GW_CSRF_LEN];
    Concord__V1__LoginResponse *resp = (Concord__V1__LoginResponse *)protobuf_c_message_unpack(
        &concord__v1__login_response__descriptor, arena_pbc(&call->arena), len, payload);
    if (resp == NULL || resp->token == NULL ||
        !gw_cookie_value_ok(resp->token, strlen(resp->token)) ||
        strlen(resp->token) > MAX_TOKEN_LEN ||
        gw_csrf_token(gw->csrf_key, gw->csrf_key_len, resp->token, strlen(resp->token), csrf) != 0) {
        log_event(LOG_ERROR, "bad_reply", "type", "concord.v1.LoginResponse", NULL);
        send_error(req, 0, CC_INTERNAL, "", NULL, 0);
        return;
    }
    long max_age = 0;
    if (resp->expire_time != NULL)
        max_age = (long)(resp->expire_time->seconds - (int64_t)time(NULL));
    set_session_cookie(req, resp->token, max_age > 0 ? max_age : 0);
    json_t *doc = json_pack("{s:o,s:s}", "user", user_json(resp->user), "csrfToken", csrf);
    send_json(req, 200, doc);
    json_decref(doc);
}

static void reply_logout(gw_call *call, h2o_req_t *req, const cc_status *st)
{
    if (st->code != CC_OK && st->code != CC_UNAUTHENTICATED) {
        send_status(req, st);
        return;
    }
    set_session_cookie(req, NULL, 0);
    send_body(req, 200, "application/json", "{}", 2);
}

static void reply_csrf(gw_call *call, h2o_req_t *req, const cc_status *st, const uint8_t *payload,
                       size_t len)
{
    gateway *gw = call->gw;
    char csrf[GW_CSRF_LEN];
    if (st->code == CC_UNAUTHENTICATED) {
        set_session_cookie(req, NULL, 0);
        send_status(req, st);
        return;
    }
    if (st->code != CC_OK && st->code != CC_UNIMPLEMENTED) {
        send_status(req, st);
        return;
    }
    if (gw_csrf_token(gw->csrf_key, gw->csrf_key_len, call->token, strlen(call->token), csrf) !=
        0) {
        send_error(req, 0, CC_INTERNAL, "", NULL, 0);
        return;
    }
    json_t *doc = json_pack("{s:s}", "csrfToken", csrf);
    if (st->code == CC_OK) {
        Concord__V1__WhoAmIResponse *w =
            (Concord__V1__WhoAmIResponse *)protobuf_c_message_unpack(
                &concord__v1__who_am_iresponse__descriptor, arena_pbc(&call->arena), len,
                payload);
        if (w != NULL && doc != NULL)
            json_object_set_new(doc, "user", user_json(w->user));
    }
    send_json(req, 200, doc);
    json_decref(doc);
}

static void on_reply(cc_client *c, const cc_status *st, const uint8_t *payload, size_t len,
                     void *ud)
{
    gw_call *call = ud;
    h2o_req_t *req = call->req;
    if (req == NULL) {
        call_free(call);
        return;
    }
    /* Detach first: sending may dispose the request. */
    call->state->call = NULL;
    call->req = NULL;
    switch (call->kind) {
    case CALL_CONNECT:
        if (st->code == CC_OK)
            reply_connect(call, req, payload, len);
        else
            send_status(req, st);
        break;
    case CALL_LOGIN:
        if (st->code == CC_OK)
            reply_login(call, req, payload, len);
        else
            send_status(req, st);
        break;
    case CALL_LOGOUT:
        reply_logout(call, req, st);
        break;
    case CALL_CSRF:
        reply_csrf(call, req, st, payload, len);
        break;
    }
    call_free(call);
}

/* ---- routes ------------------------------------------------------------- */

/* Checks shared by every POST: body size and origin. Answers and returns 0 on failure. */
static int check_post(gateway *gw, h2o_req_t *req)
{
    if (req->entity.len > gw->cfg.max_body) {
        send_error(req, 413, CC_RESOURCE_EXHAUSTED, "request body too large", NULL, 0);
        return 0;
    }
    if (!origin_ok(gw, req)) {
        send_error(req, 0, CC_PERMISSION_DENIED, "cross-origin request refused", NULL, 0);
        return 0;
    }
    return 1;
}

static void method_not_allowed(h2o_req_t *req, const char *allow)
{
    add_header(req, "allow", allow);
    send_error(req, 405, CC_UNIMPLEMENTED, "method not allowed", NULL, 0);
}

static uint32_t call_deadline(gateway *gw, h2o_req_t *req)
{
    uint32_t deadline = gw->cfg.up_call_timeout_ms;
    h2o_iovec_t v;
    if (header_get(req, "connect-timeout-ms", &v)) {
        size_t ms = h2o_strtosize(v.base, v.len);
        if (ms != SIZE_MAX && ms > 0 && ms < deadline)
            deadline = (uint32_t)ms;
    }
    return deadline;
}

static void handle_connect(gateway *gw, req_state *rs, h2o_req_t *req, h2o_iovec_t path)
{
    const ProtobufCServiceDescriptor *svc = NULL;
    const ProtobufCMethodDescriptor *m = gw_route_method(path.base, path.len, &svc);
    if (m == NULL) {
        send_error(req, 404, CC_UNIMPLEMENTED, "unknown method", NULL, 0);
        return;
    }
    if (!method_is(req, "POST")) {
        method_not_allowed(req, "POST");
        return;
    }
    int json = content_type_is(req, "application/json");
    if (!json && !content_type_is(req, "application/proto")) {
        add_header(req, "accept-post", "application/json, application/proto");
        send_error(req, 415, CC_INVALID_ARGUMENT,
                   "unsupported content type; use application/json or application/proto", NULL,
                   0);
        return;
    }
    if (!check_post(gw, req))
        return;
    gw_cred cred;
    int has_cred = find_credentials(req, &cred);
    if (has_cred && !csrf_ok(gw, req, &cred)) {
        send_error(req, 0, CC_PERMISSION_DENIED, "missing or invalid X-CSRF-Token header", NULL,
                   0);
        return;
    }
    gw_call *call = call_new(rs, req, CALL_CONNECT);
    if (call == NULL) {
        send_error(req, 0, CC_INTERNAL, "", NULL, 0);
        return;
    }
    call->json = json;
    call->method = m;
    if (has_cred && (call->token = copy_token(call, &cred)) == NULL) {
        call_free(call);
        send_error(req, 0, CC_UNAUTHENTICATED, "malformed credentials", NULL, 0);
        return;
    }
    const uint8_t *payload;
    size_t len;
    if (json) {
        ProtobufCMessage *msg = decode_json(call, m->input);
        if (msg == NULL) {
            call_free(call);
            return;
        }
        payload = pack_message(call, msg, &len);
    } else {
        len = req->entity.len;
        uint8_t *copy = arena_alloc(&call->arena, len + 1);
        if (len > 0)
            memcpy(copy, req->entity.base, len);
        payload = copy;
    }
    const char *idem = NULL;
    h2o_iovec_t v;
    if (header_get(req, "idempotency-key", &v) && v.len > 0 && v.len <= MAX_IDEMPOTENCY_KEY_LEN)
        idem = arena_strndup(&call->arena, v.base, v.len);
    char *full = arena_strndup(&call->arena, path.base + 1, path.len - 1);
    call_start(call, full, payload, len, idem, call_deadline(gw, req));
}

static void handle_login(gateway *gw, req_state *rs, h2o_req_t *req)
{
    if (!method_is(req, "POST")) {
        method_not_allowed(req, "POST");
        return;
    }
    if (!content_type_is(req, "application/json")) {
        send_error(req, 415, CC_INVALID_ARGUMENT, "use Content-Type: application/json", NULL, 0);
        return;
    }
    if (!check_post(gw, req))
        return;
    gw_call *call = call_new(rs, req, CALL_LOGIN);
    if (call == NULL) {
        send_error(req, 0, CC_INTERNAL, "", NULL, 0);
        return;
    }
    ProtobufCMessage *msg = decode_json(call, &concord__v1__login_request__descriptor);
    if (msg == NULL) {
        call_free(call);
        return;
    }
    size_t len;
    const uint8_t *payload = pack_message(call, msg, &len);
    call_start(call, "concord.v1.AuthService/Login", payload, len, NULL, call_deadline(gw, req));
}

static void handle_logout(gateway *gw, req_state *rs, h2o_req_t *req)
{
    if (!method_is(req, "POST")) {
        method_not_allowed(req, "POST");
        return;
    }
    if (!check_post(gw, req))
        return;
    gw_cred cred;
    if (!find_credentials(req, &cred)) {
        set_session_cookie(req, NULL, 0);
        send_body(req, 200, "application/json", "{}", 2);
        return;
    }
    if (!csrf_ok(gw, req, &cred)) {
        send_error(req, 0, CC_PERMISSION_DENIED, "missing or invalid X-CSRF-Token header", NULL,
                   0);
        return;
    }
    gw_call *call = call_new(rs, req, CALL_LOGOUT);
    if (call == NULL) {
        send_error(req, 0, CC_INTERNAL, "", NULL, 0);
        return;
    }
    if ((call->token = copy_token(call, &cred)) == NULL) {
        call_free(call);
        set_session_cookie(req, NULL, 0);
        send_body(req, 200, "application/json", "{}", 2);
        return;
    }
    call_start(call, "concord.v1.AuthService/Logout", (const uint8_t *)"", 0, NULL,
               call_deadline(gw, req));
}

static void handle_csrf(gateway *gw, req_state *rs, h2o_req_t *req)
{
    if (!method_is(req, "GET")) {
        method_not_allowed(req, "GET");
        return;
    }
    gw_cred cred;
    if (!find_credentials(req, &cred) || !cred.from_cookie) {
        send_error(req, 0, CC_UNAUTHENTICATED, "not signed in", NULL, 0);
        return;
    }
    gw_call *call = call_new(rs, req, CALL_CSRF);
    if (call == NULL) {
        send_error(req, 0, CC_INTERNAL, "", NULL, 0);
        return;
    }
    if ((call->token = copy_token(call, &cred)) == NULL) {
        call_free(call);
        set_session_cookie(req, NULL, 0);
        send_error(req, 0, CC_UNAUTHENTICATED, "not signed in", NULL, 0);
        return;
    }
    call_start(call, "concord.v1.AuthService/WhoAmI", (const uint8_t *)"", 0, NULL,
               call_deadline(gw, req));
}

/* Health as this worker sees it: its own drain and its own connections to concordd. */
static void handle_healthz(gw_worker *w, h2o_req_t *req)
{
    if (w->draining) {
        send_body(req, 503, "application/json", H2O_STRLIT("{\"status\":\"draining\"}"));
        return;
    }
    gw_upstream_probe(w->upstream);
    if (gw_upstream_healthy(w->upstream)) {
        send_body(req, 200, "application/json", H2O_STRLIT("{\"status\":\"ok\"}"));
    } else {
        send_body(req, 503, "application/json", H2O_STRLIT("{\"status\":\"unavailable\"}"));
    }
}

/* True when the raw request path holds a ".." segment, also percent-encoded. */
static int path_has_dotdot(h2o_iovec_t raw)
{
    size_t end = 0;
    while (end < raw.len && raw.base[end] != '?')
        end++;
    for (size_t i = 0; i < end; i++) {
        if (raw.base[i] == '.' && i + 1 < end && raw.base[i + 1] == '.')
            return 1;
        if (raw.base[i] == '%' && i + 2 < end && raw.base[i + 1] == '2' &&
            (raw.base[i + 2] == 'e' || raw.base[i + 2] == 'E'))
            return 1;
        if (raw.base[i] == '\\')
            return 1;
    }
    return 0;
}

static void handle_static(gateway *gw, h2o_req_t *req, h2o_iovec_t path)
{
    static h2o_generator_t generator = {NULL, NULL};
    if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
        method_not_allowed(req, "GET, HEAD");
        return;
    }
    if (path_has_dotdot(req->input.path)) {
        send_error(req, 400, CC_INVALID_ARGUMENT, "invalid path", NULL, 0);
        return;
    }
    const gw_static_file *f = gw_static_find(&gw->portal, path.base, path.len);
    if (f == NULL) {
        send_error(req, 404, CC_NOT_FOUND, "not found", NULL, 0);
        return;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = f->len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, f->type,
                   strlen(f->type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-cache"));
    h2o_start_response(req, &generator);
    /* The file stays in memory for the life of the process, so no copy is needed. */
    h2o_iovec_t buf = h2o_iovec_init(f->data, f->len);
    if (method_is(req, "HEAD"))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    gateway *gw = ((gw_handler *)self)->gw;
    gw_worker *w = worker_of(req);
    req_state *rs = h2o_mem_alloc_shared(&req->pool, sizeof *rs, on_req_disposed);
    rs->w = w;
    rs->call = NULL;
    rs->req = req;
    rs->start_ns = uv_hrtime();
    w->in_flight++;

    h2o_iovec_t path = req->path_normalized;
    int get = method_is(req, "GET") || method_is(req, "HEAD");
    switch (gw_route(path.base, path.len)) {
    case GW_ROUTE_CONNECT:
        handle_connect(gw, rs, req, path);
        break;
    case GW_ROUTE_LOGIN:
        handle_login(gw, rs, req);
        break;
    case GW_ROUTE_LOGOUT:
        handle_logout(gw, rs, req);
        break;
    case GW_ROUTE_CSRF:
        handle_csrf(gw, rs, req);
        break;
    case GW_ROUTE_HEALTHZ:
        get ? handle_healthz(w, req) : method_not_allowed(req, "GET, HEAD");
        break;
    case GW_ROUTE_OPENAPI:
        get ? send_body(req, 200, "application/json", gw->openapi, gw->openapi_len)
            : method_not_allowed(req, "GET, HEAD");
        break;
    case GW_ROUTE_STATIC:
        handle_static(gw, req, path);
        break;
    }
    return 0;
}

/* ---- filter and logger -------------------------------------------------- */

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    add_header(req, "content-security-policy", CSP);
    add_header(req, "x-content-type-options", "nosniff");
    add_header(req, "referrer-policy", "no-referrer");
    add_header(req, "x-frame-options", "DENY");
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_STRICT_TRANSPORT_SECURITY, NULL,
                   H2O_STRLIT("max-age=31536000"));
    h2o_setup_next_ostream(req, slot);
}

/* Logs the responses h2o makes itself (such as 413 before the handler runs). */
static void log_access(h2o_logger_t *self, h2o_req_t *req)
{
    log_request(worker_of(req), req, 0);
}

void gw_http_cleanup(gw_worker *w)
{
    gw_http_flush_log(w);
    uv_prepare_stop(&w->access_flush);
    while (w->spare_calls != NULL) {
        gw_call *call = w->spare_calls;
        w->spare_calls = call->next_spare;
        arena_free(&call->arena);
        free(call);
    }
    w->n_spare_calls = 0;
}

void gw_http_worker_setup(gw_worker *w)
{
    w->access_len = 0;
    uv_prepare_init(&w->loop, &w->access_flush);
    uv_prepare_start(&w->access_flush, on_access_flush);
    /* The flush alone must not keep the loop running. */
    uv_unref((uv_handle_t *)&w->access_flush);
}

void gw_http_setup(gateway *gw, int log_fd)
{
    gw->access_fd = log_fd;
    h2o_hostconf_t *host =
        h2o_config_register_host(&gw->h2o_config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *paths[2] = {h2o_config_register_path(host, "/", 0), &host->fallback_path};
    gw_handler *h = (gw_handler *)h2o_create_handler(paths[0], sizeof *h);
    h->super.on_req = on_req;
    h->gw = gw;
    for (int i = 0; i < 2; i++) {
        h2o_filter_t *f = h2o_create_filter(paths[i], sizeof *f);
        f->on_setup_ostream = on_setup_ostream;
    }
    /* Requests that reach the handler are logged when disposed (see on_req_disposed). */
    h2o_logger_t *l = h2o_create_logger(paths[1], sizeof *l);
    l->log_access = log_access;
}
