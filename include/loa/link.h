/* SPDX-License-Identifier: MIT */
/*
 * Links into a Page's Messenger conversation: m.me links carrying a ref (the name of what the
 * person enters by following the link, such as a drip sequence), and QR code images of them.
 *
 * Messenger hands the ref back in a messaging_referrals webhook (a person who already has a
 * thread) or in the referral of the Get Started postback (a new thread); see
 * ../shared/docs/messenger-platform.md §4.1 and §6.5.
 *
 * Every function here is pure apart from allocation: no clock, store, network or global state,
 * so any thread may call any of them at any time. The QR code comes from libqrencode (built
 * with pthreads on Debian, which makes its encoder reentrant), PNG from libpng; neither type
 * crosses this header. Results are appended to a caller's struct loa_buf (the caller owns it
 * and its cap); on failure the buffer is left as it was on entry.
 */
#ifndef LOA_LINK_H
#define LOA_LINK_H

#include <loa/buf.h>
#include <loa/diag.h>

/*
 * Longest ref, in bytes (every allowed character is one byte). Meta: "The referral parameter
 * must be a string that may be up to 2,083 characters in length"
 * (developers.facebook.com/docs/messenger-platform/discovery/m-me-links, Requirements).
 */
#define LOA_LINK_REF_MAX 2083
/* Longest Page username loa accepts (Meta publishes a minimum of 5, no maximum). */
#define LOA_LINK_USERNAME_MAX 50
/* Longest numeric Page id loa accepts (the digits of a 64-bit id). */
#define LOA_LINK_ID_MAX 20

/**
 * Checks a ref for an m.me link: non-empty, at most LOA_LINK_REF_MAX bytes, and only letters
 * A-Z a-z, digits, '-', '_' and '='.
 *
 * Returns 0, or LOA_EINVAL with complaints in diags at where = path (e.g. "ref"): empty, too
 * long (with the length), and the first character not allowed, quoted with its 1-based
 * position (also the diagnostic's column). ref NULL counts as empty; diags may be NULL.
 */
int loa_link_ref_check(const char *ref, const char *path, struct loa_diags *diags);

/**
 * Checks how a link names a Page: its username (A-Z a-z 0-9 and '.', 5 to
 * LOA_LINK_USERNAME_MAX characters, at least one letter, no leading, trailing or doubled '.')
 * or its numeric id (1 to LOA_LINK_ID_MAX digits). Returns 0, or LOA_EINVAL with a complaint
 * at path.
 */
int loa_link_page_check(const char *page, const char *path, struct loa_diags *diags);

/**
 * Appends "https://m.me/<page>?ref=<ref>" to out. page and ref are checked as above
 * (complaints at "page" and "ref"); the ref is written as application/x-www-form-urlencoded
 * writes a value (so '=' becomes %3D); Meta decodes it and the webhook carries the ref as given.
 *
 * Returns 0, LOA_EINVAL (diags say why; out unchanged) or LOA_ETOOBIG (out's cap).
 */
int loa_link_mme(const char *page, const char *ref, struct loa_buf *out, struct loa_diags *diags);

enum loa_qr_format {
    LOA_QR_PNG = 0, /* 1-bit greyscale PNG */
    LOA_QR_SVG,     /* SVG text: a white background and one black <path> */
};

/*
 * Options of a QR image. A zero field takes its default, so a zero-initialised struct (or a
 * NULL pointer) asks for a PNG at 8 pixels a module, a 4-module quiet zone and level M.
 */
struct loa_qr_opts {
    enum loa_qr_format format;
    int scale;  /* pixels per module, 1..32; 0 = 8. For SVG, the width and height attributes */
    int margin; /* quiet zone in modules, 1..16; 0 = 4 (the minimum ISO/IEC 18004 asks for) */
    char level; /* error correction 'L' (7 %), 'M' (15 %), 'Q' (25 %), 'H' (30 %); 0 = 'M' */
};

/**
 * Encodes text (UTF-8, in 8-bit byte mode, the smallest version that holds it) as a QR code
 * image and appends it to out. The image is (modules + 2 * margin) * scale pixels square;
 * the SVG's viewBox is in modules (0 0 modules+2*margin modules+2*margin).
 *
 * Returns 0; LOA_EINVAL for an option out of range, a NULL or empty text or text that is not
 * UTF-8; LOA_ETOOBIG when the text does not fit a version 40 symbol at that level (2,331
 * bytes at level M) or the image does not fit out's cap; LOA_ENOMEM.
 */
int loa_qr_image(const char *text, const struct loa_qr_opts *o, struct loa_buf *out);

#endif /* LOA_LINK_H */
