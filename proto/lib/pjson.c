/*
 * pjson.c - the proto3 canonical JSON mapping, one generic walker over
 * protobuf-c descriptors in each direction.
 *
 * Invariants of the decoder:
 *  - Every message it builds is at every moment in the shape
 *    protobuf_c_message_free_unpacked() expects: strings, bytes, repeated
 *    arrays and sub-messages are separate allocations from the caller's
 *    allocator; empty singular strings keep the descriptor's default
 *    (protobuf_c_empty_string), which free_unpacked never frees; a repeated
 *    count only covers slots that hold NULL or a complete allocation. So on
 *    any error the partial message is released with free_unpacked, and with
 *    the system allocator a successful result can be freed the same way.
 *  - A oneof's case field is set before its member's value is built, so a
 *    half-built member is still reachable by free_unpacked.
 *  - Message nesting is bounded by PJSON_MAX_DEPTH; JSON text nesting is
 *    bounded by jansson's parser.
 *
 * The encoder writes only what differs from the proto3 defaults (oneof
 * members that are set are always written) and never fails except on
 * out-of-memory. Strings that are not valid UTF-8 (possible after a binary
 * unpack, which does not check) are written with U+FFFD replacing the bad
 * bytes, so the output is always valid JSON.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pjson.h"

/* Integers beyond this magnitude are not exact in an IEEE double. */
#define PJ_EXACT_MAX 9007199254740992LL /* 2^53 */

/* Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z since the epoch. */
#define PJ_TS_MIN (-62135596800LL)
#define PJ_TS_MAX 253402300799LL
/* Ten thousand years of seconds: the proto3 limit for a Duration. */
#define PJ_DUR_MAX 315576000000LL

#define PJ_NANOS 1000000000

/* ---------------------------------------------------------------- names -- */

