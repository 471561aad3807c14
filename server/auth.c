/*
 * auth.c - argon2id password hashing, bearer tokens and caller resolution.
 *
 * Tokens are 256 random bits; only their SHA-256 is stored, so a database
 * leak reveals no usable credential. Verification of a login for an unknown
 * user still spends one argon2 computation so timing does not tell users
 * apart.
 */
#include "auth.h"
#include <pthread.h>
#include <argon2.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SALT_LEN 16
#define HASH_LEN 32

int auth_password_hash(const srv_settings *s, const char *password, char *out, size_t outlen)
{
    uint8_t salt[SALT_LEN];
    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return CC_EIO;
    int rc = argon2id_hash_encoded((uint32_t)s->argon2_iterations, (uint32_t)s->argon2_memory_kib,
                                   1, password, strlen(password), salt, sizeof(salt), HASH_LEN, out,
                                   outlen);
    return rc == ARGON2_OK ? 0 : CC_EINVAL;
}

int auth_password_verify(const char *encoded, const char *password)
{
    return argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK ? 0 : -1;
}

void auth_password_dummy_verify(const srv_settings *s, const char *password)
{
    char hash[AUTH_HASH_MAX];
    if (auth_password_hash(s, "concord-dummy-password", hash, sizeof(hash)) == 0)
        (void)auth_password_verify(hash, password);
}

void auth_token_new(const char *prefix, char out[AUTH_TOKEN_MAX])
{
    uint8_t raw[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        abort(); /* no randomness: nothing safe can be issued */
    char b64[64];
    int n = EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
    /* base64url without padding, so tokens fit headers and cookies as they are. */
    for (int i = 0; i < n; i++) {
        if (b64[i] == '+')
            b64[i] = '-';
        else if (b64[i] == '/')
            b64[i] = '_';
    }
    while (n > 0 && b64[n - 1] == '=')
        b64[--n] = '\0';
    snprintf(out, AUTH_TOKEN_MAX, "%s%s", prefix, b64);
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* SHA-256 of a token. OpenSSL 3's SHA256() looks the algorithm up again on
 * every call (a lock and allocations); here it is looked up once. */
static void token_sha256(const char *token, uint8_t md[SHA256_DIGEST_LENGTH])
{
    pthread_once(&sha256_once, sha256_fetch);
    if (sha256_md == NULL || !EVP_Digest(token, strlen(token), md, NULL, sha256_md, NULL))
        SHA256((const unsigned char *)token, strlen(token), md);
}

void auth_token_hash_param(const char *token, char out[80])
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    token_sha256(token, md);
    static const char hex[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'x';
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 + 2 * i] = hex[md[i] >> 4];
        out[3 + 2 * i] = hex[md[i] & 15];
    }
    out[2 + 2 * SHA256_DIGEST_LENGTH] = '\0';
}

/*
 * The credential cache: a small open-addressing table keyed by the token's
 * SHA-256, shared by the workers under one mutex. An entry is good until the
 * earliest of its cache deadline, the credential's absolute expiry and its
 * idle deadline as known at look-up time.
 */
#define CACHE_SLOTS 4096

typedef struct cache_entry {
    uint8_t hash[SHA256_DIGEST_LENGTH];
    uint64_t good_until; /* monotonic ms; 0 marks a free slot */
    int64_t credential_id;
    int64_t user_id;
    char username[72];
    char department[16];
    char role[16];
    int is_api_token;
} cache_entry;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static cache_entry cache[CACHE_SLOTS];
static unsigned cache_ttl_ms;

void auth_cache_init(unsigned ttl_ms)
{
    cache_ttl_ms = ttl_ms;
}

static size_t slot_of(const uint8_t *hash)
{
    size_t h;
    memcpy(&h, hash, sizeof(h));
    return h % CACHE_SLOTS;
}

static int cache_get(const uint8_t *hash, cache_entry *out)
{
    if (cache_ttl_ms == 0)
        return 0;
    uint64_t now = db_now_ms();
    int hit = 0;
    pthread_mutex_lock(&cache_mu);
    cache_entry *e = &cache[slot_of(hash)];
    if (e->good_until > now && memcmp(e->hash, hash, sizeof(e->hash)) == 0) {
        *out = *e;
        hit = 1;
    }
    pthread_mutex_unlock(&cache_mu);
    return hit;
}

static void cache_put(const cache_entry *in)
{
    if (cache_ttl_ms == 0)
        return;
    pthread_mutex_lock(&cache_mu);
    cache[slot_of(in->hash)] = *in; /* a colliding older entry is simply replaced */
    pthread_mutex_unlock(&cache_mu);
}

