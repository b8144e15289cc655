/* SPDX-License-Identifier: MIT */
/* Names and messages of loa's error codes, generated from LOA_ERR_MAP. */
#include <loa/err.h>

const char *loa_strerror(int err)
{
    switch (err) {
    case LOA_OK:
        return "success";
#define LOA__ERR_MSG(name, value, msg) \
    case LOA_##name:                   \
        return msg;
        LOA_ERR_MAP(LOA__ERR_MSG)
#undef LOA__ERR_MSG
    default:
        return "unknown error";
    }
}

const char *loa_err_name(int err)
{
    switch (err) {
    case LOA_OK:
        return "OK";
#define LOA__ERR_NAME(name, value, msg) \
    case LOA_##name:                    \
        return #name;
        LOA_ERR_MAP(LOA__ERR_NAME)
#undef LOA__ERR_NAME
    default:
        return "EUNKNOWN";
    }
}
