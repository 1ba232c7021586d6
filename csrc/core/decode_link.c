/*
 * decode_link.c - link layers down to IP.
 *
 * Ethernet II (IEEE 802.3 framing with an EtherType), 802.1Q VLAN tags
 * (IEEE 802.1Q; 802.1ad S-tags 0x88a8 and the old 0x9100 too), MPLS label
 * stacks (RFC 3032), PPPoE sessions (RFC 2516), BSD loopback (NULL, LOOP),
 * Linux cooked captures (SLL, SLL2), IP over InfiniBand (RFC 4391) and raw
 * IP, by pcap link type
 * (https://www.tcpdump.org/linktypes.html).
 *
 * pcapkit decodes only link types 1 (Ethernet), 228 (IPv4) and 229 (IPv6),
 * and under Ethernet only IPv4, IPv6 and 802.1Q; the rest are decoded here
 * unless tf_decode_options.pcapkit_link_types_only is set.
 */
#include "decode.h"

#define MAX_TAGS 8      /* stacked VLAN tags followed */
#define MAX_LABELS 16   /* MPLS labels followed */

enum {
    LT_NULL = 0, LT_ETHERNET = 1, LT_RAW_BSD12 = 12, LT_RAW_BSD14 = 14, LT_RAW = 101,
    LT_LOOP = 108, LT_SLL = 113, LT_IPV4 = 228, LT_IPV6 = 229, LT_IPOIB = 242, LT_SLL2 = 276
};

static int decode_mpls(tf_decode_ctx *ctx, const uint8_t *p, size_t len)
{
    size_t off = 0;
    int i;

    for (i = 0; i < MAX_LABELS; i++) {
        uint32_t entry;
        if (!tf_ld32(p, len, off, &entry))
            return 0;
        off += 4;
        if (entry & 0x100) /* bottom of stack */
            return tf_decode_ip(ctx, p + off, len - off);
    }
    return 0;
}

static int decode_pppoe_session(tf_decode_ctx *ctx, const uint8_t *p, size_t len)
{
    uint16_t proto;

    /* ver/type, code, session id, length: 6 bytes, then a PPP protocol */
    if (!tf_ld16(p, len, 6, &proto))
        return 0;
    if (proto == 0x0021)
        return tf_decode_ipv4(ctx, p + 8, len - 8);
    if (proto == 0x0057)
        return tf_decode_ipv6(ctx, p + 8, len - 8);
    return 0;
}

int tf_decode_ethertype(tf_decode_ctx *ctx, uint16_t type, const uint8_t *p, size_t len)
{
    int tags = 0;
    int extended = !ctx->opt->pcapkit_link_types_only;

    for (;;) {
        switch (type) {
        case 0x0800:
            return tf_decode_ipv4(ctx, p, len);
        case 0x86dd:
            return tf_decode_ipv6(ctx, p, len);
        case 0x88a8:
        case 0x9100:
        case 0x8100: /* the S-tags have the layout of an 802.1Q tag */
            if ((type != 0x8100 && !extended) || ++tags > MAX_TAGS || !tf_ld16(p, len, 2, &type))
                return 0;
            p += 4;
            len -= 4;
            continue;
        case 0x8847:
        case 0x8848:
            return extended ? decode_mpls(ctx, p, len) : 0;
        case 0x8864:
            return extended ? decode_pppoe_session(ctx, p, len) : 0;
        default:
            return 0;
        }
    }
}

static uint32_t swap32(uint32_t v)
{
    return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

/* BSD address family values for IPv4 and IPv6 across systems. */
static int family_decode(tf_decode_ctx *ctx, uint32_t af, const uint8_t *p, size_t len)
{
    if (af == 2)
        return tf_decode_ipv4(ctx, p, len);
    if (af == 10 || af == 24 || af == 28 || af == 30)
        return tf_decode_ipv6(ctx, p, len);
    return 0;
}

int tf_decode_frame(uint32_t linktype, const uint8_t *data, size_t caplen,
                    const tf_decode_options *opt, tf_decoded *out)
{
    static const tf_decode_options defaults;
    tf_decode_ctx ctx;
    uint16_t type;
    uint32_t af;

    ctx.opt = opt ? opt : &defaults;
    ctx.out = out;
    ctx.have_ip = 0;
    ctx.depth = 0;
    tf_flow_key_init(&out->key);
    out->flags = 0;
    out->fin = 0;

    switch (linktype) {
    case LT_ETHERNET:
        if (!tf_ld16(data, caplen, 12, &type))
            return 0;
        return tf_decode_ethertype(&ctx, type, data + 14, caplen - 14);
    case LT_IPV4:
        return tf_decode_ipv4(&ctx, data, caplen);
    case LT_IPV6:
        return tf_decode_ipv6(&ctx, data, caplen);
    default:
        break;
    }
    if (ctx.opt->pcapkit_link_types_only)
        return 0;
    switch (linktype) {
    case LT_RAW:
    case LT_RAW_BSD12:
    case LT_RAW_BSD14:
        return tf_decode_ip(&ctx, data, caplen);
    case LT_NULL:
        if (!tf_ld32(data, caplen, 0, &af))
            return 0;
        /* host byte order of the capturing machine: try both */
        if (family_decode(&ctx, af, data + 4, caplen - 4))
            return 1;
        return family_decode(&ctx, swap32(af), data + 4, caplen - 4);
    case LT_LOOP:
        if (!tf_ld32(data, caplen, 0, &af))
            return 0;
        return family_decode(&ctx, af, data + 4, caplen - 4);
    case LT_SLL:
        if (!tf_ld16(data, caplen, 14, &type))
            return 0;
        return tf_decode_ethertype(&ctx, type, data + 16, caplen - 16);
    case LT_IPOIB:
        /* 20-byte destination and source hardware addresses, then the
         * RFC 4391 header: EtherType and 2 reserved bytes */
        if (!tf_ld16(data, caplen, 40, &type) || caplen < 44)
            return 0;
        return tf_decode_ethertype(&ctx, type, data + 44, caplen - 44);
    case LT_SLL2:
        if (caplen < 20 || !tf_ld16(data, caplen, 0, &type))
            return 0;
        return tf_decode_ethertype(&ctx, type, data + 20, caplen - 20);
    default:
        return 0;
    }
}
