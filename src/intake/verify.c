/* SPDX-License-Identifier: MIT */
/*
 * X-Hub-Signature-256: "sha256=" + lowercase hex of HMAC-SHA256(app secret, raw body).
 * The comparison is on the binary MAC (the header's hex decoded; upper-case hex is accepted)
 * with sodium_memcmp, in constant time, so the time taken says nothing about how much of a
 * forged signature was right.
 */
#include <string.h>

#include <sodium.h>

#include <loa/intake.h>

static void hmac(const char *secret, const void *body, size_t len,
                 unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
}

bool loa_intake_signature_ok(const char *header, const void *body, size_t len,
                             const char *const *secrets, size_t n)
{
    if (!header || strncmp(header, "sha256=", 7) != 0 || sodium_init() < 0)
        return false;
    const char *hex = header + 7;
    if (strlen(hex) != 2 * crypto_auth_hmacsha256_BYTES)
        return false;
    unsigned char want[crypto_auth_hmacsha256_BYTES];
    size_t got = 0;
    if (sodium_hex2bin(want, sizeof(want), hex, strlen(hex), NULL, &got, NULL) != 0 ||
        got != sizeof(want))
        return false;
    bool ok = false;
    for (size_t i = 0; i < n; i++) {
        if (!secrets[i] || !*secrets[i])
            continue;
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        hmac(secrets[i], body, len, mac);
        ok |= sodium_memcmp(mac, want, sizeof(mac)) == 0;
    }
    return ok;
}

void loa_intake_sign(const char *secret, const void *body, size_t len, char out[72])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    if (sodium_init() < 0) {
        out[0] = '\0';
        return;
    }
    hmac(secret, body, len, mac);
    memcpy(out, "sha256=", 7);
    sodium_bin2hex(out + 7, 65, mac, sizeof(mac));
}
