/*
 * gw_static.h - the portal's static files, read into memory once at start.
 *
 * Serving from memory keeps file I/O off the loop thread and makes directory
 * traversal impossible by construction: only files found under the portal
 * folder at start can ever be answered.
 */
#ifndef GW_STATIC_H
#define GW_STATIC_H

#include <stddef.h>
#include "cc_error.h"

typedef struct gw_static_file {
    char *path;        /* URL path, e.g. "/app.js" */
    char *data;
    size_t len;
    const char *type;  /* Content-Type */
} gw_static_file;

typedef struct gw_static {
    gw_static_file *files;
    size_t n;
} gw_static;

/**
 * Reads the regular files under dir (hidden names skipped, at most 4 levels,
 * 512 files of at most 8 MiB each). Returns 0 or CC_E* (CC_ENOTFOUND when dir
 * cannot be opened); *out is then empty but usable.
 */
int gw_static_load(const char *dir, gw_static *out) CC_MUST_CHECK;

/** Finds the file served at path (len bytes); "/" means "/index.html". NULL if none. */
const gw_static_file *gw_static_find(const gw_static *s, const char *path, size_t len);

/** Content-Type for a file name, by extension. */
const char *gw_static_type(const char *name);

/** Frees every file. Accepts an empty set. */
void gw_static_free(gw_static *s);

#endif
