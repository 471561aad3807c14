/*
 * cli_config.c - the CLI's profiles and stored session tokens.
 *
 * Settings come from, lowest precedence first: built-in defaults, the
 * profile's section of $XDG_CONFIG_HOME/concord/config (INI, parsed with
 * inih), CONCORD_* environment variables, then --server/--ca-file/
 * --server-name flags. A session token is stored per profile in
 * $XDG_CONFIG_HOME/concord/tokens/<profile>: the directory is 0700, the file
 * 0600, and it is replaced atomically (temporary file, fsync, rename) so a
 * crash never leaves half a token behind.
 */
#include "cli.h"
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_SERVER "127.0.0.1:7433"

/* The configuration folder: $XDG_CONFIG_HOME/concord, else ~/.config/concord. */
static char *config_dir(cli_ctx *ctx)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    /* The base directory specification says relative paths are to be ignored. */
    if (xdg && xdg[0] == '/')
        return arena_printf(&ctx->arena, "%s/concord", xdg);
    const char *home = getenv("HOME");
    if (home == NULL || home[0] == '\0')
        return NULL;
    return arena_printf(&ctx->arena, "%s/.config/concord", home);
}

typedef struct ini_state {
    cli_ctx *ctx;
    int found;         /* the profile's section was seen */
    char bad_key[128]; /* first unknown key, reported after parsing */
} ini_state;

static const struct {
    const char *key;
    size_t offset;
} profile_keys[] = {
    {"server", offsetof(cli_profile, server)},
    {"ca_file", offsetof(cli_profile, ca_file)},
    {"server_name", offsetof(cli_profile, server_name)},
    {"cert_file", offsetof(cli_profile, cert_file)},
    {"key_file", offsetof(cli_profile, key_file)},
};

#define N_PROFILE_KEYS (sizeof profile_keys / sizeof profile_keys[0])

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    ini_state *s = user;
    if (strcmp(section, s->ctx->profile_name) != 0)
        return 1;
    s->found = 1;
    for (size_t i = 0; i < N_PROFILE_KEYS; i++) {
        if (strcmp(name, profile_keys[i].key) == 0) {
            char **slot = (char **)((char *)&s->ctx->profile + profile_keys[i].offset);
            *slot = arena_strdup(&s->ctx->arena, value);
            return 1;
        }
    }
    if (s->bad_key[0] == '\0')
        snprintf(s->bad_key, sizeof s->bad_key, "%s", name);
    return 1;
}

/* A profile name becomes a file name: keep it to a safe alphabet. */
static int profile_name_ok(const char *p)
{
    if (p[0] == '\0' || p[0] == '.' || strlen(p) > 64)
        return 0;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

int cli_config_load(cli_ctx *ctx)
{
    if (ctx->profile_name == NULL) {
        const char *env = getenv("CONCORD_PROFILE");
        ctx->profile_name = env && env[0] ? env : "default";
    }
    if (!profile_name_ok(ctx->profile_name))
        return cli_usage("--profile: '%s' is not a valid profile name (use letters, digits, "
                         "'.', '_' and '-')",
                         ctx->profile_name);

    char *dir = config_dir(ctx);
    char *file = dir ? arena_printf(&ctx->arena, "%s/config", dir) : NULL;
    ini_state s = {.ctx = ctx};
    if (file && access(file, F_OK) == 0) {
        int rc = ini_parse(file, on_ini, &s);
        if (rc < 0)
            return cli_error("%s: cannot read: %s", file, strerror(errno));
        if (rc > 0)
            return cli_error("%s:%d: syntax error", file, rc);
        if (s.bad_key[0])
            return cli_error("%s: [%s]: unknown key '%s' (expected server, ca_file, "
                             "server_name, cert_file or key_file)",
                             file, ctx->profile_name, s.bad_key);
    }

    static const struct {
        const char *env;
        size_t offset;
    } env_keys[] = {
        {"CONCORD_SERVER", offsetof(cli_profile, server)},
        {"CONCORD_CA_FILE", offsetof(cli_profile, ca_file)},
        {"CONCORD_SERVER_NAME", offsetof(cli_profile, server_name)},
    };
    for (size_t i = 0; i < sizeof env_keys / sizeof env_keys[0]; i++) {
        const char *v = getenv(env_keys[i].env);
        if (v && v[0])
            *(char **)((char *)&ctx->profile + env_keys[i].offset) = arena_strdup(&ctx->arena, v);
    }
    for (size_t i = 0; i < N_PROFILE_KEYS; i++) {
        char *v = *(char **)((char *)&ctx->overrides + profile_keys[i].offset);
        if (v)
            *(char **)((char *)&ctx->profile + profile_keys[i].offset) = v;
    }

    /* A profile named on purpose but defined nowhere is a typo, not a wish
     * to reach the default server. */
    if (!s.found && ctx->profile.server == NULL && strcmp(ctx->profile_name, "default") != 0)
        return cli_error("profile '%s' is not defined in %s", ctx->profile_name,
                         file ? file : "the configuration file");
    if (ctx->profile.server == NULL)
        ctx->profile.server = DEFAULT_SERVER;
    return CLI_EXIT_OK;
}

/* Creates path and its parents as needed with mode 0700. */
static int make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static char *token_path(cli_ctx *ctx)
{
    char *dir = config_dir(ctx);
    return dir ? arena_printf(&ctx->arena, "%s/tokens/%s", dir, ctx->profile_name) : NULL;
}

char *cli_token_load(cli_ctx *ctx)
{
    char *path = token_path(ctx);
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f == NULL)
        return NULL;
    char buf[1024];
    char *tok = NULL;
    if (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        if (buf[0])
            tok = arena_strdup(&ctx->arena, buf);
    }
    fclose(f);
    return tok;
}

int cli_token_store(cli_ctx *ctx, const char *token)
{
    char *path = token_path(ctx);
    if (path == NULL)
        return cli_error("cannot store the token: neither XDG_CONFIG_HOME nor HOME is set");
    char *dir = arena_strdup(&ctx->arena, path);
    *strrchr(dir, '/') = '\0';
    char *tmp = arena_printf(&ctx->arena, "%s/.%s.XXXXXX", dir, ctx->profile_name);
    int fd = -1;
    int ret = CLI_EXIT_ERROR;

    if (make_dirs(dir) != 0 || chmod(dir, 0700) != 0) {
        cli_error("cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    /* mkstemp creates the file 0600; fchmod makes sure whatever the umask. */
    fd = mkstemp(tmp);
    if (fd < 0) {
        cli_error("cannot create a file in %s: %s", dir, strerror(errno));
        goto out;
    }
    size_t len = strlen(token);
    if (fchmod(fd, 0600) != 0 || write(fd, token, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
        fsync(fd) != 0) {
        cli_error("cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        cli_error("cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        cli_error("cannot store the token in %s: %s", path, strerror(errno));
        goto out;
    }
    ret = CLI_EXIT_OK;
out:
    if (fd >= 0)
        close(fd);
    if (ret != CLI_EXIT_OK)
        unlink(tmp);
    return ret;
}

int cli_token_remove(cli_ctx *ctx)
{
    char *path = token_path(ctx);
    if (path && unlink(path) != 0 && errno != ENOENT)
        return cli_error("cannot remove %s: %s", path, strerror(errno));
    return CLI_EXIT_OK;
}
