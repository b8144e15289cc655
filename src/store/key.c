/* SPDX-License-Identifier: MIT */
/* The key that encrypts secrets at rest: from the operator, or made on first run. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <loa/err.h>
#include <loa/store.h>

static int from_hex(const char *hex, size_t len, unsigned char key[LOA_STORE_KEY_BYTES])
{
    size_t bin_len;
    if (len != 2 * LOA_STORE_KEY_BYTES ||
        sodium_hex2bin(key, LOA_STORE_KEY_BYTES, hex, len, NULL, &bin_len, NULL) != 0 ||
        bin_len != LOA_STORE_KEY_BYTES)
        return LOA_ECRYPTO;
    return 0;
}

int loa_store_key_load(const char *secret_hex, const char *key_file, const char *store_path,
                       bool create, unsigned char key[LOA_STORE_KEY_BYTES], struct loa_diags *diags)
{
    if (sodium_init() < 0)
        return LOA_ECRYPTO;
    if (secret_hex && *secret_hex) {
        if (from_hex(secret_hex, strlen(secret_hex), key) < 0) {
            loa_diags_add(diags, 0, 0, "store.secret_key", "must be 64 hexadecimal digits");
            return LOA_ECRYPTO;
        }
        return 0;
    }
    char path[4096];
    if (key_file && *key_file)
        snprintf(path, sizeof(path), "%s", key_file);
    else
        snprintf(path, sizeof(path), "%s.key", store_path);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd >= 0 && fstat(fd, &sb) == 0 && (sb.st_mode & (S_IRWXG | S_IRWXO))) {
        /* Whoever can read it can read every Page token and customer secret (issue 16). */
        close(fd);
        loa_diags_add(diags, 0, 0, path,
                      "key file is readable by others (mode %03o); make it private: chmod 600 %s",
                      (unsigned)(sb.st_mode & 0777), path);
        return LOA_ECRYPTO;
    }
    if (fd >= 0) {
        char hex[2 * LOA_STORE_KEY_BYTES + 2];
        ssize_t n = read(fd, hex, sizeof(hex));
        close(fd);
        size_t len = n > 0 ? (size_t)n : 0;
        while (len && (hex[len - 1] == '\n' || hex[len - 1] == '\r'))
            len--;
        if (from_hex(hex, len, key) < 0) {
            loa_diags_add(diags, 0, 0, path, "key file must hold 64 hexadecimal digits");
            return LOA_ECRYPTO;
        }
        return 0;
    }
    if (errno != ENOENT) {
        loa_diags_add(diags, 0, 0, path, "cannot read key file: %s", strerror(errno));
        return LOA_ECRYPTO;
    }
    if (!create) {
        loa_diags_add(diags, 0, 0, path,
                      "no key file; run `loa init` or set LOA_SECRET_KEY to the store's key");
        return LOA_ENOENT;
    }
    randombytes_buf(key, LOA_STORE_KEY_BYTES);
    char hex[2 * LOA_STORE_KEY_BYTES + 1];
    sodium_bin2hex(hex, sizeof(hex), key, LOA_STORE_KEY_BYTES);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        loa_diags_add(diags, 0, 0, path, "cannot create key file: %s", strerror(errno));
        return LOA_ECRYPTO;
    }
    hex[2 * LOA_STORE_KEY_BYTES] = '\n';
    bool ok = write(fd, hex, sizeof(hex)) == (ssize_t)sizeof(hex) && fsync(fd) == 0;
    close(fd);
    sodium_memzero(hex, sizeof(hex));
    if (!ok) {
        unlink(path);
        loa_diags_add(diags, 0, 0, path, "cannot write key file");
        return LOA_ECRYPTO;
    }
    return 0;
}
