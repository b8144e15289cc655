/* SPDX-License-Identifier: MIT */
/*
 * QR code images: libqrencode makes the module matrix, then it is drawn as a 1-bit greyscale
 * PNG (libpng, written straight into the caller's buffer) or as SVG text written here: a
 * white square and one black <path> with a rectangle per horizontal run of dark modules, in
 * module units, so the drawing stays crisp at any size and small enough to inline in a page.
 */
#include <errno.h>
#include <limits.h>
#include <png.h>
#include <qrencode.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <loa/alloc.h>
#include <loa/err.h>
#include <loa/link.h>
#include <loa/utf8.h>

#include "link_int.h"

#define SCALE_DEFAULT  8
#define SCALE_MAX      32
#define MARGIN_DEFAULT 4
#define MARGIN_MAX     16
/* Most bytes any QR code holds: version 40 at level L in byte mode (ISO/IEC 18004, Table 7).
   Longer text is refused before libqrencode spends time on it. */
#define BYTES_MAX 2953

/* The matrix and how to draw it. */
struct qr_draw {
    const QRcode *qr;
    int margin; /* quiet zone, modules */
    int scale;  /* pixels per module */
    int side;   /* modules + 2 * margin */
};

/* Whether module (x, y) of the drawing (quiet zone included) is dark. */
static bool dark(const struct qr_draw *d, int x, int y)
{
    int w = d->qr->width;
    x -= d->margin;
    y -= d->margin;
    if (x < 0 || y < 0 || x >= w || y >= w)
        return false;
    return (d->qr->data[(size_t)y * (size_t)w + (size_t)x] & 1) != 0;
}

static int resolve(const struct loa_qr_opts *in, struct loa_qr_opts *o, QRecLevel *level)
{
    static const struct loa_qr_opts none = { 0 };
    *o = in ? *in : none;
    if (o->scale == 0)
        o->scale = SCALE_DEFAULT;
    if (o->margin == 0)
        o->margin = MARGIN_DEFAULT;
    if (o->level == 0)
        o->level = 'M';
    if (o->format != LOA_QR_PNG && o->format != LOA_QR_SVG)
        return LOA_EINVAL;
    if (o->scale < 1 || o->scale > SCALE_MAX || o->margin < 1 || o->margin > MARGIN_MAX)
        return LOA_EINVAL;
    switch (o->level) {
    case 'L':
        *level = QR_ECLEVEL_L;
        break;
    case 'M':
        *level = QR_ECLEVEL_M;
        break;
    case 'Q':
        *level = QR_ECLEVEL_Q;
        break;
    case 'H':
        *level = QR_ECLEVEL_H;
        break;
    default:
        return LOA_EINVAL;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* SVG                                                                                       */

static int write_svg(const struct qr_draw *d, struct loa_buf *out)
{
    int px = d->side * d->scale;
    int rc =
        loa_buf_printf(out,
                       "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                       "viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
                       "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
                       px, px, d->side, d->side, d->side, d->side);
    for (int y = d->margin; y < d->side - d->margin && rc == 0; y++) {
        int x = d->margin;
        while (x < d->side - d->margin && rc == 0) {
            if (!dark(d, x, y)) {
                x++;
                continue;
            }
            int run = 1;
            while (dark(d, x + run, y))
                run++;
            rc = loa_buf_printf(out, "M%d %dh%dv1h-%dz", x, y, run, run);
            x += run;
        }
    }
    if (rc == 0)
        rc = loa_buf_puts(out, "\"/></svg>\n");
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* PNG                                                                                       */

/* Where libpng writes. rc is volatile: it is set in a callback that longjmps out. */
struct png_sink {
    struct loa_buf *out;
    volatile int rc;
};

static void sink_write(png_structp png, png_bytep data, size_t len)
{
    struct png_sink *s = png_get_io_ptr(png);
    int rc = loa_buf_append(s->out, data, len);
    if (rc < 0) {
        s->rc = rc;
        png_error(png, "output buffer full");
    }
}

static void sink_flush(png_structp png)
{
    (void)png;
}

/* libpng's own handlers print to stderr; loa reports through the return code instead. */
static void png_fail(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* One pixel row of module row y: bit 1 is white in 1-bit greyscale, so start white. */
static void fill_row(const struct qr_draw *d, int y, unsigned char *row, size_t rowbytes)
{
    memset(row, 0xFF, rowbytes);
    for (int x = 0; x < d->side; x++) {
        if (!dark(d, x, y))
            continue;
        for (int k = 0; k < d->scale; k++) {
            size_t px = (size_t)x * (size_t)d->scale + (size_t)k;
            row[px / 8] &= (unsigned char)~(0x80u >> (px % 8));
        }
    }
}

/* The libpng calls, alone in a function so that nothing but the sink changes between
   setjmp and a longjmp. row holds (width + 7) / 8 bytes. */
static int png_encode(const struct qr_draw *d, struct png_sink *sink, unsigned char *row)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_fail, png_warn);
    if (png == NULL)
        return LOA_ENOMEM;
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        return LOA_ENOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        /* Either the sink refused (its code) or libpng failed on its own: out of memory is
           the only failure left once the arguments are right. */
        return sink->rc < 0 ? sink->rc : LOA_ENOMEM;
    }
    png_uint_32 px = (png_uint_32)(d->side * d->scale);
    png_set_write_fn(png, sink, sink_write, sink_flush);
    png_set_IHDR(png, info, px, px, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* Filters do not help 1-bit images (libpng manual, "Writing"). */
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_write_info(png, info);
    size_t rowbytes = ((size_t)px + 7) / 8;
    for (int y = 0; y < d->side; y++) {
        fill_row(d, y, row, rowbytes);
        for (int k = 0; k < d->scale; k++)
            png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

static int write_png(const struct qr_draw *d, struct loa_buf *out)
{
    size_t rowbytes = ((size_t)d->side * (size_t)d->scale + 7) / 8;
    unsigned char *row = loa_malloc(rowbytes);
    struct png_sink sink = { .out = out, .rc = 0 };
    int rc = png_encode(d, &sink, row);
    loa_free(row);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */

int loa_qr_image(const char *text, const struct loa_qr_opts *o, struct loa_buf *out)
{
    struct loa_qr_opts opts;
    QRecLevel level = QR_ECLEVEL_M;
    int rc = resolve(o, &opts, &level);
    if (rc < 0)
        return rc;
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || !loa_utf8_valid(text, len))
        return LOA_EINVAL;
    if (len > BYTES_MAX)
        return LOA_ETOOBIG;

    /* Version 0: the smallest version that holds the data. Byte mode throughout, so what a
       scanner reads back is the text's bytes exactly. */
    errno = 0;
    QRcode *qr = QRcode_encodeData((int)len, (const unsigned char *)text, 0, level);
    if (qr == NULL)
        return errno == ERANGE ? LOA_ETOOBIG : errno == ENOMEM ? LOA_ENOMEM : LOA_EINVAL;

    struct qr_draw d = { .qr = qr, .margin = opts.margin, .scale = opts.scale };
    d.side = qr->width + 2 * opts.margin;
    size_t mark = out->len;
    rc = opts.format == LOA_QR_SVG ? write_svg(&d, out) : write_png(&d, out);
    if (rc < 0)
        loa__link_buf_cut(out, mark);
    QRcode_free(qr);
    return rc;
}
