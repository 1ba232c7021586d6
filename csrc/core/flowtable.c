/*
 * flowtable.c - directional TCP flow table.
 *
 * Design
 * ------
 * Flows live in one growable array, `flows`, indexed by tf_flow_id: a flow's
 * id is the order in which it was opened, so walking the array and skipping
 * closed flows lists the open flows in the order they were (re)opened, which
 * is the order pcapkit's tracer reports them in.  A second array, `closed`,
 * records flow ids in the order their FIN closed them.
 *
 * Open flows are indexed by an open-addressing hash table with linear
 * probing.  A slot is 8 bytes: 32 bits of the key's hash and the flow id + 1
 * (0 marks an empty slot), so most probes compare a hash fragment and never
 * touch the flow.  The table holds at most 1/2 load; it doubles when that
 * would be exceeded.  Deletion uses backward shifting, so there are no
 * tombstones and probe sequences stay short however many flows close.
 *
 * The hash mixes the 48 key bytes as six 64-bit words with six random
 * per-table seed words (xor, then 64x64->128-bit multiplies folded to 64
 * bits), so crafted captures cannot aim at one bucket without knowing them.
 *
 * Each flow keeps its frame numbers as varints (below): the first
 * LOCAL_FRAME_BYTES bytes inside the flow itself, so a short flow needs no
 * allocation of its own, then in a growable heap array.  Opening a flow
 * makes room for its first frame (a varint fits in the local bytes) and
 * for its entry in `closed`, so the steps that follow a successful open
 * cannot fail and the caller never has to undo half an update.
 */
#include <string.h>

#include "tf.h"

#define INITIAL_SLOTS 64u
#define LOCAL_FRAME_BYTES 16u /* frame bytes kept inside the flow (>= one varint) */
#define MAX_FLOWS ((uint64_t)UINT32_MAX - 1u)

/* Frame numbers are stored as the differences between consecutive ones
 * (wrapping, zigzag-signed, so that any sequence round-trips), each as a
 * LEB128 varint: 1 or 2 bytes for the usual gaps instead of 8. */
typedef struct flow {
    tf_flow_key key;
    union {
        uint8_t local[LOCAL_FRAME_BYTES]; /* frames_cap == LOCAL_FRAME_BYTES */
        uint8_t *heap;                    /* frames_cap > LOCAL_FRAME_BYTES */
    } frames;              /* varints; none once released (frames_cap 0) */
    uint64_t last_frame;   /* the last frame appended */
    uint32_t frame_count;  /* at most frames_len: a varint has one byte or more */
    uint32_t frames_len;   /* bytes used */
    uint32_t frames_cap;   /* bytes of room */
    uint8_t open;
} flow;

static uint8_t *frame_bytes(flow *f)
{
    if (f->frames_cap == 0)
        return NULL;
    return f->frames_cap == LOCAL_FRAME_BYTES ? f->frames.local : f->frames.heap;
}

static void free_frames(const tf_allocator *a, flow *f)
{
    if (f->frames_cap > LOCAL_FRAME_BYTES)
        tf_free(a, f->frames.heap);
    f->frames_cap = 0;
    f->frames_len = 0;
}

typedef struct slot {
    uint32_t hash;
    uint32_t id1; /* flow id + 1; 0 = empty */
} slot;

struct tf_flowtable {
    const tf_allocator *alloc;
    tf_allocator alloc_copy;
    uint64_t seed[sizeof(tf_flow_key) / 8]; /* one random word per key word */
    flow *flows;
    uint64_t flow_count;
    uint64_t flow_cap;
    uint64_t *closed;
    uint64_t closed_count;
    uint64_t closed_cap;
    slot *slots;
    uint64_t slot_mask; /* slot count - 1 (a power of two) */
    uint64_t open_count;
};

