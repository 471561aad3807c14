-- Segmentation and search: ideal-customer-profile scores, keys and indexes for
-- the account filters, the search table, merge tracking.

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

-- Filters under row-level security. PostgreSQL applies the accounts policy to
-- a row before any condition that hands the row's columns to a function not
-- marked leakproof (lower(), LIKE, array containment...), so such a condition
-- can never use an index: every row would be checked against the policy
-- first. Lower-cased copies stored as columns are compared with plain text
-- operators, which are leakproof, so their indexes serve filters, sorting and
-- keyset pagination.
ALTER TABLE accounts
    ADD COLUMN name_key text GENERATED ALWAYS AS (lower(name)) STORED,
    ADD COLUMN industry_key text GENERATED ALWAYS AS (lower(industry)) STORED,
    ADD COLUMN region_key text GENERATED ALWAYS AS (lower(region)) STORED;
CREATE INDEX accounts_name_key ON accounts (name_key, id);
CREATE INDEX accounts_industry_key ON accounts (industry_key, id);
CREATE INDEX accounts_region_key ON accounts (region_key, id);
CREATE INDEX accounts_icp_total ON accounts (icp_total, id) WHERE icp_total > 0;
CREATE INDEX accounts_parent ON accounts (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX accounts_tier ON accounts (tier, id) WHERE tier IS NOT NULL;
CREATE INDEX accounts_stage ON accounts (stage, id);

-- Text search needs operators that are not leakproof at all (LIKE on any
-- position, trigram similarity, tag containment). account_search holds the
-- searchable text of every account outside the policy's reach: concord_app
-- cannot read it (security enabled, no policy grants anything); the SECURITY
-- DEFINER functions below return only the ids of candidates, and queries then
-- read those accounts through the accounts policy. A trigger keeps it in step.
CREATE TABLE account_search (
    account_id bigint PRIMARY KEY REFERENCES accounts (id),
    name_key   text NOT NULL,
    tags       text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX account_search_name ON account_search USING gin (name_key gin_trgm_ops);
CREATE INDEX account_search_tags ON account_search USING gin (tags);
CREATE INDEX account_search_order ON account_search (name_key, account_id);
ALTER TABLE account_search ENABLE ROW LEVEL SECURITY;

CREATE FUNCTION account_search_sync() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = concord, pg_temp AS $$
BEGIN
    INSERT INTO account_search (account_id, name_key, tags)
        SELECT n.id, lower(n.name), n.tags FROM new_rows n
        ON CONFLICT (account_id) DO UPDATE SET name_key = excluded.name_key, tags = excluded.tags
        WHERE account_search.name_key IS DISTINCT FROM excluded.name_key
           OR account_search.tags IS DISTINCT FROM excluded.tags;
    RETURN NULL;
END
$$;
CREATE TRIGGER accounts_search_insert AFTER INSERT ON accounts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION account_search_sync();
CREATE TRIGGER accounts_search_update AFTER UPDATE ON accounts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION account_search_sync();

-- Ids of accounts matching a search, in (name_key, id) order, after the
-- position of account after_id: the name matches a LIKE pattern or carries
-- query_tag, and it carries required_tag when given. NULL pattern: no text
-- condition; NULL after_id: from the start; NULL max_rows: all. Only ids leave
-- the function: names stay behind the accounts policy.
CREATE FUNCTION search_account_page(pattern text, query_tag text, required_tag text,
                                    after_id bigint, max_rows int)
    RETURNS SETOF bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = concord, pg_temp ROWS 500 AS $$
    SELECT s.account_id FROM account_search s
     WHERE (pattern IS NULL OR s.name_key LIKE pattern OR s.tags @> ARRAY[query_tag])
       AND (required_tag IS NULL OR s.tags @> ARRAY[required_tag])
       AND (after_id IS NULL OR (s.name_key, s.account_id) >
            (SELECT p.name_key, p.account_id FROM account_search p WHERE p.account_id = after_id))
     ORDER BY s.name_key, s.account_id LIMIT max_rows
$$;
-- Accounts whose names resemble a name, most similar first (duplicate detection).
CREATE FUNCTION similar_account_names(name text, min_similarity real, max_rows int)
    RETURNS TABLE (account_id bigint, similarity real)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = concord, pg_temp ROWS 50 AS $$
    SELECT s.account_id, similarity(s.name_key, lower(name)) AS sim FROM account_search s
     WHERE s.name_key % lower(name) AND similarity(s.name_key, lower(name)) >= min_similarity
     ORDER BY sim DESC, s.account_id LIMIT max_rows
$$;
REVOKE ALL ON FUNCTION search_account_page(text, text, text, bigint, int),
    similar_account_names(text, real, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION search_account_page(text, text, text, bigint, int),
    similar_account_names(text, real, int) TO concord_app;
