/*
 * decode_ip.c - IPv4 (RFC 791) and IPv6 (RFC 8200) down to TCP.
 *
 * The flow's addresses are those of the OUTERMOST IP header, as pcapkit
 * reports them for IP-in-IP (protocols 4 and 41); the ports come from TCP.
 * The TCP layer is handed the IP payload: IPv4 total length (or IPv6
 * payload length) minus the headers, capped by what was captured.
 *
 * Differences from pcapkit, by the project's fidelity policy (see README):
 * a non-first IPv4 fragment or IPv6 fragment is not parsed as TCP (pcapkit
 * parses fragment payloads, or the IPv6 fragment header itself, as TCP);
 * IPv6 Routing and Fragment headers are stepped over (pcapkit drops the
 * packet); IPv4 options are not validated (pcapkit drops packets with a
 * Router Alert option or a malformed option; the header length is all that
 * locates the payload, and tshark decodes those packets too).  A first
 * fragment carries the TCP header and is traced.  A zero IPv6 payload length
 * with a Hop-by-Hop header is a jumbogram (RFC 2675): the payload is what
 * was captured.
 */
#include <string.h>

#include "decode.h"

#define MAX_TUNNEL_DEPTH 4
#define MAX_EXT_HEADERS 16

enum { PROTO_HOPOPT = 0, PROTO_IPIP = 4, PROTO_TCP = 6, PROTO_IPV6 = 41, PROTO_ROUTING = 43,
       PROTO_FRAGMENT = 44, PROTO_AH = 51, PROTO_DSTOPTS = 60 };

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* The flow's addresses are the outermost IP header's: the first one wins. */
static void set_addresses(tf_decode_ctx *ctx, uint8_t family, const uint8_t *src,
                          const uint8_t *dst, size_t n)
{
    if (ctx->have_ip)
        return;
    ctx->out->key.src_family = ctx->out->key.dst_family = family;
    memcpy(ctx->out->key.src, src, n);
    memcpy(ctx->out->key.dst, dst, n);
    ctx->have_ip = 1;
}

static int dispatch(tf_decode_ctx *ctx, uint8_t proto, const uint8_t *p, size_t len)
{
    switch (proto) {
    case PROTO_TCP:
        return tf_decode_tcp(ctx, p, len);
    case PROTO_IPIP:
        return ctx->depth < MAX_TUNNEL_DEPTH ? tf_decode_ipv4(ctx, p, len) : 0;
    case PROTO_IPV6:
        return ctx->depth < MAX_TUNNEL_DEPTH ? tf_decode_ipv6(ctx, p, len) : 0;
    default:
        return 0;
    }
}

int tf_decode_ip(tf_decode_ctx *ctx, const uint8_t *p, size_t len)
{
    uint8_t v;

    if (!tf_ld8(p, len, 0, &v))
        return 0;
    if (v >> 4 == 4)
        return tf_decode_ipv4(ctx, p, len);
    if (v >> 4 == 6)
        return tf_decode_ipv6(ctx, p, len);
    return 0;
}

int tf_decode_ipv4(tf_decode_ctx *ctx, const uint8_t *p, size_t len)
{
    uint8_t vihl, proto;
    uint16_t total, frag;
    size_t hlen, plen;

    if (len < 20 || !tf_ld8(p, len, 0, &vihl) || vihl >> 4 != 4 || (vihl & 15) < 5)
        return 0;
    hlen = (size_t)(vihl & 15) * 4;
    if (hlen > len || !tf_ld16(p, len, 2, &total) || !tf_ld16(p, len, 6, &frag)
        || !tf_ld8(p, len, 9, &proto))
        return 0;
    if ((frag & 0x1fff) != 0) /* a later fragment: no TCP header here */
        return 0;
    plen = total >= hlen ? min_size(total - hlen, len - hlen) : len - hlen;
    set_addresses(ctx, TF_FAMILY_IPV4, p + 12, p + 16, 4);
    ctx->depth++;
    return dispatch(ctx, proto, p + hlen, plen);
}

int tf_decode_ipv6(tf_decode_ctx *ctx, const uint8_t *p, size_t len)
{
    uint8_t v, next;
    uint16_t paylen;
    size_t avail, off = 0;
    int n;

    if (len < 40 || !tf_ld8(p, len, 0, &v) || v >> 4 != 6 || !tf_ld16(p, len, 4, &paylen)
        || !tf_ld8(p, len, 6, &next))
        return 0;
    if (paylen == 0 && next != PROTO_HOPOPT) /* no length and no jumbo option */
        return 0;
    set_addresses(ctx, TF_FAMILY_IPV6, p + 8, p + 24, 16);
    ctx->depth++;
    p += 40;
    avail = paylen == 0 ? len - 40 : min_size(paylen, len - 40);
    for (n = 0; n < MAX_EXT_HEADERS; n++) {
        uint8_t hl;
        uint16_t fragoff;
        size_t ext;
        switch (next) {
        case PROTO_HOPOPT:
        case PROTO_DSTOPTS:
        case PROTO_ROUTING:
            if (!tf_ld8(p, avail, off + 1, &hl))
                return 0;
            ext = ((size_t)hl + 1) * 8;
            break;
        case PROTO_AH:
            if (!tf_ld8(p, avail, off + 1, &hl))
                return 0;
            ext = ((size_t)hl + 2) * 4;
            break;
        case PROTO_FRAGMENT:
            if (!tf_ld16(p, avail, off + 2, &fragoff) || (fragoff & 0xfff8) != 0)
                return 0;
            ext = 8;
            break;
        default:
            return dispatch(ctx, next, p + off, avail - off);
        }
        if (ext > avail - off)
            return 0;
        next = p[off];
        off += ext;
    }
    return 0;
}
