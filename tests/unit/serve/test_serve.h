/* SPDX-License-Identifier: MIT */
/* The groups of test_serve (one executable for the serve and http modules). */
#ifndef LOA_TESTS_UNIT_SERVE_TEST_SERVE_H
#define LOA_TESTS_UNIT_SERVE_TEST_SERVE_H

int test_routes_group(void);

#endif
