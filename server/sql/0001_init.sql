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
CREATE INDEX accounts_name ON accounts (lower(name), id);
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

-- Row-level security. The caller is set per transaction by concordd with
-- set_config('concord.user_id' | 'concord.role' | 'concord.department', ..., true).
-- With no caller set, no account row is visible.
CREATE FUNCTION caller_id() RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('concord.user_id', true), '')::bigint $$;
CREATE FUNCTION caller_role() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT coalesce(current_setting('concord.role', true), '') $$;
CREATE FUNCTION caller_department() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT coalesce(current_setting('concord.department', true), '') $$;

-- Whether the caller may see (and work) an account: admins see all; owners
-- and team members see theirs; department managers see the accounts their
-- department is involved in (as owner or on the team). SECURITY DEFINER so
-- that its look-up of account_team is not itself filtered by account_team's
-- policy (which refers back to accounts): the owner is exempt there because
-- account_team's security is enabled but not forced.
CREATE FUNCTION account_visible(acc_id bigint, acc_owner bigint) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = concord, pg_temp AS $$
    SELECT caller_id() IS NOT NULL AND (
        caller_role() = 'admin'
        OR acc_owner = caller_id()
        OR EXISTS (SELECT 1 FROM account_team t
                   WHERE t.account_id = acc_id AND t.user_id = caller_id())
        OR (caller_role() = 'manager' AND (
               EXISTS (SELECT 1 FROM users u
                       WHERE u.id = acc_owner AND u.department = caller_department())
            OR EXISTS (SELECT 1 FROM account_team t JOIN users u ON u.id = t.user_id
                       WHERE t.account_id = acc_id AND u.department = caller_department()))))
$$;

-- Whether the caller may change an account: admins; the owner; team members
-- with edit access; managers of a department involved in it.
CREATE FUNCTION account_editable(acc_id bigint, acc_owner bigint) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = concord, pg_temp AS $$
    SELECT caller_id() IS NOT NULL AND (
        caller_role() = 'admin'
        OR acc_owner = caller_id()
        OR EXISTS (SELECT 1 FROM account_team t
                   WHERE t.account_id = acc_id AND t.user_id = caller_id()
                     AND t.access_level = 'edit')
        OR (caller_role() = 'manager' AND account_visible(acc_id, acc_owner)))
$$;

ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY accounts_select ON accounts FOR SELECT
    USING (account_visible(id, owner_id));
-- Members create accounts they own; managers and admins may name another owner.
CREATE POLICY accounts_insert ON accounts FOR INSERT
    WITH CHECK (caller_id() IS NOT NULL
                AND (owner_id = caller_id() OR caller_role() IN ('admin', 'manager')));
CREATE POLICY accounts_update ON accounts FOR UPDATE
    USING (account_editable(id, owner_id))
    WITH CHECK (caller_id() IS NOT NULL);

ALTER TABLE account_team ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_team_visible ON account_team
    USING (EXISTS (SELECT 1 FROM accounts a WHERE a.id = account_id));

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
