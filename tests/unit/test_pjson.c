/*
 * test_pjson.c - the proto3 JSON mapping over the real concord.v1 messages:
 * round trips of every kind of field and well-known type, the input errors
 * with their field paths, and memory: arena decoding, and decoding with the
 * system allocator released by protobuf_c_message_free_unpacked (run under
 * ASan, which reports any leak).
 *
 * A small hand-written descriptor (pjtest.Node) covers what concord.v1 does
 * not use yet: floating point, unsigned 64-bit, maps, repeated bytes and
 * enums, Duration, and recursion deep enough to reach PJSON_MAX_DEPTH.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "concord/v1/account.pb-c.h"
#include "concord/v1/auth.pb-c.h"
#include "concord/v1/wire.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "pjson.h"

/* 2026-11-22T10:00:00Z */
#define T_2026 1795341600LL

/* ------------------------------------------------ a hand-written message -- */

typedef struct pt_entry {
    ProtobufCMessage base;
    char *key;
    int32_t value;
} pt_entry;

typedef struct pt_node pt_node;
struct pt_node {
    ProtobufCMessage base;
    double d;             /* 1 */
    float f;              /* 2 */
    uint64_t u64;         /* 3 */
    int32_t s32;          /* 4, sint32 */
    uint32_t u32;         /* 5 */
    protobuf_c_boolean b; /* 6 */
    size_t n_blobs;       /* 7, repeated bytes */
    ProtobufCBinaryData *blobs;
    size_t n_labels; /* 8, map<string, int32> */
    pt_entry **labels;
    pt_node *child;                      /* 9 */
    char *name;                          /* 10 */
    Google__Protobuf__Duration *timeout; /* 11 */
    size_t n_nums;                       /* 12, repeated sfixed64 */
    int64_t *nums;
    size_t n_tiers; /* 13, repeated concord.v1.Tier */
    int *tiers;
    struct pt_string_value *alias; /* 14, google.protobuf.StringValue */
};

/* The shape of google.protobuf.StringValue, whose JSON form is the bare string. */
typedef struct pt_string_value {
    ProtobufCMessage base;
    char *value;
} pt_string_value;

static const ProtobufCMessageDescriptor pt_entry_desc;
static const ProtobufCMessageDescriptor pt_node_desc;
static const ProtobufCMessageDescriptor pt_string_value_desc;

static void pt_entry_init(ProtobufCMessage *m)
{
    pt_entry *e = (pt_entry *)m;
    memset(e, 0, sizeof(*e));
    e->base.descriptor = &pt_entry_desc;
    e->key = (char *)protobuf_c_empty_string;
}

static void pt_node_init(ProtobufCMessage *m)
{
    pt_node *n = (pt_node *)m;
    memset(n, 0, sizeof(*n));
    n->base.descriptor = &pt_node_desc;
    n->name = (char *)protobuf_c_empty_string;
}

static const ProtobufCFieldDescriptor pt_entry_fields[2] = {
    {"key", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0, offsetof(pt_entry, key), NULL,
     &protobuf_c_empty_string, 0, 0, NULL, NULL},
    {"value", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT32, 0, offsetof(pt_entry, value), NULL,
     NULL, 0, 0, NULL, NULL},
};
static const unsigned pt_entry_by_name[] = {0, 1};
static const ProtobufCIntRange pt_entry_ranges[] = {{1, 0}, {0, 2}};
static const ProtobufCMessageDescriptor pt_entry_desc = {
    .magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    .name = "pjtest.Node.LabelsEntry",
    .short_name = "LabelsEntry",
    .c_name = "PtEntry",
    .package_name = "pjtest",
    .sizeof_message = sizeof(pt_entry),
    .n_fields = 2,
    .fields = pt_entry_fields,
    .fields_sorted_by_name = pt_entry_by_name,
    .n_field_ranges = 1,
    .field_ranges = pt_entry_ranges,
    .message_init = pt_entry_init,
};

static void pt_string_value_init(ProtobufCMessage *m)
{
    pt_string_value *v = (pt_string_value *)m;
    memset(v, 0, sizeof(*v));
    v->base.descriptor = &pt_string_value_desc;
    v->value = (char *)protobuf_c_empty_string;
}

static const ProtobufCFieldDescriptor pt_string_value_fields[1] = {
    {"value", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0, offsetof(pt_string_value, value),
     NULL, &protobuf_c_empty_string, 0, 0, NULL, NULL},
};
static const unsigned pt_string_value_by_name[] = {0};
static const ProtobufCIntRange pt_string_value_ranges[] = {{1, 0}, {0, 1}};
static const ProtobufCMessageDescriptor pt_string_value_desc = {
    .magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    .name = "google.protobuf.StringValue",
    .short_name = "StringValue",
    .c_name = "PtStringValue",
    .package_name = "pjtest",
    .sizeof_message = sizeof(pt_string_value),
    .n_fields = 1,
    .fields = pt_string_value_fields,
    .fields_sorted_by_name = pt_string_value_by_name,
    .n_field_ranges = 1,
    .field_ranges = pt_string_value_ranges,
    .message_init = pt_string_value_init,
};

