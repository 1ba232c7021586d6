/*
 * fuzz_capture.c - libFuzzer target: a whole capture file through the
 * reader (libpcap or pcapng), decoder, flow table, labels and pcap writer.
 *
 * The input is the capture file's bytes; its first byte's low bit also
 * decides whether flow files are written (into a temporary folder emptied
 * after each run) and whether few files may stay open.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icsrc/core \
 *       csrc/tests/fuzz_capture.c csrc/core/ *.c -lpcap -o fuzz_capture
 */
#define _XOPEN_SOURCE 700 /* nftw */
#define _DEFAULT_SOURCE   /* mkdtemp, fmemopen */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tf.h"

static char dir[64];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    if (ftw->level > 0)
        remove(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errbuf[TF_ERRBUF_SIZE];
    tf_session_options opt;
    tf_reader *reader;
    tf_session *s;
    tf_status st;
    FILE *fp;
    int write_files = size > 0 && (data[0] & 1);

    if (dir[0] == '\0') {
        snprintf(dir, sizeof(dir), "/tmp/tf-fuzz-XXXXXX");
        if (mkdtemp(dir) == NULL)
            abort();
    }
    if (size == 0)
        return 0;
    fp = fmemopen((void *)data, size, "rb");
    if (fp == NULL)
        return 0;
    if (tf_reader_open(fp, NULL, &reader, errbuf) != TF_OK)
        return 0;
    memset(&opt, 0, sizeof(opt));
    opt.out_dir = write_files ? dir : NULL;
    opt.ext = ".pcap";
    opt.max_open_files = (data[0] & 2) ? 1 : 8;
    opt.pcap.big_endian = data[0] & 4;
    opt.pcap.nanosecond = data[0] & 8;
    if (tf_session_new(reader, &opt, NULL, 7, &s) != TF_OK)
        return 0;
    do
        st = tf_session_step(s, 1000, errbuf);
    while (st == TF_OK);
    tf_session_finish(s, errbuf);
    {
        const tf_flowtable *t = tf_session_flowtable(s);
        uint64_t i, n = tf_flowtable_flow_count(t);
        for (i = 0; i < n; i++) {
            char label[TF_LABEL_MAX];
            if (tf_session_label(s, i, label) == 0 || strlen(label) >= TF_LABEL_MAX)
                abort();
        }
    }
    tf_session_free(s);
    if (write_files)
        nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
