/*
 * pcapng.c - PCAP Next Generation files (draft-ietf-opsawg-pcapng).
 *
 * libpcap (up to 1.10) refuses pcapng files whose interfaces differ in link
 * type or snapshot length, which real multi-interface captures do, so the
 * core reads pcapng itself.  Handled: Section Header Blocks (either byte
 * order, a new section forgets the interfaces), Interface Description
 * Blocks (link type, snaplen, if_tsresol, if_tsoffset), Enhanced, Simple and
 * obsolete Packet Blocks; every other block is skipped.  Packets are
 * numbered by packet block, as pcapkit numbers them.
 *
 * Timestamps: units of 10^-n or 2^-n seconds plus an offset in seconds.
 * The fraction is given to the caller in nanoseconds (truncated) and, when
 * that is not exact, as its exact decimal digits for the label.
 */
#define _POSIX_C_SOURCE 200809L /* fseeko, ftello */
#define _FILE_OFFSET_BITS 64
#include <stdlib.h>
#include <string.h>

#include "pcapng.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 1u
#define BT_PB 2u
#define BT_SPB 3u
#define BT_EPB 6u
#define MAX_BLOCK (256u * 1024u * 1024u)
#define MAX_INTERFACES 65536u

typedef struct iface {
    uint32_t linktype;
    uint32_t snaplen;
    int binary;        /* resolution 2^-exp instead of 10^-exp */
    unsigned exp;
    int64_t offset;    /* seconds */
} iface;

struct tf_pcapng {
    const tf_allocator *alloc;
    FILE *fp;
    int big;
    iface *ifaces;
    uint32_t nifaces;
    uint32_t cap_ifaces;
    uint8_t *buf;
    size_t buf_cap;
    char digits[80];
};

static uint16_t rd16(const tf_pcapng *r, const uint8_t *p)
{
    return r->big ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t rd32(const tf_pcapng *r, const uint8_t *p)
{
    return r->big ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
                  : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

static uint64_t rd64(const tf_pcapng *r, const uint8_t *p)
{
    uint64_t a = rd32(r, p), b = rd32(r, p + 4);
    return r->big ? (a << 32 | b) : (b << 32 | a);
}

/* Reads one block into r->buf: *type, *len (whole block length). */
static tf_status read_block(tf_pcapng *r, uint32_t *type, uint32_t *len, char *errbuf)
{
    uint8_t head[12];
    size_t n = fread(head, 1, 8, r->fp);
    uint32_t trailer;

    if (n == 0 && feof(r->fp))
        return TF_END;
    if (n < 8) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "truncated pcapng block header (%zu of 8 bytes)", n);
        return TF_ERR_FORMAT;
    }
    if (((uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3]) == BT_SHB) {
        /* the byte order is that of the byte-order magic that follows */
        if (fread(head + 8, 1, 4, r->fp) != 4) {
            snprintf(errbuf, TF_ERRBUF_SIZE, "truncated pcapng section header");
            return TF_ERR_FORMAT;
        }
        if (memcmp(head + 8, "\x1a\x2b\x3c\x4d", 4) == 0)
            r->big = 1;
        else if (memcmp(head + 8, "\x4d\x3c\x2b\x1a", 4) == 0)
            r->big = 0;
        else {
            snprintf(errbuf, TF_ERRBUF_SIZE, "bad pcapng byte-order magic");
            return TF_ERR_FORMAT;
        }
        n = 12;
    }
    *type = rd32(r, head);
    *len = rd32(r, head + 4);
    if (*len < 12 || *len % 4 != 0 || *len > MAX_BLOCK || *len < n) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "corrupt pcapng block (type %u, length %u)", *type, *len);
        return TF_ERR_FORMAT;
    }
    if (*len > r->buf_cap) {
        uint8_t *b = tf_realloc(r->alloc, r->buf, *len);
        if (b == NULL)
            return TF_ERR_NOMEM;
        r->buf = b;
        r->buf_cap = *len;
    }
    memcpy(r->buf, head, n);
    if (fread(r->buf + n, 1, *len - n, r->fp) != *len - n) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "truncated pcapng block (type %u, %u bytes)", *type, *len);
        return TF_ERR_FORMAT;
    }
    trailer = rd32(r, r->buf + *len - 4);
    if (trailer != *len) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "corrupt pcapng block (lengths %u and %u differ)", *len,
                 trailer);
        return TF_ERR_FORMAT;
    }
    return TF_OK;
}

