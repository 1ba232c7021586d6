/*
 * pcap_loop.c - the floor: read every record of a capture with libpcap's
 * pcap_next_ex() and touch its bytes, nothing else.
 *
 *   cc -O2 -o pcap_loop pcap_loop.c -lpcap && ./pcap_loop capture.pcap
 *
 * Prints "<records> <seconds>".
 */
#define _DEFAULT_SOURCE
#include <pcap/pcap.h>
#include <stdio.h>
#include <time.h>

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *hdr;
    const u_char *data;
    struct timespec t0, t1;
    unsigned long long n = 0, sum = 0;
    pcap_t *p;

    if (argc != 2) {
        fprintf(stderr, "usage: %s CAPTURE\n", argv[0]);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
    if (p == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    while (pcap_next_ex(p, &hdr, &data) == 1) {
        n++;
        if (hdr->caplen > 23)
            sum += data[23]; /* read the IP protocol byte, as a decoder must */
    }
    pcap_close(p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%llu %.6f %llu\n", n, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
           sum & 1);
    return 0;
}
