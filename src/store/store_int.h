/* SPDX-License-Identifier: MIT */
/* Private to src/store. */
#ifndef LOA_STORE_STORE_INT_H
#define LOA_STORE_STORE_INT_H

#include <stddef.h>

#include <loa/store.h>

extern const char *const loa_sqlite_migrations[];
extern const int loa_sqlite_latest_version;

/* Secrets at rest: XChaCha20-Poly1305, nonce || ciphertext, the Page id as associated data. */
int loa__secret_seal(const unsigned char *key, const char *ad, const char *plain,
                     unsigned char **out, size_t *out_len);
int loa__secret_open(const unsigned char *key, const char *ad, const unsigned char *sealed,
                     size_t sealed_len, char **plain_out);

#endif /* LOA_STORE_STORE_INT_H */
