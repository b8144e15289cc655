/* SPDX-License-Identifier: MIT */
/*
 * Content limits of the Send API. The values in force on a date come from the rules file
 * (loa_rules_content_limits() in rules.h); loa_limits_default() gives the current ones for code
 * that has no rules loaded (tests, the emulator's own defaults are separate by design).
 */
#ifndef LOA_LIMITS_H
#define LOA_LIMITS_H

#include <stddef.h>

struct loa_limits {
    size_t text_chars;             /* message.text: 2000 */
    size_t quick_replies;          /* quick_replies per message: 13 */
    size_t quick_reply_title;      /* quick reply title: 20 */
    size_t payload_chars;          /* postback / quick reply payload: 1000 */
    size_t generic_elements;       /* generic template elements: 10 */
    size_t element_title_chars;    /* generic element title: 80 */
    size_t element_subtitle_chars; /* generic element subtitle: 80 */
    size_t buttons;                /* buttons per element or button template: 3 */
    size_t button_title_chars;     /* button title: 20 */
    size_t button_text_chars;      /* button template text: 640 */
    size_t metadata_chars;         /* message metadata: 1000 (must be below) */
};

static inline struct loa_limits loa_limits_default(void)
{
    struct loa_limits l = {
        .text_chars = 2000,
        .quick_replies = 13,
        .quick_reply_title = 20,
        .payload_chars = 1000,
        .generic_elements = 10,
        .element_title_chars = 80,
        .element_subtitle_chars = 80,
        .buttons = 3,
        .button_title_chars = 20,
        .button_text_chars = 640,
        .metadata_chars = 1000,
    };
    return l;
}

#endif /* LOA_LIMITS_H */
