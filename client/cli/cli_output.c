/*
 * cli_output.c - everything the CLI prints: values formatted for people,
 * aligned tables, detail views, proto3 JSON, error lines and exit codes.
 *
 * Results go to stdout; errors, hints and warnings go to stderr so that
 * stdout stays parseable. Formatting is driven by field descriptors, so a new
 * message type needs no printing code.
 */
#include "cli.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "pjson.h"
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MEMBER(m, off) ((const void *)((const char *)(m) + (off)))

void cli_format_time(const ProtobufCMessage *m, int with_seconds, char *buf, size_t len)
{
    const Google__Protobuf__Timestamp *ts = (const Google__Protobuf__Timestamp *)m;
    buf[0] = '\0';
    if (ts == NULL || (ts->seconds == 0 && ts->nanos == 0))
        return;
    time_t t = (time_t)ts->seconds;
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL)
        return;
    strftime(buf, len, with_seconds ? "%Y-%m-%d %H:%M:%S %Z" : "%Y-%m-%d %H:%M", &tm);
}

static void format_one(const ProtobufCFieldDescriptor *fd, const void *v, char *buf, size_t len)
{
    buf[0] = '\0';
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING:
        snprintf(buf, len, "%s", *(char *const *)v ? *(char *const *)v : "");
        break;
    case PROTOBUF_C_TYPE_BOOL:
        snprintf(buf, len, "%s", *(const protobuf_c_boolean *)v ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(fd->descriptor, *(const int *)v);
        if (ev == NULL) {
            snprintf(buf, len, "%d", *(const int *)v);
        } else if (ev->value != 0) {
            cli_enum_label(fd->descriptor, ev, buf, len);
        }
        break;
    }
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(buf, len, "%" PRId32, *(const int32_t *)v);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(buf, len, "%" PRIu32, *(const uint32_t *)v);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, len, "%" PRId64, *(const int64_t *)v);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, len, "%" PRIu64, *(const uint64_t *)v);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        snprintf(buf, len, "%g", *(const double *)v);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        snprintf(buf, len, "%g", (double)*(const float *)v);
        break;
    case PROTOBUF_C_TYPE_BYTES:
        snprintf(buf, len, "<%zu bytes>", ((const ProtobufCBinaryData *)v)->len);
        break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)v;
        if (sub == NULL)
            break;
        if (sub->descriptor == &google__protobuf__timestamp__descriptor)
            cli_format_time(sub, 0, buf, len);
        else
            snprintf(buf, len, "<%s>", sub->descriptor->short_name);
        break;
    }
    }
}

/* Size in memory of one element of a repeated field. */
static size_t element_size(const ProtobufCFieldDescriptor *fd)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

void cli_format_field(const ProtobufCFieldDescriptor *fd, const void *member,
                      const ProtobufCMessage *owner, char *buf, size_t len)
{
    if (fd->label != PROTOBUF_C_LABEL_REPEATED) {
        format_one(fd, member, buf, len);
        return;
    }
    /* Lists print as "a, b, c"; the array pointer sits at the member. */
    size_t n = *(const size_t *)MEMBER(owner, fd->quantifier_offset);
    const char *arr = *(const char *const *)member;
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < len; i++) {
        char one[512];
        format_one(fd, arr + i * element_size(fd), one, sizeof one);
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", one);
        if (w < 0)
            break;
        used += (size_t)w < len - used ? (size_t)w : len - used - 1;
    }
}

int cli_print_json(const ProtobufCMessage *m)
{
    json_t *j = pjson_from_message(m);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (text == NULL)
        return cli_error("cannot format the response as JSON: out of memory");
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
    return CLI_EXIT_OK;
}

/* ---- detail view ---------------------------------------------------------- */

typedef struct detail_line {
    char key[128];
    char value[1024];
} detail_line;

typedef struct detail {
    detail_line *lines;
    size_t n, cap;
} detail;

