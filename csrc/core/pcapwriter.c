/*
 * pcapwriter.c - classic pcap output files.
 *
 * Format: the libpcap file format (draft-ietf-opsawg-pcap): a 24-byte global
 * header, then per packet a 16-byte record header (seconds, fraction,
 * captured length, original length) followed by the captured bytes.  Every
 * field is encoded explicitly in the file's byte order.
 *
 * libpcap's own pcap_dump_open() cannot be used here: it always writes the
 * host's byte order and the pcap_t's snaplen, while the tracer must write
 * either byte order and pcapkit's header values.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tf.h"

#define MAGIC_USEC UINT32_C(0xa1b2c3d4)
#define MAGIC_NSEC UINT32_C(0xa1b23c4d)

static void put16(uint8_t *p, uint16_t v, int big)
{
    if (big) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
    } else {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
    }
}

static void put32(uint8_t *p, uint32_t v, int big)
{
    int i;

    for (i = 0; i < 4; i++)
        p[big ? 3 - i : i] = (uint8_t)(v >> (8 * i));
}

void tf_pcap_encode_header(const tf_pcap_format *fmt, uint8_t out[24])
{
    int big = fmt->big_endian != 0;

    put32(out, fmt->nanosecond ? MAGIC_NSEC : MAGIC_USEC, big);
    put16(out + 4, 2, big);
    put16(out + 6, 4, big);
    put32(out + 8, 0, big);  /* thiszone */
    put32(out + 12, 0, big); /* sigfigs */
    put32(out + 16, TF_PCAP_SNAPLEN, big);
    put32(out + 20, fmt->linktype, big);
}

tf_status tf_pcap_encode_record(const tf_pcap_format *fmt, int64_t ts_sec, uint32_t ts_nsec,
                                uint32_t caplen, uint32_t origlen, uint8_t out[16])
{
    int big = fmt->big_endian != 0;

    if (ts_sec < 0 || ts_sec > (int64_t)UINT32_MAX || ts_nsec >= 1000000000u)
        return TF_ERR_INVALID;
    put32(out, (uint32_t)ts_sec, big);
    put32(out + 4, fmt->nanosecond ? ts_nsec : ts_nsec / 1000u, big);
    put32(out + 8, caplen, big);
    put32(out + 12, origlen, big);
    return TF_OK;
}

static tf_status write_all(FILE *fp, const uint8_t *data, size_t len)
{
    if (len != 0 && fwrite(data, 1, len, fp) != len)
        return TF_ERR_IO;
    return TF_OK;
}

static tf_status finish(FILE *fp, tf_status st)
{
    int saved = errno;

    if (fclose(fp) != 0 && st == TF_OK)
        return TF_ERR_IO;
    if (st != TF_OK)
        errno = saved;
    return st;
}

tf_status tf_pcap_create(const char *path, const tf_pcap_format *fmt)
{
    uint8_t hdr[24];
    FILE *fp;

    tf_pcap_encode_header(fmt, hdr);
    fp = fopen(path, "wb");
    if (fp == NULL)
        return TF_ERR_IO;
    return finish(fp, write_all(fp, hdr, sizeof(hdr)));
}

tf_status tf_pcap_append(const char *path, const tf_pcap_format *fmt, int64_t ts_sec,
                         uint32_t ts_nsec, uint32_t origlen, const uint8_t *data, uint32_t caplen)
{
    uint8_t rec[16];
    tf_status st;
    FILE *fp;

    st = tf_pcap_encode_record(fmt, ts_sec, ts_nsec, caplen, origlen, rec);
    if (st != TF_OK)
        return st;
    fp = fopen(path, "ab");
    if (fp == NULL)
        return TF_ERR_IO;
    st = write_all(fp, rec, sizeof(rec));
    if (st == TF_OK)
        st = write_all(fp, data, caplen);
    return finish(fp, st);
}
