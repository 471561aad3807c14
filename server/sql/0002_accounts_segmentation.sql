-- Segmentation and search: ideal-customer-profile scores, trigram search on
-- names, tags, merge tracking, and the indexes the account filters use.

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA concord;

ALTER TABLE accounts
    ADD COLUMN icp_total int NOT NULL DEFAULT 0 CHECK (icp_total BETWEEN 0 AND 25),
    ADD COLUMN merged_into_id bigint REFERENCES accounts (id);

-- The latest score of each criterion; history is in the audit log.
CREATE TABLE icp_scores (
    account_id bigint NOT NULL REFERENCES accounts (id),
    criterion  text NOT NULL CHECK (criterion IN ('scale_and_maturity', 'industry_influence',
               'healthy_growth', 'it_as_strategy', 'win_win_mindset')),
    score      int NOT NULL CHECK (score BETWEEN 0 AND 5),
    note       text NOT NULL DEFAULT '',
    scored_by  bigint REFERENCES users (id),
    scored_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, criterion)
);
ALTER TABLE icp_scores ENABLE ROW LEVEL SECURITY;
ALTER TABLE icp_scores FORCE ROW LEVEL SECURITY;
CREATE POLICY icp_scores_visible ON icp_scores
    USING (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON icp_scores TO concord_app;

-- Text search matches names by trigram (also used for duplicate detection) and tags exactly.
CREATE INDEX accounts_name_trgm ON accounts USING gin (lower(name) gin_trgm_ops);
CREATE INDEX accounts_tags ON accounts USING gin (tags);
CREATE INDEX IF NOT EXISTS accounts_industry ON accounts (lower(industry));
CREATE INDEX accounts_region ON accounts (lower(region));
CREATE INDEX accounts_parent ON accounts (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX accounts_tier ON accounts (tier) WHERE tier IS NOT NULL;
CREATE INDEX accounts_stage ON accounts (stage);
