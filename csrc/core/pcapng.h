/* pcapng.h - the core's own pcapng reader (private to the core). */
#ifndef TF_PCAPNG_H
#define TF_PCAPNG_H

#include <stdio.h>

#include "tf.h"

typedef struct tf_pcapng tf_pcapng;

/* Reads from fp (not owned) positioned at a Section Header Block. */
tf_status tf_pcapng_open(FILE *fp, const tf_allocator *alloc, tf_pcapng **out,
                         tf_capture_info *info, char *errbuf);
tf_status tf_pcapng_next(tf_pcapng *r, tf_record *rec, char *errbuf);
void tf_pcapng_close(tf_pcapng *r);

#endif /* TF_PCAPNG_H */
