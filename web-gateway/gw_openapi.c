/*
 * gw_openapi.c - generates the OpenAPI 3.0 document from the descriptors.
 *
 * One POST path per method (the Connect unary mapping), one component schema
 * per message reachable from a request or response, typed after the proto3
 * JSON mapping that pjson implements: camelCase property names, 64-bit
 * integers as strings, enums as strings of value names, well-known types as
 * their JSON forms, repeated fields as arrays and *Entry maps as objects.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cc_services.h"
#include "cc_status.h"
#include "gw_auth.h"
#include "gw_openapi.h"
#include "pjson.h"

#define REF_PREFIX "#/components/schemas/"

static json_t *message_ref(json_t *schemas, const ProtobufCMessageDescriptor *d);

static json_t *ref_to(const char *name)
{
    char buf[300];
    snprintf(buf, sizeof buf, REF_PREFIX "%s", name);
    return json_pack("{s:s}", "$ref", buf);
}

static json_t *enum_schema(const ProtobufCEnumDescriptor *e)
{
    json_t *names = json_array();
    for (unsigned i = 0; i < e->n_values; i++)
        json_array_append_new(names, json_string(e->values[i].name));
    return json_pack("{s:s,s:o}", "type", "string", "enum", names);
}

static int is_map_entry(const ProtobufCMessageDescriptor *d)
{
    size_t n = strlen(d->name);
    return n > 5 && strcmp(d->name + n - 5, "Entry") == 0 && d->n_fields == 2 &&
           strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

/* The schema of one value of a field, ignoring its label. */
static json_t *value_schema(json_t *schemas, const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_pack("{s:s,s:s}", "type", "integer", "format", "int32");
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_pack("{s:s,s:s,s:i}", "type", "integer", "format", "int64", "minimum", 0);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_pack("{s:s,s:s}", "type", "string", "format", "int64");
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_pack("{s:s,s:s}", "type", "string", "format", "uint64");
    case PROTOBUF_C_TYPE_FLOAT:
        return json_pack("{s:s,s:s}", "type", "number", "format", "float");
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_pack("{s:s,s:s}", "type", "number", "format", "double");
    case PROTOBUF_C_TYPE_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case PROTOBUF_C_TYPE_STRING:
        return json_pack("{s:s}", "type", "string");
    case PROTOBUF_C_TYPE_BYTES:
        return json_pack("{s:s,s:s}", "type", "string", "format", "byte");
    case PROTOBUF_C_TYPE_ENUM:
        return enum_schema(f->descriptor);
    case PROTOBUF_C_TYPE_MESSAGE:
        return message_ref(schemas, f->descriptor);
    }
    return json_object();
}

static json_t *field_schema(json_t *schemas, const ProtobufCFieldDescriptor *f)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED)
        return value_schema(schemas, f);
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor)) {
        const ProtobufCMessageDescriptor *entry = f->descriptor;
        return json_pack("{s:s,s:o}", "type", "object", "additionalProperties",
                         value_schema(schemas, &entry->fields[1]));
    }
    return json_pack("{s:s,s:o}", "type", "array", "items", value_schema(schemas, f));
}

/* Adds the schema of d to schemas (once) and returns a reference to it, or
 * the inline JSON form of a well-known type. */
static json_t *message_ref(json_t *schemas, const ProtobufCMessageDescriptor *d)
{
    const char *name = d->name;
    if (strcmp(name, "google.protobuf.Timestamp") == 0)
        return json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
    if (strcmp(name, "google.protobuf.FieldMask") == 0)
        return json_pack("{s:s,s:s}", "type", "string", "description",
                         "comma-separated camelCase field paths");
    if (strcmp(name, "google.protobuf.Duration") == 0)
        return json_pack("{s:s,s:s}", "type", "string", "description", "seconds with suffix s");
    if (strcmp(name, "google.protobuf.Empty") == 0)
        return json_pack("{s:s}", "type", "object");
    if (json_object_get(schemas, name) == NULL) {
        json_t *props = json_object();
        json_t *schema = json_pack("{s:s,s:o}", "type", "object", "properties", props);
        /* Registered before the fields so that a recursive message ends. */
        json_object_set_new(schemas, name, schema);
        for (unsigned i = 0; i < d->n_fields; i++) {
            char camel[256];
            pjson_camel_case(d->fields[i].name, camel, sizeof camel);
            json_object_set_new(props, camel, field_schema(schemas, &d->fields[i]));
        }
    }
    return ref_to(name);
}

static json_t *error_schema(void)
{
    json_t *codes = json_array();
#define CC_ST_NAME(name, num, connect, http) \
    if (num != 0)                            \
        json_array_append_new(codes, json_string(connect));
    CC_STATUS_MAP(CC_ST_NAME)
#undef CC_ST_NAME
    json_t *violation = json_pack(
        "{s:s,s:{s:{s:s},s:{s:s}}}", "type", "object", "properties", "field", "type", "string",
        "description", "type", "string");
    json_t *detail = json_pack(
        "{s:s,s:{s:{s:s},s:{s:s,s:s},s:{s:s}}}", "type", "object", "properties", "type", "type",
        "string", "value", "type", "string", "format", "byte", "debug", "type", "object");
    return json_pack("{s:s,s:s,s:[s],s:{s:{s:s,s:o},s:{s:s},s:{s:s,s:o},s:{s:s,s:o,s:s}}}",
                     "type", "object", "description",
                     "Connect error; fieldViolations is a Concord extension", "required", "code",
                     "properties", "code", "type", "string", "enum", codes, "message", "type",
                     "string", "details", "type", "array", "items", detail, "fieldViolations",
                     "type", "array", "items", violation, "description",
                     "the request fields that were invalid");
}

