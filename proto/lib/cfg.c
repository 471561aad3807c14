/*
 * cfg.c - table-driven configuration over inih.
 */
#include "cfg.h"
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FIELD(base, k) ((char *)(base) + (k)->offset)

static const cfg_key *find_key(const cfg_key *keys, const char *section, const char *name)
{
    for (const cfg_key *k = keys; k->name != NULL; k++)
        if (strcmp(k->section, section) == 0 && strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

static int parse_suffixed(const char *v, unsigned long long *out, int ms)
{
    while (isspace((unsigned char)*v))
        v++;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || errno != 0 || *v == '-')
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    unsigned long long mul = 1;
    if (ms) {
        if (*end == '\0' || strcmp(end, "ms") == 0)
            mul = 1;
        else if (strcmp(end, "s") == 0)
            mul = 1000;
        else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
            mul = 60000;
        else if (strcmp(end, "h") == 0)
            mul = 3600000;
        else
            return -1;
    } else {
        if (*end == '\0')
            mul = 1;
        else if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kb") == 0)
            mul = 1024;
        else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mb") == 0)
            mul = 1024 * 1024;
        else if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gb") == 0)
            mul = 1024ull * 1024 * 1024;
        else
            return -1;
    }
    if (n > ULLONG_MAX / mul)
        return -1;
    *out = n * mul;
    return 0;
}

static int set_value(const cfg_key *k, void *base, const char *v, char *err, size_t errlen)
{
    void *f = FIELD(base, k);
    unsigned long long u;
    switch (k->type) {
    case CFG_STR: {
        char **s = f;
        free(*s);
        *s = (v && *v) ? strdup(v) : NULL;
        return 0;
    }
    case CFG_BOOL:
        if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") ||
            !strcmp(v, "1")) {
            *(int *)f = 1;
            return 0;
        }
        if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
            !strcmp(v, "0")) {
            *(int *)f = 0;
            return 0;
        }
        snprintf(err, errlen, "%s.%s: expected true or false, got \"%s\"", k->section, k->name, v);
        return CC_ECONFIG;
    case CFG_INT: {
        errno = 0;
        char *end;
        long n = strtol(v, &end, 10);
        if (end == v || *end != '\0' || errno != 0 || n < INT_MIN || n > INT_MAX) {
            snprintf(err, errlen, "%s.%s: expected an integer, got \"%s\"", k->section, k->name, v);
            return CC_ECONFIG;
        }
        if ((k->min || k->max) && (n < k->min || n > k->max)) {
            snprintf(err, errlen, "%s.%s: %ld is outside %ld..%ld", k->section, k->name, n, k->min,
                     k->max);
            return CC_ECONFIG;
        }
        *(int *)f = (int)n;
        return 0;
    }
    case CFG_SIZE:
    case CFG_MS:
        if (parse_suffixed(v, &u, k->type == CFG_MS) != 0) {
            snprintf(err, errlen, "%s.%s: expected %s, got \"%s\"", k->section, k->name,
                     k->type == CFG_MS ? "a duration such as 500ms, 30s, 5m"
                                       : "a size such as 65536, 64k, 4M",
                     v);
            return CC_ECONFIG;
        }
        if ((k->min || k->max) &&
            (u < (unsigned long long)k->min || u > (unsigned long long)k->max)) {
            snprintf(err, errlen, "%s.%s: %llu is outside %ld..%ld", k->section, k->name, u, k->min,
                     k->max);
            return CC_ECONFIG;
        }
        if (k->type == CFG_MS) {
            if (u > UINT_MAX) {
                snprintf(err, errlen, "%s.%s: too large", k->section, k->name);
                return CC_ECONFIG;
            }
            *(unsigned *)f = (unsigned)u;
        } else {
            *(size_t *)f = (size_t)u;
        }
        return 0;
    }
    return CC_ECONFIG;
}

