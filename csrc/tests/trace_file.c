/*
 * trace_file.c - run the C core over capture files without Python: a
 * replay driver for crash reproducers and a harness for profiling.
 *
 *   cc -O2 -Icsrc/core csrc/tests/trace_file.c csrc/core/ *.c -lpcap -o trace_file
 *   ./trace_file [-o DIR] CAPTURE...
 *
 * Prints, per file, frames, traced segments, flows and the status.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tf.h"

static int run(const char *path, const char *out_dir)
{
    char errbuf[TF_ERRBUF_SIZE];
    tf_session_options opt;
    tf_reader *reader;
    tf_session *s;
    tf_status st;
    FILE *fp = fopen(path, "rb");
    struct timespec t0, t1;

    if (fp == NULL) {
        perror(path);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = tf_reader_open(fp, NULL, &reader, errbuf);
    if (st != TF_OK) {
        printf("%s: open: %s: %s\n", path, tf_strerror(st), errbuf);
        return 0;
    }
    memset(&opt, 0, sizeof(opt));
    opt.out_dir = out_dir;
    opt.ext = ".pcap";
    opt.max_open_files = 64;
    st = tf_session_new(reader, &opt, NULL, 42, &s);
    if (st != TF_OK) {
        printf("%s: session: %s\n", path, tf_strerror(st));
        return 1;
    }
    do
        st = tf_session_step(s, 1u << 16, errbuf);
    while (st == TF_OK);
    {
        char err2[TF_ERRBUF_SIZE];
        tf_session_finish(s, err2);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%s: frames %llu traced %llu flows %llu %s%s%s %.3f s\n", path,
           (unsigned long long)tf_session_frames(s), (unsigned long long)tf_session_traced(s),
           (unsigned long long)tf_flowtable_flow_count(tf_session_flowtable(s)),
           st == TF_END ? "end" : tf_strerror(st), errbuf[0] ? ": " : "", errbuf,
           (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    tf_session_free(s);
    return 0;
}

int main(int argc, char **argv)
{
    const char *out_dir = NULL;
    int i = 1, rc = 0;

    if (argc > 2 && strcmp(argv[1], "-o") == 0) {
        out_dir = argv[2];
        i = 3;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: %s [-o DIR] CAPTURE...\n", argv[0]);
        return 2;
    }
    for (; i < argc; i++)
        rc |= run(argv[i], out_dir);
    return rc;
}
