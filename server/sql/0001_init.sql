-- Users, credentials, accounts, account teams and the audit log.
--
-- Roles: the schema belongs to the role that runs migrations (concord_owner);
-- concordd's application role concord_app is granted only what it uses and is
-- subject to row-level security, which is forced on the account tables.

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{1,64}$'),
    display_name  text NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
    department    text NOT NULL
                  CHECK (department IN ('sales', 'presales', 'delivery', 'rnd', 'success')),
    role          text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'manager', 'admin')),
    password_hash text NOT NULL,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    version       bigint NOT NULL DEFAULT 1
);

-- Sessions (from Login) and API tokens share one table: both are bearer
-- secrets stored only as SHA-256 hashes.
CREATE TABLE credentials (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id),
    kind         text NOT NULL CHECK (kind IN ('session', 'api_token')),
    name         text NOT NULL DEFAULT '',
    token_hash   bytea NOT NULL UNIQUE,
    source       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    idle_timeout interval,               -- sessions: ends when unused this long
    expires_at   timestamptz NOT NULL,   -- absolute end
    revoked_at   timestamptz
);
CREATE INDEX credentials_user ON credentials (user_id) WHERE revoked_at IS NULL;

CREATE TABLE accounts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    legal_name     text NOT NULL DEFAULT '',
    industry       text NOT NULL DEFAULT '',
    region         text NOT NULL DEFAULT '',
    size_class     text CHECK (size_class IN ('large', 'medium', 'small', 'entry')),
    selling_mode   text CHECK (selling_mode IN ('transactional', 'consultative', 'enterprise')),
    business_model text CHECK (business_model IN
                   ('professional_services', 'solution', 'product', 'online_service')),
    parent_id      bigint REFERENCES accounts (id),
    website        text NOT NULL DEFAULT '',
    tags           text[] NOT NULL DEFAULT '{}',
    notes          text NOT NULL DEFAULT '',
    owner_id       bigint NOT NULL REFERENCES users (id),
    tier           text CHECK (tier IN ('tier_s', 'tier_a', 'tier_b')),
    stage          text NOT NULL DEFAULT 'prospect'
                   CHECK (stage IN ('prospect', 'handover', 'onboarding', 'adoption',
                                    'renewal', 'churned')),
    archived_at    timestamptz,
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_id IS DISTINCT FROM id)
);
CREATE INDEX accounts_owner ON accounts (owner_id);
CREATE INDEX accounts_created ON accounts (created_at, id);
CREATE INDEX accounts_updated ON accounts (updated_at, id);

-- The users working an account, each with a team role.
CREATE TABLE account_team (
    account_id bigint NOT NULL REFERENCES accounts (id),
    user_id    bigint NOT NULL REFERENCES users (id),
    team_role  text NOT NULL CHECK (team_role IN ('account_owner', 'solution_lead',
               'delivery_lead', 'rnd_liaison', 'customer_success_manager',
               'executive_sponsor')),
    access_level text NOT NULL DEFAULT 'edit' CHECK (access_level IN ('read', 'edit')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX account_team_user ON account_team (user_id, account_id);

-- Every mutation, login failure and admin action; written in the same
-- transaction as the change it records. Append-only for the application.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    bigint REFERENCES users (id),
    source      text NOT NULL DEFAULT '',
    action      text NOT NULL,
    target_type text NOT NULL DEFAULT '',
    target_id   text NOT NULL DEFAULT '',
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, at);

-- Row-level security. concordd sets the caller on its connection before each
-- call with set_config('concord.user_id' | 'concord.role' | 'concord.department').
-- With no caller set, no account row is visible.
--
-- The policies are written as plain expressions (and the helper functions as
-- plain SQL, no SECURITY DEFINER, no SET clause) so that PostgreSQL can plan
-- them into each query instead of calling a function per row; names inside
-- functions are schema-qualified because they run with the caller's search_path.
CREATE FUNCTION caller_id() RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('concord.user_id', true), '')::bigint $$;
CREATE FUNCTION caller_role() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT coalesce(current_setting('concord.role', true), '') $$;
CREATE FUNCTION caller_department() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT coalesce(current_setting('concord.department', true), '') $$;

