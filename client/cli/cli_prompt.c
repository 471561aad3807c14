/*
 * cli_prompt.c - asking people for input: a user name with line editing
 * (libedit), a password without echo (termios on /dev/tty), or a password
 * piped on stdin for scripts (as `docker login --password-stdin` does).
 *
 * Prompts go to stderr or the terminal, never stdout, so output stays clean.
 * Echo is always restored, also when Ctrl-C interrupts the password prompt.
 */
#include "cli.h"
#include <editline/readline.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define SECRET_MAX 4096

char *cli_prompt_line(const char *prompt)
{
    rl_instream = stdin;
    rl_outstream = stderr;
    char *line = readline(prompt);
    if (line)
        line[strcspn(line, "\r\n")] = '\0';
    return line;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

char *cli_prompt_secret(const char *prompt)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = calloc(1, SECRET_MAX);
    struct termios saved, quiet;
    struct sigaction sa = {0}, old_int, old_term;
    int have_tio = tcgetattr(fd, &saved) == 0;
    size_t n = 0;

    if (buf == NULL)
        goto fail;
    /* No SA_RESTART: the read must return so that echo can be restored. */
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (have_tio) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        /* Nothing to do: the read below still works without the prompt. */
    }
    while (n + 1 < SECRET_MAX) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR && !interrupted)
            continue;
        if (r <= 0 || c == '\n' || c == '\r')
            break;
        buf[n++] = c;
    }
    if (have_tio)
        tcsetattr(fd, TCSAFLUSH, &saved);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (interrupted) {
        if (write(fd, "\n", 1) < 0) {
            /* The terminal went away; nothing left to tidy. */
        }
        close(fd);
        cli_secret_free(buf);
        /* Die the way the interrupt asked, now that the terminal is sane. */
        raise(SIGINT);
        return NULL;
    }
    close(fd);
    return buf;
fail:
    close(fd);
    free(buf);
    return NULL;
}

char *cli_read_stdin_secret(void)
{
    char *buf = calloc(1, SECRET_MAX);
    size_t n = 0;
    if (buf == NULL)
        return NULL;
    while (n + 1 < SECRET_MAX) {
        size_t r = fread(buf + n, 1, SECRET_MAX - 1 - n, stdin);
        if (r == 0)
            break;
        n += r;
    }
    /* A secret longer than the buffer is refused rather than cut short. */
    if (n + 1 >= SECRET_MAX && fgetc(stdin) != EOF) {
        cli_secret_free(buf);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return buf;
}

void cli_secret_free(char *s)
{
    if (s == NULL)
        return;
    /* volatile keeps the compiler from dropping the wipe of memory about to be freed. */
    volatile char *p = s;
    while (*p)
        *p++ = '\0';
    free(s);
}
