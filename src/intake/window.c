/* SPDX-License-Identifier: MIT */
/*
 * The messaging-window transition: how one event changes a person's window columns, as a pure
 * function of (current columns, event). The rules are in include/loa/intake.h at
 * loa_intake_window_next(); the interaction kinds are the rules module's action names
 * (loa_rules_action_parse), so rules.decide() can read them back.
 */
#include <loa/intake.h>

/* The window-opening kind of an event (a rules action name), or NULL when it opens none. */
static const char *window_kind(const struct loa_intake_event *e)
{
    switch (e->kind) {
    case LOA_INTAKE_MESSAGE:
        return e->quick_reply ? "quick_reply" : "message";
    case LOA_INTAKE_POSTBACK:
        /* A postback with a referral starts a new thread: Get Started. */
        return e->ref_source != LOA_INTAKE_REF_NONE ? "get_started" : "postback";
    case LOA_INTAKE_REFERRAL:
        return e->ref_source == LOA_INTAKE_REF_ADS         ? "referral_ad"
               : e->ref_source == LOA_INTAKE_REF_SHORTLINK ? "referral_mme"
               : e->ref_source == LOA_INTAKE_REF_PLUGIN    ? "referral_plugin"
                                                           : "referral";
    case LOA_INTAKE_REACTION:
        return e->unreact ? NULL : "reaction";
    case LOA_INTAKE_OPTIN:
        /* Plugin opt-ins (Send to Messenger, checkbox) start a conversation; topic opt-ins
           do not open the window. */
        return e->ntoken ? NULL : "referral_plugin";
    default:
        return NULL;
    }
}

void loa_intake_window_next(const struct loa_window *cur, const struct loa_intake_event *ev,
                            struct loa_window *next)
{
    struct loa_window w = *cur;
    const char *kind = window_kind(ev);
    bool ad_referral = ev->ref_source == LOA_INTAKE_REF_ADS && ev->kind != LOA_INTAKE_ECHO;
    bool is_message = ev->kind == LOA_INTAKE_MESSAGE;
    /* Only window-opening actions move the last interaction, and only forward: webhooks may
       arrive out of order. */
    bool moves = kind && (!cur->known || ev->at >= cur->last_interaction_at);
    bool after_ad = false;

    if (!cur->known)
        w = (struct loa_window){ .known = true, .first_seen_at = ev->at };
    else if (!w.first_seen_at || ev->at < w.first_seen_at)
        w.first_seen_at = ev->at; /* first seen only moves earlier */

    /* An ad referral is remembered until the person's next message, which is then the first
       message after the ad (the longer window); a later window-opening action is ordinary. */
    if (ad_referral && !is_message) {
        w.ad_referral_at = ev->at;
    } else if (moves && is_message &&
               (ad_referral || (w.ad_referral_at > 0 && w.ad_referral_at <= ev->at))) {
        after_ad = true;
        w.ad_referral_at = 0;
    }
    if (moves) {
        w.last_interaction_at = ev->at;
        w.last_interaction_kind = kind;
        w.after_ctm_ad = after_ad;
    }
    *next = w;
}
