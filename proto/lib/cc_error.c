/*
 * cc_error.c - names for the CC_E* codes.
 */
#include "cc_error.h"

const char *cc_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define CC_ERR_CASE(name, val, msg)                                                                \
    case (val):                                                                                    \
        return msg;
        CC_ERRNO_MAP(CC_ERR_CASE)
#undef CC_ERR_CASE
    }
    return "unknown error";
}
