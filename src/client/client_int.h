/* SPDX-License-Identifier: MIT */
/* Private to src/client: helpers shared by the client's source files. */
#ifndef LOA_CLIENT_CLIENT_INT_H
#define LOA_CLIENT_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <loa/client.h>

/* Longest usage header value parsed; longer ones are ignored (LOA_ETOOBIG). */
#define LOA__CLIENT_USAGE_MAX 16384

/* Longest Page id or PSID accepted in a path. */
#define LOA__CLIENT_ID_MAX 64

/* Recomputes u->max_percent from the fields that are present (BUC wins over app usage). */
void loa__client_usage_recompute(struct loa_client_usage *u);

/* True when s is a non-empty [A-Za-z0-9_.-] string of at most LOA__CLIENT_ID_MAX bytes. */
bool loa__client_id_is_valid(const char *s);

#endif /* LOA_CLIENT_CLIENT_INT_H */
