-- Search pages in two orders, each planned for the values of the call.
--
-- A name fragment that is common (a word in one name of forty) has matches all
-- over the table but clustered in name order (names starting with the word sit
-- together), so a page in name order costs either every match (bitmap, then a
-- sort) or a walk of the name index past everything before the cluster: both
-- grow with the table. In id order (newest first) the matches are spread
-- evenly, so walking the primary key backwards finds a page after about
-- page / share-of-matches rows, whatever the size of the table; a rare fragment
-- is served by the trigram index and a sort of its few matches. The SQL
-- function of 0002 was planned once for any pattern (a generic plan, which can
-- use neither choice well); this one builds its statement per call and runs it
-- with EXECUTE, so the planner sees the pattern and picks.
DROP FUNCTION search_account_page(text, text, text, bigint, int);

-- Ids of accounts matching a search, after the position of account after_id:
-- the name matches a LIKE pattern or carries query_tag, and it carries
-- required_tag when given. newest_first: in descending id order, else in
-- (name_key, id) order. NULL pattern: no text condition; NULL after_id: from
-- the start; NULL max_rows: all. Only ids leave the function: names stay
-- behind the accounts policy.
CREATE FUNCTION search_account_page(pattern text, query_tag text, required_tag text,
                                    after_id bigint, max_rows int, newest_first boolean)
    RETURNS SETOF bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER ROWS 500
    SET search_path = concord, pg_temp
    -- VOLATILE only because PostgreSQL allows EXPLAIN (below) in no other
    -- function; it reads and never writes.
    -- Every statement here has an index to use; the tag probe below would
    -- otherwise be planned as a scan that stops at the first row carrying the
    -- tag, which for a tag nobody carries reads the whole table.
    SET enable_seqscan = off AS $$
DECLARE
    sql text := 'SELECT s.account_id FROM account_search s WHERE true';
    after_key text;
    plan json;
BEGIN
    -- The tag branch only when some account carries the text as a tag (one
    -- probe of the tag index): the planner's guess for a tag nobody carries is
    -- hundreds of rows, which would make a rare name fragment walk the table.
    IF pattern IS NOT NULL AND query_tag IS NOT NULL
       AND EXISTS (SELECT 1 FROM account_search t WHERE t.tags @> ARRAY[query_tag]) THEN
        sql := sql || ' AND (s.name_key LIKE $1 OR s.tags @> ARRAY[$2])';
    ELSIF pattern IS NOT NULL THEN
        sql := sql || ' AND s.name_key LIKE $1';
    END IF;
    IF required_tag IS NOT NULL THEN
        sql := sql || ' AND s.tags @> ARRAY[$3]';
    END IF;
    IF after_id IS NOT NULL AND newest_first THEN
        sql := sql || ' AND s.account_id < $4';
    ELSIF after_id IS NOT NULL THEN
        SELECT p.name_key INTO after_key FROM account_search p WHERE p.account_id = after_id;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        sql := sql || ' AND (s.name_key, s.account_id) > ($6, $4)';
    END IF;
    IF newest_first AND pattern IS NOT NULL THEN
        -- The planner estimates the matches of a fragment well but can misjudge
        -- the trigram index's cost when the fragment is made of common trigrams
        -- ("energy 1999"), and then walk the whole key for a handful of rows.
        -- So the choice is made here from its estimate: few matches are read
        -- through the trigram index and sorted ("+ 0" rules out walking the
        -- key); many are found by walking the key backwards.
        EXECUTE 'EXPLAIN (FORMAT JSON) ' || sql
            USING pattern, query_tag, required_tag, after_id, max_rows, after_key INTO plan;
        IF (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8 < 2000 THEN
            sql := sql || ' ORDER BY s.account_id + 0 DESC';
        ELSE
            sql := sql || ' ORDER BY s.account_id DESC';
        END IF;
    ELSIF newest_first THEN
        sql := sql || ' ORDER BY s.account_id DESC';
    ELSE
        sql := sql || ' ORDER BY s.name_key, s.account_id';
    END IF;
    IF max_rows IS NOT NULL THEN
        sql := sql || ' LIMIT $5';
    END IF;
    RETURN QUERY EXECUTE sql USING pattern, query_tag, required_tag, after_id, max_rows, after_key;
END
$$;
REVOKE ALL ON FUNCTION search_account_page(text, text, text, bigint, int, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION search_account_page(text, text, text, bigint, int, boolean)
    TO concord_app;
