/*
 * records.c - result rows to the records several services return. The
 * columns are those of the select lists in records.h, in that order.
 */
#include "records.h"
#include <stdlib.h>
#include <string.h>

Concord__V1__Contract *srv_contract_from_row(srv_call *c, PGresult *r, int row, int col)
{
    Concord__V1__Contract *k = arena_alloc(c->arena, sizeof(*k));
    concord__v1__contract__init(k);
    k->id = PQgetvalue(r, row, col + 0);
    k->account_id = PQgetvalue(r, row, col + 1);
    k->start_date = PQgetvalue(r, row, col + 2);
    k->end_date = PQgetvalue(r, row, col + 3);
    k->annual_value_minor = strtoll(PQgetvalue(r, row, col + 4), NULL, 10);
    k->currency = PQgetvalue(r, row, col + 5);
    /* Products come as one text separated by the unit separator. */
    const char *products = PQgetvalue(r, row, col + 6);
    if (*products) {
        size_t n = 1;
        for (const char *p = products; *p; p++)
            n += *p == '\x1f';
        k->products = arena_alloc(c->arena, n * sizeof(char *));
        char *copy = arena_strdup(c->arena, products);
        for (char *p = copy;;) {
            k->products[k->n_products++] = p;
            char *sep = strchr(p, '\x1f');
            if (sep == NULL)
                break;
            *sep = '\0';
            p = sep + 1;
        }
    }
    k->status = srv_enum_from_db(&concord__v1__contract_status__descriptor,
                                 PQgetvalue(r, row, col + 7));
    k->version = strtoll(PQgetvalue(r, row, col + 8), NULL, 10);
    k->create_time = srv_ts(c, PQgetvalue(r, row, col + 9));
    return k;
}

Concord__V1__TierChange *srv_tier_change_from_row(srv_call *c, PGresult *r, int row)
{
    const ProtobufCEnumDescriptor *tiers = &concord__v1__tier__descriptor;
    Concord__V1__TierChange *h = arena_alloc(c->arena, sizeof(*h));
    concord__v1__tier_change__init(h);
    h->id = PQgetvalue(r, row, 0);
    h->account_id = PQgetvalue(r, row, 1);
    h->from_tier = srv_enum_from_db(tiers, PQgetvalue(r, row, 2));
    h->to_tier = srv_enum_from_db(tiers, PQgetvalue(r, row, 3));
    h->reason = PQgetvalue(r, row, 4);
    h->changed_by_id = PQgetvalue(r, row, 5);
    h->change_time = srv_ts(c, PQgetvalue(r, row, 6));
    h->proposal_id = PQgetvalue(r, row, 7);
    return h;
}