static tf_status add_iface(tf_pcapng *r, const uint8_t *body, size_t blen, char *errbuf)
{
    iface f;
    size_t off = 8;

    if (blen < 8) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "corrupt pcapng interface block");
        return TF_ERR_FORMAT;
    }
    memset(&f, 0, sizeof(f));
    f.linktype = rd16(r, body);
    f.snaplen = rd32(r, body + 4);
    f.exp = 6;
    while (off + 4 <= blen) {
        uint16_t code = rd16(r, body + off), olen = rd16(r, body + off + 2);
        const uint8_t *v = body + off + 4;
        if (code == 0 || olen > blen - off - 4)
            break;
        if (code == 9 && olen >= 1) {
            f.binary = (v[0] & 0x80) != 0;
            f.exp = v[0] & 0x7f;
        } else if (code == 14 && olen >= 8) {
            f.offset = (int64_t)rd64(r, v);
        }
        off += 4 + (((size_t)olen + 3) & ~(size_t)3);
    }
    if ((!f.binary && f.exp > 19) || (f.binary && f.exp > 63)) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "unsupported pcapng timestamp resolution");
        return TF_ERR_FORMAT;
    }
    if (r->nifaces == r->cap_ifaces) {
        uint32_t cap = r->cap_ifaces ? r->cap_ifaces * 2 : 8;
        iface *p;
        if (cap > MAX_INTERFACES) {
            snprintf(errbuf, TF_ERRBUF_SIZE, "too many pcapng interfaces");
            return TF_ERR_FORMAT;
        }
        p = tf_reallocarray(r->alloc, r->ifaces, cap, sizeof(*p));
        if (p == NULL)
            return TF_ERR_NOMEM;
        r->ifaces = p;
        r->cap_ifaces = cap;
    }
    r->ifaces[r->nifaces++] = f;
    return TF_OK;
}

/* Exact decimal digits of frac / 2^exp (frac < 2^exp): frac * 5^exp padded
 * to exp digits.  Small base-10^9 bignum. */
static void binary_fraction_digits(uint64_t frac, unsigned exp, char *out)
{
    uint32_t limb[8] = {0}; /* little-endian base 10^9: enough for < 2^64 * 5^63 */
    int n = 0, i;
    unsigned k;
    char tmp[96];
    size_t len, pad;

    limb[0] = (uint32_t)(frac % 1000000000u);
    limb[1] = (uint32_t)((frac / 1000000000u) % 1000000000u);
    limb[2] = (uint32_t)(frac / 1000000000u / 1000000000u);
    n = 3;
    for (k = 0; k < exp; k++) {
        uint64_t carry = 0;
        for (i = 0; i < n; i++) {
            uint64_t v = (uint64_t)limb[i] * 5u + carry;
            limb[i] = (uint32_t)(v % 1000000000u);
            carry = v / 1000000000u;
        }
        if (carry && n < 8)
            limb[n++] = (uint32_t)carry;
    }
    while (n > 1 && limb[n - 1] == 0)
        n--;
    len = (size_t)snprintf(tmp, sizeof(tmp), "%u", limb[n - 1]);
    for (i = n - 2; i >= 0; i--)
        len += (size_t)snprintf(tmp + len, sizeof(tmp) - len, "%09u", limb[i]);
    pad = exp > len ? exp - len : 0;
    memset(out, '0', pad);
    memcpy(out + pad, tmp, len + 1);
}

static void set_time(tf_pcapng *r, const iface *f, uint64_t ts, tf_record *rec)
{
    uint64_t sec, frac;
    static const uint64_t pow10[20] = {1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u,
        10000000u, 100000000u, 1000000000u, 10000000000u, 100000000000u, 1000000000000u,
        10000000000000u, 100000000000000u, 1000000000000000u, 10000000000000000u,
        100000000000000000u, 1000000000000000000u, 10000000000000000000u};

    rec->ts_digits = NULL;
    if (f->binary) {
        uint64_t mask = f->exp ? ((uint64_t)1 << f->exp) - 1 : 0;
        sec = f->exp ? ts >> f->exp : ts;
        frac = ts & mask;
        rec->ts_nsec = (uint32_t)(((unsigned __int128)frac * 1000000000u) >> f->exp);
        if (f->exp > 0 && ((unsigned __int128)frac * 1000000000u) % ((unsigned __int128)1 << f->exp)) {
            binary_fraction_digits(frac, f->exp, r->digits);
            rec->ts_digits = r->digits;
        }
    } else {
        sec = ts / pow10[f->exp];
        frac = ts % pow10[f->exp];
        if (f->exp <= 9) {
            rec->ts_nsec = (uint32_t)(frac * pow10[9 - f->exp]);
        } else {
            rec->ts_nsec = (uint32_t)(frac / pow10[f->exp - 9]);
            if (frac % pow10[f->exp - 9]) {
                snprintf(r->digits, sizeof(r->digits), "%0*llu", (int)f->exp,
                         (unsigned long long)frac);
                rec->ts_digits = r->digits;
            }
        }
    }
    {
        /* saturate: an absurd if_tsoffset must not overflow */
        __int128 t = (__int128)sec + f->offset;
        rec->ts_sec = t > INT64_MAX ? INT64_MAX : t < INT64_MIN ? INT64_MIN : (int64_t)t;
    }
}