int cfg_set(const cfg_key *keys, void *settings, const char *dotted, const char *value, char *err,
            size_t errlen)
{
    const char *dot = strchr(dotted, '.');
    char section[64];
    if (dot == NULL || (size_t)(dot - dotted) >= sizeof(section)) {
        snprintf(err, errlen, "unknown setting \"%s\" (expected section.name)", dotted);
        return CC_ECONFIG;
    }
    memcpy(section, dotted, (size_t)(dot - dotted));
    section[dot - dotted] = '\0';
    const cfg_key *k = find_key(keys, section, dot + 1);
    if (k == NULL) {
        snprintf(err, errlen, "unknown setting \"%s\"", dotted);
        return CC_ECONFIG;
    }
    return set_value(k, settings, value, err, errlen);
}

typedef struct {
    const cfg_key *keys;
    void *settings;
    char *err;
    size_t errlen;
    const char *file;
    int failed;
} ini_state;

static int on_ini(void *ud, const char *section, const char *name, const char *value)
{
    ini_state *st = ud;
    if (st->failed)
        return 0;
    const cfg_key *k = find_key(st->keys, section, name);
    if (k == NULL) {
        snprintf(st->err, st->errlen, "%s: unknown setting [%s] %s", st->file, section, name);
        st->failed = 1;
        return 0;
    }
    char msg[512];
    if (set_value(k, st->settings, value, msg, sizeof(msg)) != 0) {
        snprintf(st->err, st->errlen, "%s: %s", st->file, msg);
        st->failed = 1;
        return 0;
    }
    return 1;
}

static void env_name(const char *prefix, const cfg_key *k, char *buf, size_t len)
{
    snprintf(buf, len, "%s_%s_%s", prefix, k->section, k->name);
    for (char *p = buf; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

int cfg_load(const cfg_key *keys, void *settings, const char *env_prefix, const char *config_file,
             int *argc, char **argv, char *err, size_t errlen)
{
    for (const cfg_key *k = keys; k->name != NULL; k++)
        if (k->def != NULL && set_value(k, settings, k->def, err, errlen) != 0)
            return CC_ECONFIG;

    /* The config file comes from --config (flag) first, then the caller's default. */
    const char *file = config_file;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < *argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
    }
    if (file != NULL) {
        ini_state st = {keys, settings, err, errlen, file, 0};
        int rc = ini_parse(file, on_ini, &st);
        if (st.failed)
            return CC_ECONFIG;
        if (rc < 0) {
            snprintf(err, errlen, "%s: cannot read the file", file);
            return CC_ECONFIG;
        }
        if (rc > 0) {
            snprintf(err, errlen, "%s:%d: syntax error", file, rc);
            return CC_ECONFIG;
        }
    }

    for (const cfg_key *k = keys; k->name != NULL; k++) {
        char name[128];
        env_name(env_prefix, k, name, sizeof(name));
        const char *v = getenv(name);
        if (v != NULL && set_value(k, settings, v, err, errlen) != 0)
            return CC_ECONFIG;
    }

    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0 && i + 1 < *argc) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0)
            continue;
        if (strncmp(a, "--", 2) == 0 && strchr(a, '.') != NULL) {
            char dotted[128];
            const char *eq = strchr(a, '=');
            const char *value;
            size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            if (n >= sizeof(dotted))
                n = sizeof(dotted) - 1;
            memcpy(dotted, a + 2, n);
            dotted[n] = '\0';
            if (eq) {
                value = eq + 1;
            } else if (i + 1 < *argc) {
                value = argv[++i];
            } else {
                snprintf(err, errlen, "%s needs a value", a);
                return CC_ECONFIG;
            }
            if (cfg_set(keys, settings, dotted, value, err, errlen) != 0)
                return CC_ECONFIG;
            continue;
        }
        argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

void cfg_help(const cfg_key *keys, const char *env_prefix, FILE *out)
{
    const char *section = "";
    for (const cfg_key *k = keys; k->name != NULL; k++) {
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            fprintf(out, "\n[%s]\n", section);
        }
        char env[128];
        env_name(env_prefix, k, env, sizeof(env));
        fprintf(out, "  --%s.%s=VALUE  (%s, default %s)\n      %s\n", k->section, k->name, env,
                k->def && *k->def ? k->def : "none", k->help);
    }
}

void cfg_free(const cfg_key *keys, void *settings)
{
    for (const cfg_key *k = keys; k->name != NULL; k++) {
        if (k->type == CFG_STR) {
            char **s = (char **)FIELD(settings, k);
            free(*s);
            *s = NULL;
        }
    }
}
