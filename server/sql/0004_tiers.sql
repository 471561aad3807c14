-- Account tiers: the rules (data that admins change), evaluations, the
-- proposals they produce, and the history of every tier change.
--
-- accounts.tier already exists (0001): 'tier_s' | 'tier_a' | 'tier_b', NULL
-- for accounts never tiered. It changes only through a decided proposal or an
-- override, each of which writes a tier_changes row in the same transaction.
--
-- The metrics the rules look at (contracts, activities, stakeholders) live in
-- tables of later migrations; the tier service reads them with queries at run
-- time, so nothing here refers to them.

-- A rule: an account qualifies for its tier when it meets every threshold set
-- (0 is "not checked"). Rules are global, not per account: everyone may read
-- them, admins change them through the API.
CREATE TABLE tier_rules (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tier                   text NOT NULL CHECK (tier IN ('tier_s', 'tier_a')),
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    min_annual_value_minor bigint NOT NULL DEFAULT 0 CHECK (min_annual_value_minor >= 0),
    currency               text NOT NULL DEFAULT ''
                           CHECK (currency = '' OR currency ~ '^[A-Z]{3}$'),
    min_engagements        int NOT NULL DEFAULT 0 CHECK (min_engagements >= 0),
    min_stakeholder_levels int NOT NULL DEFAULT 0 CHECK (min_stakeholder_levels BETWEEN 0 AND 3),
    min_stakeholders       int NOT NULL DEFAULT 0 CHECK (min_stakeholders >= 0),
    min_icp_total          int NOT NULL DEFAULT 0 CHECK (min_icp_total BETWEEN 0 AND 25),
    min_health             int NOT NULL DEFAULT 0 CHECK (min_health BETWEEN 0 AND 100),
    active                 boolean NOT NULL DEFAULT true,
    version                bigint NOT NULL DEFAULT 1,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    -- A value threshold means nothing without its currency.
    CHECK (min_annual_value_minor = 0 OR currency <> '')
);

-- The defaults: S for large, busy, broadly connected customers; A for key ones.
INSERT INTO tier_rules (tier, name, min_annual_value_minor, currency, min_engagements,
                        min_stakeholder_levels)
VALUES ('tier_s', 'Strategic: large, engaged, connected at every level', 10000000, 'EUR', 12, 3),
       ('tier_a', 'Key: substantial and engaged', 2000000, 'EUR', 4, 2);

-- One run of the rules as of a day. started_by is NULL for concordd's own
-- month-end run; account_id is set when one account was evaluated. The
-- month-end task looks for its own full run of the day before running again.
CREATE TABLE tier_evaluations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    as_of      date NOT NULL,
    started_by bigint REFERENCES users (id),
    account_id bigint REFERENCES accounts (id),
    evaluated  int NOT NULL DEFAULT 0,
    proposed   int NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tier_evaluations_as_of ON tier_evaluations (as_of)
    WHERE started_by IS NULL AND account_id IS NULL;
-- An evaluation of one account is visible with the account; evaluations of
-- every account carry no account data.
ALTER TABLE tier_evaluations ENABLE ROW LEVEL SECURITY;
ALTER TABLE tier_evaluations FORCE ROW LEVEL SECURITY;
CREATE POLICY tier_evaluations_visible ON tier_evaluations
    USING (caller_id() IS NOT NULL AND (account_id IS NULL
           OR EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id)));

-- What an evaluation proposes for one account whose tier would change.
-- Statuses: pending (waiting for a manager), approved (the proposed tier was
-- applied), overridden (a manager applied decided_tier instead), rejected
-- (the tier was kept), superseded (a later evaluation replaced it).
CREATE TABLE tier_proposals (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    evaluation_id   bigint NOT NULL REFERENCES tier_evaluations (id),
    account_id      bigint NOT NULL REFERENCES accounts (id),
    as_of           date NOT NULL,
    current_tier    text CHECK (current_tier IN ('tier_s', 'tier_a', 'tier_b')),
    proposed_tier   text NOT NULL CHECK (proposed_tier IN ('tier_s', 'tier_a', 'tier_b')),
    reasons         text[] NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'overridden', 'rejected',
                                      'superseded')),
    decided_tier    text CHECK (decided_tier IN ('tier_s', 'tier_a', 'tier_b')),
    decided_by      bigint REFERENCES users (id),
    decided_at      timestamptz,
    decision_reason text NOT NULL DEFAULT '' CHECK (length(decision_reason) <= 2000),
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- At most one proposal per account waits for a decision.
CREATE UNIQUE INDEX tier_proposals_one_pending ON tier_proposals (account_id)
    WHERE status = 'pending';
-- ListTierProposals: newest first, overall, per status and per account.
CREATE INDEX tier_proposals_status ON tier_proposals (status, id);
CREATE INDEX tier_proposals_account ON tier_proposals (account_id, id);

-- Every change of an account's tier, in order of id; never updated or deleted.
CREATE TABLE tier_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id),
    from_tier   text CHECK (from_tier IN ('tier_s', 'tier_a', 'tier_b')),
    to_tier     text NOT NULL CHECK (to_tier IN ('tier_s', 'tier_a', 'tier_b')),
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    changed_by  bigint REFERENCES users (id),
    proposal_id bigint REFERENCES tier_proposals (id),
    changed_at  timestamptz NOT NULL DEFAULT now()
);
-- ListTierHistory: one account, newest first.
CREATE INDEX tier_changes_account ON tier_changes (account_id, id);

-- Proposals and changes are visible with their account. Writing them needs
-- only visibility here: the handlers allow managers and admins only, and
-- require edit access to the account before they write.
ALTER TABLE tier_proposals ENABLE ROW LEVEL SECURITY;
ALTER TABLE tier_proposals FORCE ROW LEVEL SECURITY;
CREATE POLICY tier_proposals_visible ON tier_proposals
    USING (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));

ALTER TABLE tier_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE tier_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tier_changes_visible ON tier_changes
    USING (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));

GRANT SELECT, INSERT, UPDATE ON tier_rules TO concord_app;
GRANT SELECT, INSERT, UPDATE ON tier_evaluations TO concord_app;
GRANT SELECT, INSERT, UPDATE ON tier_proposals TO concord_app;
GRANT SELECT, INSERT ON tier_changes TO concord_app;