#define PT_REP(name) offsetof(pt_node, n_##name), offsetof(pt_node, name)
static const ProtobufCFieldDescriptor pt_node_fields[14] = {
    {"d", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_DOUBLE, 0, offsetof(pt_node, d), NULL, NULL, 0,
     0, NULL, NULL},
    {"f", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_FLOAT, 0, offsetof(pt_node, f), NULL, NULL, 0,
     0, NULL, NULL},
    {"u64", 3, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_UINT64, 0, offsetof(pt_node, u64), NULL, NULL,
     0, 0, NULL, NULL},
    {"s32", 4, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_SINT32, 0, offsetof(pt_node, s32), NULL, NULL,
     0, 0, NULL, NULL},
    {"u32", 5, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_UINT32, 0, offsetof(pt_node, u32), NULL, NULL,
     0, 0, NULL, NULL},
    {"b", 6, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_BOOL, 0, offsetof(pt_node, b), NULL, NULL, 0, 0,
     NULL, NULL},
    {"blobs", 7, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_BYTES, PT_REP(blobs), NULL, NULL, 0, 0,
     NULL, NULL},
    {"labels", 8, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_MESSAGE, PT_REP(labels),
     &pt_entry_desc, NULL, 0, 0, NULL, NULL},
    {"child", 9, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0, offsetof(pt_node, child),
     &pt_node_desc, NULL, 0, 0, NULL, NULL},
    {"name", 10, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0, offsetof(pt_node, name), NULL,
     &protobuf_c_empty_string, 0, 0, NULL, NULL},
    {"timeout", 11, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0, offsetof(pt_node, timeout),
     &google__protobuf__duration__descriptor, NULL, 0, 0, NULL, NULL},
    {"nums", 12, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_SFIXED64, PT_REP(nums), NULL, NULL, 0,
     0, NULL, NULL},
    {"tiers", 13, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_ENUM, PT_REP(tiers),
     &concord__v1__tier__descriptor, NULL, 0, 0, NULL, NULL},
    {"alias", 14, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0, offsetof(pt_node, alias),
     &pt_string_value_desc, NULL, 0, 0, NULL, NULL},
};
/* Field indices in name order: alias b blobs child d f labels name nums s32 tiers timeout u32 u64.
 */
static const unsigned pt_node_by_name[] = {13, 5, 6, 8, 0, 1, 7, 9, 11, 3, 12, 10, 4, 2};
static const ProtobufCIntRange pt_node_ranges[] = {{1, 0}, {0, 14}};
static const ProtobufCMessageDescriptor pt_node_desc = {
    .magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    .name = "pjtest.Node",
    .short_name = "Node",
    .c_name = "PtNode",
    .package_name = "pjtest",
    .sizeof_message = sizeof(pt_node),
    .n_fields = 14,
    .fields = pt_node_fields,
    .fields_sorted_by_name = pt_node_by_name,
    .n_field_ranges = 1,
    .field_ranges = pt_node_ranges,
    .message_init = pt_node_init,
};

/* --------------------------------------------------------------- helpers -- */

static arena test_arena;

static int setup(void **state)
{
    arena_init(&test_arena, 4096);
    return 0;
}

static int teardown(void **state)
{
    arena_free(&test_arena);
    return 0;
}

/* Decodes text into an arena message, failing the test on error. */
static ProtobufCMessage *decode_ok(const ProtobufCMessageDescriptor *desc, const char *text)
{
    ProtobufCMessage *m = NULL;
    pjson_error err;
    int rc = pjson_decode(desc, text, strlen(text), arena_pbc(&test_arena), &m, &err);
    if (rc != 0)
        print_error("decode of %s failed: [%s] %s\n", text, err.field, err.description);
    assert_int_equal(rc, 0);
    assert_non_null(m);
    return m;
}

/*
 * Encodes m and compares with the expected compact JSON text, through both
 * encoders: the text writer (pjson_encode) and the jansson tree
 * (pjson_from_message, as the gateway's sign-in reply uses it) dumped compact.
 */
static void assert_encodes_to(const ProtobufCMessage *m, const char *expected)
{
    char *s = pjson_encode(m);
    assert_non_null(s);
    if (strcmp(s, expected) != 0)
        print_error("got      %s\nexpected %s\n", s, expected);
    assert_string_equal(s, expected);
    free(s);
    json_t *tree = pjson_from_message(m);
    assert_non_null(tree);
    char *dumped = json_dumps(tree, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(tree);
    assert_non_null(dumped);
    assert_string_equal(dumped, expected);
    free(dumped);
}

/*
 * Asserts that text is refused with CC_EJSON at field path, with needle in
 * the description. Runs once through an arena and once with the system
 * allocator, so that ASan sees the partial message freed on every error path.
 */
static void expect_error(const ProtobufCMessageDescriptor *desc, const char *text,
                         const char *field, const char *needle)
{
    for (int pass = 0; pass < 2; pass++) {
        ProtobufCMessage *m = (ProtobufCMessage *)1;
        pjson_error err;
        int rc =
            pjson_decode(desc, text, strlen(text), pass ? NULL : arena_pbc(&test_arena), &m, &err);
        if (rc != CC_EJSON || strcmp(err.field, field) != 0 ||
            strstr(err.description, needle) == NULL)
            print_error("input %s: rc %d field [%s] description [%s]; expected [%s] ~ %s\n", text,
                        rc, err.field, err.description, field, needle);
        assert_int_equal(rc, CC_EJSON);
        assert_null(m);
        assert_string_equal(err.field, field);
        assert_non_null(strstr(err.description, needle));
    }
}

/* A fully populated account, built by hand (strings are static, so no free). */
static void fill_account(Concord__V1__Account *a, Google__Protobuf__Timestamp *c,
                         Google__Protobuf__Timestamp *u, char **tags)
{
    concord__v1__account__init(a);
    google__protobuf__timestamp__init(c);
    google__protobuf__timestamp__init(u);
    a->id = "acc-1";
    a->name = "Uni Example";
    a->legal_name = "Example University";
    a->industry = "higher education";
    a->region = "EMEA";
    a->size_class = CONCORD__V1__SIZE_CLASS__LARGE;
    a->selling_mode = CONCORD__V1__SELLING_MODE__CONSULTATIVE;
    a->business_model = CONCORD__V1__BUSINESS_MODEL__SOLUTION;
    a->parent_id = "acc-0";
    a->website = "https://example.edu";
    tags[0] = "edu";
    tags[1] = "key";
    a->n_tags = 2;
    a->tags = tags;
    a->notes = "two\nlines \"quoted\" \xc3\xa9";
    a->owner_id = "u-1";
    a->tier = CONCORD__V1__TIER__TIER_S;
    a->stage = CONCORD__V1__LIFECYCLE_STAGE__ADOPTION;
    a->archived = 1;
    a->version = 9007199254740993LL; /* 2^53 + 1: survives only as a string */
    c->seconds = T_2026;
    u->seconds = T_2026;
    u->nanos = 123000000;
    a->create_time = c;
    a->update_time = u;
}

static const char full_account_json[] =
    "{\"id\":\"acc-1\",\"name\":\"Uni Example\",\"legalName\":\"Example University\","
    "\"industry\":\"higher education\",\"region\":\"EMEA\",\"sizeClass\":\"LARGE\","
    "\"sellingMode\":\"CONSULTATIVE\",\"businessModel\":\"SOLUTION\",\"parentId\":\"acc-0\","
    "\"website\":\"https://example.edu\",\"tags\":[\"edu\",\"key\"],"
    "\"notes\":\"two\\nlines \\\"quoted\\\" \xc3\xa9\",\"ownerId\":\"u-1\",\"tier\":\"TIER_S\","
    "\"stage\":\"ADOPTION\",\"archived\":true,\"version\":\"9007199254740993\","
    "\"createTime\":\"2026-11-22T10:00:00Z\",\"updateTime\":\"2026-11-22T10:00:00.123Z\"}";

static void assert_account_equal(const Concord__V1__Account *a, const Concord__V1__Account *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->legal_name, b->legal_name);
    assert_string_equal(a->industry, b->industry);
    assert_string_equal(a->region, b->region);
    assert_int_equal(a->size_class, b->size_class);
    assert_int_equal(a->selling_mode, b->selling_mode);
    assert_int_equal(a->business_model, b->business_model);
    assert_string_equal(a->parent_id, b->parent_id);
    assert_string_equal(a->website, b->website);
    assert_int_equal(a->n_tags, b->n_tags);
    for (size_t i = 0; i < a->n_tags; i++)
        assert_string_equal(a->tags[i], b->tags[i]);
    assert_string_equal(a->notes, b->notes);
    assert_string_equal(a->owner_id, b->owner_id);
    assert_int_equal(a->tier, b->tier);
    assert_int_equal(a->stage, b->stage);
    assert_int_equal(a->archived, b->archived);
    assert_true(a->version == b->version);
    assert_true((a->create_time == NULL) == (b->create_time == NULL));
    if (a->create_time != NULL) {
        assert_true(a->create_time->seconds == b->create_time->seconds);
        assert_int_equal(a->create_time->nanos, b->create_time->nanos);
    }
    assert_true((a->update_time == NULL) == (b->update_time == NULL));
    if (a->update_time != NULL) {
        assert_true(a->update_time->seconds == b->update_time->seconds);
        assert_int_equal(a->update_time->nanos, b->update_time->nanos);
    }
}

