/* SPDX-License-Identifier: MIT */
/* The groups of test_intake. */
#ifndef LOA_TESTS_UNIT_INTAKE_TEST_INTAKE_H
#define LOA_TESTS_UNIT_INTAKE_TEST_INTAKE_H

int test_intake_group(void);
int test_window_group(void);

#endif
