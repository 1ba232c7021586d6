/*
 * decode.h - private interface between the decoder layers, and the
 * bounds-checked loaders every field read goes through.
 *
 * Layers pass (data, len) slices; a loader returns 0 when the field lies
 * outside the slice, so no read ever passes the captured length.
 */
#ifndef TF_DECODE_H
#define TF_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "tf.h"

static inline int tf_ld8(const uint8_t *p, size_t len, size_t off, uint8_t *v)
{
    if (off >= len)
        return 0;
    *v = p[off];
    return 1;
}

static inline int tf_ld16(const uint8_t *p, size_t len, size_t off, uint16_t *v)
{
    if (len < 2 || off > len - 2)
        return 0;
    *v = (uint16_t)((uint16_t)p[off] << 8 | p[off + 1]);
    return 1;
}

static inline int tf_ld32(const uint8_t *p, size_t len, size_t off, uint32_t *v)
{
    if (len < 4 || off > len - 4)
        return 0;
    *v = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 | (uint32_t)p[off + 2] << 8 | p[off + 3];
    return 1;
}

/* Decoding state shared by the layers of one frame. */
typedef struct tf_decode_ctx {
    const tf_decode_options *opt;
    tf_decoded *out;
    int have_ip;  /* the outermost IP header has set the addresses */
    int depth;    /* IP-in-IP nesting so far */
} tf_decode_ctx;

/* Each returns 1 when a traced TCP segment was found below, else 0. */
int tf_decode_ethertype(tf_decode_ctx *ctx, uint16_t ethertype, const uint8_t *p, size_t len);
int tf_decode_ip(tf_decode_ctx *ctx, const uint8_t *p, size_t len); /* version from the first nibble */
int tf_decode_ipv4(tf_decode_ctx *ctx, const uint8_t *p, size_t len);
int tf_decode_ipv6(tf_decode_ctx *ctx, const uint8_t *p, size_t len);
int tf_decode_tcp(tf_decode_ctx *ctx, const uint8_t *p, size_t len);

#endif /* TF_DECODE_H */
