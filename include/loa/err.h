/* SPDX-License-Identifier: MIT */
/*
 * Error codes shared by every module of loa.
 *
 * Fallible functions return int: 0 on success, a negative LOA_E* code on failure. Values from
 * errno, SQLite, libcurl, libmicrohttpd and jansson are translated at the edge of the module
 * that calls them and never cross it. The detail of a failure (which field, which line) travels
 * separately in a struct loa_diags (see diag.h) or is logged once where it is seen.
 */
#ifndef LOA_ERR_H
#define LOA_ERR_H

/* X(name, value, message) */
#define LOA_ERR_MAP(X)                                 \
    X(ENOMEM, -1, "out of memory")                     \
    X(EINVAL, -2, "invalid argument")                  \
    X(ENOENT, -3, "not found")                         \
    X(EEXIST, -4, "already exists")                    \
    X(EIO, -5, "input/output error")                   \
    X(ETOOBIG, -6, "too large")                        \
    X(EPARSE, -7, "malformed input")                   \
    X(ECONFIG, -8, "invalid configuration")            \
    X(ECRYPTO, -9, "cryptographic failure")            \
    X(ESTORE, -10, "storage failure")                  \
    X(EBUSY, -11, "resource busy")                     \
    X(ETIMEDOUT, -12, "timed out")                     \
    X(ENET, -13, "network failure")                    \
    X(EPERM, -14, "not permitted")                     \
    X(EAGAIN, -15, "try again later")                  \
    X(ERANGE, -16, "out of range")                     \
    X(ESTATE, -17, "not allowed in the current state") \
    X(EVERSION, -18, "unsupported version")            \
    X(ECANCELED, -19, "canceled")

enum loa_err {
    LOA_OK = 0,
#define LOA__ERR_ENUM(name, value, msg) LOA_##name = (value),
    LOA_ERR_MAP(LOA__ERR_ENUM)
#undef LOA__ERR_ENUM
};

/** Human-readable message for an error code ("unknown error" for anything else). */
const char *loa_strerror(int err);

/** Symbolic name of an error code, such as "EINVAL". */
const char *loa_err_name(int err);

#endif /* LOA_ERR_H */