tf_status tf_pcapng_next(tf_pcapng *r, tf_record *rec, char *errbuf)
{
    for (;;) {
        uint32_t type, len;
        const uint8_t *body;
        size_t blen;
        tf_status st = read_block(r, &type, &len, errbuf);

        if (st != TF_OK)
            return st;
        body = r->buf + 8;
        blen = len - 12;
        switch (type) {
        case BT_SHB:
            r->nifaces = 0;
            continue;
        case BT_IDB:
            st = add_iface(r, body, blen, errbuf);
            if (st != TF_OK)
                return st;
            continue;
        case BT_EPB:
        case BT_PB: {
            uint32_t ifid, caplen, origlen;
            uint64_t ts;
            if (blen < 20) {
                snprintf(errbuf, TF_ERRBUF_SIZE, "corrupt pcapng packet block");
                return TF_ERR_FORMAT;
            }
            ifid = type == BT_EPB ? rd32(r, body) : rd16(r, body);
            ts = (uint64_t)rd32(r, body + 4) << 32 | rd32(r, body + 8);
            caplen = rd32(r, body + 12);
            origlen = rd32(r, body + 16);
            if (caplen > blen - 20) {
                snprintf(errbuf, TF_ERRBUF_SIZE, "corrupt pcapng packet block (captured length %u)",
                         caplen);
                return TF_ERR_FORMAT;
            }
            if (ifid >= r->nifaces) {
                snprintf(errbuf, TF_ERRBUF_SIZE, "pcapng packet of undeclared interface %u", ifid);
                return TF_ERR_FORMAT;
            }
            set_time(r, &r->ifaces[ifid], ts, rec);
            rec->caplen = caplen;
            rec->origlen = origlen;
            rec->linktype = r->ifaces[ifid].linktype;
            rec->data = body + 20;
            return TF_OK;
        }
        case BT_SPB: {
            uint32_t origlen, caplen;
            if (blen < 4 || r->nifaces == 0) {
                snprintf(errbuf, TF_ERRBUF_SIZE, "corrupt pcapng simple packet block");
                return TF_ERR_FORMAT;
            }
            origlen = rd32(r, body);
            caplen = origlen;
            if (r->ifaces[0].snaplen && caplen > r->ifaces[0].snaplen)
                caplen = r->ifaces[0].snaplen;
            if (caplen > blen - 4)
                caplen = (uint32_t)(blen - 4);
            rec->ts_sec = 0;
            rec->ts_nsec = 0;
            rec->ts_digits = NULL;
            rec->caplen = caplen;
            rec->origlen = origlen;
            rec->linktype = r->ifaces[0].linktype;
            rec->data = body + 4;
            return TF_OK;
        }
        default:
            continue;
        }
    }
}

tf_status tf_pcapng_open(FILE *fp, const tf_allocator *alloc, tf_pcapng **out,
                         tf_capture_info *info, char *errbuf)
{
    tf_pcapng *r;
    off_t start = ftello(fp);
    uint32_t type, len;
    tf_status st;

    *out = NULL;
    r = tf_malloc(alloc, sizeof(*r));
    if (r == NULL)
        return TF_ERR_NOMEM;
    memset(r, 0, sizeof(*r));
    r->alloc = alloc;
    r->fp = fp;
    st = read_block(r, &type, &len, errbuf);
    if (st == TF_END) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "the capture file is empty");
        st = TF_ERR_FORMAT;
    }
    if (st != TF_OK || type != BT_SHB || len < 28) {
        if (st == TF_OK) {
            snprintf(errbuf, TF_ERRBUF_SIZE, "not a pcapng file");
            st = TF_ERR_FORMAT;
        }
        tf_pcapng_close(r);
        return st;
    }
    memset(info, 0, sizeof(*info));
    info->format = TF_FORMAT_PCAPNG;
    info->big_endian = r->big;
    info->version_major = rd16(r, r->buf + 12);
    info->version_minor = rd16(r, r->buf + 14);
    /* Peek at the first interface for the header summary, then rewind. */
    for (;;) {
        st = read_block(r, &type, &len, errbuf);
        if (st != TF_OK || type == BT_SHB)
            break;
        if (type == BT_IDB && len >= 20) {
            info->linktype = rd16(r, r->buf + 8);
            info->snaplen = rd32(r, r->buf + 12);
            break;
        }
    }
    if (start < 0 || fseeko(fp, start, SEEK_SET) != 0) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "the capture must be a seekable file");
        tf_pcapng_close(r);
        return TF_ERR_IO;
    }
    r->nifaces = 0;
    *out = r;
    return TF_OK;
}

void tf_pcapng_close(tf_pcapng *r)
{
    if (r == NULL)
        return;
    tf_free(r->alloc, r->ifaces);
    tf_free(r->alloc, r->buf);
    tf_free(r->alloc, r);
}
