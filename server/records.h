/*
 * records.h - reading records that more than one service returns (contracts,
 * tier changes) from result rows, with the select lists that produce them.
 *
 * Each *_COLS list is written as "SELECT " X_COLS " FROM <table> <alias>"
 * with the alias the list names (k for contracts, h for tier changes); the
 * reader takes the row and the column where the list starts.
 */
#ifndef CONCORD_RECORDS_H
#define CONCORD_RECORDS_H

#include "call.h"
#include "concord/v1/contract.pb-c.h"
#include "concord/v1/tier.pb-c.h"

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

#endif