void auth_forget_user(int64_t user_id)
{
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].good_until && cache[i].user_id == user_id)
            cache[i].good_until = 0;
    pthread_mutex_unlock(&cache_mu);
}

void auth_forget_credential(int64_t credential_id)
{
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].good_until && cache[i].credential_id == credential_id)
            cache[i].good_until = 0;
    pthread_mutex_unlock(&cache_mu);
}

static void fill_user(srv_call *c, const cache_entry *e)
{
    c->user.credential_id = e->credential_id;
    c->user.id = e->user_id;
    snprintf(c->user.id_text, sizeof(c->user.id_text), "%lld", (long long)e->user_id);
    c->user.username = arena_strdup(c->arena, e->username);
    c->user.department = arena_strdup(c->arena, e->department);
    c->user.role = arena_strdup(c->arena, e->role);
    c->user.is_api_token = e->is_api_token;
}

int auth_resolve(srv_call *c)
{
    /* Also returns how long the credential stays good (ms), bounding the cache entry. */
    static const char sql[] =
        "SELECT c.id, u.id, u.username, u.department, u.role, c.kind,"
        "       c.last_used_at < now() - least(interval '60 seconds', c.idle_timeout / 4),"
        "       floor(extract(epoch from least(c.expires_at, c.last_used_at + c.idle_timeout)"
        "                                - now()) * 1000)::bigint,"
        "       floor(extract(epoch from least(interval '60 seconds', c.idle_timeout / 4))"
        "             * 1000)::bigint"
        "  FROM credentials c JOIN users u ON u.id = c.user_id"
        " WHERE c.token_hash = $1 AND c.revoked_at IS NULL AND c.expires_at > now()"
        "   AND (c.idle_timeout IS NULL OR c.last_used_at + c.idle_timeout > now())"
        "   AND u.disabled_at IS NULL";
    static const char touch[] = "UPDATE credentials SET last_used_at = now() WHERE id = $1";

    if (c->token == NULL || *c->token == '\0')
        return srv_fail(c, CC_UNAUTHENTICATED, "this call needs a token: log in first");
    if (strlen(c->token) >= AUTH_TOKEN_MAX)
        return srv_fail(c, CC_UNAUTHENTICATED, "the token is not valid");
    cache_entry e;
    memset(&e, 0, sizeof(e));
    token_sha256(c->token, e.hash);
    if (cache_get(e.hash, &e)) {
        fill_user(c, &e);
        return CC_OK;
    }
    char hash[80];
    auth_token_hash_param(c->token, hash);
    PGresult *r = srv_sql(c, sql, 1, hash);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) != 1)
        return srv_fail(c, CC_UNAUTHENTICATED,
                        "the token is not valid (expired, revoked or unknown): log in again");
    e.credential_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    e.user_id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    snprintf(e.username, sizeof(e.username), "%s", PQgetvalue(r, 0, 2));
    snprintf(e.department, sizeof(e.department), "%s", PQgetvalue(r, 0, 3));
    snprintf(e.role, sizeof(e.role), "%s", PQgetvalue(r, 0, 4));
    e.is_api_token = strcmp(PQgetvalue(r, 0, 5), "api_token") == 0;
    fill_user(c, &e);
    /* last_used_at moves in steps of a minute (a quarter of the idle timeout when that
     * is shorter): a write per call would cost more. */
    if (PQgetvalue(r, 0, 6)[0] == 't' &&
        srv_sql(c, touch, 1, srv_i64(c, c->user.credential_id)) == NULL)
        return c->code;
    /* A cached entry must not outlive the credential, nor skip the next refresh of
     * last_used_at (a session in use would otherwise reach its idle timeout). */
    long long left = strtoll(PQgetvalue(r, 0, 7), NULL, 10);
    long long step = strtoll(PQgetvalue(r, 0, 8), NULL, 10);
    if (step > 0 && step < left)
        left = step;
    if (left > 0) {
        uint64_t ttl = cache_ttl_ms < (unsigned long long)left ? cache_ttl_ms : (uint64_t)left;
        e.good_until = db_now_ms() + ttl;
        cache_put(&e);
    }
    return CC_OK;
}

void auth_check_password_rules(srv_call *c, const char *field, const char *password)
{
    size_t n = password ? strlen(password) : 0;
    if (n < 12)
        srv_violation(c, field, "must be at least 12 characters");
    else if (n > 1024)
        srv_violation(c, field, "must be at most 1024 characters");
}
