/*
 * concord_conn.c - the blocking libconcord layer: a cc_client on a private
 * loop, run until the answer is there.
 *
 * Invariants:
 *  - The private loop runs only inside cc_connect, cc_invoke*, cc_conn_start,
 *    cc_conn_poll and cc_conn_free, so callbacks never run behind the
 *    caller's back.
 *  - cli is NULL or a client that connected once; a client found lost at the
 *    start of a call is closed and replaced by a new connection, once per
 *    call. A call that fails after it was sent is never repeated: it may have
 *    taken effect.
 *  - The last call's status (message and violations) is owned by the conn
 *    and kept until the next call or cc_conn_free.
 */
#include "concord_client.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cc_conn {
    uv_loop_t loop;
    cc_options opts; /* strings below are owned copies */
    char *host, *ca_file, *server_name, *cert_file, *key_file;
    cc_client *cli;
    char *token;
    char *idem; /* idempotency key for the next call only */
    /* connect in progress */
    int connect_done;
    int connect_status;
    /* call in progress and its outcome */
    int call_done;
    char *msg; /* owned copy of the status message, or NULL */
    Concord__V1__FieldViolation **viol;
    size_t n_viol;
    uint8_t *resp;
    size_t resp_len;
    cc_status st;
    char err[512];
};

static char *dup_or_null(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

static void status_reset(cc_conn *c)
{
    free(c->msg);
    c->msg = NULL;
    for (size_t i = 0; i < c->n_viol; i++) {
        free(c->viol[i]->field);
        free(c->viol[i]->description);
        free(c->viol[i]);
    }
    free(c->viol);
    c->viol = NULL;
    c->n_viol = 0;
    free(c->resp);
    c->resp = NULL;
    c->resp_len = 0;
    c->st = (cc_status){.code = CC_OK, .message = ""};
}

/* Records an outcome the library itself produced (not a server reply). */
static int status_local(cc_conn *c, int code, const char *message)
{
    status_reset(c);
    c->msg = dup_or_null(message);
    c->st.code = code;
    c->st.message = c->msg ? c->msg : "out of memory";
    return code;
}

/* Runs the loop until every handle is closed (after cc_client_close). */
static void drain(cc_conn *c)
{
    uv_run(&c->loop, UV_RUN_DEFAULT);
}

static void drop_client(cc_conn *c)
{
    if (c->cli != NULL) {
        cc_client_close(c->cli);
        c->cli = NULL;
        drain(c);
    }
}

static void on_connected(cc_client *cli, int status, void *ud)
{
    cc_conn *c = ud;
    c->connect_done = 1;
    c->connect_status = status;
    if (status < 0)
        snprintf(c->err, sizeof(c->err), "%s", cc_client_error(cli));
}

/* Opens a fresh connection. Returns 0 or CC_E*, with the reason in c->err. */
static int connect_once(cc_conn *c)
{
    c->err[0] = '\0';
    int rc = cc_client_new(&c->loop, &c->opts, &c->cli);
    if (rc < 0) {
        snprintf(c->err, sizeof(c->err), "cannot create client: %s", cc_strerror(rc));
        c->cli = NULL;
        return rc;
    }
    c->connect_done = 0;
    rc = cc_client_connect(c->cli, on_connected, c);
    if (rc < 0) {
        snprintf(c->err, sizeof(c->err), "%s", cc_client_error(c->cli));
        drop_client(c);
        return rc;
    }
    while (!c->connect_done)
        uv_run(&c->loop, UV_RUN_ONCE);
    if (c->connect_status < 0) {
        drop_client(c);
        return c->connect_status;
    }
    return 0;
}

int cc_connect(const cc_options *o, cc_conn **out, char *err, size_t errlen)
{
    static const cc_options none;
    if (o == NULL)
        o = &none;
    /* A write to a dropped connection must be an error, not the end of the program. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    int rc = CC_ENOMEM;
    cc_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto fail;
    if (uv_loop_init(&c->loop) != 0) {
        free(c);
        c = NULL;
        rc = CC_EIO;
        goto fail;
    }
    c->opts = *o;
    c->host = dup_or_null(o->host);
    c->ca_file = dup_or_null(o->ca_file);
    c->server_name = dup_or_null(o->server_name);
    c->cert_file = dup_or_null(o->cert_file);
    c->key_file = dup_or_null(o->key_file);
    if ((o->host && !c->host) || (o->ca_file && !c->ca_file) ||
        (o->server_name && !c->server_name) || (o->cert_file && !c->cert_file) ||
        (o->key_file && !c->key_file))
        goto fail;
    c->opts.host = c->host;
    c->opts.ca_file = c->ca_file;
    c->opts.server_name = c->server_name;
    c->opts.cert_file = c->cert_file;
    c->opts.key_file = c->key_file;
    c->st = (cc_status){.code = CC_OK, .message = ""};
    rc = connect_once(c);
    if (rc < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", c && c->err[0] ? c->err : cc_strerror(rc));
    cc_conn_free(c);
    *out = NULL;
    return rc;
}

void cc_conn_set_token(cc_conn *c, const char *token)
{
    free(c->token);
    c->token = dup_or_null(token);
}

void cc_conn_set_idempotency_key(cc_conn *c, const char *key)
{
    free(c->idem);
    c->idem = dup_or_null(key);
}

static void on_reply(cc_client *cli, const cc_status *st, const uint8_t *payload, size_t len,
                     void *ud)
{
    cc_conn *c = ud;
    status_reset(c);
    c->call_done = 1;
    c->st.code = st->code;
    c->msg = dup_or_null(st->message);
    c->st.message = c->msg ? c->msg : "";
    if (st->n_violations > 0) {
        c->viol = calloc(st->n_violations, sizeof(*c->viol));
        for (size_t i = 0; c->viol != NULL && i < st->n_violations; i++) {
            Concord__V1__FieldViolation *v = malloc(sizeof(*v));
            if (v == NULL)
                break;
            concord__v1__field_violation__init(v);
            v->field = dup_or_null(st->violations[i]->field);
            v->description = dup_or_null(st->violations[i]->description);
            if (v->field == NULL || v->description == NULL) {
                free(v->field);
                free(v->description);
                free(v);
                break;
            }
            c->viol[c->n_viol++] = v;
        }
        c->st.n_violations = c->n_viol;
        c->st.violations = (const Concord__V1__FieldViolation *const *)c->viol;
    }
    if (st->code == CC_OK) {
        /* One byte more, so an empty response still gets a buffer of its own. */
        c->resp = malloc(len + 1);
        if (c->resp == NULL) {
            status_local(c, CC_RESOURCE_EXHAUSTED, "out of memory for the response");
            c->call_done = 1;
            return;
        }
        memcpy(c->resp, payload, len);
        c->resp_len = len;
    }
}

