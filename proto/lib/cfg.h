/*
 * cfg.h - one configuration table drives parsing, defaults, environment
 * overrides, command-line flags and --help (after PgBouncer's CfKey).
 *
 * Precedence, lowest first: the table's defaults, the INI file, environment
 * variables PREFIX_SECTION_NAME (e.g. CONCORD_SERVER_LISTEN), flags
 * --section.name=value (or --section.name value).
 */
#ifndef CFG_H
#define CFG_H

#include "cc_error.h"
#include <stddef.h>
#include <stdio.h>

typedef enum {
    CFG_STR,  /* char *, malloc'ed (NULL when empty) */
    CFG_INT,  /* int */
    CFG_BOOL, /* int: true/false, yes/no, on/off, 1/0 */
    CFG_SIZE, /* size_t: bytes with optional k/M/G suffix (1024-based) */
    CFG_MS,   /* unsigned: milliseconds with optional ms/s/m/h suffix (default ms) */
} cfg_type;

typedef struct cfg_key {
    const char *section; /* INI section, e.g. "server" */
    const char *name;    /* key, e.g. "listen" */
    cfg_type type;
    size_t offset;    /* offsetof the field in the settings struct */
    const char *def;  /* default as text; NULL for none */
    const char *help; /* one line for --help */
    long min, max;    /* bounds for CFG_INT / CFG_SIZE / CFG_MS (both 0: none) */
} cfg_key;

/**
 * Fills settings (a struct the table describes) from defaults, the INI file
 * named by --config FILE (or config_file when no flag; NULL for none), the
 * environment with env_prefix and the flags in argv. Flags not in the table
 * are left in argv: on return *argc counts the remaining arguments (argv[0]
 * kept). Returns 0 or CC_ECONFIG with a message naming the key in err.
 */
int cfg_load(const cfg_key *keys, void *settings, const char *env_prefix, const char *config_file,
             int *argc, char **argv, char *err, size_t errlen) CC_MUST_CHECK;
/** Sets one key from text ("section.name", value). Returns 0 or CC_ECONFIG. */
int cfg_set(const cfg_key *keys, void *settings, const char *dotted, const char *value, char *err,
            size_t errlen) CC_MUST_CHECK;
/** Prints every key with its default, environment name and help. */
void cfg_help(const cfg_key *keys, const char *env_prefix, FILE *out);
/** Frees the strings the table owns in settings. */
void cfg_free(const cfg_key *keys, void *settings);

#endif
