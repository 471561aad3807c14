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

static void put_value(line *l, const char *v)
{
    if (v == NULL)
        v = "";
    int quote = *v == '\0';
    for (const char *p = v; *p && !quote; p++)
        if (*p == ' ' || *p == '=' || *p == '"' || (unsigned char)*p < 0x20)
            quote = 1;
    if (quote)
        put(l, "\"", 1);
    for (const char *p = v; *p; p++) {
        char esc[8];
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            put(l, esc, 2);
        } else if (c == '\n') {
            put(l, "\\n", 2);
        } else if (c == '\r') {
            put(l, "\\r", 2);
        } else if (c == '\t') {
            put(l, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            int n = snprintf(esc, sizeof(esc), "\\x%02x", c);
            put(l, esc, (size_t)n);
        } else {
            put(l, (const char *)p, 1);
        }
    }
    if (quote)
        put(l, "\"", 1);
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
