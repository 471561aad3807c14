/*
 * test_srv_dispatch.c - every method declared in the .proto files has a
 * handler, routes are found by full name, and the SQLSTATE table maps the
 * classes a user would notice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "cc_services.h"
#include "dispatch.h"

static int build(void **state)
{
    char err[256] = "";
    int rc = srv_routes_build(err, sizeof(err));
    if (rc != 0)
        fail_msg("route table: %s", err);
    return 0;
}

static void every_declared_method_has_a_route(void **state)
{
    size_t declared = 0;
    for (size_t i = 0; cc_services[i] != NULL; i++) {
        const ProtobufCServiceDescriptor *svc = cc_services[i];
        for (unsigned j = 0; j < svc->n_methods; j++) {
            char name[160];
            cc_method_full_name(svc, &svc->methods[j], name, sizeof(name));
            const srv_route *r = srv_route_find(name);
            if (r == NULL)
                fail_msg("no route for %s", name);
            assert_ptr_equal(r->method, &svc->methods[j]);
            assert_non_null(r->fn);
            declared++;
        }
    }
    assert_int_equal(srv_routes_count(), declared);
    assert_true(declared >= 14);
}

static void unknown_methods_are_not_found(void **state)
{
    assert_null(srv_route_find("concord.v1.AccountService/DropAccount"));
    assert_null(srv_route_find("concord.v1.NoService/GetAccount"));
    assert_null(srv_route_find(""));
    char long_name[400];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_null(srv_route_find(long_name));
}

static void flags(void **state)
{
    const srv_route *login = srv_route_find("concord.v1.AuthService/Login");
    assert_non_null(login);
    assert_true(login->flags & SRV_PUBLIC);
    const srv_route *create_user = srv_route_find("concord.v1.AuthService/CreateUser");
    assert_true(create_user->flags & SRV_ADMIN);
    const srv_route *get = srv_route_find("concord.v1.AccountService/GetAccount");
    assert_false(get->flags & (SRV_PUBLIC | SRV_WRITE | SRV_ADMIN));
    /* Only Login may be called without credentials. */
    for (size_t i = 0; i < srv_routes_count(); i++) {
        const srv_route *r = srv_route_at(i);
        if (r != login)
            assert_false(r->flags & SRV_PUBLIC);
    }
}

static void sqlstates(void **state)
{
    assert_int_equal(srv_sqlstate_code("23505"), CC_ALREADY_EXISTS);
    assert_int_equal(srv_sqlstate_code("40001"), CC_ABORTED);
    assert_int_equal(srv_sqlstate_code("57014"), CC_DEADLINE_EXCEEDED);
    assert_int_equal(srv_sqlstate_code("08006"), CC_UNAVAILABLE);
    assert_int_equal(srv_sqlstate_code("57P01"), CC_UNAVAILABLE);
    assert_int_equal(srv_sqlstate_code("22P02"), CC_INVALID_ARGUMENT);
    assert_int_equal(srv_sqlstate_code("42P01"), CC_INTERNAL);
    assert_int_equal(srv_sqlstate_code(NULL), CC_UNAVAILABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_declared_method_has_a_route),
        cmocka_unit_test(unknown_methods_are_not_found),
        cmocka_unit_test(flags),
        cmocka_unit_test(sqlstates),
    };
    return cmocka_run_group_tests(tests, build, NULL);
}
