/* alloc.c - the single allocation hook of the core, and status names. */
#include <stdlib.h>

#include "tf.h"

void *tf_malloc(const tf_allocator *a, size_t size)
{
    if (size == 0)
        size = 1;
    if (a != NULL && a->malloc_fn != NULL)
        return a->malloc_fn(a->ctx, size);
    return malloc(size);
}

void *tf_realloc(const tf_allocator *a, void *ptr, size_t size)
{
    if (size == 0)
        size = 1;
    if (a != NULL && a->realloc_fn != NULL)
        return a->realloc_fn(a->ctx, ptr, size);
    return realloc(ptr, size);
}

void tf_free(const tf_allocator *a, void *ptr)
{
    if (ptr == NULL)
        return;
    if (a != NULL && a->free_fn != NULL)
        a->free_fn(a->ctx, ptr);
    else
        free(ptr);
}

void *tf_reallocarray(const tf_allocator *a, void *ptr, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    return tf_realloc(a, ptr, count * size);
}

const char *tf_strerror(tf_status status)
{
    switch (status) {
    case TF_OK:
        return "success";
    case TF_ERR_NOMEM:
        return "out of memory";
    case TF_ERR_INVALID:
        return "invalid argument";
    case TF_ERR_IO:
        return "input/output error";
    case TF_ERR_LIMIT:
        return "limit of the core reached";
    case TF_ERR_FORMAT:
        return "unreadable or damaged capture file";
    case TF_END:
        return "end of capture";
    }
    return "unknown status";
}