int cc_invoke_raw(cc_conn *c, const char *method, const uint8_t *payload, size_t len,
                  uint8_t **resp, size_t *resp_len, const cc_status **st)
{
    char *idem = c->idem;
    c->idem = NULL;
    if (resp != NULL)
        *resp = NULL;
    if (resp_len != NULL)
        *resp_len = 0;
    if (st != NULL)
        *st = &c->st;
    status_reset(c);

    /* Notice a server that went away since the last call (EOF already queued). */
    if (c->cli != NULL)
        uv_run(&c->loop, UV_RUN_NOWAIT);
    if (c->cli == NULL || !cc_client_ready(c->cli)) {
        drop_client(c);
        if (connect_once(c) < 0) {
            free(idem);
            return status_local(c, CC_UNAVAILABLE, c->err);
        }
    }
    c->call_done = 0;
    int rc = cc_client_call(c->cli, method, payload, len, c->token, idem, 0, on_reply, c);
    free(idem);
    if (rc < 0) {
        if (rc == CC_ETOOBIG)
            return status_local(c, CC_RESOURCE_EXHAUSTED, "request larger than the frame limit");
        if (rc == CC_ENOMEM)
            return status_local(c, CC_RESOURCE_EXHAUSTED, "out of memory");
        if (rc == CC_EINVAL)
            return status_local(c, CC_INVALID_ARGUMENT, "no method given");
        return status_local(c, CC_UNAVAILABLE, "connection lost");
    }
    while (!c->call_done)
        uv_run(&c->loop, UV_RUN_ONCE);
    if (c->st.code == CC_OK && resp != NULL) {
        *resp = c->resp;
        c->resp = NULL;
        if (resp_len != NULL)
            *resp_len = c->resp_len;
    }
    return c->st.code;
}

int cc_invoke(cc_conn *c, const char *method, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
              const cc_status **st)
{
    if (resp != NULL)
        *resp = NULL;
    if (st != NULL)
        *st = &c->st;
    size_t n = req ? protobuf_c_message_get_packed_size(req) : 0;
    uint8_t *buf = malloc(n + 1);
    if (buf == NULL) {
        free(c->idem);
        c->idem = NULL;
        return status_local(c, CC_RESOURCE_EXHAUSTED, "out of memory");
    }
    if (req != NULL)
        protobuf_c_message_pack(req, buf);
    uint8_t *out = NULL;
    size_t out_len = 0;
    int code = cc_invoke_raw(c, method, buf, n, &out, &out_len, st);
    free(buf);
    if (code != CC_OK || resp_desc == NULL || resp == NULL) {
        free(out);
        return code;
    }
    *resp = protobuf_c_message_unpack(resp_desc, NULL, out_len, out);
    free(out);
    if (*resp == NULL) {
        char m[200];
        snprintf(m, sizeof(m), "cannot decode the %s in the reply", resp_desc->name);
        return status_local(c, CC_INTERNAL, m);
    }
    return CC_OK;
}

int cc_conn_start(cc_conn *c, const char *method, const uint8_t *payload, size_t len,
                  cc_reply_cb cb, void *ud)
{
    char *idem = c->idem;
    c->idem = NULL;
    /* Notice a server that went away; calls already in flight then end with
     * UNAVAILABLE in their callbacks, so a new connection is made only when
     * none is left on the old one. */
    if (c->cli != NULL)
        uv_run(&c->loop, UV_RUN_NOWAIT);
    if (c->cli == NULL || !cc_client_ready(c->cli)) {
        if (c->cli != NULL && cc_client_in_flight(c->cli) > 0) {
            free(idem);
            return CC_ECLOSED;
        }
        drop_client(c);
        if (connect_once(c) < 0) {
            free(idem);
            return CC_ECLOSED;
        }
    }
    int rc = cc_client_call(c->cli, method, payload, len, c->token, idem, 0, cb, ud);
    free(idem);
    /* The caller may do other work (read its input) before it polls again. */
    if (rc == 0)
        cc_client_flush(c->cli);
    return rc;
}

size_t cc_conn_poll(cc_conn *c, int wait)
{
    if (c->cli == NULL)
        return 0;
    size_t n = cc_client_in_flight(c->cli);
    uv_run(&c->loop, wait && n > 0 ? UV_RUN_ONCE : UV_RUN_NOWAIT);
    return c->cli ? cc_client_in_flight(c->cli) : 0;
}

void cc_conn_free(cc_conn *c)
{
    if (c == NULL)
        return;
    drop_client(c);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&c->loop);
    status_reset(c);
    free(c->token);
    free(c->idem);
    free(c->host);
    free(c->ca_file);
    free(c->server_name);
    free(c->cert_file);
    free(c->key_file);
    free(c);
}
