/*
 * auth.h - passwords (argon2id), bearer tokens, resolving a call's caller.
 */
#ifndef SRV_AUTH_H
#define SRV_AUTH_H

#include "call.h"
#include <stddef.h>

#define AUTH_TOKEN_MAX 64
#define AUTH_HASH_MAX 160

/** Hashes a password with argon2id and a random salt into out (encoded form). */
int auth_password_hash(const srv_settings *s, const char *password, char *out,
                       size_t outlen) CC_MUST_CHECK;
/** 0 if password matches the encoded hash, -1 otherwise. */
int auth_password_verify(const char *encoded, const char *password);
/** Spends the same time as a real verification (for unknown users). */
void auth_password_dummy_verify(const srv_settings *s, const char *password);
/** A new random bearer token: prefix + 256 random bits in base64url. */
void auth_token_new(const char *prefix, char out[AUTH_TOKEN_MAX]);
/** SHA-256 of a token as a bytea literal ("\\x...") for SQL parameters. */
void auth_token_hash_param(const char *token, char out[80]);
/**
 * Resolves c->token to a user (c->user). UNAUTHENTICATED when the token is
 * missing, unknown, revoked, expired or idle, or its user is disabled. A
 * resolved credential is cached in the process for auth.cache_ttl so that
 * most calls need no look-up; logout, password change, disabling a user and
 * revoking a token drop the entries at once (auth_forget_*), in this process.
 */
int auth_resolve(srv_call *c);
/** Drops cached credentials of a user, or one credential (after the change commits). */
void auth_forget_user(int64_t user_id);
void auth_forget_credential(int64_t credential_id);
/** Sets up the credential cache (ttl_ms 0 disables it). */
void auth_cache_init(unsigned ttl_ms);
/** Checks a password for a user-facing rule set; adds a violation on field. */
void auth_check_password_rules(srv_call *c, const char *field, const char *password);

#endif
