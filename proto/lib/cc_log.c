/*
 * cc_log.c - logfmt lines with escaping.
 */
#include "cc_log.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int min_level = LOG_INFO;
static int out_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(int level, int fd)
{
    min_level = level;
    out_fd = fd;
}

int log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

int log_enabled(int level)
{
    return level >= min_level;
}

typedef struct {
    char buf[4096];
    size_t len;
} line;

static void put(line *l, const char *s, size_t n)
{
    if (n > sizeof(l->buf) - 2 - l->len)
        n = sizeof(l->buf) - 2 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

size_t log_value_write(char *out, const char *v, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = 0;
    while (len < n && v[len] != '\0')
        len++;
    int quote = len == 0;
    for (size_t i = 0; i < len && !quote; i++)
        if (v[i] == ' ' || v[i] == '=' || v[i] == '"' || (unsigned char)v[i] < 0x20)
            quote = 1;
    char *w = out;
    if (quote)
        *w++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            *w++ = '\\';
            *w++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20 || c == 0x7f) {
            *w++ = '\\';
            *w++ = 'x';
            *w++ = hex[c >> 4];
            *w++ = hex[c & 15];
        } else {
            *w++ = (char)c;
        }
    }
    if (quote)
        *w++ = '"';
    return (size_t)(w - out);
}

/* Appends v as a value; a value too long for what is left of the line is cut. */
static void put_value(line *l, const char *v)
{
    if (v == NULL)
        v = "";
    size_t room = sizeof(l->buf) - 2 - l->len; /* the newline stays possible */
    if (room < 2)
        return;
    size_t n = strlen(v);
    if (4 * n + 2 > room)
        n = (room - 2) / 4;
    l->len += log_value_write(l->buf + l->len, v, n);
}

static void start(line *l, int level, const char *event)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    l->len = 0;
    char head[96];
    int n = snprintf(head, sizeof(head),
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level & 3]);
    put(l, head, (size_t)n);
    put_value(l, event);
}

static void finish(line *l)
{
    l->buf[l->len++] = '\n';
    ssize_t w = write(out_fd, l->buf, l->len);
    (void)w;
}

void log_event(int level, const char *event, ...)
{
    if (level < min_level)
        return;
    line l;
    start(&l, level, event);
    va_list ap;
    va_start(ap, event);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(ap, const char *);
        put(&l, " ", 1);
        put(&l, k, strlen(k));
        put(&l, "=", 1);
        put_value(&l, v);
    }
    va_end(ap);
    finish(&l);
}

void log_eventf(int level, const char *event, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    line l;
    start(&l, level, event);
    put(&l, " msg=", 5);
    put_value(&l, msg);
    finish(&l);
}