static detail_line *detail_add(detail *d)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 32;
        detail_line *grown = realloc(d->lines, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        d->lines = grown;
        d->cap = cap;
    }
    return &d->lines[d->n++];
}

static void detail_walk(detail *d, const ProtobufCMessage *m, const char *prefix)
{
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &desc->fields[i];
        const void *member = MEMBER(m, fd->offset);
        if (fd->type == PROTOBUF_C_TYPE_MESSAGE && fd->label != PROTOBUF_C_LABEL_REPEATED) {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)member;
            if (sub == NULL)
                continue;
            if (sub->descriptor != &google__protobuf__timestamp__descriptor) {
                char nested[128];
                snprintf(nested, sizeof nested, "%s%s.", prefix, fd->name);
                detail_walk(d, sub, nested);
                continue;
            }
        }
        /* An unset oneof member is not part of the message. */
        if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)MEMBER(m, fd->quantifier_offset) != fd->id)
            continue;
        detail_line *l = detail_add(d);
        if (l == NULL)
            return;
        snprintf(l->key, sizeof l->key, "%s%s", prefix, fd->name);
        if (fd->type == PROTOBUF_C_TYPE_MESSAGE && fd->label == PROTOBUF_C_LABEL_REPEATED)
            snprintf(l->value, sizeof l->value, "%zu items",
                     *(const size_t *)MEMBER(m, fd->quantifier_offset));
        else if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
            cli_format_time(*(ProtobufCMessage *const *)member, 1, l->value, sizeof l->value);
        else
            cli_format_field(fd, member, m, l->value, sizeof l->value);
    }
}

void cli_print_detail(const ProtobufCMessage *m)
{
    detail d = {0};
    detail_walk(&d, m, "");
    size_t w = 0;
    for (size_t i = 0; i < d.n; i++)
        if (strlen(d.lines[i].key) > w)
            w = strlen(d.lines[i].key);
    for (size_t i = 0; i < d.n; i++)
        printf("%s:%*s %s\n", d.lines[i].key, (int)(w - strlen(d.lines[i].key)), "",
               d.lines[i].value);
    free(d.lines);
}

/* ---- tables ---------------------------------------------------------------- */

void cli_table_init(cli_table *t, const cli_column *cols)
{
    memset(t, 0, sizeof *t);
    t->cols = cols;
    while (cols[t->n_cols].header)
        t->n_cols++;
}

void cli_table_add(arena *a, cli_table *t, const ProtobufCMessage *item)
{
    if (t->n_rows == t->cap_rows) {
        size_t cap = t->cap_rows ? t->cap_rows * 2 : 64;
        char **grown = arena_alloc(a, cap * t->n_cols * sizeof(char *));
        if (t->n_rows)
            memcpy(grown, t->cells, t->n_rows * t->n_cols * sizeof(char *));
        t->cells = grown;
        t->cap_rows = cap;
    }
    char **row = t->cells + t->n_rows * t->n_cols;
    for (size_t c = 0; c < t->n_cols; c++) {
        const ProtobufCFieldDescriptor *fd;
        const void *member = cli_msg_get(item, t->cols[c].field, &fd);
        char buf[1024] = "";
        if (member) {
            /* cli_msg_get found the member inside the innermost message; a
             * repeated field needs that message for its count. */
            const char *dot = strrchr(t->cols[c].field, '.');
            const ProtobufCMessage *owner = item;
            if (dot) {
                char parent[128];
                snprintf(parent, sizeof parent, "%.*s", (int)(dot - t->cols[c].field),
                         t->cols[c].field);
                owner = *(ProtobufCMessage *const *)cli_msg_get(item, parent, NULL);
            }
            cli_format_field(fd, member, owner, buf, sizeof buf);
        }
        /* Empty cells show "-" so that every row has the same number of words. */
        row[c] = arena_strdup(a, buf[0] ? buf : "-");
    }
    t->n_rows++;
}