static json_t *json_body(json_t *schema)
{
    return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

static json_t *operation(json_t *schemas, const ProtobufCServiceDescriptor *svc,
                         const ProtobufCMethodDescriptor *m)
{
    char op_id[256];
    snprintf(op_id, sizeof op_id, "%s_%s", svc->short_name, m->name);
    json_t *req_content = json_body(message_ref(schemas, m->input));
    json_object_set_new(req_content, "application/proto",
                        json_pack("{s:{s:s,s:s}}", "schema", "type", "string", "format", "binary"));
    json_t *ok_content = json_body(message_ref(schemas, m->output));
    json_object_set_new(ok_content, "application/proto",
                        json_pack("{s:{s:s,s:s}}", "schema", "type", "string", "format", "binary"));
    return json_pack(
        "{s:{s:s,s:[s],s:{s:b,s:o},s:{s:{s:s,s:o},s:{s:s,s:o}},s:[{s:[]},{s:[]}]}}", "post",
        "operationId", op_id, "tags", svc->short_name, "requestBody", "required", 1, "content",
        req_content, "responses", "200", "description", "the response message", "content",
        ok_content, "default", "description", "a Connect error", "content",
        json_body(ref_to("connect.Error")), "security", "bearer", "cookie");
}

static json_t *auth_paths(void)
{
    json_t *err = json_body(ref_to("connect.Error"));
    json_t *login = json_pack(
        "{s:{s:s,s:s,s:{s:b,s:o},s:{s:{s:s,s:o},s:{s:s,s:O}}}}", "post", "operationId",
        "portalLogin", "summary",
        "sign in; sets the " GW_SESSION_COOKIE " cookie and returns the user and CSRF token",
        "requestBody", "required", 1, "content",
        json_body(ref_to("concord.v1.LoginRequest")), "responses", "200", "description",
        "signed in",
        "content",
        json_body(json_pack("{s:s,s:{s:o,s:{s:s}}}", "type", "object", "properties", "user",
                            ref_to("concord.v1.User"), "csrfToken", "type", "string")),
        "default", "description", "a Connect error", "content", err);
    json_t *logout = json_pack("{s:{s:s,s:s,s:{s:{s:s}}}}", "post", "operationId", "portalLogout",
                               "summary", "end the session and clear the cookie", "responses",
                               "200", "description", "signed out");
    json_t *csrf = json_pack(
        "{s:{s:s,s:s,s:{s:{s:s},s:{s:s,s:O}},s:[{s:[]}]}}", "get", "operationId", "portalCsrf",
        "summary", "the CSRF token (and user) of the cookie session", "responses", "200",
        "description", "the X-CSRF-Token value", "401", "description", "no valid session",
        "content", err, "security", "cookie");
    json_t *health = json_pack("{s:{s:s,s:{s:{s:s},s:{s:s}}}}", "get", "operationId", "healthz",
                               "responses", "200", "description",
                               "at least one connection to concordd is ready", "503",
                               "description", "no connection to concordd is ready");
    json_t *paths = json_pack("{s:o,s:o,s:o,s:o}", "/auth/login", login, "/auth/logout", logout,
                              "/auth/csrf", csrf, "/healthz", health);
    json_decref(err);
    return paths;
}

int gw_openapi_build(char **out, size_t *len)
{
    int rc = CC_ENOMEM;
    json_t *schemas = json_object();
    json_t *paths = json_object();
    json_t *doc = NULL;
    if (schemas == NULL || paths == NULL)
        goto out;
    for (size_t i = 0; cc_services[i] != NULL; i++) {
        const ProtobufCServiceDescriptor *svc = cc_services[i];
        for (unsigned j = 0; j < svc->n_methods; j++) {
            char path[300];
            path[0] = '/';
            cc_method_full_name(svc, &svc->methods[j], path + 1, sizeof path - 1);
            json_object_set_new(paths, path, operation(schemas, svc, &svc->methods[j]));
        }
    }
    json_t *extra = auth_paths();
    json_object_update(paths, extra);
    json_decref(extra);
    json_object_set_new(schemas, "connect.Error", error_schema());
    doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:o,s:{s:o,s:{s:{s:s,s:s},s:{s:s,s:s,s:s}}}}", "openapi", "3.0.3",
        "info", "title", "Concord API", "version", "v1", "description",
        "Every concord.v1 method over the Connect protocol's unary HTTP mapping "
        "(POST /<service>/<method>, JSON or binary protobuf). JSON follows the proto3 mapping. "
        "Cookie-authenticated calls need the X-CSRF-Token header.",
        "paths", paths, "components", "schemas", schemas, "securitySchemes", "bearer", "type",
        "http", "scheme", "bearer", "cookie", "type", "apiKey", "in", "cookie", "name",
        GW_SESSION_COOKIE);
    paths = schemas = NULL;
    if (doc == NULL)
        goto out;
    *out = json_dumps(doc, JSON_COMPACT);
    if (*out == NULL)
        goto out;
    *len = strlen(*out);
    rc = 0;
out:
    json_decref(doc);
    json_decref(paths);
    json_decref(schemas);
    return rc;
}
