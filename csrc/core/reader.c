/*
 * reader.c - capture files through libpcap (pcap and pcapng, either byte
 * order, micro- or nanosecond timestamps).
 *
 * libpcap is asked for nanosecond timestamps, so every record's time is
 * exact whatever the file's resolution.  For classic pcap the 24-byte global
 * header is also read here, because tracing needs the link type exactly as
 * stored (libpcap reports a DLT number and keeps the upper bits apart) and
 * the file's resolution; the file position is put back before libpcap reads.
 * pcapng files are read by pcapng.c (libpcap refuses many real ones).
 */
#define _DEFAULT_SOURCE /* libpcap's headers use u_int and friends */
#define _FILE_OFFSET_BITS 64 /* captures larger than 2 GiB on 32-bit systems */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>

#include "pcapng.h"
#include "tf.h"

struct tf_reader {
    const tf_allocator *alloc;
    pcap_t *pcap;
    tf_pcapng *pcapng;
    FILE *fp;
    tf_capture_info info;
    size_t short_header; /* a pcap magic followed by fewer than 24 header bytes */
};

static uint32_t get32(const uint8_t *p, int big)
{
    return big ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
               : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

static void peek_pcap_header(tf_reader *r, const uint8_t *h, size_t n)
{
    uint32_t magic;
    int big;

    if (n < 4)
        return;
    magic = get32(h, 0);
    if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du)
        big = 0;
    else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u)
        big = 1;
    else
        return;
    r->info.format = TF_FORMAT_PCAP;
    if (n < 24) {
        r->short_header = n;
        r->info.nanosecond = get32(h, big) == 0xa1b23c4du;
        r->info.big_endian = big;
        return;
    }
    r->info.big_endian = big;
    r->info.nanosecond = get32(h, big) == 0xa1b23c4du;
    r->info.version_major = (uint16_t)(big ? (h[4] << 8 | h[5]) : (h[5] << 8 | h[4]));
    r->info.version_minor = (uint16_t)(big ? (h[6] << 8 | h[7]) : (h[7] << 8 | h[6]));
    r->info.snaplen = get32(h + 16, big);
    r->info.linktype = get32(h + 20, big);
}

tf_status tf_reader_open(void *fpv, const tf_allocator *alloc, tf_reader **out, char *errbuf)
{
    FILE *fp = fpv;
    tf_reader *r;
    uint8_t head[24];
    size_t n;
    off_t start;
    char pcap_err[PCAP_ERRBUF_SIZE];

    *out = NULL;
    errbuf[0] = '\0';
    r = tf_malloc(alloc, sizeof(*r));
    if (r == NULL) {
        fclose(fp);
        return TF_ERR_NOMEM;
    }
    memset(r, 0, sizeof(*r));
    r->alloc = alloc;
    r->fp = fp;

    start = ftello(fp);
    n = fread(head, 1, sizeof(head), fp);
    if (ferror(fp)) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "cannot read the capture: %s", strerror(errno));
        tf_reader_close(r);
        return TF_ERR_IO;
    }
    if (n == 0) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "the capture file is empty");
        tf_reader_close(r);
        return TF_ERR_FORMAT;
    }
    if (start < 0 || fseeko(fp, start, SEEK_SET) != 0) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "the capture must be a seekable file");
        tf_reader_close(r);
        return TF_ERR_IO;
    }
    peek_pcap_header(r, head, n);
    if (n >= 4 && memcmp(head, "\x0a\x0d\x0d\x0a", 4) == 0) {
        tf_status st = tf_pcapng_open(fp, alloc, &r->pcapng, &r->info, errbuf);
        if (st != TF_OK) {
            tf_reader_close(r);
            return st;
        }
        *out = r;
        return TF_OK;
    }
    if (r->info.format != TF_FORMAT_PCAP) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "unknown file format (not pcap or pcapng)");
        tf_reader_close(r);
        return TF_ERR_FORMAT;
    }
    if (r->short_header) {
        *out = r; /* tf_reader_next reports the damage: no records */
        return TF_OK;
    }

    pcap_err[0] = '\0';
    r->pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, pcap_err);
    if (r->pcap == NULL) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "%s", pcap_err[0] ? pcap_err : "unknown file format");
        tf_reader_close(r);
        return TF_ERR_FORMAT;
    }
    r->fp = NULL; /* libpcap closes it now */
    *out = r;
    return TF_OK;
}

void tf_reader_info(const tf_reader *r, tf_capture_info *info)
{
    *info = r->info;
}

tf_status tf_reader_next(tf_reader *r, tf_record *rec, char *errbuf)
{
    struct pcap_pkthdr *hdr;
    const u_char *data;
    int rc;

    if (r->pcapng != NULL)
        return tf_pcapng_next(r->pcapng, rec, errbuf);
    if (r->short_header) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "truncated pcap file header (%zu of 24 bytes)",
                 r->short_header);
        return TF_ERR_FORMAT;
    }
    rc = pcap_next_ex(r->pcap, &hdr, &data);
    if (rc == 1) {
        /* libpcap reads the record's 32-bit fields as signed and scales a
         * microsecond fraction by 1000 (nanosecond precision was asked at
         * open): recover the file's unsigned fields */
        uint32_t raw_sec = (uint32_t)hdr->ts.tv_sec;
        uint32_t raw_frac = (uint32_t)(int32_t)(r->info.nanosecond ? hdr->ts.tv_usec
                                                                    : hdr->ts.tv_usec / 1000);
        uint64_t ns = r->info.nanosecond ? raw_frac : (uint64_t)raw_frac * 1000u;
        rec->ts_sec = (int64_t)raw_sec + (int64_t)(ns / 1000000000u);
        rec->ts_nsec = (uint32_t)(ns % 1000000000u);
        rec->ts_digits = NULL;
        rec->caplen = hdr->caplen;
        rec->origlen = hdr->len;
        rec->linktype = r->info.linktype;
        rec->data = data;
        return TF_OK;
    }
    if (rc == PCAP_ERROR_BREAK)
        return TF_END;
    snprintf(errbuf, TF_ERRBUF_SIZE, "%s", pcap_geterr(r->pcap));
    return TF_ERR_FORMAT;
}

uint64_t tf_reader_offset(const tf_reader *r)
{
    FILE *fp = r->pcap ? pcap_file(r->pcap) : r->fp;

    if (r->pcapng != NULL)
        fp = r->fp;
    off_t off = fp ? ftello(fp) : -1;

    return off < 0 ? 0 : (uint64_t)off;
}

void tf_reader_close(tf_reader *r)
{
    if (r == NULL)
        return;
    if (r->pcap != NULL)
        pcap_close(r->pcap);
    else if (r->fp != NULL)
        fclose(r->fp);
    tf_pcapng_close(r->pcapng);
    tf_free(r->alloc, r);
}
