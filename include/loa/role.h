/* SPDX-License-Identifier: MIT */
/*
 * API-key roles: who may call which REST route. Shared by the store (keys carry a role) and
 * the HTTP server (routes require one), so it lives in core and neither needs the other.
 *
 * Ownership: nothing is allocated; the names returned are static strings.
 * Threading: the functions are pure and safe from any thread.
 */
#ifndef LOA_ROLE_H
#define LOA_ROLE_H

enum loa_role {
    LOA_ROLE_NONE = 0,
    LOA_ROLE_STAFF = 1, /* everything except Page tokens and keys */
    LOA_ROLE_ADMIN = 2, /* everything */
};

/** "admin" / "staff" / "none". */
const char *loa_role_name(enum loa_role r);
/** Parses "admin" or "staff". Returns 0 or LOA_EINVAL. */
int loa_role_parse(const char *s, enum loa_role *out);

#endif /* LOA_ROLE_H */
