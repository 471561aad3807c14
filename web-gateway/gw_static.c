/*
 * gw_static.c - loads the portal folder into memory and looks files up.
 *
 * Invariant: every path in the set starts with '/' and has no "." or ".."
 * segment and no hidden name, because the set is built by walking the folder,
 * not by joining request paths onto it.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "gw_static.h"

#define MAX_FILES 512
#define MAX_DEPTH 4
#define MAX_FILE_SIZE (8u * 1024 * 1024)

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

const char *gw_static_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot != NULL)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static int read_file(const char *fs_path, char **data, size_t *len)
{
    int rc = CC_EIO;
    FILE *f = fopen(fs_path, "rb");
    struct stat st;
    char *buf = NULL;
    if (f == NULL)
        return CC_EIO;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || (size_t)st.st_size > MAX_FILE_SIZE) {
        rc = CC_ETOOBIG;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = CC_ENOMEM;
        goto out;
    }
    if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        goto out;
    *data = buf;
    *len = (size_t)st.st_size;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    fclose(f);
    return rc;
}

static int walk(gw_static *s, const char *fs_dir, const char *url_dir, int depth)
{
    int rc = 0;
    DIR *d = opendir(fs_dir);
    struct dirent *e;
    if (d == NULL)
        return CC_ENOTFOUND;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char fs_path[4096], url[1024];
        struct stat st;
        if ((size_t)snprintf(fs_path, sizeof fs_path, "%s/%s", fs_dir, e->d_name) >=
                sizeof fs_path ||
            (size_t)snprintf(url, sizeof url, "%s/%s", url_dir, e->d_name) >= sizeof url)
            continue;
        if (stat(fs_path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth + 1 < MAX_DEPTH && (rc = walk(s, fs_path, url, depth + 1)) != 0 &&
                rc != CC_ENOTFOUND)
                goto out;
            rc = 0;
            continue;
        }
        if (!S_ISREG(st.st_mode) || s->n >= MAX_FILES)
            continue;
        gw_static_file f = {0};
        if ((rc = read_file(fs_path, &f.data, &f.len)) != 0)
            goto out;
        f.path = strdup(url);
        if (f.path == NULL) {
            free(f.data);
            rc = CC_ENOMEM;
            goto out;
        }
        f.type = gw_static_type(e->d_name);
        s->files[s->n++] = f;
    }
out:
    closedir(d);
    return rc;
}

int gw_static_load(const char *dir, gw_static *out)
{
    out->n = 0;
    out->files = calloc(MAX_FILES, sizeof *out->files);
    if (out->files == NULL)
        return CC_ENOMEM;
    return walk(out, dir, "", 0);
}

const gw_static_file *gw_static_find(const gw_static *s, const char *path, size_t len)
{
    if (len == 1 && path[0] == '/') {
        path = "/index.html";
        len = strlen(path);
    }
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->files[i].path) == len && memcmp(s->files[i].path, path, len) == 0)
            return &s->files[i];
    return NULL;
}

void gw_static_free(gw_static *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->files[i].path);
        free(s->files[i].data);
    }
    free(s->files);
    s->files = NULL;
    s->n = 0;
}
