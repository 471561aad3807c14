#!/usr/bin/env bash
# The plans of the list, search and timeline queries on realistically sized tables: every
# query a list or search runs must reach accounts and activities through an index, never a
# sequential scan. The SQL shapes are those server/services/account_service.c and
# activity_service.c build, run as concord_app with the caller set the way concordd sets it,
# so row-level security is part of each plan.
#
# The fixtures (20,000 accounts, 60,000 activities, a few users and teams) are loaded as the
# superuser in one transaction that is rolled back at the end, so other tests sharing the
# environment never see them.
#
# The search table is read inside search_account_page (SECURITY DEFINER, its statement built
# per call): auto_explain shows the plans of the statements it runs, checked the same way.
#
# A second check per query, "the scan is bounded", runs EXPLAIN ANALYZE and looks at how many
# rows the plan read and threw away to produce one page. Where that is not yet so it is
# reported as a TODO (docs/PERFORMANCE.md explains why) rather than a failure.
. "$(dirname "$0")/../lib/common.sh"

admin_id=$(psql_super -Atc "SELECT id FROM concord.users WHERE username = '$CONCORD_ADMIN_USER'")
[ -n "$admin_id" ] || fail "no admin user in the test database"

cols="a.id, a.name, a.legal_name, a.industry, a.region, a.size_class, a.selling_mode,\
 a.business_model, a.parent_id, a.website, array_to_string(a.tags, E'\\x1f'), a.notes,\
 a.owner_id, a.tier, a.stage, a.archived_at IS NOT NULL, a.version,\
 extract(epoch from a.created_at)::text, extract(epoch from a.updated_at)::text,\
 a.name_key, a.created_at::text, a.updated_at::text, a.icp_total, a.merged_into_id"
list="SELECT $cols FROM accounts a WHERE true"
tail_name="AND a.archived_at IS NULL ORDER BY a.name_key ASC, a.id ASC LIMIT 51"
has_activities=$(psql_super -Atc "SELECT to_regclass('concord.activities') IS NOT NULL")

# name|SQL pairs: the statements to check, as the server writes them (parameters inlined).
queries=(
    "list, first page by name|$list $tail_name"
    "list, keyset page by name|$list AND a.name_key >= 'lindenhof robotics'::text AND (a.name_key > 'lindenhof robotics'::text OR a.id > 500::bigint) $tail_name"
    "list by create_time desc|$list AND a.archived_at IS NULL ORDER BY a.created_at DESC, a.id DESC LIMIT 51"
    "list by update_time|$list AND a.archived_at IS NULL ORDER BY a.updated_at ASC, a.id ASC LIMIT 51"
    "search (query), newest first|$list AND a.id = ANY((SELECT array_agg(x) FROM search_account_page(lower('%energy%'), 'energy', NULL, NULL, 51, true) x)::bigint[]) AND a.archived_at IS NULL ORDER BY a.id DESC LIMIT 51"
    "search (query) by name|$list AND a.id = ANY((SELECT array_agg(x) FROM search_account_page(lower('%energy 1999%'), 'energy 1999', NULL, NULL, 51, false) x)::bigint[]) $tail_name"
    "filter tag|$list AND a.id = ANY((SELECT array_agg(x) FROM search_account_page(NULL, NULL, 'rare-tag', NULL, 51, false) x)::bigint[]) $tail_name"
    "filter department|$list AND (EXISTS (SELECT 1 FROM users u WHERE u.id = a.owner_id AND u.department = 'rnd') OR EXISTS (SELECT 1 FROM account_team t JOIN users u ON u.id = t.user_id WHERE t.account_id = a.id AND u.department = 'rnd')) $tail_name"
    "filter min_icp_total|$list AND a.icp_total >= 24::int $tail_name"
    "filter parent_id|$list AND a.parent_id = 7::bigint $tail_name"
    "filter tier|$list AND a.tier = 'tier_s' $tail_name"
    "filter stage|$list AND a.stage = 'churned' $tail_name"
    "filter owner_id|$list AND a.owner_id = (SELECT min(id) FROM users WHERE username LIKE 'plan-%') $tail_name"
    "filter region|$list AND a.region_key = lower('Iberia') $tail_name"
    "filter industry|$list AND a.industry_key = lower('public sector') $tail_name"
    "get account|SELECT $cols FROM accounts a WHERE a.id = 777"
)
if [ "$has_activities" = t ]; then
    activity_branch="SELECT x.occur_time AS t, 1 AS type, x.id AS ref, initcap(x.kind) || ': ' || x.subject AS title, left(x.notes, 500) AS detail, coalesce(x.created_by::text, '') AS actor FROM activities x WHERE x.account_id = 42"
    queries+=(
        "timeline, first page|SELECT extract(epoch from u.t)::text, u.type, u.ref::text, u.title, u.detail, u.actor FROM (($activity_branch AND (NULL::timestamptz IS NULL OR (x.occur_time <= NULL::timestamptz AND (x.occur_time, 1, x.id) < (NULL::timestamptz, NULL::int, NULL::bigint))) ORDER BY x.occur_time DESC, x.id DESC LIMIT 51)) u ORDER BY u.t DESC, u.type DESC, u.ref DESC LIMIT 51"
        "timeline, keyset page|SELECT extract(epoch from u.t)::text, u.type, u.ref::text, u.title, u.detail, u.actor FROM (($activity_branch AND ('2024-06-01'::timestamptz IS NULL OR (x.occur_time <= '2024-06-01'::timestamptz AND (x.occur_time, 1, x.id) < ('2024-06-01'::timestamptz, 1::int, 999999::bigint))) ORDER BY x.occur_time DESC, x.id DESC LIMIT 51)) u ORDER BY u.t DESC, u.type DESC, u.ref DESC LIMIT 51"
        "list activities of an account|SELECT x.id FROM activities x WHERE x.account_id = 42 ORDER BY x.occur_time DESC, x.id DESC LIMIT 51"
    )
