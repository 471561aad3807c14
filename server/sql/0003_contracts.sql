-- Contracts (subscription periods), the recorded lifecycle stage transitions,
-- handovers from sales to customer success, and the daily stage refresh.
--
-- The stage itself lives in accounts.stage (0001) and is kept equal to the
-- stage as of today computed from the active contracts (server/lifecycle.c).

CREATE TABLE contracts (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id         bigint NOT NULL REFERENCES accounts (id),
    start_date         date NOT NULL,
    end_date           date NOT NULL,
    annual_value_minor bigint NOT NULL CHECK (annual_value_minor >= 0),
    currency           text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    products           text[] NOT NULL DEFAULT '{}',
    status             text NOT NULL DEFAULT 'contract_active'
                       CHECK (status IN ('contract_active', 'contract_cancelled')),
    created_by         bigint REFERENCES users (id),
    version            bigint NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (start_date <= end_date),
    CHECK (cardinality(products) <= 50)
);
-- An account's contracts, newest start first (ListContracts, the lifecycle).
CREATE INDEX contracts_account ON contracts (account_id, start_date DESC, id DESC);
-- Renewals: active contracts by end date.
CREATE INDEX contracts_renewal ON contracts (end_date, id) WHERE status = 'contract_active';

-- Every stage transition Concord recorded, oldest first by id.
CREATE TABLE stage_changes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id     bigint NOT NULL REFERENCES accounts (id),
    from_stage     text NOT NULL CHECK (from_stage IN ('prospect', 'handover', 'onboarding',
                   'adoption', 'renewal', 'churned')),
    to_stage       text NOT NULL CHECK (to_stage IN ('prospect', 'handover', 'onboarding',
                   'adoption', 'renewal', 'churned')),
    effective_date date NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    reason         text NOT NULL DEFAULT '' CHECK (length(reason) <= 500)
);
CREATE INDEX stage_changes_account ON stage_changes (account_id, id);
CREATE INDEX stage_changes_account_effective ON stage_changes (account_id, effective_date, id);

-- What sales hands to customer success; acknowledged once by the receiver.
CREATE TABLE handovers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES accounts (id),
    contract_id     bigint REFERENCES contracts (id),
    from_user_id    bigint NOT NULL REFERENCES users (id),
    to_user_id      bigint NOT NULL REFERENCES users (id),
    commitments     text NOT NULL CHECK (length(commitments) BETWEEN 1 AND 20000),
    stakeholders    text NOT NULL DEFAULT '' CHECK (length(stakeholders) <= 20000),
    risks           text NOT NULL DEFAULT '' CHECK (length(risks) <= 20000),
    notes           text NOT NULL DEFAULT '' CHECK (length(notes) <= 20000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz
);
CREATE INDEX handovers_account ON handovers (account_id, id DESC);
-- A receiver's open handovers (ListHandovers without an account).
CREATE INDEX handovers_pending ON handovers (to_user_id, id DESC) WHERE acknowledged_at IS NULL;

-- Days the daily refresh has run for, so that it runs once per UTC day
-- across restarts and concordd instances.
CREATE TABLE stage_refreshes (
    day         date PRIMARY KEY,
    accounts    int NOT NULL,
    changes     int NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now()
);

-- Rows follow their account (accounts' own policies): visible with the
-- account; written only by those who may change the account. The acknowledge
-- of a handover is the receiver's alone.
ALTER TABLE contracts ENABLE ROW LEVEL SECURITY;
ALTER TABLE contracts FORCE ROW LEVEL SECURITY;
CREATE POLICY contracts_select ON contracts FOR SELECT
    USING (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));
CREATE POLICY contracts_insert ON contracts FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM accounts a
                        WHERE a.id = account_id AND account_editable(a.id, a.owner_id)));
CREATE POLICY contracts_update ON contracts FOR UPDATE
    USING (EXISTS (SELECT 1 FROM accounts a
                   WHERE a.id = account_id AND account_editable(a.id, a.owner_id)));

ALTER TABLE stage_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE stage_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY stage_changes_select ON stage_changes FOR SELECT
    USING (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));
CREATE POLICY stage_changes_insert ON stage_changes FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM accounts a
                        WHERE a.id = account_id AND account_editable(a.id, a.owner_id)));

ALTER TABLE handovers ENABLE ROW LEVEL SECURITY;
ALTER TABLE handovers FORCE ROW LEVEL SECURITY;
CREATE POLICY handovers_select ON handovers FOR SELECT
    USING (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));
CREATE POLICY handovers_insert ON handovers FOR INSERT
    WITH CHECK (from_user_id = caller_id()
                AND EXISTS (SELECT 1 FROM accounts a
                            WHERE a.id = account_id AND account_editable(a.id, a.owner_id)));
CREATE POLICY handovers_update ON handovers FOR UPDATE
    USING (to_user_id = caller_id() AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));

-- Contracts are cancelled, never deleted; stage history is append-only.
GRANT SELECT, INSERT, UPDATE ON contracts, handovers TO concord_app;
GRANT SELECT, INSERT ON stage_changes, stage_refreshes TO concord_app;
