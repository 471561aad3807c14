/*
 * gw_auth.h - credentials carried by HTTP requests: the session cookie and
 * the CSRF token derived from it. A leaf module: no logging, no h2o.
 *
 * The CSRF token of a session is base64url(HMAC-SHA256(key, session token)).
 * It is stateless, so every gateway sharing the key accepts it, and a page
 * that reloads can get it back from GET /auth/csrf.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stddef.h>
#include "cc_error.h"

/** Name of the session cookie; the __Host- prefix pins it to this origin over HTTPS. */
#define GW_SESSION_COOKIE "__Host-concord_session"
/** Attributes of the session cookie. */
#define GW_COOKIE_ATTRS "; Path=/; Secure; HttpOnly; SameSite=Strict"
/** Length of a CSRF token: 32 bytes of HMAC in unpadded base64url, plus NUL. */
#define GW_CSRF_LEN 44

/** Fills key with len random bytes. Returns 0 or CC_EIO. */
int gw_auth_random_key(unsigned char *key, size_t len) CC_MUST_CHECK;

/** Writes the CSRF token of a session token into out (GW_CSRF_LEN bytes). */
int gw_csrf_token(const unsigned char *key, size_t key_len, const char *token, size_t token_len,
                  char out[GW_CSRF_LEN]) CC_MUST_CHECK;

/** True when presented (len bytes) is the CSRF token of the session token. */
int gw_csrf_valid(const unsigned char *key, size_t key_len, const char *token, size_t token_len,
                  const char *presented, size_t len);

/**
 * Finds cookie name in one Cookie header value ("a=1; b=2"). On success sets
 * *val and *val_len to the value inside header (borrowed) and returns 1; 0 if absent.
 */
int gw_cookie_find(const char *header, size_t len, const char *name, const char **val,
                   size_t *val_len);

/** True when s holds only characters allowed in a cookie value and is not empty. */
int gw_cookie_value_ok(const char *s, size_t len);

/** Writes unpadded base64url of in into out (needs 4*len/3+2 bytes); returns its length. */
size_t gw_base64url(const unsigned char *in, size_t len, char *out);

/** Writes unpadded standard base64 of in into out (needs 4*len/3+4 bytes); returns its length. */
size_t gw_base64(const unsigned char *in, size_t len, char *out);

#endif
