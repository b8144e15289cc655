/* SPDX-License-Identifier: MIT */
/* test_serve: routing and the OpenAPI document. */
#include "test_serve.h"

int main(void)
{
    int failed = 0;
    failed += test_routes_group();
    return failed ? 1 : 0;
}