/* ----------------------------------------------------------------- tests -- */

static void camel_case(void **state)
{
    char buf[64];
    pjson_camel_case("update_mask", buf, sizeof(buf));
    assert_string_equal(buf, "updateMask");
    pjson_camel_case("id", buf, sizeof(buf));
    assert_string_equal(buf, "id");
    pjson_camel_case("include_total_size", buf, sizeof(buf));
    assert_string_equal(buf, "includeTotalSize");
    pjson_camel_case("update_mask", buf, 5);
    assert_string_equal(buf, "upda");
}

static void account_round_trip(void **state)
{
    Concord__V1__Account a;
    Google__Protobuf__Timestamp c, u;
    char *tags[2];
    fill_account(&a, &c, &u, tags);
    assert_encodes_to(&a.base, full_account_json);

    Concord__V1__Account *back =
        (Concord__V1__Account *)decode_ok(&concord__v1__account__descriptor, full_account_json);
    assert_account_equal(&a, back);
    assert_encodes_to(&back->base, full_account_json);

    /* The binary form agrees too: JSON decoding built a well-formed message. */
    size_t len = protobuf_c_message_get_packed_size(&back->base);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(protobuf_c_message_pack(&back->base, buf), len);
    Concord__V1__Account *again = concord__v1__account__unpack(arena_pbc(&test_arena), len, buf);
    free(buf);
    assert_non_null(again);
    assert_account_equal(&a, again);
}

static void defaults_omitted(void **state)
{
    Concord__V1__Account a = CONCORD__V1__ACCOUNT__INIT;
    assert_encodes_to(&a.base, "{}");
    /* A set sub-message is written even when all its fields are defaults. */
    Google__Protobuf__Timestamp epoch = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    a.create_time = &epoch;
    assert_encodes_to(&a.base, "{\"createTime\":\"1970-01-01T00:00:00Z\"}");

    Concord__V1__Account *e =
        (Concord__V1__Account *)decode_ok(&concord__v1__account__descriptor, "{}");
    assert_string_equal(e->name, "");
    assert_int_equal(e->n_tags, 0);
    assert_null(e->create_time);
    assert_true(e->version == 0);

    /* An empty body is the empty message. */
    ProtobufCMessage *m = NULL;
    pjson_error err;
    assert_int_equal(pjson_decode(&concord__v1__get_account_request__descriptor, "", 0,
                                  arena_pbc(&test_arena), &m, &err),
                     0);
    assert_non_null(m);
    assert_string_equal(((Concord__V1__GetAccountRequest *)m)->id, "");
}

static void names_both_forms(void **state)
{
    Concord__V1__Account *a = (Concord__V1__Account *)decode_ok(
        &concord__v1__account__descriptor,
        "{\"legal_name\":\"A\",\"ownerId\":\"u\",\"parent_id\":\"p\",\"sizeClass\":\"SMALL\"}");
    assert_string_equal(a->legal_name, "A");
    assert_string_equal(a->owner_id, "u");
    assert_string_equal(a->parent_id, "p");
    assert_int_equal(a->size_class, CONCORD__V1__SIZE_CLASS__SMALL);
    /* The same field twice, once under each name, is refused. */
    expect_error(&concord__v1__account__descriptor, "{\"legal_name\":\"A\",\"legalName\":\"B\"}",
                 "legal_name", "twice");
}

static void nulls_are_defaults(void **state)
{
    Concord__V1__Account *a = (Concord__V1__Account *)decode_ok(
        &concord__v1__account__descriptor,
        "{\"name\":null,\"tags\":null,\"createTime\":null,\"version\":null,\"tier\":null}");
    assert_string_equal(a->name, "");
    assert_int_equal(a->n_tags, 0);
    assert_null(a->create_time);
    assert_true(a->version == 0);
    assert_int_equal(a->tier, 0);
}

