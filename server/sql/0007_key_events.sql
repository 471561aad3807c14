-- The key-event calendar and the outreach tasks it triggers.
--
-- A key event is either an industry event (industry set, account_id NULL: it
-- concerns every account of that industry, matched case-insensitively) or an
-- account event (account_id set, industry NULL). Yearly events repeat on the
-- anniversary of event_date; occurrences are computed by concordd
-- (server/recurrence.c), not stored.
--
-- An outreach task is one (event, account, occurrence day): the unique key
-- makes "create tasks" idempotent however often it runs. Deleting an event
-- keeps its tasks: they carry a copy of the title and lose only the link.

CREATE TABLE key_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope       text NOT NULL CHECK (scope IN ('industry_event', 'account_event')),
    category    text CHECK (category IN ('ranking', 'policy', 'assessment', 'anniversary',
                                         'leadership_change', 'other_event')),
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    event_date  date NOT NULL,
    recurrence  text CHECK (recurrence IN ('yearly')), -- NULL: once
    industry    text CHECK (length(industry) BETWEEN 1 AND 100),
    -- The industry as matched against accounts.industry_key (see below).
    industry_key text GENERATED ALWAYS AS (lower(industry)) STORED,
    account_id  bigint REFERENCES accounts (id),
    created_by  bigint REFERENCES users (id),
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((scope = 'industry_event' AND industry IS NOT NULL AND account_id IS NULL)
        OR (scope = 'account_event' AND account_id IS NOT NULL AND industry IS NULL))
);
-- ListKeyEvents pages by (event_date, id); the account filter and the upcoming
-- look-up of industry events use the other two.
CREATE INDEX key_events_date ON key_events (event_date, id);
CREATE INDEX key_events_account ON key_events (account_id, event_date) WHERE account_id IS NOT NULL;
CREATE INDEX key_events_industry ON key_events (industry_key, event_date)
    WHERE account_id IS NULL;

-- Industry events find their accounts by industry, case-insensitively. An
-- index on lower(industry) cannot serve that query: under row-level security
-- PostgreSQL evaluates the policy (account_visible) on every row before any
-- condition that calls a function not marked leakproof, such as lower(), so
-- the planner scans every account. A stored lower-cased copy compared with
-- plain text equality (leakproof) is used through its index, and the policy
-- runs only on the accounts of the industry.
-- accounts.industry_key and its index come from 0002_accounts_segmentation.sql.

CREATE TABLE outreach_tasks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    bigint REFERENCES key_events (id) ON DELETE SET NULL,
    account_id  bigint NOT NULL REFERENCES accounts (id),
    title       text NOT NULL,
    due_date    date NOT NULL,
    assignee_id bigint NOT NULL REFERENCES users (id),
    status      text NOT NULL DEFAULT 'task_open' CHECK (status IN ('task_open', 'task_done')),
    done_at     timestamptz,
    done_by     bigint REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, account_id, due_date),
    CHECK ((status = 'task_done') = (done_at IS NOT NULL))
);
-- "My open tasks by due date", the account filter, and the unfiltered list.
CREATE INDEX outreach_tasks_assignee ON outreach_tasks (assignee_id, status, due_date, id);
CREATE INDEX outreach_tasks_account ON outreach_tasks (account_id, due_date, id);
CREATE INDEX outreach_tasks_due ON outreach_tasks (due_date, id);

-- Row-level security. Industry events are visible to every signed-in user;
-- account events and tasks only with their account (whose own policy decides).
-- Industry events are written by managers and admins; account events by
-- those who may edit the account.
ALTER TABLE key_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE key_events FORCE ROW LEVEL SECURITY;
CREATE POLICY key_events_select ON key_events FOR SELECT
    USING (caller_id() IS NOT NULL
           AND (account_id IS NULL
                OR EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id)));
CREATE POLICY key_events_insert ON key_events FOR INSERT
    WITH CHECK (caller_id() IS NOT NULL
                AND ((account_id IS NULL AND caller_role() IN ('manager', 'admin'))
                     OR EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id
                                AND account_editable(a.id, a.owner_id))));
CREATE POLICY key_events_update ON key_events FOR UPDATE
    USING (caller_id() IS NOT NULL
           AND ((account_id IS NULL AND caller_role() IN ('manager', 'admin'))
                OR EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id
                           AND account_editable(a.id, a.owner_id))))
    WITH CHECK (caller_id() IS NOT NULL
                AND ((account_id IS NULL AND caller_role() IN ('manager', 'admin'))
                     OR EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id
                                AND account_editable(a.id, a.owner_id))));
CREATE POLICY key_events_delete ON key_events FOR DELETE
    USING (caller_id() IS NOT NULL
           AND ((account_id IS NULL AND caller_role() IN ('manager', 'admin'))
                OR EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id
                           AND account_editable(a.id, a.owner_id))));

ALTER TABLE outreach_tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach_tasks FORCE ROW LEVEL SECURITY;
CREATE POLICY outreach_tasks_select ON outreach_tasks FOR SELECT
    USING (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));
-- Seeing the account is enough to create its tasks: they are for its owner.
CREATE POLICY outreach_tasks_insert ON outreach_tasks FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));
-- Completing: the assignee, or whoever may edit the account (which includes
-- the managers of departments involved in it, and admins).
CREATE POLICY outreach_tasks_update ON outreach_tasks FOR UPDATE
    USING (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id
                   AND (assignee_id = caller_id() OR account_editable(a.id, a.owner_id))))
    WITH CHECK (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));

GRANT SELECT, INSERT, UPDATE, DELETE ON key_events TO concord_app;
GRANT SELECT, INSERT, UPDATE ON outreach_tasks TO concord_app;
