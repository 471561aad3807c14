/*
 * gw_auth.c - session cookie parsing and stateless CSRF tokens.
 *
 * Invariant: token comparisons run in constant time (CRYPTO_memcmp), so a
 * timing side channel does not reveal how much of a forged token matched.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include "gw_auth.h"

int gw_auth_random_key(unsigned char *key, size_t len)
{
    return RAND_bytes(key, (int)len) == 1 ? 0 : CC_EIO;
}

static size_t encode64(const unsigned char *in, size_t len, char *out, const char *alphabet)
{
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        if (i + 1 < len)
            out[o++] = alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

size_t gw_base64url(const unsigned char *in, size_t len, char *out)
{
    return encode64(in, len, out,
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}

size_t gw_base64(const unsigned char *in, size_t len, char *out)
{
    return encode64(in, len, out,
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
}

int gw_csrf_token(const unsigned char *key, size_t key_len, const char *token, size_t token_len,
                  char out[GW_CSRF_LEN])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    if (HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)token, token_len, mac,
             &mac_len) == NULL || mac_len != 32)
        return CC_EINVAL;
    gw_base64url(mac, mac_len, out);
    return 0;
}

int gw_csrf_valid(const unsigned char *key, size_t key_len, const char *token, size_t token_len,
                  const char *presented, size_t len)
{
    char want[GW_CSRF_LEN];
    if (gw_csrf_token(key, key_len, token, token_len, want) != 0)
        return 0;
    if (len != strlen(want))
        return 0;
    return CRYPTO_memcmp(want, presented, len) == 0;
}

int gw_cookie_find(const char *header, size_t len, const char *name, const char **val,
                   size_t *val_len)
{
    size_t name_len = strlen(name);
    size_t i = 0;
    while (i < len) {
        while (i < len && (header[i] == ' ' || header[i] == ';' || header[i] == '\t'))
            i++;
        size_t start = i;
        while (i < len && header[i] != ';')
            i++;
        /* One pair is header[start, i). */
        size_t n = i - start;
        if (n > name_len && header[start + name_len] == '=' &&
            memcmp(header + start, name, name_len) == 0) {
            *val = header + start + name_len + 1;
            *val_len = n - name_len - 1;
            while (*val_len > 0 && ((*val)[*val_len - 1] == ' ' || (*val)[*val_len - 1] == '\t'))
                (*val_len)--;
            return 1;
        }
    }
    return 0;
}

int gw_cookie_value_ok(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        /* RFC 6265 cookie-octet: visible ASCII except DQUOTE, comma, semicolon, backslash. */
        if (c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\')
            return 0;
    }
    return 1;
}