static void enums(void **state)
{
    Concord__V1__ListAccountsRequest *r = (Concord__V1__ListAccountsRequest *)decode_ok(
        &concord__v1__list_accounts_request__descriptor,
        "{\"tier\":\"TIER_A\",\"stage\":3,\"sellingMode\":\"ENTERPRISE\"}");
    assert_int_equal(r->tier, CONCORD__V1__TIER__TIER_A);
    assert_int_equal(r->stage, CONCORD__V1__LIFECYCLE_STAGE__ONBOARDING);
    assert_int_equal(r->selling_mode, CONCORD__V1__SELLING_MODE__ENTERPRISE);

    expect_error(&concord__v1__create_account_request__descriptor,
                 "{\"account\":{\"tier\":\"TIER_Z\"}}", "account.tier", "not a value of enum");
    expect_error(&concord__v1__list_accounts_request__descriptor, "{\"tier\":99}", "tier",
                 "99 is not a value of enum concord.v1.Tier");
    expect_error(&concord__v1__list_accounts_request__descriptor, "{\"tier\":true}", "tier",
                 "expected an enum name");
    expect_error(&concord__v1__list_accounts_request__descriptor, "{\"tier\":\"tier_a\"}", "tier",
                 "not a value of enum");

    /* A number outside the enum (possible after a binary unpack) is written as a number. */
    Concord__V1__ListAccountsRequest out = CONCORD__V1__LIST_ACCOUNTS_REQUEST__INIT;
    out.tier = 42;
    assert_encodes_to(&out.base, "{\"tier\":42}");
}

static void integers(void **state)
{
    Concord__V1__UpdateAccountRequest *u = (Concord__V1__UpdateAccountRequest *)decode_ok(
        &concord__v1__update_account_request__descriptor, "{\"version\":\"-17\"}");
    assert_true(u->version == -17);
    u = (Concord__V1__UpdateAccountRequest *)decode_ok(
        &concord__v1__update_account_request__descriptor, "{\"version\":9007199254740992}");
    assert_true(u->version == 9007199254740992LL);
    u = (Concord__V1__UpdateAccountRequest *)decode_ok(
        &concord__v1__update_account_request__descriptor, "{\"version\":\"9223372036854775807\"}");
    assert_true(u->version == INT64_MAX);
    assert_encodes_to(&u->base, "{\"version\":\"9223372036854775807\"}");

    Concord__V1__ListAccountsRequest *l = (Concord__V1__ListAccountsRequest *)decode_ok(
        &concord__v1__list_accounts_request__descriptor,
        "{\"pageSize\":2147483647,\"includeTotal\":true}");
    assert_int_equal(l->page_size, INT32_MAX);
    assert_true(l->include_total);
    l = (Concord__V1__ListAccountsRequest *)decode_ok(
        &concord__v1__list_accounts_request__descriptor, "{\"pageSize\":\"-5\"}");
    assert_int_equal(l->page_size, -5);
    l = (Concord__V1__ListAccountsRequest *)decode_ok(
        &concord__v1__list_accounts_request__descriptor, "{\"pageSize\":1e2}");
    assert_int_equal(l->page_size, 100);
    assert_encodes_to(&l->base, "{\"pageSize\":100}");

    const ProtobufCMessageDescriptor *ul = &concord__v1__update_account_request__descriptor;
    expect_error(ul, "{\"version\":9007199254740993}", "version", "send it as a string");
    expect_error(ul, "{\"version\":-9007199254740993}", "version", "send it as a string");
    expect_error(ul, "{\"version\":1e300}", "version", "send it as a string");
    expect_error(ul, "{\"version\":\"9223372036854775808\"}", "version", "out of range");
    expect_error(ul, "{\"version\":\"12abc\"}", "version", "expected an integer");
    expect_error(ul, "{\"version\":\" 12\"}", "version", "expected an integer");
    expect_error(ul, "{\"version\":\"\"}", "version", "expected an integer");
    expect_error(ul, "{\"version\":1.5}", "version", "expected an integer");
    expect_error(ul, "{\"version\":[1]}", "version", "expected an integer, got an array");

    const ProtobufCMessageDescriptor *ll = &concord__v1__list_accounts_request__descriptor;
    expect_error(ll, "{\"pageSize\":2147483648}", "page_size", "out of range for int32");
    expect_error(ll, "{\"pageSize\":-2147483649}", "page_size", "out of range for int32");
    expect_error(ll, "{\"pageSize\":2.5}", "page_size", "expected an integer");
    expect_error(ll, "{\"pageSize\":\"ten\"}", "page_size", "expected an integer");
    expect_error(ll, "{\"includeTotal\":\"true\"}", "include_total", "expected true or false");
    expect_error(ll, "{\"includeTotal\":1}", "include_total", "expected true or false");

    /* uint32 in a Call: negatives and values past 2^32 are refused. */
    Concord__V1__Call *c = (Concord__V1__Call *)decode_ok(&concord__v1__call__descriptor,
                                                          "{\"deadlineMs\":4294967295}");
    assert_int_equal(c->deadline_ms, UINT32_MAX);
    expect_error(&concord__v1__call__descriptor, "{\"deadlineMs\":-1}", "deadline_ms",
                 "out of range for uint32");
    expect_error(&concord__v1__call__descriptor, "{\"deadlineMs\":4294967296}", "deadline_ms",
                 "out of range for uint32");
}

