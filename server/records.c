/*
 * records.c - result rows to the records several services return, and
 * calendar days as text. The columns are those of the select lists in
 * records.h, in that order.
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

Concord__V1__StageChange *srv_stage_change_from_row(srv_call *c, PGresult *r, int row)
{
    const ProtobufCEnumDescriptor *stages = &concord__v1__lifecycle_stage__descriptor;
    Concord__V1__StageChange *g = arena_alloc(c->arena, sizeof(*g));
    concord__v1__stage_change__init(g);
    g->from_stage = srv_enum_from_db(stages, PQgetvalue(r, row, 0));
    g->to_stage = srv_enum_from_db(stages, PQgetvalue(r, row, 1));
    g->effective_date = PQgetvalue(r, row, 2);
    g->record_time = srv_ts(c, PQgetvalue(r, row, 3));
    g->reason = PQgetvalue(r, row, 4);
    return g;
}

Concord__V1__KeyEvent *srv_key_event_from_row(srv_call *c, PGresult *r, int row)
{
    Concord__V1__KeyEvent *e = arena_alloc(c->arena, sizeof(*e));
    concord__v1__key_event__init(e);
    e->id = PQgetvalue(r, row, 0);
    e->scope = srv_enum_from_db(&concord__v1__event_scope__descriptor, PQgetvalue(r, row, 1));
    e->category = srv_enum_from_db(&concord__v1__event_category__descriptor, PQgetvalue(r, row, 2));
    e->title = PQgetvalue(r, row, 3);
    e->description = PQgetvalue(r, row, 4);
    e->date = PQgetvalue(r, row, 5);
    e->recurrence = srv_enum_from_db(&concord__v1__recurrence__descriptor, PQgetvalue(r, row, 6));
    e->industry = PQgetvalue(r, row, 7);
    e->account_id = PQgetvalue(r, row, 8);
    e->version = strtoll(PQgetvalue(r, row, 9), NULL, 10);
    return e;
}

Concord__V1__TeamMember *srv_team_member_from_row(srv_call *c, PGresult *r, int row)
{
    Concord__V1__TeamMember *m = arena_alloc(c->arena, sizeof(*m));
    concord__v1__team_member__init(m);
    m->account_id = PQgetvalue(r, row, 0);
    m->user_id = PQgetvalue(r, row, 1);
    m->username = PQgetvalue(r, row, 2);
    m->display_name = PQgetvalue(r, row, 3);
    m->department = srv_enum_from_db(&concord__v1__department__descriptor, PQgetvalue(r, row, 4));
    m->team_role = srv_enum_from_db(&concord__v1__team_role__descriptor, PQgetvalue(r, row, 5));
    m->access_level =
        srv_enum_from_db(&concord__v1__access_level__descriptor, PQgetvalue(r, row, 6));
    m->add_time = srv_ts(c, PQgetvalue(r, row, 7));
    return m;
}

const char *srv_day_text(srv_call *c, lc_day d)
{
    char buf[LC_DAY_TEXT];
    return arena_strdup(c->arena, lc_day_format(d, buf));
}

int srv_stored_day(srv_call *c, const char *text, lc_day *out)
{
    if (lc_day_parse(text, out) != 0)
        return srv_fail(c, CC_INTERNAL, "stored date %s is out of range", text);
    return CC_OK;
}
