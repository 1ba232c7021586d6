/*
 * decode_tcp.c - the TCP header (RFC 9293) as pcapkit's tracer reads it.
 *
 * pcapkit needs 13 bytes of header to see a TCP layer, reads the flags from
 * byte 13 only when it is present (so a 13-byte header is traced with no
 * flags) and refuses a data offset below 5; this decoder does the same.
 * Options are not validated: pcapkit drops segments whose options it cannot
 * parse (every Multipath TCP option among them), while the segment and its
 * flow are there whatever the options say (tshark decodes them too).
 */
#include "decode.h"

int tf_decode_tcp(tf_decode_ctx *ctx, const uint8_t *p, size_t len)
{
    uint16_t sport, dport;
    uint8_t off;

    if (len < 13 || !tf_ld16(p, len, 0, &sport) || !tf_ld16(p, len, 2, &dport)
        || !tf_ld8(p, len, 12, &off))
        return 0;
    if (off >> 4 < 5)
        return 0;
    ctx->out->key.src_port = sport;
    ctx->out->key.dst_port = dport;
    ctx->out->flags = 0;
    if (len >= 14)
        ctx->out->flags = p[13];
    ctx->out->fin = ctx->out->flags & TF_TCP_FIN;
    return 1;
}
