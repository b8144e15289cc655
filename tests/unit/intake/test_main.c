/* SPDX-License-Identifier: MIT */
/* test_intake: webhook verify/parse/apply and the messaging-window transition. */
#include "test_intake.h"

int main(void)
{
    int failed = 0;
    failed += test_intake_group();
    failed += test_window_group();
    return failed ? 1 : 0;
}
