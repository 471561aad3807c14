/*
 * test_cfg.c - the table-driven configuration: defaults, the INI file,
 * environment overrides, flags in both forms, their precedence, unknown keys,
 * size and duration suffixes, bounds, booleans and --help.
 *
 * Every test starts from zeroed settings and a clean CONCORD_* environment
 * for the keys of the table below, and frees the strings the table owns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfg.h"

typedef struct settings {
    char *listen;
    int workers;
    int tls;
    size_t max_frame;
    size_t buffer;
    unsigned call_timeout;
    char *db_name;
} settings;

static const cfg_key keys[] = {
    {"server", "listen", CFG_STR, offsetof(settings, listen), "127.0.0.1:7443",
     "address and port to listen on", 0, 0},
    {"server", "workers", CFG_INT, offsetof(settings, workers), "4", "worker threads", 1, 64},
    {"server", "tls", CFG_BOOL, offsetof(settings, tls), "true", "require TLS", 0, 0},
    {"server", "max_frame", CFG_SIZE, offsetof(settings, max_frame), "4M", "largest frame accepted",
     1024, 64 * 1024 * 1024},
    {"server", "buffer", CFG_SIZE, offsetof(settings, buffer), "0", "read buffer size", 0, 0},
    {"server", "call_timeout", CFG_MS, offsetof(settings, call_timeout), "30s",
     "deadline of a call", 1, 3600000},
    {"db", "name", CFG_STR, offsetof(settings, db_name), NULL, "database name", 0, 0},
    {NULL, NULL, CFG_STR, 0, NULL, NULL, 0, 0},
};

static const char *const env_names[] = {
    "CONCORD_SERVER_LISTEN",    "CONCORD_SERVER_WORKERS", "CONCORD_SERVER_TLS",
    "CONCORD_SERVER_MAX_FRAME", "CONCORD_SERVER_BUFFER",  "CONCORD_SERVER_CALL_TIMEOUT",
    "CONCORD_DB_NAME",
};

typedef struct fixture {
    settings s;
    char path[64]; /* temp INI file, "" when none */
    char err[256];
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    if (fx == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
        unsetenv(env_names[i]);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    cfg_free(keys, &fx->s);
    if (fx->path[0] != '\0')
        unlink(fx->path);
    for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
        unsetenv(env_names[i]);
    free(fx);
    return 0;
}