void tf_flow_key_init(tf_flow_key *key)
{
    memset(key, 0, sizeof(*key));
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* The six key words, each xored with its own seed word, multiplied in
 * pairs to 128 bits and folded (high half xor low half): the three
 * products are independent, so they run side by side. */
static uint64_t fold(uint64_t a, uint64_t b)
{
    unsigned __int128 p = (unsigned __int128)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

static uint32_t key_hash(const uint64_t seed[6], const tf_flow_key *key)
{
    uint64_t w[sizeof(tf_flow_key) / 8];
    uint64_t h;

    memcpy(w, key, sizeof(w));
    h = fold(w[0] ^ seed[0], w[1] ^ seed[1]) ^ fold(w[2] ^ seed[2], w[3] ^ seed[3])
        ^ fold(w[4] ^ seed[4], w[5] ^ seed[5]);
    return (uint32_t)(h ^ (h >> 32));
}

tf_status tf_flowtable_new(const tf_allocator *alloc, uint64_t seed, tf_flowtable **out)
{
    tf_flowtable *t;

    *out = NULL;
    t = tf_malloc(alloc, sizeof(*t));
    if (t == NULL)
        return TF_ERR_NOMEM;
    memset(t, 0, sizeof(*t));
    if (alloc != NULL) {
        t->alloc_copy = *alloc;
        t->alloc = &t->alloc_copy;
    }
    {
        size_t i;
        uint64_t x = seed ^ UINT64_C(0x5851f42d4c957f2d);
        for (i = 0; i < sizeof(t->seed) / sizeof(t->seed[0]); i++) {
            x += UINT64_C(0x9e3779b97f4a7c15);
            t->seed[i] = mix64(x);
        }
    }
    t->slots = tf_reallocarray(t->alloc, NULL, INITIAL_SLOTS, sizeof(slot));
    if (t->slots == NULL) {
        tf_free(t->alloc, t);
        return TF_ERR_NOMEM;
    }
    memset(t->slots, 0, INITIAL_SLOTS * sizeof(slot));
    t->slot_mask = INITIAL_SLOTS - 1;
    *out = t;
    return TF_OK;
}

void tf_flowtable_free(tf_flowtable *t)
{
    uint64_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->flow_count; i++)
        free_frames(t->alloc, &t->flows[i]);
    tf_free(t->alloc, t->flows);
    tf_free(t->alloc, t->closed);
    tf_free(t->alloc, t->slots);
    tf_free(t->alloc, t);
}

/* Index of the slot holding id, or of the empty slot where key would go. */
static uint64_t probe(const tf_flowtable *t, const tf_flow_key *key, uint32_t hash)
{
    uint64_t i = hash & t->slot_mask;

    for (;;) {
        const slot *s = &t->slots[i];
        if (s->id1 == 0)
            return i;
        if (s->hash == hash && memcmp(&t->flows[s->id1 - 1].key, key, sizeof(*key)) == 0)
            return i;
        i = (i + 1) & t->slot_mask;
    }
}

uint32_t tf_flowtable_prefetch(const tf_flowtable *t, const tf_flow_key *key)
{
    uint32_t hash = key_hash(t->seed, key);

    __builtin_prefetch(&t->slots[hash & t->slot_mask]);
    return hash;
}

int tf_flowtable_find_hashed(const tf_flowtable *t, const tf_flow_key *key, uint32_t hash,
                             tf_flow_id *id)
{
    uint64_t i = probe(t, key, hash);

    if (t->slots[i].id1 == 0)
        return 0;
    *id = t->slots[i].id1 - 1;
    return 1;
}

int tf_flowtable_find(const tf_flowtable *t, const tf_flow_key *key, tf_flow_id *id)
{
    uint32_t hash = key_hash(t->seed, key);
    uint64_t i = probe(t, key, hash);

    if (t->slots[i].id1 == 0)
        return 0;
    *id = t->slots[i].id1 - 1;
    return 1;
}

static tf_status grow_slots(tf_flowtable *t)
{
    uint64_t old_count = t->slot_mask + 1;
    uint64_t new_count = old_count * 2;
    slot *old = t->slots;
    slot *fresh;
    uint64_t i;

    if (new_count > SIZE_MAX / sizeof(slot))
        return TF_ERR_LIMIT;
    fresh = tf_reallocarray(t->alloc, NULL, (size_t)new_count, sizeof(slot));
    if (fresh == NULL)
        return TF_ERR_NOMEM;
    memset(fresh, 0, (size_t)new_count * sizeof(slot));
    t->slots = fresh;
    t->slot_mask = new_count - 1;
    for (i = 0; i < old_count; i++) {
        uint64_t j;
        if (old[i].id1 == 0)
            continue;
        j = old[i].hash & t->slot_mask;
        while (fresh[j].id1 != 0)
            j = (j + 1) & t->slot_mask;
        fresh[j] = old[i];
    }
    tf_free(t->alloc, old);
    return TF_OK;
}

/* Makes room for n more elements of size bytes in *array (capacity *cap). */
static tf_status reserve(const tf_allocator *a, void **array, uint64_t *cap, uint64_t used,
                         uint64_t n, size_t size, uint64_t initial)
{
    uint64_t want = *cap ? *cap : initial;
    void *p;

    if (used + n <= *cap)
        return TF_OK;
    while (want < used + n) {
        if (want > UINT64_MAX / 2)
            return TF_ERR_LIMIT;
        want += want / 2; /* 1.5x: per-flow arrays keep at most half again */
    }
    if (want > SIZE_MAX / size)
        return TF_ERR_LIMIT;
    p = tf_reallocarray(a, *array, (size_t)want, size);
    if (p == NULL)
        return TF_ERR_NOMEM;
    *array = p;
    *cap = want;
    return TF_OK;
}

tf_status tf_flowtable_open(tf_flowtable *t, const tf_flow_key *key, tf_flow_id *id)
{
    uint32_t hash = key_hash(t->seed, key);
    uint64_t i;
    tf_status st;
    flow *f;

    if (t->flow_count >= MAX_FLOWS)
        return TF_ERR_LIMIT;
    if (t->slots[probe(t, key, hash)].id1 != 0)
        return TF_ERR_INVALID;
    if ((t->open_count + 1) * 2 > t->slot_mask + 1) {
        st = grow_slots(t);
        if (st != TF_OK)
            return st;
    }
    st = reserve(t->alloc, (void **)&t->flows, &t->flow_cap, t->flow_count, 1, sizeof(flow), 16);
    if (st != TF_OK)
        return st;
    st = reserve(t->alloc, (void **)&t->closed, &t->closed_cap, t->closed_count,
                 t->flow_count + 1 - t->closed_count, sizeof(uint64_t), 16);
    if (st != TF_OK)
        return st;

    f = &t->flows[t->flow_count];
    memset(f, 0, sizeof(*f));
    f->key = *key;
    f->frames_cap = LOCAL_FRAME_BYTES;
    f->open = 1;

    i = probe(t, key, hash);
    t->slots[i].hash = hash;
    t->slots[i].id1 = (uint32_t)(t->flow_count + 1);
    *id = t->flow_count;
    t->flow_count++;
    t->open_count++;
    return TF_OK;
}

/* Gives flow f room for at least `need` more frame bytes. */
static tf_status grow_frames(const tf_allocator *a, flow *f, uint32_t need)
{
    uint64_t cap = f->frames_cap;
    uint8_t *p;

    while (cap - f->frames_len < need)
        cap *= 2;
    if (cap > UINT32_MAX || f->frame_count == UINT32_MAX)
        return TF_ERR_LIMIT;
    if (f->frames_cap == LOCAL_FRAME_BYTES) {
        p = tf_malloc(a, (size_t)cap);
        if (p != NULL)
            memcpy(p, f->frames.local, f->frames_len);
    } else {
        p = tf_realloc(a, f->frames.heap, (size_t)cap);
    }
    if (p == NULL)
        return TF_ERR_NOMEM;
    f->frames.heap = p;
    f->frames_cap = (uint32_t)cap;
    return TF_OK;
}

tf_status tf_flowtable_append(tf_flowtable *t, tf_flow_id id, uint64_t frame)
{
    flow *f;
    uint64_t delta, zz;
    uint8_t enc[TF_VARINT_MAX], *p;
    uint32_t n = 0;

    if (id >= t->flow_count || !t->flows[id].open)
        return TF_ERR_INVALID;
    f = &t->flows[id];
    delta = frame - f->last_frame; /* wraps: any order round-trips */
    zz = (delta << 1) ^ (uint64_t)-(int64_t)(delta >> 63);
    /* the usual case writes in place; near the end of the room, the bytes
     * are counted first so that a failed growth changes nothing */
    p = f->frames_cap - f->frames_len >= TF_VARINT_MAX ? frame_bytes(f) + f->frames_len : enc;
    while (zz >= 0x80) {
        p[n++] = (uint8_t)(zz | 0x80);
        zz >>= 7;
    }
    p[n++] = (uint8_t)zz;
    if (p == enc) {
        if (n > f->frames_cap - f->frames_len) {
            tf_status st = grow_frames(t->alloc, f, n);
            if (st != TF_OK)
                return st;
        }
        memcpy(frame_bytes(f) + f->frames_len, enc, n);
    }
    f->frames_len += n;
    f->last_frame = frame;
    f->frame_count++;
    return TF_OK;
}

void tf_frames_begin(const tf_flow_info *info, tf_frame_iter *it)
{
    it->p = info->frame_bytes;
    it->end = info->frame_bytes ? info->frame_bytes + info->frame_bytes_len : NULL;
    it->last = 0;
}

int tf_frames_next(tf_frame_iter *it, uint64_t *frame)
{
    uint64_t zz = 0;
    unsigned shift = 0;

    if (it->p == NULL || it->p >= it->end)
        return 0;
    while (it->p < it->end && shift < 64) {
        uint8_t b = *it->p++;
        zz |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    it->last += (zz >> 1) ^ (uint64_t)-(int64_t)(zz & 1);
    *frame = it->last;
    return 1;
}

tf_status tf_flowtable_close(tf_flowtable *t, tf_flow_id id)
{
    flow *f;
    uint64_t i, j;

    if (id >= t->flow_count || !t->flows[id].open)
        return TF_ERR_INVALID;
    f = &t->flows[id];
    i = probe(t, &f->key, key_hash(t->seed, &f->key));
    /* Backward-shift deletion: pull later members of the cluster into the
     * hole when their home slot does not lie between the hole and them. */
    for (;;) {
        uint64_t home;
        t->slots[i].id1 = 0;
        j = i;
        for (;;) {
            j = (j + 1) & t->slot_mask;
            if (t->slots[j].id1 == 0)
                goto done;
            home = t->slots[j].hash & t->slot_mask;
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
                break;
        }
        t->slots[i] = t->slots[j];
        i = j;
    }
done:
    f->open = 0;
    t->open_count--;
    t->closed[t->closed_count++] = id; /* room reserved by open */
    return TF_OK;
}

void tf_flowtable_release_frames(tf_flowtable *t, tf_flow_id id)
{
    if (id >= t->flow_count || t->flows[id].open)
        return;
    free_frames(t->alloc, &t->flows[id]);
}

uint64_t tf_flowtable_flow_count(const tf_flowtable *t)
{
    return t->flow_count;
}

uint64_t tf_flowtable_open_count(const tf_flowtable *t)
{
    return t->open_count;
}

uint64_t tf_flowtable_closed_count(const tf_flowtable *t)
{
    return t->closed_count;
}

tf_flow_id tf_flowtable_closed_at(const tf_flowtable *t, uint64_t i)
{
    return t->closed[i];
}

void tf_flowtable_info(const tf_flowtable *t, tf_flow_id id, tf_flow_info *info)
{
    flow *f = &t->flows[id];

    info->key = &f->key;
    info->frame_bytes = frame_bytes(f);
    info->frame_bytes_len = f->frames_len;
    info->frame_count = f->frame_count;
    info->open = f->open;
}
