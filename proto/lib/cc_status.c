/*
 * cc_status.c - the status code table: names, Connect codes, HTTP statuses.
 */
#include "cc_status.h"
#include <string.h>

typedef struct {
    const char *name;
    const char *connect;
    int http;
} status_row;

static const status_row rows[] = {
#define CC_ST_ROW(name, num, connect, http) [num] = {#name, connect, http},
    CC_STATUS_MAP(CC_ST_ROW)
#undef CC_ST_ROW
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static const status_row *row(int code)
{
    if (code < 0 || (size_t)code >= N_ROWS || rows[code].name == NULL)
        return &rows[CC_UNKNOWN];
    return &rows[code];
}

const char *cc_code_name(int code)
{
    return row(code)->name;
}
const char *cc_code_connect(int code)
{
    return row(code)->connect;
}
int cc_code_http(int code)
{
    return row(code)->http;
}

int cc_code_from_connect(const char *s)
{
    for (size_t i = 0; i < N_ROWS; i++)
        if (rows[i].connect && strcmp(rows[i].connect, s) == 0)
            return (int)i;
    return -1;
}