static void write_ini(fixture *fx, const char *text)
{
    snprintf(fx->path, sizeof(fx->path), "/tmp/test_cfg.XXXXXX");
    int fd = mkstemp(fx->path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* Runs cfg_load over a NULL-terminated list of arguments (argv[0] is added). */
static int load(fixture *fx, const char *config_file, int *argc_out, char **argv_out,
                const char *arg, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;
    argv[argc++] = "concordd";
    va_start(ap, arg);
    for (const char *a = arg; a != NULL && argc < 15; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    fx->err[0] = '\0';
    int rc = cfg_load(keys, &fx->s, "CONCORD", config_file, &argc, argv, fx->err, sizeof(fx->err));
    if (argc_out != NULL) {
        *argc_out = argc;
        for (int i = 0; i <= argc; i++)
            argv_out[i] = argv[i];
    }
    return rc;
}

/* Asserts that loading with one flag fails with needle in the message. */
static void expect_flag_error(fixture *fx, const char *flag, const char *needle)
{
    int rc = load(fx, NULL, NULL, NULL, flag, NULL);
    if (rc != CC_ECONFIG || strstr(fx->err, needle) == NULL)
        print_error("flag %s: rc %d, message [%s], expected ~ %s\n", flag, rc, fx->err, needle);
    assert_int_equal(rc, CC_ECONFIG);
    assert_non_null(strstr(fx->err, needle));
}

static void defaults(void **state)
{
    fixture *fx = *state;
    assert_int_equal(load(fx, NULL, NULL, NULL, NULL), 0);
    assert_string_equal(fx->s.listen, "127.0.0.1:7443");
    assert_int_equal(fx->s.workers, 4);
    assert_int_equal(fx->s.tls, 1);
    assert_int_equal(fx->s.max_frame, 4 * 1024 * 1024);
    assert_int_equal(fx->s.buffer, 0);
    assert_int_equal(fx->s.call_timeout, 30000);
    assert_null(fx->s.db_name);
}

static void ini_file(void **state)
{
    fixture *fx = *state;
    write_ini(fx, "; Concord test configuration\n"
                  "[server]\n"
                  "listen = 0.0.0.0:9000\n"
                  "workers = 8\n"
                  "tls = off\n"
                  "max_frame = 64k\n"
                  "call_timeout = 5m\n"
                  "\n"
                  "[db]\n"
                  "name = concord_test\n");
    assert_int_equal(load(fx, fx->path, NULL, NULL, NULL), 0);
    assert_string_equal(fx->s.listen, "0.0.0.0:9000");
    assert_int_equal(fx->s.workers, 8);
    assert_int_equal(fx->s.tls, 0);
    assert_int_equal(fx->s.max_frame, 64 * 1024);
    assert_int_equal(fx->s.call_timeout, 300000);
    assert_string_equal(fx->s.db_name, "concord_test");
}

static void config_flag(void **state)
{
    fixture *fx = *state;
    write_ini(fx, "[server]\nworkers = 12\n");
    int argc;
    char *argv[16];
    /* --config FILE wins over the caller's default file, and is consumed. */
    assert_int_equal(
        load(fx, "/nonexistent/concordd.ini", &argc, argv, "--config", fx->path, "serve", NULL), 0);
    assert_int_equal(fx->s.workers, 12);
    assert_int_equal(argc, 2);
    assert_string_equal(argv[1], "serve");
    assert_null(argv[2]);

    char flag[96];
    snprintf(flag, sizeof(flag), "--config=%s", fx->path);
    cfg_free(keys, &fx->s);
    assert_int_equal(load(fx, NULL, &argc, argv, flag, NULL), 0);
    assert_int_equal(fx->s.workers, 12);
    assert_int_equal(argc, 1);

    assert_int_equal(load(fx, "/nonexistent/concordd.ini", NULL, NULL, NULL), CC_ECONFIG);
    assert_non_null(strstr(fx->err, "/nonexistent/concordd.ini"));
    assert_non_null(strstr(fx->err, "cannot read"));
}

static void env_override(void **state)
{
    fixture *fx = *state;
    write_ini(fx, "[server]\nworkers = 8\nlisten = file:1\n");
    setenv("CONCORD_SERVER_WORKERS", "9", 1);
    setenv("CONCORD_DB_NAME", "from_env", 1);
    assert_int_equal(load(fx, fx->path, NULL, NULL, NULL), 0);
    assert_int_equal(fx->s.workers, 9);
    assert_string_equal(fx->s.listen, "file:1");
    assert_string_equal(fx->s.db_name, "from_env");

    setenv("CONCORD_SERVER_TLS", "maybe", 1);
    assert_int_equal(load(fx, NULL, NULL, NULL, NULL), CC_ECONFIG);
    assert_non_null(strstr(fx->err, "server.tls"));
}

static void flags_and_precedence(void **state)
{
    fixture *fx = *state;
    write_ini(fx, "[server]\nworkers = 8\ncall_timeout = 2s\nlisten = file:1\n");
    setenv("CONCORD_SERVER_WORKERS", "9", 1);
    setenv("CONCORD_SERVER_CALL_TIMEOUT", "3s", 1);
    int argc;
    char *argv[16];
    assert_int_equal(load(fx, fx->path, &argc, argv, "--verbose", "--server.workers=10",
                          "--server.call_timeout", "4s", "positional", "-x", NULL),
                     0);
    /* Flags beat the environment, which beats the file, which beats the defaults. */
    assert_int_equal(fx->s.workers, 10);
    assert_int_equal(fx->s.call_timeout, 4000);
    assert_string_equal(fx->s.listen, "file:1");
    assert_int_equal(fx->s.max_frame, 4 * 1024 * 1024);
    /* Flags not in the table stay, in order, for the program to handle. */
    assert_int_equal(argc, 4);
    assert_string_equal(argv[0], "concordd");
    assert_string_equal(argv[1], "--verbose");
    assert_string_equal(argv[2], "positional");
    assert_string_equal(argv[3], "-x");
    assert_null(argv[4]);

    /* A flag value may contain '=' and the later of two flags wins. */
    assert_int_equal(load(fx, NULL, NULL, NULL, "--db.name=a=b", "--server.workers=5",
                          "--server.workers", "6", NULL),
                     0);
    assert_string_equal(fx->s.db_name, "a=b");
    assert_int_equal(fx->s.workers, 6);

    expect_flag_error(fx, "--server.workers", "needs a value");
}

static void unknown_keys(void **state)
{
    fixture *fx = *state;
    write_ini(fx, "[server]\nworkers = 2\ncolour = blue\n");
    assert_int_equal(load(fx, fx->path, NULL, NULL, NULL), CC_ECONFIG);
    assert_non_null(strstr(fx->err, "colour"));
    assert_non_null(strstr(fx->err, fx->path));
    unlink(fx->path);

    write_ini(fx, "[serverr]\nworkers = 2\n");
    assert_int_equal(load(fx, fx->path, NULL, NULL, NULL), CC_ECONFIG);
    assert_non_null(strstr(fx->err, "[serverr] workers"));
    unlink(fx->path);

    write_ini(fx, "[server]\nthis line has no value\n");
    assert_int_equal(load(fx, fx->path, NULL, NULL, NULL), CC_ECONFIG);
    assert_non_null(strstr(fx->err, "syntax error"));

    expect_flag_error(fx, "--server.colour=blue", "server.colour");
    expect_flag_error(fx, "--nosuch.workers=1", "nosuch.workers");

    char err[128];
    settings s = {0};
    assert_int_equal(cfg_set(keys, &s, "workers", "3", err, sizeof(err)), CC_ECONFIG);
    assert_non_null(strstr(err, "workers"));
    assert_int_equal(cfg_set(keys, &s, "server.workers", "3", err, sizeof(err)), 0);
    assert_int_equal(s.workers, 3);
}

static void sizes(void **state)
{
    fixture *fx = *state;
    static const struct {
        const char *text;
        size_t value;
    } ok[] = {
        {"65536", 65536},   {"64k", 65536},           {"64K", 65536},
        {"64kb", 65536},    {"4M", 4u * 1024 * 1024}, {"4mb", 4u * 1024 * 1024},
        {"64M", 64u << 20}, {"1024", 1024},           {"2 k", 2048},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--server.max_frame=%s", ok[i].text);
        assert_int_equal(load(fx, NULL, NULL, NULL, flag, NULL), 0);
        assert_int_equal(fx->s.max_frame, ok[i].value);
    }
    assert_int_equal(load(fx, NULL, NULL, NULL, "--server.buffer=1G", NULL), 0);
    assert_int_equal(fx->s.buffer, 1024u * 1024 * 1024);

    expect_flag_error(fx, "--server.max_frame=12x", "a size such as");
    expect_flag_error(fx, "--server.max_frame=", "a size such as");
    expect_flag_error(fx, "--server.max_frame=-4k", "a size such as");
    expect_flag_error(fx, "--server.max_frame=1G", "outside 1024..67108864");
    expect_flag_error(fx, "--server.max_frame=1023", "outside");
    expect_flag_error(fx, "--server.buffer=99999999999999999999", "a size such as");
    expect_flag_error(fx, "--server.buffer=17179869184G", "a size such as");
}

/*
 * strtoull skips leading spaces and then accepts a minus sign, negating the
 * value: " -1" must not become 18446744073709551615 bytes (an environment
 * variable or a quoted flag can carry the space).
 */
static void negative_after_space(void **state)
{
    fixture *fx = *state;
    expect_flag_error(fx, "--server.buffer= -1", "a size such as");
    expect_flag_error(fx, "--server.buffer=\t-64k", "a size such as");
    setenv("CONCORD_SERVER_BUFFER", " -1", 1);
    assert_int_equal(load(fx, NULL, NULL, NULL, NULL), CC_ECONFIG);
    assert_non_null(strstr(fx->err, "server.buffer"));
}

static void durations(void **state)
{
    fixture *fx = *state;
    static const struct {
        const char *text;
        unsigned value;
    } ok[] = {
        {"500", 500},    {"500ms", 500},  {"30s", 30000},  {"5m", 300000},
        {"1min", 60000}, {"1h", 3600000}, {"10 s", 10000},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--server.call_timeout=%s", ok[i].text);
        assert_int_equal(load(fx, NULL, NULL, NULL, flag, NULL), 0);
        assert_int_equal(fx->s.call_timeout, ok[i].value);
    }
    expect_flag_error(fx, "--server.call_timeout=1d", "a duration such as");
    expect_flag_error(fx, "--server.call_timeout=-5s", "a duration such as");
    expect_flag_error(fx, "--server.call_timeout=1.5s", "a duration such as");
    expect_flag_error(fx, "--server.call_timeout=2h", "outside 1..3600000");
    expect_flag_error(fx, "--server.call_timeout=0", "outside");
}

static void integers_and_bounds(void **state)
{
    fixture *fx = *state;
    assert_int_equal(load(fx, NULL, NULL, NULL, "--server.workers=64", NULL), 0);
    assert_int_equal(fx->s.workers, 64);
    assert_int_equal(load(fx, NULL, NULL, NULL, "--server.workers=1", NULL), 0);
    assert_int_equal(fx->s.workers, 1);
    expect_flag_error(fx, "--server.workers=0", "server.workers: 0 is outside 1..64");
    expect_flag_error(fx, "--server.workers=65", "outside 1..64");
    expect_flag_error(fx, "--server.workers=-3", "outside");
    expect_flag_error(fx, "--server.workers=4x", "expected an integer");
    expect_flag_error(fx, "--server.workers=", "expected an integer");
    expect_flag_error(fx, "--server.workers=99999999999", "expected an integer");
}

static void booleans(void **state)
{
    fixture *fx = *state;
    static const char *const yes[] = {"true", "TRUE", "yes", "On", "1"};
    static const char *const no[] = {"false", "False", "no", "OFF", "0"};
    char flag[64];
    for (size_t i = 0; i < 5; i++) {
        snprintf(flag, sizeof(flag), "--server.tls=%s", no[i]);
        assert_int_equal(load(fx, NULL, NULL, NULL, flag, NULL), 0);
        assert_int_equal(fx->s.tls, 0);
        snprintf(flag, sizeof(flag), "--server.tls=%s", yes[i]);
        assert_int_equal(load(fx, NULL, NULL, NULL, "--server.tls=0", flag, NULL), 0);
        assert_int_equal(fx->s.tls, 1);
    }
    expect_flag_error(fx, "--server.tls=maybe", "expected true or false, got \"maybe\"");
    expect_flag_error(fx, "--server.tls=", "expected true or false");
    expect_flag_error(fx, "--server.tls=2", "expected true or false");
}

static void empty_string_is_null(void **state)
{
    fixture *fx = *state;
    assert_int_equal(load(fx, NULL, NULL, NULL, "--server.listen=", "--db.name", "x", NULL), 0);
    assert_null(fx->s.listen);
    assert_string_equal(fx->s.db_name, "x");
}

static void help_output(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    cfg_help(keys, "CONCORD", f);
    fclose(f);
    assert_non_null(text);
    assert_non_null(strstr(text, "[server]"));
    assert_non_null(strstr(text, "[db]"));
    assert_non_null(strstr(text, "--server.workers=VALUE"));
    assert_non_null(strstr(text, "CONCORD_SERVER_WORKERS"));
    assert_non_null(strstr(text, "default 4)"));
    assert_non_null(strstr(text, "worker threads"));
    assert_non_null(strstr(text, "--server.call_timeout=VALUE"));
    assert_non_null(strstr(text, "default 30s"));
    assert_non_null(strstr(text, "--db.name=VALUE  (CONCORD_DB_NAME, default none)"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(ini_file, setup, teardown),
        cmocka_unit_test_setup_teardown(config_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(env_override, setup, teardown),
        cmocka_unit_test_setup_teardown(flags_and_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(negative_after_space, setup, teardown),
        cmocka_unit_test_setup_teardown(durations, setup, teardown),
        cmocka_unit_test_setup_teardown(integers_and_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(booleans, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_string_is_null, setup, teardown),
        cmocka_unit_test_setup_teardown(help_output, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