else
    skip "timeline plans" "the activities table does not exist yet"
fi

# The fixtures, loaded in a transaction that each session below rolls back.
fixtures=$(
    cat <<EOF
BEGIN;
SET LOCAL search_path = concord;
INSERT INTO users (username, display_name, department, role, password_hash)
SELECT 'plan-' || g, 'Plan User ' || g,
       (ARRAY['sales', 'presales', 'delivery', 'rnd', 'success'])[1 + g % 5], 'member', 'x'
  FROM generate_series(1, 20) g;
WITH ins AS (
INSERT INTO accounts (name, legal_name, industry, region, size_class, tags, notes, owner_id,
                      tier, stage)
SELECT (ARRAY['Nordwind', 'Alpenblick', 'Kastanie', 'Lindenhof', 'Riverbend'])[1 + g % 5]
         || ' ' || (ARRAY['Logistics', 'Robotics', 'Foods', 'Energy'])[1 + g % 4] || ' ' || g,
       'Legal name ' || g || ' GmbH',
       (ARRAY['manufacturing', 'software', 'retail', 'public sector'])[1 + g % 4],
       (ARRAY['DACH', 'Nordics', 'Iberia', 'France', 'Italy', 'CEE'])[1 + g % 6],
       (ARRAY['large', 'medium', 'small', 'entry'])[1 + g % 4],
       CASE WHEN g % 500 = 0 THEN ARRAY['rare-tag'] WHEN g % 3 = 0 THEN ARRAY['partner', 'pilot']
            ELSE '{}'::text[] END,
       repeat('Notes about the customer and the next steps. ', 4),
       (SELECT id FROM users WHERE username = 'plan-' || (1 + g % 20)),
       CASE WHEN g % 50 = 0 THEN 'tier_s' WHEN g % 10 = 0 THEN 'tier_a' END,
       (ARRAY['prospect', 'onboarding', 'adoption', 'renewal', 'churned'])[1 + (g / 7) % 5]
  FROM generate_series(1, 20000) g
RETURNING id)
SELECT min(id) AS plan_first FROM ins \gset
UPDATE accounts SET parent_id = :plan_first + 6
 WHERE id >= :plan_first AND id % 400 = 0 AND id <> :plan_first + 6;
EOF
    if [ "$has_activities" = t ]; then
        cat <<EOF
INSERT INTO activities (account_id, kind, subject, notes, occur_time, created_by)
SELECT :plan_first + g % 300, 'meeting', 'Status meeting ' || g,
       'We discussed the rollout.', timestamptz '2024-01-01' + g * interval '7 minutes', $admin_id
  FROM generate_series(1, 60000) g;
EOF
    fi
    echo "ANALYZE accounts;"
    echo "ANALYZE account_search;"
    echo "ANALYZE users;"
    [ "$has_activities" = t ] && echo "ANALYZE activities;"
)
caller="SELECT set_config('concord.user_id', '$admin_id', true), set_config('concord.role', 'admin', true),
       set_config('concord.department', 'sales', true) \\g /dev/null"

