/* SPDX-License-Identifier: MIT */
/* Pure helpers of the client: backoff with full jitter, appsecret_proof, id validation. */
#include <string.h>

#include <sodium.h>

#include <loa/client.h>
#include <loa/err.h>

#include "client_int.h"

int64_t loa_client_backoff_ms(int64_t base_ms, int64_t cap_ms, unsigned attempt, uint64_t rnd)
{
    if (base_ms <= 0 || cap_ms <= 0)
        return 0;
    /* base * 2^attempt, saturating at cap without overflowing. */
    int64_t ceiling = base_ms < cap_ms ? base_ms : cap_ms;
    for (unsigned i = 0; i < attempt && ceiling < cap_ms; i++)
        ceiling = ceiling > cap_ms / 2 ? cap_ms : ceiling * 2;
    return (int64_t)(rnd % ((uint64_t)ceiling + 1));
}

int loa_client_appsecret_proof(const char *access_token, const char *app_secret, char out[65])
{
    if (sodium_init() < 0)
        return LOA_ECRYPTO;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)app_secret, strlen(app_secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)access_token, strlen(access_token));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 65, mac, sizeof(mac));
    sodium_memzero(&st, sizeof(st));
    return 0;
}

bool loa__client_id_is_valid(const char *s)
{
    size_t n = 0;
    if (!s)
        return false;
    for (; s[n]; n++) {
        char ch = s[n];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
        if (!ok || n >= LOA__CLIENT_ID_MAX)
            return false;
    }
    /* A leading alphanumeric keeps "." and ".." (path traversal) out. */
    return n > 0 && s[0] != '.' && s[0] != '-' && s[0] != '_';
}
