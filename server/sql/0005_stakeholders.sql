-- Stakeholders: the customer's people and their relationship map.
--
-- Deleting a stakeholder only sets deleted_at, so that the activities that
-- name them keep their links; deleted rows drop out of lists and coverage.
-- Their last contact is computed on read from activity_stakeholders
-- (0006_activities.sql), which carries the activity's time for that purpose.

-- True for an admin caller, who sees and may change every account. Policies
-- test it first: it is inlined (plain SQL over current_setting), so an admin's
-- bulk writes and large reads skip the per-row look-up of the account, which
-- account_editable would answer with true anyway. Names are qualified: an
-- inlined body is parsed with the caller's search_path.
CREATE FUNCTION caller_sees_all() RETURNS boolean LANGUAGE sql STABLE
    AS $$ SELECT concord.caller_id() IS NOT NULL AND concord.caller_role() = 'admin' $$;
GRANT EXECUTE ON FUNCTION caller_sees_all() TO concord_app;

CREATE TABLE stakeholders (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts (id),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    title         text NOT NULL DEFAULT '' CHECK (length(title) <= 200),
    level         text NOT NULL CHECK (level IN ('executive', 'director', 'staff')),
    -- Lists sort executives first; a stored rank keeps that order indexable.
    level_rank    smallint GENERATED ALWAYS AS (CASE level WHEN 'executive' THEN 1
                                                           WHEN 'director' THEN 2
                                                           ELSE 3 END) STORED,
    department    text NOT NULL DEFAULT '' CHECK (length(department) <= 100),
    role          text NOT NULL DEFAULT '' CHECK (length(role) <= 100),
    attitude      text CHECK (attitude IN ('champion', 'supporter', 'neutral', 'blocker')),
    influence     int NOT NULL DEFAULT 0 CHECK (influence BETWEEN 0 AND 5),
    reports_to_id bigint REFERENCES stakeholders (id),
    email         text NOT NULL DEFAULT '' CHECK (length(email) <= 254),
    phone         text NOT NULL DEFAULT '' CHECK (length(phone) <= 50),
    notes         text NOT NULL DEFAULT '' CHECK (length(notes) <= 20000),
    version       bigint NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    CHECK (reports_to_id IS DISTINCT FROM id)
);
-- ListStakeholders: by level, then name, then id, per account, live rows only.
CREATE INDEX stakeholders_account ON stakeholders (account_id, level_rank, lower(name), id)
    WHERE deleted_at IS NULL;
-- Clearing reports_to links when someone is deleted; walking the map.
CREATE INDEX stakeholders_reports_to ON stakeholders (reports_to_id)
    WHERE reports_to_id IS NOT NULL;

-- Visible with the account; changed only by those who may edit the account.
ALTER TABLE stakeholders ENABLE ROW LEVEL SECURITY;
ALTER TABLE stakeholders FORCE ROW LEVEL SECURITY;
CREATE POLICY stakeholders_select ON stakeholders FOR SELECT
    USING (caller_sees_all() OR EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));
CREATE POLICY stakeholders_insert ON stakeholders FOR INSERT
    WITH CHECK (caller_sees_all() OR EXISTS (SELECT 1 FROM accounts a
                        WHERE a.id = account_id AND account_editable(a.id, a.owner_id)));
CREATE POLICY stakeholders_update ON stakeholders FOR UPDATE
    USING (caller_sees_all() OR EXISTS (SELECT 1 FROM accounts a
                   WHERE a.id = account_id AND account_editable(a.id, a.owner_id)))
    WITH CHECK (caller_sees_all() OR EXISTS (SELECT 1 FROM accounts a
                        WHERE a.id = account_id AND account_editable(a.id, a.owner_id)));

GRANT SELECT, INSERT, UPDATE ON stakeholders TO concord_app;