-- Whether the caller may see (and work) an account: admins see all; owners
-- and team members see theirs; department managers see the accounts their
-- department is involved in (as owner or on the team). The accounts policy
-- spells out the same rule inline.
CREATE FUNCTION account_visible(acc_id bigint, acc_owner bigint) RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT concord.caller_id() IS NOT NULL AND (
        concord.caller_role() = 'admin'
        OR acc_owner = concord.caller_id()
        OR EXISTS (SELECT 1 FROM concord.account_team t
                   WHERE t.account_id = acc_id AND t.user_id = concord.caller_id())
        OR (concord.caller_role() = 'manager' AND (
               EXISTS (SELECT 1 FROM concord.users u
                       WHERE u.id = acc_owner AND u.department = concord.caller_department())
            OR EXISTS (SELECT 1 FROM concord.account_team t JOIN concord.users u
                       ON u.id = t.user_id
                       WHERE t.account_id = acc_id AND u.department = concord.caller_department()))))
$$;

-- Whether the caller may change an account: admins; the owner; team members
-- with edit access; managers of a department involved in it.
CREATE FUNCTION account_editable(acc_id bigint, acc_owner bigint) RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT concord.caller_id() IS NOT NULL AND (
        concord.caller_role() = 'admin'
        OR acc_owner = concord.caller_id()
        OR EXISTS (SELECT 1 FROM concord.account_team t
                   WHERE t.account_id = acc_id AND t.user_id = concord.caller_id()
                     AND t.access_level = 'edit')
        OR (concord.caller_role() = 'manager' AND concord.account_visible(acc_id, acc_owner)))
$$;

ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY accounts_select ON accounts FOR SELECT
    USING (caller_id() IS NOT NULL AND (
        caller_role() = 'admin'
        OR owner_id = caller_id()
        OR EXISTS (SELECT 1 FROM account_team t
                   WHERE t.account_id = accounts.id AND t.user_id = caller_id())
        OR (caller_role() = 'manager' AND (
               EXISTS (SELECT 1 FROM users u
                       WHERE u.id = accounts.owner_id AND u.department = caller_department())
            OR EXISTS (SELECT 1 FROM account_team t JOIN users u ON u.id = t.user_id
                       WHERE t.account_id = accounts.id
                         AND u.department = caller_department())))));
-- Members create accounts they own; managers and admins may name another owner.
CREATE POLICY accounts_insert ON accounts FOR INSERT
    WITH CHECK (caller_id() IS NOT NULL
                AND (owner_id = caller_id() OR caller_role() IN ('admin', 'manager')));
CREATE POLICY accounts_update ON accounts FOR UPDATE
    USING (account_editable(id, owner_id))
    WITH CHECK (caller_id() IS NOT NULL);

-- Team rows are readable by any signed-in caller at the SQL level: the
-- accounts policy needs them to decide visibility, and a policy referring back
-- to accounts would recurse. Handlers show a team only to those who may see
-- its account (TeamService checks account access first).
ALTER TABLE account_team ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_team FORCE ROW LEVEL SECURITY;
CREATE POLICY account_team_read ON account_team FOR SELECT
    USING (caller_id() IS NOT NULL);
-- Writing team rows needs the account to be visible; who may change a team
-- is the handlers' rule (account editors; a handover's receiver joining on
-- acknowledgement).
CREATE POLICY account_team_insert ON account_team FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));
CREATE POLICY account_team_update ON account_team FOR UPDATE
    USING (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));
CREATE POLICY account_team_delete ON account_team FOR DELETE
    USING (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id
                   AND account_editable(a.id, a.owner_id)));

GRANT USAGE ON SCHEMA concord TO concord_app;
GRANT SELECT, INSERT, UPDATE ON users, credentials, accounts TO concord_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON account_team TO concord_app;
GRANT SELECT, INSERT ON audit_log TO concord_app;
GRANT EXECUTE ON FUNCTION caller_id(), caller_role(), caller_department(),
      account_visible(bigint, bigint), account_editable(bigint, bigint) TO concord_app;

-- Failed logins per user name ("user:NAME") and per source address
-- ("addr:IP"): after a few failures each further attempt waits longer
-- (locked_until), up to a lockout. Counters older than an hour start over.
CREATE TABLE login_throttle (
    key          text PRIMARY KEY,
    failures     int NOT NULL,
    last_failure timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz
);
GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO concord_app;

-- Results of mutating calls sent with an idempotency key: a retry with the
-- same key gets the stored result instead of a second write. Kept at least
-- 24 hours (concordd deletes older keys).
CREATE TABLE idempotency_keys (
    user_id      bigint NOT NULL REFERENCES users (id),
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    method       text NOT NULL,
    request_hash bytea NOT NULL,
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO concord_app;
