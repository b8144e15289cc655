/* SPDX-License-Identifier: MIT */
/* API-key roles (include/loa/role.h). */
#include <string.h>

#include <loa/err.h>
#include <loa/role.h>

const char *loa_role_name(enum loa_role r)
{
    return r == LOA_ROLE_ADMIN ? "admin" : r == LOA_ROLE_STAFF ? "staff" : "none";
}

int loa_role_parse(const char *s, enum loa_role *out)
{
    if (s && strcmp(s, "admin") == 0)
        *out = LOA_ROLE_ADMIN;
    else if (s && strcmp(s, "staff") == 0)
        *out = LOA_ROLE_STAFF;
    else
        return LOA_EINVAL;
    return 0;
}