static void timestamps(void **state)
{
    Concord__V1__Account a = CONCORD__V1__ACCOUNT__INIT;
    Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    a.create_time = &t;
    static const struct {
        int64_t seconds;
        int32_t nanos;
        const char *text;
    } cases[] = {
        {T_2026, 0, "2026-11-22T10:00:00Z"},
        {T_2026, 500000000, "2026-11-22T10:00:00.500Z"},
        {T_2026, 123456000, "2026-11-22T10:00:00.123456Z"},
        {T_2026, 123456789, "2026-11-22T10:00:00.123456789Z"},
        {T_2026, 1, "2026-11-22T10:00:00.000000001Z"},
        {1709251199, 0, "2024-02-29T23:59:59Z"},
        {-1, 0, "1969-12-31T23:59:59Z"},
        {-62135596800LL, 0, "0001-01-01T00:00:00Z"},
        {253402300799LL, 999999999, "9999-12-31T23:59:59.999999999Z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char expected[96];
        t.seconds = cases[i].seconds;
        t.nanos = cases[i].nanos;
        snprintf(expected, sizeof(expected), "{\"createTime\":\"%s\"}", cases[i].text);
        assert_encodes_to(&a.base, expected);
        Concord__V1__Account *b =
            (Concord__V1__Account *)decode_ok(&concord__v1__account__descriptor, expected);
        assert_non_null(b->create_time);
        assert_true(b->create_time->seconds == cases[i].seconds);
        assert_int_equal(b->create_time->nanos, cases[i].nanos);
    }

    /* Any offset on input; stored and written back in UTC. */
    Concord__V1__Account *b = (Concord__V1__Account *)decode_ok(
        &concord__v1__account__descriptor, "{\"createTime\":\"2026-11-22T12:00:00+02:00\","
                                           "\"updateTime\":\"2026-11-22t04:30:00.25-05:30\"}");
    assert_true(b->create_time->seconds == T_2026);
    assert_true(b->update_time->seconds == T_2026);
    assert_int_equal(b->update_time->nanos, 250000000);
    assert_encodes_to(&b->base, "{\"createTime\":\"2026-11-22T10:00:00Z\","
                                "\"updateTime\":\"2026-11-22T10:00:00.250Z\"}");

    const ProtobufCMessageDescriptor *ad = &concord__v1__account__descriptor;
    static const char *const bad[] = {
        "2026-02-29T00:00:00Z", /* not a leap year */
        "2026-11-22 10:00:00Z",
        "2026-11-22T10:00:00",
        "2026-11-22T24:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-11-22T10:00:60Z",
        "2026-11-22T10:00:00.Z",
        "2026-11-22T10:00:00.1234567890Z",
        "2026-11-22T10:00:00+2:00",
        "2026-11-22T10:00:00Zx",
        "0000-01-01T00:00:00Z",
        "+2026-11-22T10:00:00Z",
        "2026-1-22T10:00:00Z",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[96];
        snprintf(text, sizeof(text), "{\"createTime\":\"%s\"}", bad[i]);
        expect_error(ad, text, "create_time", "not a valid RFC 3339 timestamp");
    }
    expect_error(ad, "{\"createTime\":\"0001-01-01T00:00:00+00:01\"}", "create_time",
                 "outside 0001-01-01 to 9999-12-31");
    expect_error(ad, "{\"createTime\":\"9999-12-31T23:59:59-01:00\"}", "create_time",
                 "outside 0001-01-01 to 9999-12-31");
    expect_error(ad, "{\"createTime\":1795341600}", "create_time", "expected a string");
    expect_error(ad, "{\"createTime\":{\"seconds\":1}}", "create_time", "expected a string");
}

static void field_masks(void **state)
{
    Concord__V1__UpdateAccountRequest *u = (Concord__V1__UpdateAccountRequest *)decode_ok(
        &concord__v1__update_account_request__descriptor,
        "{\"account\":{\"id\":\"a1\",\"name\":\"N\",\"legalName\":\"L\"},"
        "\"updateMask\":\"name,legalName\",\"version\":\"3\"}");
    assert_non_null(u->update_mask);
    assert_int_equal(u->update_mask->n_paths, 2);
    assert_string_equal(u->update_mask->paths[0], "name");
    assert_string_equal(u->update_mask->paths[1], "legal_name");
    assert_string_equal(u->account->legal_name, "L");
    assert_true(u->version == 3);
    assert_encodes_to(&u->base, "{\"account\":{\"id\":\"a1\",\"name\":\"N\",\"legalName\":\"L\"},"
                                "\"updateMask\":\"name,legalName\",\"version\":\"3\"}");

    u = (Concord__V1__UpdateAccountRequest *)decode_ok(
        &concord__v1__update_account_request__descriptor,
        "{\"update_mask\":\"account.ownerId,tags\"}");
    assert_int_equal(u->update_mask->n_paths, 2);
    assert_string_equal(u->update_mask->paths[0], "account.owner_id");
    assert_string_equal(u->update_mask->paths[1], "tags");
    assert_encodes_to(&u->base, "{\"updateMask\":\"account.ownerId,tags\"}");

    /* An empty mask is present but has no paths. */
    u = (Concord__V1__UpdateAccountRequest *)decode_ok(
        &concord__v1__update_account_request__descriptor, "{\"updateMask\":\"\"}");
    assert_non_null(u->update_mask);
    assert_int_equal(u->update_mask->n_paths, 0);

    const ProtobufCMessageDescriptor *ud = &concord__v1__update_account_request__descriptor;
    expect_error(ud, "{\"updateMask\":[\"name\"]}", "update_mask", "expected a string");
    expect_error(ud, "{\"updateMask\":\"name,,tags\"}", "update_mask", "not a valid field mask");
    expect_error(ud, "{\"updateMask\":\"name,\"}", "update_mask", "not a valid field mask");
    expect_error(ud, "{\"updateMask\":\"a..b\"}", "update_mask", "not a valid field mask");
    expect_error(ud, "{\"updateMask\":\"name tags\"}", "update_mask", "not a valid field mask");
    expect_error(ud, "{\"updateMask\":\"name,_\"}", "update_mask", "not a valid field mask");
    expect_error(ud, "{\"updateMask\":\"legal__name\"}", "update_mask", "not a valid field mask");
    expect_error(ud, "{\"updateMask\":\"legal_Name\"}", "update_mask", "not a valid field mask");
    expect_error(ud, "{\"updateMask\":\"a_1\"}", "update_mask", "not a valid field mask");
}

static void bytes_and_oneof(void **state)
{
    static const uint8_t payload[] = {0x00, 0x01, 0x02, 0xff, 0xfe};
    Concord__V1__Frame f = CONCORD__V1__FRAME__INIT;
    Concord__V1__Reply r = CONCORD__V1__REPLY__INIT;
    Concord__V1__Status st = CONCORD__V1__STATUS__INIT;
    f.id = 18446744073709551615ULL;
    f.kind_case = CONCORD__V1__FRAME__KIND_REPLY;
    f.reply = &r;
    /* A set oneof member is written even when it is empty. */
    assert_encodes_to(&f.base, "{\"id\":\"18446744073709551615\",\"reply\":{}}");
    r.status = &st;
    st.code = CONCORD__V1__CODE__NOT_FOUND;
    st.message = "no such account";
    r.payload.data = (uint8_t *)payload;
    r.payload.len = sizeof(payload);
    const char *json = "{\"id\":\"18446744073709551615\",\"reply\":{\"status\":{\"code\":"
                       "\"NOT_FOUND\",\"message\":\"no such account\"},\"payload\":\"AAEC//4=\"}}";
    assert_encodes_to(&f.base, json);

    Concord__V1__Frame *back =
        (Concord__V1__Frame *)decode_ok(&concord__v1__frame__descriptor, json);
    assert_true(back->id == UINT64_MAX);
    assert_int_equal(back->kind_case, CONCORD__V1__FRAME__KIND_REPLY);
    assert_int_equal(back->reply->status->code, CONCORD__V1__CODE__NOT_FOUND);
    assert_int_equal(back->reply->payload.len, sizeof(payload));
    assert_memory_equal(back->reply->payload.data, payload, sizeof(payload));

    /* Base64 without padding and in the URL-safe alphabet are accepted too. */
    Concord__V1__Reply *rr = (Concord__V1__Reply *)decode_ok(&concord__v1__reply__descriptor,
                                                             "{\"payload\":\"AAEC__4\"}");
    assert_int_equal(rr->payload.len, sizeof(payload));
    assert_memory_equal(rr->payload.data, payload, sizeof(payload));
    rr = (Concord__V1__Reply *)decode_ok(&concord__v1__reply__descriptor, "{\"payload\":\"\"}");
    assert_int_equal(rr->payload.len, 0);

    Concord__V1__Frame *call = (Concord__V1__Frame *)decode_ok(
        &concord__v1__frame__descriptor,
        "{\"id\":\"7\",\"call\":{\"method\":\"concord.v1.AccountService/GetAccount\","
        "\"payload\":\"CgJhMQ==\",\"authToken\":\"\"}}");
    assert_true(call->id == 7);
    assert_int_equal(call->kind_case, CONCORD__V1__FRAME__KIND_CALL);
    assert_string_equal(call->call->method, "concord.v1.AccountService/GetAccount");
    assert_int_equal(call->call->payload.len, 4);
    assert_memory_equal(call->call->payload.data,
                        "\x0a\x02"
                        "a1",
                        4);

    const ProtobufCMessageDescriptor *fd = &concord__v1__frame__descriptor;
    expect_error(fd, "{\"call\":{},\"reply\":{}}", "reply", "only one of a oneof");
    expect_error(fd, "{\"reply\":{\"payload\":\"AAE\"},\"event\":{\"topic\":\"t\"}}", "event",
                 "\"reply\" is set already");
    expect_error(fd, "{\"reply\":{\"payload\":\"A===\"}}", "reply.payload", "not valid base64");
    expect_error(fd, "{\"reply\":{\"payload\":\"AA*A\"}}", "reply.payload", "not valid base64");
    expect_error(fd, "{\"reply\":{\"payload\":17}}", "reply.payload", "expected a base64 string");
    expect_error(fd, "{\"id\":\"-1\"}", "id", "out of range for uint64");
    expect_error(fd, "{\"id\":\"18446744073709551616\"}", "id", "out of range for uint64");
    expect_error(fd, "{\"call\":\"x\"}", "call", "expected an object, got a string");
    expect_error(fd, "{\"reply\":{\"status\":{\"fieldViolations\":[{\"field\":\"a\"},{\"x\":1}]}}}",
                 "reply.status.field_violations[1].x", "unknown field");
}

static void repeated_fields(void **state)
{
    Concord__V1__Account *a = (Concord__V1__Account *)decode_ok(&concord__v1__account__descriptor,
                                                                "{\"tags\":[\"a\",\"\",\"c\"]}");
    assert_int_equal(a->n_tags, 3);
    assert_string_equal(a->tags[0], "a");
    assert_string_equal(a->tags[1], "");
    assert_string_equal(a->tags[2], "c");
    assert_encodes_to(&a->base, "{\"tags\":[\"a\",\"\",\"c\"]}");
    a = (Concord__V1__Account *)decode_ok(&concord__v1__account__descriptor, "{\"tags\":[]}");
    assert_int_equal(a->n_tags, 0);

    const ProtobufCMessageDescriptor *cd = &concord__v1__create_account_request__descriptor;
    expect_error(cd, "{\"account\":{\"tags\":[\"a\",\"b\",3]}}", "account.tags[2]",
                 "expected a string, got a number");
    expect_error(cd, "{\"account\":{\"tags\":[\"a\",null]}}", "account.tags[1]", "null");
    expect_error(cd, "{\"account\":{\"tags\":\"a\"}}", "account.tags", "expected an array");

    Concord__V1__ListAccountsResponse *l = (Concord__V1__ListAccountsResponse *)decode_ok(
        &concord__v1__list_accounts_response__descriptor,
        "{\"accounts\":[{\"id\":\"1\"},{\"id\":\"2\",\"tags\":[\"x\"]}],\"totalSize\":\"2\"}");
    assert_int_equal(l->n_accounts, 2);
    assert_string_equal(l->accounts[1]->tags[0], "x");
    assert_encodes_to(&l->base, "{\"accounts\":[{\"id\":\"1\"},{\"id\":\"2\",\"tags\":[\"x\"]}],"
                                "\"totalSize\":\"2\"}");
}

static void document_errors(void **state)
{
    const ProtobufCMessageDescriptor *ad = &concord__v1__account__descriptor;
    const ProtobufCMessageDescriptor *cd = &concord__v1__create_account_request__descriptor;
    expect_error(ad, "{\"nmae\":\"x\"}", "nmae", "unknown field");
    expect_error(cd, "{\"account\":{\"name\":\"x\",\"colour\":1}}", "account.colour",
                 "unknown field");
    expect_error(cd, "{\"account\":{\"name\":5}}", "account.name", "expected a string");
    expect_error(cd, "{\"account\":[]}", "account", "expected an object, got an array");
    expect_error(cd, "{\"account\":{\"archived\":\"yes\"}}", "account.archived",
                 "expected true or false");
    /* jansson's parser refuses these; its message (with position) comes back. */
    expect_error(ad, "{\"name\":\"a\",\"name\":\"b\"}", "", "duplicate");
    expect_error(ad, "{\"name\":\"a\xff\"}", "", "unable to decode byte 0xff");
    expect_error(ad, "{\"name\":\"a\\u0000b\"}", "", "\\u0000");
    expect_error(ad, "{\"name\":", "", "line 1");
    expect_error(ad, "{\"name\":\"x\"} trailing", "", "end of file expected");
    expect_error(ad, "[]", "", "expected a JSON object");
    expect_error(ad, "\"text\"", "", "expected");

    /* pjson_to_message on a jansson value built in memory. */
    json_t *j = json_pack("{s:s%}", "name", "a\0b", (size_t)3);
    assert_non_null(j);
    ProtobufCMessage *m = NULL;
    pjson_error err;
    assert_int_equal(pjson_to_message(ad, j, arena_pbc(&test_arena), &m, &err), CC_EJSON);
    assert_null(m);
    assert_string_equal(err.field, "name");
    assert_non_null(strstr(err.description, "NUL"));
    json_decref(j);

    j = json_object();
    assert_int_equal(json_object_set_new(j, "name", json_stringn_nocheck("a\xff", 2)), 0);
    assert_int_equal(pjson_to_message(ad, j, NULL, &m, &err), CC_EJSON);
    assert_null(m);
    assert_string_equal(err.field, "name");
    assert_non_null(strstr(err.description, "UTF-8"));
    json_decref(j);

    assert_int_equal(pjson_to_message(ad, NULL, NULL, &m, &err), CC_EJSON);
    assert_null(m);
}

static void generic_types(void **state)
{
    pt_node *n = (pt_node *)decode_ok(
        &pt_node_desc,
        "{\"d\":2.5,\"f\":0.1,\"u64\":\"18446744073709551615\",\"s32\":-7,\"u32\":7,\"b\":true,"
        "\"blobs\":[\"AA==\",\"\"],\"labels\":{\"x\":1,\"y\":-2},\"name\":\"n\","
        "\"timeout\":\"-1.5s\",\"nums\":[\"-9223372036854775808\",5],\"tiers\":[\"TIER_B\",1]}");
    assert_true(n->d == 2.5);
    assert_true(n->f == 0.1f);
    assert_true(n->u64 == UINT64_MAX);
    assert_int_equal(n->s32, -7);
    assert_int_equal(n->u32, 7);
    assert_true(n->b);
    assert_int_equal(n->n_blobs, 2);
    assert_int_equal(n->blobs[0].len, 1);
    assert_int_equal(n->blobs[1].len, 0);
    assert_int_equal(n->n_labels, 2);
    assert_string_equal(n->labels[1]->key, "y");
    assert_int_equal(n->labels[1]->value, -2);
    assert_true(n->timeout->seconds == -1);
    assert_int_equal(n->timeout->nanos, -500000000);
    assert_int_equal(n->n_nums, 2);
    assert_true(n->nums[0] == INT64_MIN);
    assert_int_equal(n->tiers[0], CONCORD__V1__TIER__TIER_B);
    assert_int_equal(n->tiers[1], CONCORD__V1__TIER__TIER_S);
    assert_encodes_to(
        &n->base,
        "{\"d\":2.5,\"f\":0.10000000000000001,\"u64\":\"18446744073709551615\","
        "\"s32\":-7,\"u32\":7,\"b\":true,\"blobs\":[\"AA==\",\"\"],\"labels\":{\"x\":1,\"y\":-2},"
        "\"name\":\"n\",\"timeout\":\"-1.500s\",\"nums\":[\"-9223372036854775808\","
        "\"5\"],\"tiers\":[\"TIER_B\",\"TIER_S\"]}");

    n = (pt_node *)decode_ok(&pt_node_desc,
                             "{\"d\":\"NaN\",\"f\":\"-Infinity\",\"timeout\":\"3s\"}");
    assert_true(isnan(n->d));
    assert_true(isinf(n->f) && n->f < 0);
    assert_encodes_to(&n->base, "{\"d\":\"NaN\",\"f\":\"-Infinity\",\"timeout\":\"3s\"}");
    n = (pt_node *)decode_ok(&pt_node_desc, "{\"d\":\"Infinity\",\"f\":\"1.25\",\"u64\":12}");
    assert_true(isinf(n->d) && n->d > 0);
    assert_true(n->f == 1.25f);
    assert_true(n->u64 == 12);

    expect_error(&pt_node_desc, "{\"f\":1e39}", "f", "out of range for float");
    expect_error(&pt_node_desc, "{\"d\":\"1e999\"}", "d", "out of range for double");
    expect_error(&pt_node_desc, "{\"d\":\"nan\"}", "d", "expected a number");
    expect_error(&pt_node_desc, "{\"d\":true}", "d", "expected a number, got a boolean");
    expect_error(&pt_node_desc, "{\"labels\":{\"x\":\"a\"}}", "labels[x]", "expected an integer");
    expect_error(&pt_node_desc, "{\"labels\":{\"x\":null}}", "labels[x]", "may not be null");
    expect_error(&pt_node_desc, "{\"labels\":[1]}", "labels", "expected an object (map)");
    expect_error(&pt_node_desc, "{\"timeout\":\"1.5\"}", "timeout", "not a valid duration");
    expect_error(&pt_node_desc, "{\"timeout\":\"1.5 s\"}", "timeout", "not a valid duration");
    expect_error(&pt_node_desc, "{\"timeout\":\"315576000001s\"}", "timeout",
                 "duration out of range");
    expect_error(&pt_node_desc, "{\"nums\":[1,\"x\"]}", "nums[1]", "expected an integer");
    expect_error(&pt_node_desc, "{\"tiers\":[\"TIER_B\",\"NOPE\"]}", "tiers[1]",
                 "not a value of enum");
    expect_error(&pt_node_desc, "{\"s32\":2147483648}", "s32", "out of range for int32");
    expect_error(&pt_node_desc, "{\"child\":{\"child\":{\"u32\":-1}}}", "child.child.u32",
                 "out of range");

    /* google.protobuf.StringValue is its bare value; an empty one is still present. */
    n = (pt_node *)decode_ok(&pt_node_desc, "{\"alias\":\"x\"}");
    assert_non_null(n->alias);
    assert_string_equal(n->alias->value, "x");
    assert_encodes_to(&n->base, "{\"alias\":\"x\"}");
    n = (pt_node *)decode_ok(&pt_node_desc, "{\"alias\":\"\"}");
    assert_non_null(n->alias);
    assert_encodes_to(&n->base, "{\"alias\":\"\"}");
    expect_error(&pt_node_desc, "{\"alias\":{\"value\":\"x\"}}", "alias", "expected a string");

    /* Output: non-UTF-8 bytes in a string (a binary unpack does not check) become U+FFFD. */
    pt_node bad;
    pt_node_init(&bad.base);
    bad.name = "a\xff"
               "b";
    assert_encodes_to(&bad.base, "{\"name\":\"a\xef\xbf\xbd"
                                 "b\"}");
}

/* Builds {"child":{"child":...}} nested n levels. */
static char *nested(int n)
{
    size_t len = (size_t)n * 11 + 3;
    char *s = malloc(len);
    assert_non_null(s);
    size_t o = 0;
    for (int i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, "{\"child\":");
    o += (size_t)sprintf(s + o, "{}");
    for (int i = 0; i < n; i++)
        s[o++] = '}';
    s[o] = '\0';
    return s;
}

static void depth_limit(void **state)
{
    /* The top message is level 1: PJSON_MAX_DEPTH levels in all are fine, one more is not. */
    char *ok = nested(PJSON_MAX_DEPTH - 1);
    pt_node *n = (pt_node *)decode_ok(&pt_node_desc, ok);
    int levels = 1;
    for (pt_node *c = n->child; c != NULL; c = c->child)
        levels++;
    assert_int_equal(levels, PJSON_MAX_DEPTH);
    char *out = pjson_encode(&n->base);
    assert_string_equal(out, ok);
    free(out);
    free(ok);

    char *deep = nested(PJSON_MAX_DEPTH);
    ProtobufCMessage *m = NULL;
    pjson_error err;
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(pjson_decode(&pt_node_desc, deep, strlen(deep),
                                      pass ? NULL : arena_pbc(&test_arena), &m, &err),
                         CC_EJSON);
        assert_null(m);
        assert_non_null(strstr(err.description, "nesting deeper than"));
        assert_true(strncmp(err.field, "child.child.child", 17) == 0);
    }
    free(deep);
}