# One session: load, analyze, become concord_app with the caller set, explain, roll back.
script=$(test_tmpdir)/plans.sql
{
    printf '%s\n' "$fixtures"
    cat <<EOF
SET LOCAL ROLE concord_app;
SELECT set_config('concord.user_id', '$admin_id', true), set_config('concord.role', 'admin', true),
       set_config('concord.department', 'sales', true) \\g /dev/null
EOF
    for q in "${queries[@]}"; do
        name=${q%%|*}
        sql=${q#*|}
        # The timeline and account ids above are relative to the loaded rows.
        sql=${sql//x.account_id = 42/x.account_id = :plan_first + 42}
        echo "\\echo '==== $name'"
        echo "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $sql;"
    done
    echo "ROLLBACK;"
} >"$script"

out=$(psql_super -X -f "$script" 2>&1) || fail "running the plans failed" "$out"

# check_plan NAME PLAN: no sequential scan of the big tables; a bounded scan.
check_plan() {
    local name=$1 plan=$2 removed
    if printf '%s\n' "$plan" | grep -qE 'Seq Scan on (accounts|activities|account_search)'; then
        not_ok "$name: no sequential scan of accounts, activities or account_search" "$plan"
    else
        ok "$name: no sequential scan of accounts, activities or account_search"
    fi
    # Rows read and thrown away by filters (RLS included) on the way to one page.
    removed=$(printf '%s\n' "$plan" | sed -n 's/.*Rows Removed by Filter: \([0-9]*\).*/\1/p' |
        awk '{ s += $1 } END { print s + 0 }')
    if [ "$removed" -le 2000 ]; then
        ok "$name: the scan is bounded ($removed rows filtered out)"
    else
        # A TAP TODO: reported, not counted as a failure.
        _ct_num=$((_ct_num + 1))
        echo "not ok $_ct_num - $name: the scan is bounded # TODO $removed rows filtered out for one page"
        printf '%s\n' "$plan" | sed 's/^/#   /'
    fi
}

# Splits the output by the ==== markers and checks each plan.
for q in "${queries[@]}"; do
    name=${q%%|*}
    plan=$(printf '%s\n' "$out" | awk -v n="==== $name" '
        $0 == n { on = 1; next } /^==== / { on = 0 } on')
    if [ -z "$plan" ]; then
        not_ok "$name: has a plan" "no plan in the output:
$out"
        continue
    fi
    check_plan "$name" "$plan"
done

# The statements search_account_page runs, per kind of search: name|arguments|the index the
# plan must read the search table with (a common fragment newest first walks the primary key
# backwards; a rare one uses the trigram index; a common tag in name order walks the name
# index; a rare tag uses the tag index).
searches=(
    "common fragment, newest first|lower('%energy%'), 'energy', NULL, NULL, 51, true|account_search_pkey"
    "common fragment, newest first, next page|lower('%energy%'), 'energy', NULL, :plan_first + 19500, 51, true|account_search_pkey"
    "rare fragment, newest first|lower('%energy 1999%'), 'energy 1999', NULL, NULL, 51, true|account_search_name"
    "rare fragment by name|lower('%energy 1999%'), 'energy 1999', NULL, NULL, 51, false|account_search_name"
    "fragment that is also a tag|lower('%pilot%'), 'pilot', NULL, NULL, 51, true|account_search_pkey"
    "common tag by name|NULL, NULL, 'partner', NULL, 51, false|account_search_order"
    "common tag by name, next page|NULL, NULL, 'partner', :plan_first + 900, 51, false|account_search_order"
    "rare tag by name|NULL, NULL, 'rare-tag', NULL, 51, false|account_search_tags"
)
# auto_explain reports the plan of every statement a function runs as a notice; the markers
# go to standard error too (\warn), so that one stream keeps them in order.
script=$(test_tmpdir)/search-plans.sql
{
    printf '%s\n' "$fixtures"
    cat <<EOF
LOAD 'auto_explain';
SET LOCAL auto_explain.log_min_duration = 0;
SET LOCAL auto_explain.log_nested_statements = on;
SET LOCAL auto_explain.log_analyze = on;
SET LOCAL auto_explain.log_timing = off;
SET LOCAL auto_explain.log_level = notice;
SET LOCAL ROLE concord_app;
$caller
EOF
    for q in "${searches[@]}"; do
        IFS='|' read -r name args _ <<<"$q"
        echo "\\warn '==== $name'"
        echo "SELECT count(*) FROM search_account_page($args);"
    done
    echo "ROLLBACK;"
} >"$script"
out=$(psql_super -X -q -f "$script" 2>&1 >/dev/null) || fail "running the search plans failed" "$out"
for q in "${searches[@]}"; do
    IFS='|' read -r name args index <<<"$q"
    # The plan of the statement built inside the function: from its Query Text to the next notice.
    plan=$(printf '%s\n' "$out" | awk -v n="==== $name" '
        $0 == n { on = 1; next } /^==== / { on = 0 }
        on && /NOTICE:/ { keep = 0 }
        on && /Query Text: SELECT s.account_id/ { keep = 1 }
        on && keep')
    if [ -z "$plan" ]; then
        not_ok "search table, $name: has a plan" "no plan in the output:
$out"
        continue
    fi
    check_plan "search table, $name" "$plan"
    assert_contains "$plan" "$index" "search table, $name: read through $index"
done

done_testing
