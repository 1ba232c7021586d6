/*
 * fuzz_decode.c - libFuzzer target: the frame decoder.
 *
 * Input: 1 byte choosing the link type, then the frame bytes.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icsrc/core \
 *       csrc/tests/fuzz_decode.c csrc/core/decode_*.c csrc/core/flowtable.c \
 *       csrc/core/alloc.c -o fuzz_decode
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tf.h"

static const uint32_t linktypes[] = {0, 1, 12, 14, 101, 108, 113, 228, 229, 242, 276, 147};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tf_decode_options opt;
    tf_decoded out;
    uint8_t *copy;

    if (size < 1)
        return 0;
    memset(&opt, 0, sizeof(opt));
    opt.pcapkit_link_types_only = data[0] & 0x80;
    /* an exact-size heap copy, so any over-read is caught */
    copy = malloc(size - 1 ? size - 1 : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 1, size - 1);
    if (tf_decode_frame(linktypes[data[0] % (sizeof(linktypes) / sizeof(linktypes[0]))], copy,
                        size - 1, &opt, &out)) {
        /* a traced segment has a family on both sides */
        if (out.key.src_family == 0 || out.key.dst_family == 0)
            abort();
    }
    free(copy);
    return 0;
}
