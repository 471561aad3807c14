/*
 * records.h - reading records that more than one service returns (contracts,
 * tier changes, stage changes, key events, team members) from result rows,
 * with the select lists that produce them, and calendar days as the services
 * write and read them.
 *
 * Each *_COLS list is written as "SELECT " X_COLS " FROM <table> <alias>"
 * with the alias the list names (k for contracts, h for tier changes, g for
 * stage changes, e for key events, t and u for team members joined to their
 * users); the reader takes the row and the column where the list starts.
 */
#ifndef CONCORD_RECORDS_H
#define CONCORD_RECORDS_H

#include "call.h"
#include "concord/v1/contract.pb-c.h"
#include "concord/v1/event.pb-c.h"
#include "concord/v1/team.pb-c.h"
#include "concord/v1/tier.pb-c.h"
#include "lifecycle.h"

#define SRV_CONTRACT_COLS                                                                   \
    "k.id, k.account_id, k.start_date::text, k.end_date::text, k.annual_value_minor::text," \
    " k.currency, array_to_string(k.products, E'\\x1f'), k.status, k.version,"              \
    " extract(epoch from k.created_at)::text"
enum { SRV_CONTRACT_NCOLS = 10 };

/** A contract from the SRV_CONTRACT_COLS starting at column col of row. */
Concord__V1__Contract *srv_contract_from_row(srv_call *c, PGresult *r, int row, int col);

#define SRV_TIER_CHANGE_COLS                                                                       \
    "h.id, h.account_id, h.from_tier, h.to_tier, h.reason, h.changed_by,"                          \
    " extract(epoch from h.changed_at)::text, h.proposal_id"

/** A tier change from the SRV_TIER_CHANGE_COLS starting at column 0 of row. */
Concord__V1__TierChange *srv_tier_change_from_row(srv_call *c, PGresult *r, int row);

#define SRV_STAGE_CHANGE_COLS                                                                      \
    "g.from_stage, g.to_stage, g.effective_date::text, extract(epoch from g.recorded_at)::text,"   \
    " g.reason"

/** A stage change from the SRV_STAGE_CHANGE_COLS starting at column 0 of row. */
Concord__V1__StageChange *srv_stage_change_from_row(srv_call *c, PGresult *r, int row);

#define SRV_KEY_EVENT_COLS                                                                         \
    "e.id, e.scope, e.category, e.title, e.description, to_char(e.event_date, 'YYYY-MM-DD'),"      \
    " e.recurrence, coalesce(e.industry, ''), coalesce(e.account_id::text, ''), e.version"

/** A key event from the SRV_KEY_EVENT_COLS starting at column 0 of row. */
Concord__V1__KeyEvent *srv_key_event_from_row(srv_call *c, PGresult *r, int row);

#define SRV_TEAM_MEMBER_COLS                                                                       \
    "t.account_id, t.user_id, u.username, u.display_name, u.department, t.team_role,"              \
    " t.access_level, extract(epoch from t.created_at)::text"

/** A team member from the SRV_TEAM_MEMBER_COLS starting at column 0 of row. */
Concord__V1__TeamMember *srv_team_member_from_row(srv_call *c, PGresult *r, int row);

/** The day as "YYYY-MM-DD" in the call's arena. */
const char *srv_day_text(srv_call *c, lc_day d);
/** Reads a date the database wrote ("YYYY-MM-DD"); fails the call (INTERNAL) if it cannot. */
int srv_stored_day(srv_call *c, const char *text, lc_day *out) CC_MUST_CHECK;

#endif
