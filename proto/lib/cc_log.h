/*
 * cc_log.h - structured logs: one line per event, logfmt key=value pairs,
 * UTC timestamps, values quoted and escaped (line breaks never split a line).
 *
 *   ts=2026-11-22T10:00:00.123Z level=info event=ready addr=127.0.0.1:7433
 *
 * Thread-safe: each line is formatted in a local buffer and written with one
 * write(2). Never log secrets (passwords, tokens).
 */
#ifndef CC_LOG_H
#define CC_LOG_H

#include <stddef.h>

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/** Sets the lowest level written and the output fd (default: info, stderr). */
void log_setup(int level, int fd);
/** Parses "debug|info|warn|error"; returns -1 if unknown. */
int log_level_parse(const char *s);
/** True when lines of this level are written. */
int log_enabled(int level);
/**
 * Writes one event with key/value pairs: a NULL-terminated list of
 * const char * alternating key and value (a NULL value is written as "").
 */
void log_event(int level, const char *event, ...) __attribute__((sentinel));
/**
 * Writes the first n bytes of v (fewer when a NUL comes first) into out as
 * log_event writes a value: quoted when empty or holding a space, '=', '"' or
 * a control character; quotes, backslashes and control characters escaped.
 * out needs room for 4 * n + 2 bytes. Returns the bytes written (no NUL).
 * For code that builds log lines of its own in the same format.
 */
size_t log_value_write(char *out, const char *v, size_t n);
/** Writes one event with a printf-formatted msg= field. */
void log_eventf(int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
