-- Activities: the touch points with the customer, linked to an account, to
-- the customer's stakeholders and to our users.
--
-- Activities are never edited, so the link tables carry a copy of the
-- activity's account and time: row-level security checks them directly, and
-- the last contact of a stakeholder and the coverage view read only the link
-- tables and their indexes.

CREATE TABLE activities (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id),
    kind        text NOT NULL CHECK (kind IN ('meeting', 'call', 'email', 'visit', 'note',
                                              'demo', 'training')),
    subject     text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    notes       text NOT NULL DEFAULT '' CHECK (length(notes) <= 20000),
    occur_time  timestamptz NOT NULL,
    created_by  bigint REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- ListActivities and the timeline: newest first per account (keyset on time, id).
CREATE INDEX activities_account_time ON activities (account_id, occur_time DESC, id DESC);

-- The link tables have no foreign keys. Their rows are written only together
-- with their activity, in the same transaction and with ids from the same
-- sequence, after the handler checked (in one set-based query) that every
-- stakeholder is a live stakeholder of the activity's account and every user
-- exists; activities, stakeholders and users are never deleted (the
-- application role has no DELETE on them), so a per-row foreign-key check
-- would only repeat those checks, at a third of the bulk path's insert time.
CREATE TABLE activity_stakeholders (
    activity_id    bigint NOT NULL,
    stakeholder_id bigint NOT NULL,
    account_id     bigint NOT NULL,
    occur_time     timestamptz NOT NULL,
    PRIMARY KEY (activity_id, stakeholder_id)
);
-- Last contact of a stakeholder, and ListActivities filtered by stakeholder.
CREATE INDEX activity_stakeholders_contact
    ON activity_stakeholders (stakeholder_id, occur_time DESC, activity_id DESC);
-- Coverage: the contacts of one account within a window.
CREATE INDEX activity_stakeholders_account ON activity_stakeholders (account_id, occur_time);

CREATE TABLE activity_users (
    activity_id bigint NOT NULL,
    user_id     bigint NOT NULL,
    account_id  bigint NOT NULL,
    PRIMARY KEY (activity_id, user_id)
);

-- Visible with the account; recorded only by those who may edit the account.
ALTER TABLE activities ENABLE ROW LEVEL SECURITY;
ALTER TABLE activities FORCE ROW LEVEL SECURITY;
CREATE POLICY activities_select ON activities FOR SELECT
    USING (caller_sees_all() OR EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));
CREATE POLICY activities_insert ON activities FOR INSERT
    WITH CHECK (caller_sees_all() OR EXISTS (SELECT 1 FROM accounts a
                        WHERE a.id = account_id AND account_editable(a.id, a.owner_id)));

ALTER TABLE activity_stakeholders ENABLE ROW LEVEL SECURITY;
ALTER TABLE activity_stakeholders FORCE ROW LEVEL SECURITY;
CREATE POLICY activity_stakeholders_select ON activity_stakeholders FOR SELECT
    USING (caller_sees_all() OR EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));
CREATE POLICY activity_stakeholders_insert ON activity_stakeholders FOR INSERT
    WITH CHECK (caller_sees_all() OR EXISTS (SELECT 1 FROM accounts a
                        WHERE a.id = account_id AND account_editable(a.id, a.owner_id)));

ALTER TABLE activity_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE activity_users FORCE ROW LEVEL SECURITY;
CREATE POLICY activity_users_select ON activity_users FOR SELECT
    USING (caller_sees_all() OR EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));
CREATE POLICY activity_users_insert ON activity_users FOR INSERT
    WITH CHECK (caller_sees_all() OR EXISTS (SELECT 1 FROM accounts a
                        WHERE a.id = account_id AND account_editable(a.id, a.owner_id)));

GRANT SELECT, INSERT ON activities, activity_stakeholders, activity_users TO concord_app;
-- The bulk path takes ids from the identity sequence for its staging table so
-- that the link rows can be written with the same ids.
GRANT USAGE ON SEQUENCE activities_id_seq TO concord_app;
-- The bulk path stages rows in a temporary table (ON COMMIT DROP).
DO $$ BEGIN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO concord_app', current_database());
END $$;