void pjson_camel_case(const char *proto_name, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    size_t n = 0;
    int upper_next = 0;
    for (const char *p = proto_name; *p != '\0' && n + 1 < outlen; p++) {
        if (*p == '_') {
            upper_next = 1;
        } else if (upper_next) {
            out[n++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
            upper_next = 0;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

/* True when key is proto_name in its lowerCamelCase form, compared without a buffer. */
static int camel_equals(const char *proto_name, const char *key)
{
    int upper_next = 0;
    const char *k = key;
    for (const char *p = proto_name; *p != '\0'; p++) {
        char c;
        if (*p == '_') {
            upper_next = 1;
            continue;
        }
        c = *p;
        if (upper_next && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        upper_next = 0;
        if (*k != c)
            return 0;
        k++;
    }
    return *k == '\0';
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
                                                  const char *key, unsigned *index)
{
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (strcmp(f->name, key) == 0 || camel_equals(f->name, key)) {
            *index = i;
            return f;
        }
    }
    return NULL;
}

static int is_map_entry(const ProtobufCMessageDescriptor *desc)
{
    size_t len = strlen(desc->name);
    return len > 5 && strcmp(desc->name + len - 5, "Entry") == 0 && desc->n_fields == 2 &&
           desc->fields[0].id == 1 && strcmp(desc->fields[0].name, "key") == 0 &&
           desc->fields[1].id == 2 && strcmp(desc->fields[1].name, "value") == 0;
}

static int is_map_field(const ProtobufCFieldDescriptor *f)
{
    return f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE &&
           is_map_entry(f->descriptor);
}

static int is_named(const ProtobufCMessageDescriptor *desc, const char *full_name)
{
    return strcmp(desc->name, full_name) == 0;
}

/* google.protobuf.StringValue and friends: one field "value", written bare. */
static int is_wrapper(const ProtobufCMessageDescriptor *desc)
{
    static const char *const names[] = {
        "google.protobuf.DoubleValue", "google.protobuf.FloatValue",  "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value", "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
        "google.protobuf.BoolValue",   "google.protobuf.StringValue", "google.protobuf.BytesValue",
    };
    if (desc->n_fields != 1 || desc->fields[0].id != 1 ||
        desc->fields[0].label == PROTOBUF_C_LABEL_REPEATED)
        return 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (is_named(desc, names[i]))
            return 1;
    return 0;
}

/* Field storage by descriptor offset. */
#define PJ_MEMBER(type, msg, off) (*(type *)(void *)((char *)(msg) + (off)))
#define PJ_CMEMBER(type, msg, off) (*(type const *)(const void *)((const char *)(msg) + (off)))

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return sizeof(int32_t);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(int64_t);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* ------------------------------------------------------ calendar & UTF-8 -- */

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

/* Days from 0001-01-01 to January 1st of year y (y >= 1). */
static int64_t days_before_year(int64_t y)
{
    int64_t p = y - 1;
    return p * 365 + p / 4 - p / 100 + p / 400;
}

/* Days from the Unix epoch to y-m-d (proleptic Gregorian, 1 <= y <= 9999). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t days = days_before_year(y) - days_before_year(1970);
    for (int i = 1; i < m; i++)
        days += days_in_month(y, i);
    return days + d - 1;
}

/* The inverse of days_from_civil for dates within years 1..9999. */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t n = days + days_before_year(1970); /* days since 0001-01-01 */
    int64_t year = 1 + n * 400 / 146097;       /* the mean Gregorian year, then adjust */
    while (year > 1 && days_before_year(year) > n)
        year--;
    while (days_before_year(year + 1) <= n)
        year++;
    n -= days_before_year(year);
    int month = 1;
    while (n >= days_in_month(year, month)) {
        n -= days_in_month(year, month);
        month++;
    }
    *y = year;
    *m = month;
    *d = (int)n + 1;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8. */
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

/* A JSON string for s; invalid UTF-8 bytes become U+FFFD. NULL on OOM. */
static json_t *string_to_json(const char *s)
{
    size_t n = strlen(s);
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq((const unsigned char *)s + i, n - i);
        if (l == 0)
            break;
        i += l;
    }
    if (i == n)
        return json_stringn(s, n);
    char *buf = malloc(n * 3 + 1); /* each bad byte grows to three */
    if (buf == NULL)
        return NULL;
    size_t o = 0;
    for (i = 0; i < n;) {
        size_t l = utf8_seq((const unsigned char *)s + i, n - i);
        if (l == 0) {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(buf + o, s + i, l);
            o += l;
            i += l;
        }
    }
    json_t *j = json_stringn(buf, o);
    free(buf);
    return j;
}

/* --------------------------------------------------------------- base64 -- */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_t *bytes_to_json(const ProtobufCBinaryData *b)
{
    size_t outlen = (b->len + 2) / 3 * 4;
    char *buf = malloc(outlen + 1);
    if (buf == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < b->len; i += 3) {
        uint32_t v = (uint32_t)b->data[i] << 16;
        if (i + 1 < b->len)
            v |= (uint32_t)b->data[i + 1] << 8;
        if (i + 2 < b->len)
            v |= b->data[i + 2];
        buf[o++] = b64_chars[(v >> 18) & 63];
        buf[o++] = b64_chars[(v >> 12) & 63];
        buf[o++] = i + 1 < b->len ? b64_chars[(v >> 6) & 63] : '=';
        buf[o++] = i + 2 < b->len ? b64_chars[v & 63] : '=';
    }
    json_t *j = json_stringn(buf, o);
    free(buf);
    return j;
}

/* Value of a base64 digit in either the standard or the URL-safe alphabet, or -1. */
static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/*
 * Decodes base64 (padding optional, either alphabet) into out, which holds at
 * least len * 3 / 4 + 3 bytes. Returns the decoded length or -1 when invalid.
 */
static long b64_decode(const char *s, size_t len, uint8_t *out)
{
    while (len > 0 && s[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)o;
}

/* ============================================================== decoder == */

static void *sys_alloc(void *ud, size_t size)
{
    return malloc(size);
}
static void sys_free(void *ud, void *ptr)
{
    free(ptr);
}
static ProtobufCAllocator pj_system_allocator = {sys_alloc, sys_free, NULL};

typedef struct pj_dec {
    ProtobufCAllocator *alloc;
    pjson_error *err;
    char path[sizeof(((pjson_error *)0)->field)];
    size_t plen;
} pj_dec;

static size_t path_push(pj_dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(pj_dec *d, const char *fmt, ...)
{
    size_t old = d->plen;
    if (d->plen + 1 < sizeof(d->path)) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(d->path + d->plen, sizeof(d->path) - d->plen, fmt, ap);
        va_end(ap);
        if (n > 0)
            d->plen += (size_t)n;
        if (d->plen >= sizeof(d->path))
            d->plen = sizeof(d->path) - 1;
    }
    return old;
}

static size_t path_push_field(pj_dec *d, const char *name)
{
    return d->plen == 0 ? path_push(d, "%s", name) : path_push(d, ".%s", name);
}

static void path_pop(pj_dec *d, size_t old)
{
    d->plen = old;
    d->path[old] = '\0';
}

static int fail(pj_dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(pj_dec *d, const char *fmt, ...)
{
    va_list ap;
    snprintf(d->err->field, sizeof(d->err->field), "%s", d->path);
    va_start(ap, fmt);
    vsnprintf(d->err->description, sizeof(d->err->description), fmt, ap);
    va_end(ap);
    return CC_EJSON;
}

static int nomem(pj_dec *d)
{
    snprintf(d->err->field, sizeof(d->err->field), "%s", d->path);
    snprintf(d->err->description, sizeof(d->err->description), "out of memory");
    return CC_ENOMEM;
}

static void *pj_alloc(pj_dec *d, size_t size)
{
    return d->alloc->alloc(d->alloc->allocator_data, size ? size : 1);
}

static ProtobufCMessage *new_message(pj_dec *d, const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m = pj_alloc(d, desc->sizeof_message);
    if (m != NULL)
        protobuf_c_message_init(desc, m);
    return m;
}

static const char *json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* Strict decimal integer text: optional '-', digits, nothing else. */
static int parse_int_text(const char *s, int allow_minus, int *neg, const char **digits)
{
    *neg = 0;
    if (*s == '-' && allow_minus) {
        *neg = 1;
        s++;
    }
    if (*s == '\0')
        return -1;
    for (const char *p = s; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return -1;
    *digits = s;
    return 0;
}

/*
 * Reads a signed integer in [min, max] from a JSON number or string. is64
 * says the field is 64-bit, where a JSON number past 2^53 has lost
 * precision on the way and is refused.
 */
static int get_int(pj_dec *d, json_t *j, int64_t min, int64_t max, int is64, const char *tname,
                   int64_t *out)
{
    int64_t v;
    if (json_is_integer(j)) {
        v = json_integer_value(j);
        if (is64 && (v > PJ_EXACT_MAX || v < -PJ_EXACT_MAX))
            return fail(d, "integer beyond 2^53 is not exact as a JSON number; send it as a "
                           "string");
    } else if (json_is_real(j)) {
        double r = json_real_value(j);
        if (!isfinite(r) || r != floor(r))
            return fail(d, "expected an integer");
        if (is64 && fabs(r) > (double)PJ_EXACT_MAX)
            return fail(d, "integer beyond 2^53 is not exact as a JSON number; send it as a "
                           "string");
        if (r < -9223372036854775808.0 || r >= 9223372036854775808.0)
            return fail(d, "out of range for %s", tname);
        v = (int64_t)r;
    } else if (json_is_string(j)) {
        int neg;
        const char *digits;
        const char *s = json_string_value(j);
        if (strlen(s) != json_string_length(j) || parse_int_text(s, 1, &neg, &digits) < 0)
            return fail(d, "expected an integer");
        errno = 0;
        long long ll = strtoll(s, NULL, 10);
        if (errno == ERANGE)
            return fail(d, "out of range for %s", tname);
        v = ll;
    } else {
        return fail(d, "expected an integer, got %s", json_type_name(j));
    }
    if (v < min || v > max)
        return fail(d, "out of range for %s", tname);
    *out = v;
    return 0;
}

static int get_uint64(pj_dec *d, json_t *j, uint64_t *out)
{
    if (json_is_integer(j) || json_is_real(j)) {
        int64_t v;
        int rc = get_int(d, j, 0, INT64_MAX, 1, "uint64", &v);
        if (rc == 0)
            *out = (uint64_t)v;
        return rc;
    }
    if (!json_is_string(j))
        return fail(d, "expected an integer, got %s", json_type_name(j));
    int neg;
    const char *digits;
    const char *s = json_string_value(j);
    if (strlen(s) != json_string_length(j) || parse_int_text(s, 1, &neg, &digits) < 0)
        return fail(d, "expected an integer");
    if (neg)
        return fail(d, "out of range for uint64");
    errno = 0;
    unsigned long long v = strtoull(digits, NULL, 10);
    if (errno == ERANGE)
        return fail(d, "out of range for uint64");
    *out = v;
    return 0;
}

static int get_double(pj_dec *d, json_t *j, int is_float, double *out)
{
    double v;
    if (json_is_number(j)) {
        v = json_number_value(j);
    } else if (json_is_string(j)) {
        const char *s = json_string_value(j);
        char *end;
        if (strcmp(s, "NaN") == 0) {
            v = NAN;
        } else if (strcmp(s, "Infinity") == 0) {
            v = INFINITY;
        } else if (strcmp(s, "-Infinity") == 0) {
            v = -INFINITY;
        } else {
            /* A number in a string: digits, sign, point and exponent only. */
            if (*s == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
                return fail(d, "expected a number");
            errno = 0;
            v = strtod(s, &end);
            if (*end != '\0' || end == s)
                return fail(d, "expected a number");
            if (errno == ERANGE && isinf(v))
                return fail(d, "out of range for %s", is_float ? "float" : "double");
        }
    } else {
        return fail(d, "expected a number, got %s", json_type_name(j));
    }
    if (is_float && isfinite(v) && fabs(v) > FLT_MAX)
        return fail(d, "out of range for float");
    *out = v;
    return 0;
}

/* Copies a JSON string into the allocator, refusing embedded NUL characters. */
static int get_string(pj_dec *d, json_t *j, char **out)
{
    if (!json_is_string(j))
        return fail(d, "expected a string, got %s", json_type_name(j));
    size_t len = json_string_length(j);
    const char *s = json_string_value(j);
    if (memchr(s, '\0', len) != NULL)
        return fail(d, "a string may not contain a NUL character");
    /* jansson checks text it parses, but not values built with its _nocheck calls. */
    for (size_t i = 0; i < len;) {
        size_t l = utf8_seq((const unsigned char *)s + i, len - i);
        if (l == 0)
            return fail(d, "a string must be valid UTF-8");
        i += l;
    }
    char *copy = pj_alloc(d, len + 1);
    if (copy == NULL)
        return nomem(d);
    memcpy(copy, s, len + 1);
    *out = copy;
    return 0;
}

static int get_bytes(pj_dec *d, json_t *j, ProtobufCBinaryData *out)
{
    if (!json_is_string(j))
        return fail(d, "expected a base64 string, got %s", json_type_name(j));
    size_t len = json_string_length(j);
    if (len == 0) {
        out->len = 0;
        out->data = NULL;
        return 0;
    }
    uint8_t *buf = pj_alloc(d, len / 4 * 3 + 3);
    if (buf == NULL)
        return nomem(d);
    long n = b64_decode(json_string_value(j), len, buf);
    if (n < 0) {
        d->alloc->free(d->alloc->allocator_data, buf);
        return fail(d, "not valid base64");
    }
    out->len = (size_t)n;
    out->data = buf;
    return 0;
}

static int get_enum(pj_dec *d, const ProtobufCEnumDescriptor *ed, json_t *j, int *out)
{
    if (json_is_string(j)) {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(j));
        if (ev == NULL)
            return fail(d, "\"%.60s\" is not a value of enum %s", json_string_value(j), ed->name);
        *out = ev->value;
        return 0;
    }
    if (!json_is_number(j))
        return fail(d, "expected an enum name, got %s", json_type_name(j));
    int64_t v;
    int rc = get_int(d, j, INT32_MIN, INT32_MAX, 0, "an enum", &v);
    if (rc < 0)
        return rc;
    if (protobuf_c_enum_descriptor_get_value(ed, (int)v) == NULL)
        return fail(d, "%" PRId64 " is not a value of enum %s", v, ed->name);
    *out = (int)v;
    return 0;
}

static int parse_message(pj_dec *d, const ProtobufCMessageDescriptor *desc, ProtobufCMessage *m,
                         json_t *j, int depth);

/*
 * Parses one value of field f into dst (the field's storage or one slot of
 * its repeated array). always_copy: strings are copied even when empty,
 * because free_unpacked frees repeated and oneof strings unconditionally.
 */
static int parse_value(pj_dec *d, const ProtobufCFieldDescriptor *f, json_t *j, void *dst,
                       int always_copy, int depth)
{
    int64_t i;
    uint64_t u = 0; /* set whenever get_uint64 succeeds; the compiler cannot tell */
    double v;
    int rc = 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((rc = get_int(d, j, INT32_MIN, INT32_MAX, 0, "int32", &i)) == 0)
            *(int32_t *)dst = (int32_t)i;
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((rc = get_int(d, j, 0, UINT32_MAX, 0, "uint32", &i)) == 0)
            *(uint32_t *)dst = (uint32_t)i;
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((rc = get_int(d, j, INT64_MIN, INT64_MAX, 1, "int64", &i)) == 0)
            *(int64_t *)dst = i;
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((rc = get_uint64(d, j, &u)) == 0)
            *(uint64_t *)dst = u;
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        if ((rc = get_double(d, j, 1, &v)) == 0)
            *(float *)dst = (float)v;
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        if ((rc = get_double(d, j, 0, &v)) == 0)
            *(double *)dst = v;
        break;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(j))
            return fail(d, "expected true or false, got %s", json_type_name(j));
        *(protobuf_c_boolean *)dst = json_is_true(j);
        break;
    case PROTOBUF_C_TYPE_ENUM:
        rc = get_enum(d, f->descriptor, j, (int *)dst);
        break;
    case PROTOBUF_C_TYPE_STRING:
        if (!always_copy && json_is_string(j) && json_string_length(j) == 0 &&
            f->default_value == (const void *)protobuf_c_empty_string) {
            *(char **)dst = (char *)protobuf_c_empty_string;
            break;
        }
        rc = get_string(d, j, (char **)dst);
        break;
    case PROTOBUF_C_TYPE_BYTES:
        rc = get_bytes(d, j, (ProtobufCBinaryData *)dst);
        break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *sub = new_message(d, f->descriptor);
        if (sub == NULL)
            return nomem(d);
        /* Linked in first so that free_unpacked reaches it if parsing fails. */
        *(ProtobufCMessage **)dst = sub;
        rc = parse_message(d, f->descriptor, sub, j, depth + 1);
        break;
    }
    }
    return rc;
}

/* Parses the text of a map key into the entry's key field. */
static int parse_map_key(pj_dec *d, const ProtobufCFieldDescriptor *kf, const char *key, void *dst)
{
    json_t *j;
    if (kf->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
            return fail(d, "map key must be \"true\" or \"false\"");
        *(protobuf_c_boolean *)dst = key[0] == 't';
        return 0;
    }
    j = json_string(key);
    if (j == NULL)
        return nomem(d);
    int rc = parse_value(d, kf, j, dst, 1, 0);
    json_decref(j);
    return rc;
}

static int parse_map(pj_dec *d, const ProtobufCFieldDescriptor *f, ProtobufCMessage *m, json_t *j,
                     int depth)
{
    if (!json_is_object(j))
        return fail(d, "expected an object (map), got %s", json_type_name(j));
    size_t n = json_object_size(j);
    if (n == 0)
        return 0;
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    ProtobufCMessage **arr = pj_alloc(d, n * sizeof(*arr));
    if (arr == NULL)
        return nomem(d);
    memset(arr, 0, n * sizeof(*arr));
    PJ_MEMBER(ProtobufCMessage **, m, f->offset) = arr;
    size_t *count = &PJ_MEMBER(size_t, m, f->quantifier_offset);
    const char *key;
    json_t *val;
    json_object_foreach(j, key, val)
    {
        size_t old = path_push(d, "[%.64s]", key);
        int rc;
        ProtobufCMessage *e = new_message(d, ed);
        if (e == NULL)
            return nomem(d);
        arr[(*count)++] = e;
        rc = parse_map_key(d, &ed->fields[0], key, (char *)e + ed->fields[0].offset);
        if (rc == 0 && json_is_null(val))
            rc = fail(d, "a map value may not be null");
        if (rc == 0)
            rc = parse_value(d, &ed->fields[1], val, (char *)e + ed->fields[1].offset, 1, depth);
        if (rc < 0)
            return rc;
        path_pop(d, old);
    }
    return 0;
}

static int parse_repeated(pj_dec *d, const ProtobufCFieldDescriptor *f, ProtobufCMessage *m,
                          json_t *j, int depth)
{
    if (is_map_field(f))
        return parse_map(d, f, m, j, depth);
    if (!json_is_array(j))
        return fail(d, "expected an array, got %s", json_type_name(j));
    size_t n = json_array_size(j);
    if (n == 0)
        return 0;
    size_t esz = elem_size(f->type);
    if (n > SIZE_MAX / esz)
        return nomem(d);
    char *arr = pj_alloc(d, n * esz);
    if (arr == NULL)
        return nomem(d);
    memset(arr, 0, n * esz);
    PJ_MEMBER(void *, m, f->offset) = arr;
    size_t *count = &PJ_MEMBER(size_t, m, f->quantifier_offset);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(j, i);
        size_t old = path_push(d, "[%zu]", i);
        if (json_is_null(e))
            return fail(d, "null is not allowed in a list");
        /* The slot is zeroed, so counting it before it is filled is safe for free_unpacked. */
        (*count)++;
        int rc = parse_value(d, f, e, arr + i * esz, 1, depth);
        if (rc < 0)
            return rc;
        path_pop(d, old);
    }
    return 0;
}

static int parse_field(pj_dec *d, const ProtobufCMessageDescriptor *desc, ProtobufCMessage *m,
                       const ProtobufCFieldDescriptor *f, json_t *val, int depth)
{
    /* null stands for the default value, which the message already holds. */
    if (json_is_null(val))
        return 0;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return parse_repeated(d, f, m, val, depth);
    int always_copy = 0;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *oneof_case = &PJ_MEMBER(uint32_t, m, f->quantifier_offset);
        if (*oneof_case != 0 && *oneof_case != f->id) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field(desc, *oneof_case);
            return fail(d, "only one of a oneof may be set; \"%s\" is set already",
                        other != NULL ? other->name : "another field");
        }
        *oneof_case = f->id;
        always_copy = 1;
    }
    int rc = parse_value(d, f, val, (char *)m + f->offset, always_copy, depth);
    if (rc == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
        !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        PJ_MEMBER(protobuf_c_boolean, m, f->quantifier_offset) = 1;
    return rc;
}

static int parse_object(pj_dec *d, const ProtobufCMessageDescriptor *desc, ProtobufCMessage *m,
                        json_t *j, int depth)
{
    int rc = 0;
    unsigned char *seen = calloc(desc->n_fields ? desc->n_fields : 1, 1);
    if (seen == NULL)
        return nomem(d);
    const char *key;
    json_t *val;
    json_object_foreach(j, key, val)
    {
        unsigned idx = 0;
        const ProtobufCFieldDescriptor *f = find_field(desc, key, &idx);
        size_t old = path_push_field(d, f != NULL ? f->name : key);
        if (f == NULL) {
            rc = fail(d, "unknown field");
            goto out;
        }
        if (seen[idx]) {
            rc = fail(d, "field given twice (by its proto name and its JSON name)");
            goto out;
        }
        seen[idx] = 1;
        if ((rc = parse_field(d, desc, m, f, val, depth)) < 0)
            goto out;
        path_pop(d, old);
    }
out:
    free(seen);
    return rc;
}

/* Validates RFC 3339 text and converts it to UTC seconds and nanos. */
static int parse_timestamp_text(const char *s, int64_t *secs, int32_t *nanos)
{
    int y, mo, dd, hh, mi, ss;
    /* Fixed places first: year, month, day, 'T', hours, minutes, seconds. */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    for (int i = 0; i < 19; i++) {
        char c = s[i];
        if (c == '\0')
            return -1;
        if (shape[i] == 'd' ? (c < '0' || c > '9')
                            : (shape[i] == 'T' ? (c != 'T' && c != 't') : c != shape[i]))
            return -1;
    }
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    mo = (s[5] - '0') * 10 + (s[6] - '0');
    dd = (s[8] - '0') * 10 + (s[9] - '0');
    hh = (s[11] - '0') * 10 + (s[12] - '0');
    mi = (s[14] - '0') * 10 + (s[15] - '0');
    ss = (s[17] - '0') * 10 + (s[18] - '0');
    if (y < 1 || mo < 1 || mo > 12 || dd < 1 || dd > days_in_month(y, mo) || hh > 23 || mi > 59 ||
        ss > 59)
        return -1;
    const char *p = s + 19;
    int32_t ns = 0;
    if (*p == '.') {
        int digits = 0;
        p++;
        while (*p >= '0' && *p <= '9') {
            if (++digits > 9)
                return -1;
            ns = ns * 10 + (*p - '0');
            p++;
        }
        if (digits == 0)
            return -1;
        for (; digits < 9; digits++)
            ns *= 10;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        const char *o = p + 1;
        if (!(o[0] >= '0' && o[0] <= '9' && o[1] >= '0' && o[1] <= '9' && o[2] == ':' &&
              o[3] >= '0' && o[3] <= '9' && o[4] >= '0' && o[4] <= '9'))
            return -1;
        int oh = (o[0] - '0') * 10 + (o[1] - '0');
        int om = (o[3] - '0') * 10 + (o[4] - '0');
        if (oh > 23 || om > 59)
            return -1;
        offset = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    int64_t t = days_from_civil(y, mo, dd) * 86400 + hh * 3600 + mi * 60 + ss - offset;
    if (t < PJ_TS_MIN || t > PJ_TS_MAX)
        return 1;
    *secs = t;
    *nanos = ns;
    return 0;
}

/* Parses "-1.5s" into seconds and nanos of the same sign. */
static int parse_duration_text(const char *s, int64_t *secs, int32_t *nanos)
{
    int neg = 0;
    const char *p = s;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (*p < '0' || *p > '9')
        return -1;
    int64_t sec = 0;
    int32_t ns = 0;
    while (*p >= '0' && *p <= '9') {
        if (sec > PJ_DUR_MAX)
            return 1;
        sec = sec * 10 + (*p - '0');
        p++;
    }
    if (*p == '.') {
        int digits = 0;
        p++;
        while (*p >= '0' && *p <= '9') {
            if (++digits > 9)
                return -1;
            ns = ns * 10 + (*p - '0');
            p++;
        }
        if (digits == 0)
            return -1;
        for (; digits < 9; digits++)
            ns *= 10;
    }
    if (p[0] != 's' || p[1] != '\0')
        return -1;
    if (sec > PJ_DUR_MAX)
        return 1;
    *secs = neg ? -sec : sec;
    *nanos = neg ? -ns : ns;
    return 0;
}

/* Field descriptors of a well-known type by name, so no generated header is needed here. */
static const ProtobufCFieldDescriptor *wkt_field(const ProtobufCMessageDescriptor *desc,
                                                 const char *name)
{
    return protobuf_c_message_descriptor_get_field_by_name(desc, name);
}

static int parse_wkt_time(pj_dec *d, const ProtobufCMessageDescriptor *desc, ProtobufCMessage *m,
                          json_t *j, int is_timestamp)
{
    const ProtobufCFieldDescriptor *fs = wkt_field(desc, "seconds");
    const ProtobufCFieldDescriptor *fn = wkt_field(desc, "nanos");
    int64_t secs = 0;
    int32_t nanos = 0;
    if (!json_is_string(j))
        return fail(d, "expected a string, got %s", json_type_name(j));
    const char *s = json_string_value(j);
    if (fs == NULL || fn == NULL)
        return fail(d, "malformed descriptor for %s", desc->name);
    if (is_timestamp) {
        int rc = parse_timestamp_text(s, &secs, &nanos);
        if (rc < 0)
            return fail(d, "not a valid RFC 3339 timestamp (e.g. \"2026-11-22T10:00:00Z\")");
        if (rc > 0)
            return fail(d, "timestamp outside 0001-01-01 to 9999-12-31");
    } else {
        int rc = parse_duration_text(s, &secs, &nanos);
        if (rc < 0)
            return fail(d, "not a valid duration (e.g. \"1.5s\")");
        if (rc > 0)
            return fail(d, "duration out of range");
    }
    PJ_MEMBER(int64_t, m, fs->offset) = secs;
    PJ_MEMBER(int32_t, m, fn->offset) = nanos;
    return 0;
}

static int parse_field_mask(pj_dec *d, const ProtobufCMessageDescriptor *desc, ProtobufCMessage *m,
                            json_t *j)
{
    const ProtobufCFieldDescriptor *fp = wkt_field(desc, "paths");
    if (!json_is_string(j))
        return fail(d, "expected a string of comma-separated field names, got %s",
                    json_type_name(j));
    if (fp == NULL)
        return fail(d, "malformed descriptor for %s", desc->name);
    const char *s = json_string_value(j);
    size_t len = strlen(s);
    if (len != json_string_length(j) || strspn(s, "abcdefghijklmnopqrstuvwxyz"
                                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,") != len)
        return fail(d, "not a valid field mask: use comma-separated field names");
    if (len == 0)
        return 0;
    size_t n = 1;
    for (const char *p = s; *p != '\0'; p++)
        n += *p == ',';
    char **arr = pj_alloc(d, n * sizeof(char *));
    if (arr == NULL)
        return nomem(d);
    memset(arr, 0, n * sizeof(char *));
    PJ_MEMBER(char **, m, fp->offset) = arr;
    size_t *count = &PJ_MEMBER(size_t, m, fp->quantifier_offset);
    const char *p = s;
    for (size_t i = 0; i < n; i++) {
        size_t plen = strcspn(p, ",");
        if (plen == 0 || p[0] == '.' || p[plen - 1] == '.')
            return fail(d, "not a valid field mask: empty field name");
        /* Each capital becomes '_' and its lower case: at most twice as long. */
        char *path = pj_alloc(d, plen * 2 + 1);
        if (path == NULL)
            return nomem(d);
        arr[(*count)++] = path;
        size_t o = 0;
        for (size_t k = 0; k < plen; k++) {
            char c = p[k];
            if (c == '.' && p[k + 1] == '.')
                return fail(d, "not a valid field mask: empty field name");
            /* Proto names are accepted too, but only where they map back to the same
             * camelCase: an underscore must come before a lower-case letter. */
            if (c == '_' && (k + 1 >= plen || p[k + 1] < 'a' || p[k + 1] > 'z'))
                return fail(d, "not a valid field mask: \"_\" must precede a lower-case letter");
            if (c >= 'A' && c <= 'Z') {
                path[o++] = '_';
                c = (char)(c - 'A' + 'a');
            }
            path[o++] = c;
        }
        path[o] = '\0';
        p += plen + 1;
    }
    return 0;
}

/* Parses a message value: the special forms of well-known types, else an object. */
static int parse_message(pj_dec *d, const ProtobufCMessageDescriptor *desc, ProtobufCMessage *m,
                         json_t *j, int depth)
{
    if (depth > PJSON_MAX_DEPTH)
        return fail(d, "nesting deeper than %d levels", PJSON_MAX_DEPTH);
    if (is_named(desc, "google.protobuf.Timestamp"))
        return parse_wkt_time(d, desc, m, j, 1);
    if (is_named(desc, "google.protobuf.Duration"))
        return parse_wkt_time(d, desc, m, j, 0);
    if (is_named(desc, "google.protobuf.FieldMask"))
        return parse_field_mask(d, desc, m, j);
    if (is_wrapper(desc)) {
        const ProtobufCFieldDescriptor *f = &desc->fields[0];
        return json_is_null(j) ? 0 : parse_value(d, f, j, (char *)m + f->offset, 0, depth);
    }
    if (!json_is_object(j))
        return fail(d, "expected an object, got %s", json_type_name(j));
    return parse_object(d, desc, m, j, depth);
}

int pjson_to_message(const ProtobufCMessageDescriptor *desc, json_t *json,
                     ProtobufCAllocator *alloc, ProtobufCMessage **out, pjson_error *err)
{
    pj_dec d;
    int rc;
    memset(&d, 0, sizeof(d));
    d.alloc = alloc != NULL ? alloc : &pj_system_allocator;
    d.err = err;
    *out = NULL;
    err->field[0] = '\0';
    err->description[0] = '\0';
    if (json == NULL || !json_is_object(json)) {
        rc = fail(&d, "expected a JSON object");
        goto out;
    }
    ProtobufCMessage *m = new_message(&d, desc);
    if (m == NULL) {
        rc = nomem(&d);
        goto out;
    }
    rc = parse_message(&d, desc, m, json, 1);
    if (rc < 0) {
        /* The partial message is complete enough for free_unpacked (see the banner). */
        protobuf_c_message_free_unpacked(m, d.alloc);
        goto out;
    }
    *out = m;
out:
    return rc;
}

int pjson_decode(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
                 ProtobufCAllocator *alloc, ProtobufCMessage **out, pjson_error *err)
{
    json_error_t jerr;
    int rc;
    *out = NULL;
    err->field[0] = '\0';
    err->description[0] = '\0';
    if (len == 0) {
        json_t *empty = json_object();
        if (empty == NULL) {
            snprintf(err->description, sizeof(err->description), "out of memory");
            return CC_ENOMEM;
        }
        rc = pjson_to_message(desc, empty, alloc, out, err);
        json_decref(empty);
        return rc;
    }
    /* Without JSON_ALLOW_NUL and JSON_DECODE_ANY, jansson refuses NUL characters,
     * invalid UTF-8 and a top level that is not an object or array. */
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        if (json_error_code(&jerr) == json_error_out_of_memory) {
            snprintf(err->description, sizeof(err->description), "out of memory");
            return CC_ENOMEM;
        }
        snprintf(err->description, sizeof(err->description), "%s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        return CC_EJSON;
    }
    rc = pjson_to_message(desc, j, alloc, out, err);
    json_decref(j);
    return rc;
}

/* ============================================================== encoder == */

static json_t *message_to_json(const ProtobufCMessage *m);

static json_t *int64_to_json(int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return json_string(buf);
}

static json_t *uint64_to_json(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return json_string(buf);
}

static json_t *double_to_json(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

static json_t *float_to_json(float f)
{
    if (!isfinite(f))
        return double_to_json(f);
    /* The shortest decimal that names the float (at most nine digits), so that
     * 0.1f is written as the double nearest to 0.1, not as 0.100000001490116. */
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, (double)f);
        if ((float)strtod(buf, NULL) == f)
            break;
    }
    return json_real(strtod(buf, NULL));
}

static json_t *enum_to_json(const ProtobufCEnumDescriptor *ed, int v)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
    return ev != NULL ? json_string(ev->name) : json_integer(v);
}

/* Writes v as exactly width decimal digits (zero-padded; v must fit) and returns the end. */
static char *put_digits(char *w, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        w[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return w + width;
}

/* Appends ".000", ".000000" or ".000000000" as nanos need, nothing when zero. */
static char *put_fraction(char *w, int32_t nanos)
{
    if (nanos == 0)
        return w;
    *w++ = '.';
    if (nanos % 1000000 == 0)
        return put_digits(w, (uint64_t)(nanos / 1000000), 3);
    if (nanos % 1000 == 0)
        return put_digits(w, (uint64_t)(nanos / 1000), 6);
    return put_digits(w, (uint64_t)nanos, 9);
}

/*
 * Writes the text of a Timestamp or Duration into buf (at least 48 bytes; snprintf is
 * avoided because replies carry several timestamps). Returns 0, or -1 when the message
 * lacks the seconds and nanos fields (then the value is written as null).
 */
static int wkt_time_text(const ProtobufCMessage *m, int is_timestamp, char *buf, size_t len)
{
    const ProtobufCFieldDescriptor *fs = wkt_field(m->descriptor, "seconds");
    const ProtobufCFieldDescriptor *fn = wkt_field(m->descriptor, "nanos");
    if (fs == NULL || fn == NULL || len < 48)
        return -1;
    int64_t secs = PJ_CMEMBER(int64_t, m, fs->offset);
    int32_t nanos = PJ_CMEMBER(int32_t, m, fn->offset);
    char *w = buf;
    if (is_timestamp) {
        /* Out-of-range values cannot be written in RFC 3339; clamp them. */
        if (nanos < 0 || nanos >= PJ_NANOS)
            nanos = 0;
        if (secs < PJ_TS_MIN)
            secs = PJ_TS_MIN, nanos = 0;
        if (secs > PJ_TS_MAX)
            secs = PJ_TS_MAX, nanos = PJ_NANOS - 1;
        int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
        int64_t rem = secs - days * 86400;
        int64_t y;
        int mo, dd;
        civil_from_days(days, &y, &mo, &dd);
        /* After the clamp the year is 1..9999: "%04d-%02d-%02dT%02d:%02d:%02d". */
        w = put_digits(w, (uint64_t)y, 4);
        *w++ = '-';
        w = put_digits(w, (uint64_t)mo, 2);
        *w++ = '-';
        w = put_digits(w, (uint64_t)dd, 2);
        *w++ = 'T';
        w = put_digits(w, (uint64_t)(rem / 3600), 2);
        *w++ = ':';
        w = put_digits(w, (uint64_t)(rem / 60 % 60), 2);
        *w++ = ':';
        w = put_digits(w, (uint64_t)(rem % 60), 2);
        w = put_fraction(w, nanos);
        *w++ = 'Z';
    } else {
        int neg = secs < 0 || nanos < 0;
        uint64_t asec = secs < 0 ? (uint64_t)0 - (uint64_t)secs : (uint64_t)secs;
        int32_t anano = nanos < 0 ? -nanos : nanos;
        if (anano >= PJ_NANOS)
            anano = PJ_NANOS - 1;
        if (neg)
            *w++ = '-';
        int digits = 1;
        for (uint64_t t = asec; t >= 10; t /= 10)
            digits++;
        w = put_digits(w, asec, digits);
        w = put_fraction(w, anano);
        *w++ = 's';
    }
    *w = '\0';
    return 0;
}

static json_t *wkt_time_to_json(const ProtobufCMessage *m, int is_timestamp)
{
    char buf[64];
    if (wkt_time_text(m, is_timestamp, buf, sizeof(buf)) != 0)
        return json_null();
    return json_string(buf);
}

static json_t *field_mask_to_json(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *fp = wkt_field(m->descriptor, "paths");
    if (fp == NULL)
        return json_null();
    size_t n = PJ_CMEMBER(size_t, m, fp->quantifier_offset);
    char *const *paths = PJ_CMEMBER(char **, m, fp->offset);
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(paths[i]) + 1;
    char *buf = malloc(total);
    if (buf == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf[o++] = ',';
        /* Camel-casing only removes characters, so it fits in place. */
        pjson_camel_case(paths[i], buf + o, total - o);
        o += strlen(buf + o);
    }
    buf[o] = '\0';
    json_t *j = string_to_json(buf);
    free(buf);
    return j;
}

/* One value of field f stored at p. */
static json_t *value_to_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return int64_to_json(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return uint64_to_json(*(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return float_to_json(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return double_to_json(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM:
        return enum_to_json(f->descriptor, *(const int *)p);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return string_to_json(s != NULL ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES:
        return bytes_to_json((const ProtobufCBinaryData *)p);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        return sub != NULL ? message_to_json(sub) : json_null();
    }
    }
    return json_null();
}

/* True when the singular field at p holds its proto3 default, which is not written. */
static int is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return *(const int32_t *)p == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const int64_t *)p == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p == 0 && !signbit(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p == 0 && !signbit(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p == 0;
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int *)p == 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s == NULL || s[0] == '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p == NULL;
    }
    return 1;
}

static json_t *map_key_to_json_key(const ProtobufCFieldDescriptor *kf, const void *p, char *buf,
                                   size_t len, const char **key)
{
    json_t *k = value_to_json(kf, p);
    if (k == NULL)
        return NULL;
    if (json_is_string(k))
        *key = json_string_value(k);
    else if (json_is_integer(k))
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(k)), *key = buf;
    else
        *key = json_is_true(k) ? "true" : "false";
    return k;
}

static json_t *repeated_to_json(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m)
{
    size_t n = PJ_CMEMBER(size_t, m, f->quantifier_offset);
    const char *arr = PJ_CMEMBER(const char *, m, f->offset);
    size_t esz = elem_size(f->type);
    if (is_map_field(f)) {
        const ProtobufCMessageDescriptor *ed = f->descriptor;
        json_t *obj = json_object();
        if (obj == NULL)
            return NULL;
        for (size_t i = 0; i < n; i++) {
            const ProtobufCMessage *e = ((ProtobufCMessage *const *)(const void *)arr)[i];
            char buf[32];
            const char *key = NULL;
            if (e == NULL)
                continue;
            json_t *k = map_key_to_json_key(&ed->fields[0], (const char *)e + ed->fields[0].offset,
                                            buf, sizeof(buf), &key);
            json_t *v = k != NULL
                            ? value_to_json(&ed->fields[1], (const char *)e + ed->fields[1].offset)
                            : NULL;
            int rc = v != NULL ? json_object_set_new(obj, key, v) : -1;
            json_decref(k);
            if (rc < 0) {
                json_decref(obj);
                return NULL;
            }
        }
        return obj;
    }
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(a, value_to_json(f, arr + i * esz)) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/*
 * Whether field f of m is written in JSON: the set member of a oneof, a
 * non-empty repeated field, a set proto2 optional, a proto3 value other than
 * its default, a set sub-message. Both encoders (the jansson tree and the
 * text) follow this one rule.
 */
static int field_shown(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const void *p = (const char *)m + f->offset;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return PJ_CMEMBER(uint32_t, m, f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return PJ_CMEMBER(size_t, m, f->quantifier_offset) != 0;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0)
        return PJ_CMEMBER(protobuf_c_boolean, m, f->quantifier_offset) != 0;
    if (f->label == PROTOBUF_C_LABEL_NONE && is_default(f, p))
        return 0;
    /* An unset proto2 sub-message. */
    return !(f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage *const *)p == NULL);
}

static json_t *message_to_json(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    if (is_named(desc, "google.protobuf.Timestamp"))
        return wkt_time_to_json(m, 1);
    if (is_named(desc, "google.protobuf.Duration"))
        return wkt_time_to_json(m, 0);
    if (is_named(desc, "google.protobuf.FieldMask"))
        return field_mask_to_json(m);
    if (is_wrapper(desc))
        return value_to_json(&desc->fields[0], (const char *)m + desc->fields[0].offset);

    json_t *obj = json_object();
    if (obj == NULL)
        return NULL;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!field_shown(m, f))
            continue;
        json_t *v = f->label == PROTOBUF_C_LABEL_REPEATED
                        ? repeated_to_json(f, m)
                        : value_to_json(f, (const char *)m + f->offset);
        char key[256];
        pjson_camel_case(f->name, key, sizeof(key));
        if (v == NULL || json_object_set_new(obj, key, v) < 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *pjson_from_message(const ProtobufCMessage *m)
{
    return message_to_json(m);
}

/* ======================================================= text encoder == */

/*
 * pjson_encode writes the text directly instead of building a jansson tree and
 * dumping it: replies are encoded on every call the gateway forwards, and the
 * tree cost an allocation per field. The output is byte for byte what
 * json_dumps(pjson_from_message(m), JSON_COMPACT | JSON_ENCODE_ANY) gives:
 * jansson's escaping (\" \\ \b \f \n \r \t, other control characters as
 * \u00XX, everything else as is), fields in descriptor order. The rare values
 * whose text jansson formats itself (floats and doubles, bytes, maps, field
 * masks) are built as jansson values and dumped into the same buffer, so they
 * stay identical by construction.
 */

typedef struct pj_out {
    char *buf;
    size_t len;
    size_t cap;
    int failed; /* out of memory: the result is NULL */
} pj_out;

static int out_reserve(pj_out *o, size_t n)
{
    if (o->failed)
        return -1;
    if (o->len + n + 1 <= o->cap)
        return 0;
    size_t cap = o->cap ? o->cap : 512;
    while (cap < o->len + n + 1)
        cap *= 2;
    char *b = realloc(o->buf, cap);
    if (b == NULL) {
        o->failed = 1;
        return -1;
    }
    o->buf = b;
    o->cap = cap;
    return 0;
}

static void out_put(pj_out *o, const char *s, size_t n)
{
    if (out_reserve(o, n) != 0)
        return;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void out_char(pj_out *o, char c)
{
    if (out_reserve(o, 1) != 0)
        return;
    o->buf[o->len++] = c;
}

static void out_u64(pj_out *o, int neg, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (neg)
        tmp[--i] = '-';
    out_put(o, tmp + i, sizeof(tmp) - i);
}

static void out_i64(pj_out *o, int64_t v)
{
    out_u64(o, v < 0, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

/* Bytes written as they are inside a JSON string: printable ASCII but '"' and '\\'. */
static const unsigned char pj_plain[256] = {
    ['\x20'] = 1, 1, 0 /* " */, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                 /* 0x30-0x3f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                 /* 0x40-0x4f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 /* \\ */, 1, 1, 1,         /* 0x50-0x5f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                 /* 0x60-0x6f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                 /* 0x70-0x7f */
};

/* A JSON string for s as string_to_json and jansson's dump write it. */
static void out_string(pj_out *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    /* Worst case: every byte becomes \u00XX (six) or U+FFFD (three). */
    if (out_reserve(o, n * 6 + 2) != 0)
        return;
    char *w = o->buf + o->len;
    *w++ = '"';
    for (size_t i = 0; i < n;) {
        /* Most text is plain ASCII: copy each such run at once. */
        size_t run = i;
        while (run < n && pj_plain[p[run]])
            run++;
        if (run > i) {
            memcpy(w, p + i, run - i);
            w += run - i;
            i = run;
            if (i == n)
                break;
        }
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t l = utf8_seq(p + i, n - i);
            if (l == 0) {
                memcpy(w, "\xef\xbf\xbd", 3);
                w += 3;
                i++;
            } else {
                memcpy(w, p + i, l);
                w += l;
                i += l;
            }
            continue;
        }
        *w++ = '\\';
        switch (c) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '\b': *w++ = 'b'; break;
        case '\f': *w++ = 'f'; break;
        case '\n': *w++ = 'n'; break;
        case '\r': *w++ = 'r'; break;
        case '\t': *w++ = 't'; break;
        default:
            *w++ = 'u';
            *w++ = '0';
            *w++ = '0';
            *w++ = hex[c >> 4];
            *w++ = hex[c & 15];
            break;
        }
        i++;
    }
    *w++ = '"';
    o->len = (size_t)(w - o->buf);
}

/*
 * Writes "camelName": for a proto field name. Names are identifiers, so the camel-cased
 * text is written straight into the buffer; anything else takes the general path.
 */
static void out_key(pj_out *o, const char *proto_name)
{
    size_t n = strlen(proto_name);
    if (n >= 256 || out_reserve(o, n + 3) != 0) {
        char key[256];
        pjson_camel_case(proto_name, key, sizeof(key));
        out_string(o, key);
        out_char(o, ':');
        return;
    }
    char *start = o->buf + o->len;
    char *w = start;
    int upper_next = 0;
    *w++ = '"';
    for (const char *p = proto_name; *p != '\0'; p++) {
        char c = *p;
        if (c == '_') {
            upper_next = 1;
            continue;
        }
        if (upper_next && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        upper_next = 0;
        if (!pj_plain[(unsigned char)c]) {
            /* Not an identifier: let out_string escape it exactly. */
            char key[256];
            pjson_camel_case(proto_name, key, sizeof(key));
            out_string(o, key);
            out_char(o, ':');
            return;
        }
        *w++ = c;
    }
    *w++ = '"';
    *w++ = ':';
    o->len = (size_t)(w - o->buf);
}

static int out_dump_cb(const char *buffer, size_t size, void *data)
{
    pj_out *o = data;
    out_put(o, buffer, size);
    return o->failed ? -1 : 0;
}

/* Writes a jansson value as json_dumps would and releases it; NULL means out of memory. */
static void out_json(pj_out *o, json_t *j)
{
    if (j == NULL) {
        o->failed = 1;
        return;
    }
    if (json_dump_callback(j, out_dump_cb, o, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
        o->failed = 1;
    json_decref(j);
}

static void out_message(pj_out *o, const ProtobufCMessage *m);

/* One value of field f stored at p, as value_to_json gives it. */
static void out_value(pj_out *o, const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        out_i64(o, *(const int32_t *)p);
        return;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        out_u64(o, 0, *(const uint32_t *)p);
        return;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        out_char(o, '"');
        out_i64(o, *(const int64_t *)p);
        out_char(o, '"');
        return;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        out_char(o, '"');
        out_u64(o, 0, *(const uint64_t *)p);
        out_char(o, '"');
        return;
    case PROTOBUF_C_TYPE_BOOL:
        if (*(const protobuf_c_boolean *)p)
            out_put(o, "true", 4);
        else
            out_put(o, "false", 5);
        return;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
        if (ev != NULL)
            out_string(o, ev->name);
        else
            out_i64(o, *(const int *)p);
        return;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        out_string(o, s != NULL ? s : "");
        return;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (sub != NULL)
            out_message(o, sub);
        else
            out_put(o, "null", 4);
        return;
    }
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_BYTES:
        out_json(o, value_to_json(f, p));
        return;
    }
    out_put(o, "null", 4);
}

static void out_repeated(pj_out *o, const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m)
{
    if (is_map_field(f)) {
        out_json(o, repeated_to_json(f, m));
        return;
    }
    size_t n = PJ_CMEMBER(size_t, m, f->quantifier_offset);
    const char *arr = PJ_CMEMBER(const char *, m, f->offset);
    size_t esz = elem_size(f->type);
    out_char(o, '[');
    for (size_t i = 0; i < n && !o->failed; i++) {
        if (i > 0)
            out_char(o, ',');
        out_value(o, f, arr + i * esz);
    }
    out_char(o, ']');
}

/* The same walk as message_to_json, written as text. */
static void out_message(pj_out *o, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    if (is_named(desc, "google.protobuf.Timestamp") || is_named(desc, "google.protobuf.Duration")) {
        char buf[64];
        if (wkt_time_text(m, is_named(desc, "google.protobuf.Timestamp"), buf, sizeof(buf)) != 0)
            out_put(o, "null", 4);
        else
            out_string(o, buf);
        return;
    }
    if (is_named(desc, "google.protobuf.FieldMask")) {
        out_json(o, field_mask_to_json(m));
        return;
    }
    if (is_wrapper(desc)) {
        out_value(o, &desc->fields[0], (const char *)m + desc->fields[0].offset);
        return;
    }
    int first = 1;
    out_char(o, '{');
    for (unsigned i = 0; i < desc->n_fields && !o->failed; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!field_shown(m, f))
            continue;
        if (!first)
            out_char(o, ',');
        first = 0;
        out_key(o, f->name);
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            out_repeated(o, f, m);
        else
            out_value(o, f, (const char *)m + f->offset);
    }
    out_char(o, '}');
}

char *pjson_encode(const ProtobufCMessage *m)
{
    pj_out o = {NULL, 0, 0, 0};
    out_message(&o, m);
    if (o.failed || out_reserve(&o, 0) != 0) {
        free(o.buf);
        return NULL;
    }
    o.buf[o.len] = '\0';
    return o.buf;
}