/* Display width of UTF-8 text: one column per code point. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

void cli_table_print(const cli_table *t)
{
    size_t width[32] = {0};
    size_t n_cols = t->n_cols < 32 ? t->n_cols : 32;
    for (size_t c = 0; c < n_cols; c++) {
        width[c] = text_width(t->cols[c].header);
        for (size_t r = 0; r < t->n_rows; r++) {
            size_t w = text_width(t->cells[r * t->n_cols + c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (size_t r = 0; r <= t->n_rows; r++) {
        for (size_t c = 0; c < n_cols; c++) {
            const char *cell = r == 0 ? t->cols[c].header : t->cells[(r - 1) * t->n_cols + c];
            if (c + 1 == n_cols)
                printf("%s\n", cell);
            else
                printf("%s%*s", cell, (int)(width[c] - text_width(cell) + 2), "");
        }
    }
}

/* ---- errors and exit codes ------------------------------------------------ */

static const struct {
    int code;
    int exit;
} exit_map[] = {
    {CC_OK, CLI_EXIT_OK},
    {CC_INVALID_ARGUMENT, CLI_EXIT_USAGE},
    {CC_OUT_OF_RANGE, CLI_EXIT_USAGE},
    {CC_UNAUTHENTICATED, CLI_EXIT_AUTH},
    {CC_PERMISSION_DENIED, CLI_EXIT_AUTH},
    {CC_NOT_FOUND, CLI_EXIT_NOT_FOUND},
    {CC_ABORTED, CLI_EXIT_CONFLICT},
    {CC_ALREADY_EXISTS, CLI_EXIT_CONFLICT},
    {CC_FAILED_PRECONDITION, CLI_EXIT_CONFLICT},
    {CC_UNAVAILABLE, CLI_EXIT_UNAVAILABLE},
    {CC_DEADLINE_EXCEEDED, CLI_EXIT_UNAVAILABLE},
    {CC_RESOURCE_EXHAUSTED, CLI_EXIT_UNAVAILABLE},
};

int cli_exit_for(int code)
{
    for (size_t i = 0; i < sizeof exit_map / sizeof exit_map[0]; i++)
        if (exit_map[i].code == code)
            return exit_map[i].exit;
    return CLI_EXIT_ERROR;
}

int cli_fail_status(const cli_ctx *ctx, const cc_status *st, int code)
{
    const char *msg = st && st->message && st->message[0] ? st->message : "";
    fprintf(stderr, "concord: %s%s%s\n", cc_code_name(code), msg[0] ? ": " : "", msg);
    for (size_t i = 0; st && i < st->n_violations; i++) {
        const Concord__V1__FieldViolation *v = st->violations[i];
        size_t fl = strlen(v->field);
        /* A message that is this very violation need not be said twice. */
        if (st->n_violations == 1 && strncmp(msg, v->field, fl) == 0 && msg[fl] == ':' &&
            strcmp(msg + fl + (msg[fl + 1] == ' ' ? 2 : 1), v->description) == 0)
            continue;
        fprintf(stderr, "  %s: %s\n", v->field, v->description);
    }
    /* A failed login needs no advice to log in. */
    if (code == CC_UNAUTHENTICATED && !(ctx->cmd && (ctx->cmd->opts & CLI_C_NOAUTH))) {
        if (getenv("CONCORD_TOKEN") && getenv("CONCORD_TOKEN")[0])
            fprintf(stderr, "concord: the token in CONCORD_TOKEN was refused\n");
        else if (strcmp(ctx->profile_name, "default") == 0)
            fprintf(stderr, "concord: run 'concord login' to sign in\n");
        else
            fprintf(stderr, "concord: run 'concord --profile %s login' to sign in\n",
                    ctx->profile_name);
    }
    return cli_exit_for(code);
}

int cli_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("concord: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("concord: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_EXIT_ERROR;
}