static void well_known_top_level(void **state)
{
    ProtobufCMessage *m = decode_ok(&google__protobuf__empty__descriptor, "{}");
    assert_encodes_to(m, "{}");
    expect_error(&google__protobuf__empty__descriptor, "{\"a\":1}", "a", "unknown field");
    Concord__V1__LogoutRequest lr = CONCORD__V1__LOGOUT_REQUEST__INIT;
    assert_encodes_to(&lr.base, "{}");
}

/* With the system allocator the result is freed by protobuf-c itself (ASan checks it). */
static void system_allocator(void **state)
{
    ProtobufCMessage *m = NULL;
    pjson_error err;
    assert_int_equal(pjson_decode(&concord__v1__account__descriptor, full_account_json,
                                  strlen(full_account_json), NULL, &m, &err),
                     0);
    Concord__V1__Account a;
    Google__Protobuf__Timestamp c, u;
    char *tags[2];
    fill_account(&a, &c, &u, tags);
    assert_account_equal(&a, (Concord__V1__Account *)m);
    protobuf_c_message_free_unpacked(m, NULL);

    const char *frames[] = {
        "{\"id\":\"1\",\"call\":{\"method\":\"m\",\"payload\":\"AAE=\",\"authToken\":\"t\"}}",
        "{\"reply\":{\"status\":{\"code\":3,\"fieldViolations\":[{\"field\":\"a\","
        "\"description\":\"\"}]},\"payload\":\"\"}}",
        "{\"event\":{\"topic\":\"\",\"sequence\":\"9\",\"type\":\"\",\"payload\":\"AA==\"}}",
        "",
    };
    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        assert_int_equal(pjson_decode(&concord__v1__frame__descriptor, frames[i], strlen(frames[i]),
                                      NULL, &m, &err),
                         0);
        char *s = pjson_encode(m);
        assert_non_null(s);
        free(s);
        protobuf_c_message_free_unpacked(m, NULL);
    }

    const char *node = "{\"labels\":{\"a\":1,\"\":2},\"blobs\":[\"AA==\"],\"alias\":\"\","
                       "\"child\":{\"name\":\"x\",\"timeout\":\"1s\",\"alias\":\"y\"},"
                       "\"nums\":[1],\"tiers\":[2]}";
    assert_int_equal(pjson_decode(&pt_node_desc, node, strlen(node), NULL, &m, &err), 0);
    assert_string_equal(((pt_node *)m)->child->alias->value, "y");
    protobuf_c_message_free_unpacked(m, NULL);

    Concord__V1__UpdateAccountRequest *ur = NULL;
    const char *upd = "{\"account\":{\"tags\":[\"a\"]},\"updateMask\":\"tags,legalName\"}";
    assert_int_equal(pjson_decode(&concord__v1__update_account_request__descriptor, upd,
                                  strlen(upd), NULL, (ProtobufCMessage **)&ur, &err),
                     0);
    assert_string_equal(ur->update_mask->paths[1], "legal_name");
    protobuf_c_message_free_unpacked(&ur->base, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(camel_case),
        cmocka_unit_test_setup_teardown(account_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(defaults_omitted, setup, teardown),
        cmocka_unit_test_setup_teardown(names_both_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(nulls_are_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(enums, setup, teardown),
        cmocka_unit_test_setup_teardown(integers, setup, teardown),
        cmocka_unit_test_setup_teardown(timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(field_masks, setup, teardown),
        cmocka_unit_test_setup_teardown(bytes_and_oneof, setup, teardown),
        cmocka_unit_test_setup_teardown(repeated_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(document_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(generic_types, setup, teardown),
        cmocka_unit_test_setup_teardown(depth_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(well_known_top_level, setup, teardown),
        cmocka_unit_test_setup_teardown(system_allocator, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
