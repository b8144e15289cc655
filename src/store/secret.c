/* SPDX-License-Identifier: MIT */
/* Encryption of secrets at rest with libsodium's XChaCha20-Poly1305 (IETF AEAD). */
#include <string.h>

#include <sodium.h>

#include <loa/alloc.h>
#include <loa/err.h>

#include "store_int.h"

#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES   crypto_aead_xchacha20poly1305_ietf_ABYTES

int loa__secret_seal(const unsigned char *key, const char *ad, const char *plain,
                     unsigned char **out, size_t *out_len)
{
    if (sodium_init() < 0)
        return LOA_ECRYPTO;
    size_t plen = strlen(plain);
    size_t len = NONCE_BYTES + plen + TAG_BYTES;
    unsigned char *buf = loa_malloc(len);
    randombytes_buf(buf, NONCE_BYTES);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        buf + NONCE_BYTES, &clen, (const unsigned char *)plain, plen, (const unsigned char *)ad,
        strlen(ad), NULL, buf, key);
    *out = buf;
    *out_len = NONCE_BYTES + (size_t)clen;
    return 0;
}

int loa__secret_open(const unsigned char *key, const char *ad, const unsigned char *sealed,
                     size_t sealed_len, char **plain_out)
{
    if (sodium_init() < 0)
        return LOA_ECRYPTO;
    if (sealed_len < NONCE_BYTES + TAG_BYTES)
        return LOA_ECRYPTO;
    size_t clen = sealed_len - NONCE_BYTES;
    char *plain = loa_malloc(clen - TAG_BYTES + 1);
    unsigned long long plen;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            (unsigned char *)plain, &plen, NULL, sealed + NONCE_BYTES, clen,
            (const unsigned char *)ad, strlen(ad), sealed, key) != 0) {
        loa_free(plain);
        return LOA_ECRYPTO;
    }
    plain[plen] = '\0';
    *plain_out = plain;
    return 0;
}

int loa__secret_hash(const unsigned char *key, const char *purpose, const void *data, size_t len,
                     unsigned char out[32])
{
    if (sodium_init() < 0)
        return LOA_ECRYPTO;
    unsigned char sub[crypto_generichash_KEYBYTES];
    char ctx[crypto_kdf_CONTEXTBYTES] = { 0 };
    memcpy(ctx, purpose, strnlen(purpose, sizeof(ctx)));
    _Static_assert(LOA_STORE_KEY_BYTES == crypto_kdf_KEYBYTES, "kdf key size");
    crypto_kdf_derive_from_key(sub, sizeof(sub), 1, ctx, key);
    crypto_generichash(out, 32, data, len, sub, sizeof(sub));
    sodium_memzero(sub, sizeof(sub));
    return 0;
}
