/*
 * test_core.c - unit tests of the plain-C core (no Python headers).
 *
 * Build (tests/test_c_core.py does this):
 *   cc -std=c11 -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined \
 *      csrc/tests/test_core.c csrc/core/\*.c -o test_core
 *
 * Every test function runs in turn; CHECK() reports a failed expression with
 * its file and line and lets the test go on, REQUIRE() also leaves the test.
 * The last line printed is "N passed, M failed" (counting test functions) and
 * the exit status is nonzero when anything failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/tf.h"

/* ------------------------------------------------------------- framework */

static long g_test_failures; /* failed checks in the running test */
static long g_total_checks;

#define MAX_REPORTS_PER_TEST 20

static int check_(int ok, const char *expr, const char *file, int line)
{
    g_total_checks++;
    if (ok)
        return 1;
    g_test_failures++;
    if (g_test_failures <= MAX_REPORTS_PER_TEST)
        printf("%s:%d: check failed: %s\n", file, line, expr);
    else if (g_test_failures == MAX_REPORTS_PER_TEST + 1)
        printf("%s:%d: (further failures of this test not shown)\n", file, line);
    fflush(stdout);
    return 0;
}

#define CHECK(expr) ((void)check_(!!(expr), #expr, __FILE__, __LINE__))
#define REQUIRE(expr)                                                                        \
    do {                                                                                     \
        if (!check_(!!(expr), #expr, __FILE__, __LINE__))                                    \
            return;                                                                          \
    } while (0)

/* A small deterministic PRNG (xorshift64*). */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(0x2545f4914f6cdd1d);
}

static const uint64_t SEEDS[] = {0, 1, UINT64_C(0xdeadbeefcafef00d), UINT64_MAX};
#define NSEEDS (sizeof(SEEDS) / sizeof(SEEDS[0]))

/* ------------------------------------------------------------- flow keys */

/* The flow's frame numbers are exactly want[0..n). */
static int frames_are(const tf_flow_info *info, const uint64_t *want, size_t n)
{
    tf_frame_iter it;
    uint64_t frame;
    size_t i;

    if (info->frame_bytes == NULL || info->frame_count != n)
        return 0;
    tf_frames_begin(info, &it);
    for (i = 0; i < n; i++)
        if (!tf_frames_next(&it, &frame) || frame != want[i])
            return 0;
    return !tf_frames_next(&it, &frame);
}

#define FRAMES_ARE(info, ...)                                                                      \
    frames_are(&(info), (const uint64_t[]){__VA_ARGS__},                                           \
               sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))

static void test_frame_encoding(void)
{
    /* any sequence round-trips: jumps both ways, wraps, extremes */
    static const uint64_t seq[] = {0, 1, 1, 2, 1000, 5, UINT64_MAX, 0, UINT64_MAX / 2,
                                   (uint64_t)INT64_MAX + 1, 127, 128, 16383, 16384, 3};
    tf_flowtable *t;
    tf_flow_key k;
    tf_flow_id id;
    tf_flow_info info;
    size_t i;

    REQUIRE(tf_flowtable_new(NULL, 7, &t) == TF_OK);
    tf_flow_key_init(&k);
    k.src_port = 1;
    REQUIRE(tf_flowtable_open(t, &k, &id) == TF_OK);
    for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
        CHECK(tf_flowtable_append(t, id, seq[i]) == TF_OK);
    tf_flowtable_info(t, id, &info);
    CHECK(frames_are(&info, seq, sizeof(seq) / sizeof(seq[0])));
    tf_flowtable_free(t);
}

static void test_flow_key_init(void)
{
    tf_flow_key k;
    const unsigned char *p = (const unsigned char *)&k;
    size_t i, nonzero = 0;

    CHECK(sizeof(tf_flow_key) == 48);
    /* 16 + 16 + 4 + 4 + 2 + 2 + 1 + 1 + 2: no hidden padding either. */
    CHECK(sizeof(k.src) + sizeof(k.dst) + sizeof(k.src_zone) + sizeof(k.dst_zone) +
              sizeof(k.src_port) + sizeof(k.dst_port) + sizeof(k.src_family) +
              sizeof(k.dst_family) + sizeof(k.reserved) ==
          sizeof(tf_flow_key));
    memset(&k, 0xAB, sizeof(k));
    tf_flow_key_init(&k);
    for (i = 0; i < sizeof(k); i++)
        nonzero += p[i] != 0;
    CHECK(nonzero == 0);
    CHECK(k.src_family == 0 && k.dst_family == 0 && k.src_port == 0 && k.dst_zone == 0);
}

static void make_v4_key(tf_flow_key *k, uint32_t src, uint16_t sport, uint32_t dst,
                        uint16_t dport)
{
    tf_flow_key_init(k);
    k->src_family = TF_FAMILY_IPV4;
    k->dst_family = TF_FAMILY_IPV4;
    k->src[0] = (uint8_t)(src >> 24);
    k->src[1] = (uint8_t)(src >> 16);
    k->src[2] = (uint8_t)(src >> 8);
    k->src[3] = (uint8_t)src;
    k->dst[0] = (uint8_t)(dst >> 24);
    k->dst[1] = (uint8_t)(dst >> 16);
    k->dst[2] = (uint8_t)(dst >> 8);
    k->dst[3] = (uint8_t)dst;
    k->src_port = sport;
    k->dst_port = dport;
}

/*
 * The i-th key of the big tests.  Groups of four consecutive keys share
 * their address bytes and ports: an IPv4 key, the IPv6 key with the same
 * bytes (differs in the family bytes only), the same IPv6 key with a source
 * zone, and with a destination zone.
 */
static void make_big_key(tf_flow_key *k, uint32_t i)
{
    uint32_t base = i / 4;

    make_v4_key(k, UINT32_C(0x0a000000) | (base & 0xffffffu), (uint16_t)(1024u + base * 7u),
                UINT32_C(0xc0000201), 443);
    switch (i % 4) {
    case 0:
        break;
    case 1:
        k->src_family = k->dst_family = TF_FAMILY_IPV6;
        break;
    case 2:
        k->src_family = k->dst_family = TF_FAMILY_IPV6;
        k->src_zone = 1;
        break;
    default:
        k->src_family = k->dst_family = TF_FAMILY_IPV6;
        k->dst_zone = 3;
        break;
    }
}

/* ------------------------------------------------------------ flow table */

static void test_flowtable_basic(void)
{
    tf_flowtable *t = NULL;
    tf_flow_key k0, k1, k2, k1_copy;
    tf_flow_id id = 12345, id0, id1, id2, id3;
    tf_flow_info info;

    REQUIRE(tf_flowtable_new(NULL, 42, &t) == TF_OK);
    REQUIRE(t != NULL);
    CHECK(tf_flowtable_flow_count(t) == 0);
    CHECK(tf_flowtable_open_count(t) == 0);
    CHECK(tf_flowtable_closed_count(t) == 0);

    make_v4_key(&k0, UINT32_C(0x0a000001), 1000, UINT32_C(0x0a000002), 80);
    make_v4_key(&k1, UINT32_C(0x0a000002), 80, UINT32_C(0x0a000001), 1000); /* reverse */
    make_v4_key(&k2, UINT32_C(0x0a000001), 1001, UINT32_C(0x0a000002), 80);

    CHECK(tf_flowtable_find(t, &k0, &id) == 0);
    CHECK(id == 12345); /* untouched when not found */

    CHECK(tf_flowtable_open(t, &k0, &id0) == TF_OK);
    CHECK(tf_flowtable_open(t, &k1, &id1) == TF_OK);
    CHECK(tf_flowtable_open(t, &k2, &id2) == TF_OK);
    CHECK(id0 == 0 && id1 == 1 && id2 == 2);
    CHECK(tf_flowtable_flow_count(t) == 3);
    CHECK(tf_flowtable_open_count(t) == 3);
    CHECK(tf_flowtable_closed_count(t) == 0);

    CHECK(tf_flowtable_find(t, &k0, &id) == 1 && id == 0);
    CHECK(tf_flowtable_find(t, &k1, &id) == 1 && id == 1);
    CHECK(tf_flowtable_find(t, &k2, &id) == 1 && id == 2);
    /* A separately built equal key finds the same flow. */
    make_v4_key(&k1_copy, UINT32_C(0x0a000002), 80, UINT32_C(0x0a000001), 1000);
    CHECK(tf_flowtable_find(t, &k1_copy, &id) == 1 && id == 1);
    /* The two-step lookup agrees with the one-step one. */
    CHECK(tf_flowtable_find_hashed(t, &k2, tf_flowtable_prefetch(t, &k2), &id) == 1 && id == 2);
    {
        tf_flow_key absent;
        make_v4_key(&absent, UINT32_C(0x0a000009), 9, UINT32_C(0x0a000002), 80);
        id = 4242;
        CHECK(tf_flowtable_find_hashed(t, &absent, tf_flowtable_prefetch(t, &absent), &id) == 0);
        CHECK(id == 4242);
    }

    /* Opening an open key is an error and changes nothing. */
    id = 777;
    CHECK(tf_flowtable_open(t, &k1_copy, &id) == TF_ERR_INVALID);
    CHECK(tf_flowtable_flow_count(t) == 3);
    CHECK(tf_flowtable_open_count(t) == 3);

    CHECK(tf_flowtable_append(t, 0, 10) == TF_OK);
    CHECK(tf_flowtable_append(t, 0, 11) == TF_OK);
    CHECK(tf_flowtable_append(t, 1, 20) == TF_OK);
    CHECK(tf_flowtable_append(t, 3, 30) == TF_ERR_INVALID); /* no such flow */
    CHECK(tf_flowtable_close(t, 3) == TF_ERR_INVALID);
    CHECK(tf_flowtable_close(t, UINT64_MAX) == TF_ERR_INVALID);

    tf_flowtable_info(t, 0, &info);
    CHECK(info.open == 1);
    CHECK(info.frame_count == 2);
    CHECK(FRAMES_ARE(info, 10, 11));
    CHECK(memcmp(info.key, &k0, sizeof(k0)) == 0);

    /* Close flow 1. */
    CHECK(tf_flowtable_close(t, 1) == TF_OK);
    CHECK(tf_flowtable_find(t, &k1, &id) == 0);
    CHECK(tf_flowtable_find(t, &k0, &id) == 1 && id == 0);
    CHECK(tf_flowtable_find(t, &k2, &id) == 1 && id == 2);
    CHECK(tf_flowtable_flow_count(t) == 3);
    CHECK(tf_flowtable_open_count(t) == 2);
    CHECK(tf_flowtable_closed_count(t) == 1);
    CHECK(tf_flowtable_closed_at(t, 0) == 1);
    /* A closed flow accepts nothing more. */
    CHECK(tf_flowtable_append(t, 1, 21) == TF_ERR_INVALID);
    CHECK(tf_flowtable_close(t, 1) == TF_ERR_INVALID);
    CHECK(tf_flowtable_closed_count(t) == 1);

    tf_flowtable_info(t, 1, &info);
    CHECK(info.open == 0);
    CHECK(info.frame_count == 1);
    CHECK(FRAMES_ARE(info, 20));
    CHECK(memcmp(info.key, &k1, sizeof(k1)) == 0);

    /* Re-opening the key of a closed flow makes a new flow. */
    CHECK(tf_flowtable_open(t, &k1, &id3) == TF_OK);
    CHECK(id3 == 3);
    CHECK(tf_flowtable_find(t, &k1, &id) == 1 && id == 3);
    CHECK(tf_flowtable_flow_count(t) == 4);
    CHECK(tf_flowtable_open_count(t) == 3);
    tf_flowtable_info(t, 3, &info);
    CHECK(info.open == 1 && info.frame_count == 0);
    CHECK(tf_flowtable_append(t, 3, 40) == TF_OK);
    tf_flowtable_info(t, 1, &info); /* the old flow is unchanged */
    CHECK(info.open == 0 && FRAMES_ARE(info, 20));
    CHECK(tf_flowtable_append(t, 1, 22) == TF_ERR_INVALID);

    /* Closing order is recorded, not id order. */
    CHECK(tf_flowtable_close(t, 0) == TF_OK);
    CHECK(tf_flowtable_close(t, 3) == TF_OK);
    CHECK(tf_flowtable_close(t, 2) == TF_OK);
    CHECK(tf_flowtable_flow_count(t) == 4);
    CHECK(tf_flowtable_open_count(t) == 0);
    CHECK(tf_flowtable_closed_count(t) == 4);
    CHECK(tf_flowtable_closed_at(t, 0) == 1);
    CHECK(tf_flowtable_closed_at(t, 1) == 0);
    CHECK(tf_flowtable_closed_at(t, 2) == 3);
    CHECK(tf_flowtable_closed_at(t, 3) == 2);
    CHECK(tf_flowtable_find(t, &k0, &id) == 0);
    CHECK(tf_flowtable_find(t, &k1, &id) == 0);
    CHECK(tf_flowtable_find(t, &k2, &id) == 0);

    /* Frames stay readable after close until released. */
    tf_flowtable_info(t, 0, &info);
    CHECK(FRAMES_ARE(info, 10, 11));
    tf_flowtable_info(t, 3, &info);
    CHECK(FRAMES_ARE(info, 40));
    tf_flowtable_release_frames(t, 0);
    tf_flowtable_info(t, 0, &info);
    CHECK(info.frame_bytes == NULL);
    CHECK(info.open == 0);
    CHECK(memcmp(info.key, &k0, sizeof(k0)) == 0); /* the key stays */
    tf_flowtable_info(t, 3, &info); /* others are untouched */
    CHECK(FRAMES_ARE(info, 40));
    tf_flowtable_release_frames(t, 1);
    tf_flowtable_release_frames(t, 2);
    tf_flowtable_release_frames(t, 3);
    tf_flowtable_info(t, 1, &info);
    CHECK(info.frame_bytes == NULL);
    tf_flowtable_info(t, 2, &info);
    CHECK(info.frame_bytes == NULL);
    tf_flowtable_info(t, 3, &info);
    CHECK(info.frame_bytes == NULL);

    /* The table is still usable after everything was closed. */
    CHECK(tf_flowtable_open(t, &k0, &id) == TF_OK && id == 4);
    CHECK(tf_flowtable_find(t, &k0, &id) == 1 && id == 4);

    tf_flowtable_free(t);
    tf_flowtable_free(NULL);
}

static void test_flowtable_many_frames(void)
{
    tf_flowtable *t = NULL;
    tf_flow_key k;
    tf_flow_id id;
    tf_flow_info info;
    uint64_t i, bad = 0;
    const uint64_t n = 100000;

    REQUIRE(tf_flowtable_new(NULL, 7, &t) == TF_OK);
    make_v4_key(&k, 1, 2, 3, 4);
    CHECK(tf_flowtable_open(t, &k, &id) == TF_OK);
    for (i = 0; i < n; i++)
        bad += tf_flowtable_append(t, id, UINT64_MAX - i) != TF_OK;
    CHECK(bad == 0);
    tf_flowtable_info(t, id, &info);
    CHECK(info.frame_count == n);
    REQUIRE(info.frame_bytes != NULL);
    CHECK(info.frame_bytes_len == n); /* a step of -1: one byte each after the first */
    {
        tf_frame_iter it;
        uint64_t frame;
        tf_frames_begin(&info, &it);
        for (i = 0; i < n; i++)
            bad += !tf_frames_next(&it, &frame) || frame != UINT64_MAX - i;
        bad += tf_frames_next(&it, &frame);
    }
    CHECK(bad == 0);
    tf_flowtable_free(t); /* frees the frames of an open flow too */
}

/* Keys that differ from a base key in exactly one byte are different flows. */
static void test_flowtable_one_byte_differences(void)
{
    enum { NV = 17 };
    tf_flow_key keys[NV];
    tf_flow_id ids[NV], id;
    int n = 0, i, j;
    size_t b;

    /* IPv4 base and variants. */
    make_v4_key(&keys[n++], UINT32_C(0xc0a80001), 40000, UINT32_C(0xc0a80002), 22);
    keys[n] = keys[0], keys[n++].src_family = TF_FAMILY_IPV6;
    keys[n] = keys[0], keys[n++].dst_family = TF_FAMILY_IPV6;
    keys[n] = keys[0], keys[n++].src_zone = 1;
    keys[n] = keys[0], keys[n++].dst_zone = 1;
    keys[n] = keys[0], keys[n++].src_port = 40001;
    keys[n] = keys[0], keys[n++].dst_port = 23;
    keys[n] = keys[0], keys[n++].src[3] = 0x03;
    keys[n] = keys[0], keys[n++].dst[3] = 0x03;
    /* IPv6 base (fe80::1%2 -> fe80::2%2) and variants. */
    {
        tf_flow_key *v6 = &keys[n++];
        int base = n - 1;
        tf_flow_key_init(v6);
        v6->src_family = v6->dst_family = TF_FAMILY_IPV6;
        v6->src[0] = v6->dst[0] = 0xfe;
        v6->src[1] = v6->dst[1] = 0x80;
        v6->src[15] = 1;
        v6->dst[15] = 2;
        v6->src_zone = v6->dst_zone = 2;
        v6->src_port = 0x1234;
        v6->dst_port = 0x0050;
        keys[n] = keys[base], keys[n++].src_family = TF_FAMILY_IPV4;
        keys[n] = keys[base], keys[n++].src_zone = 3;
        keys[n] = keys[base], keys[n++].dst_zone = 0;
        keys[n] = keys[base], keys[n++].src_port = 0x1235;
        keys[n] = keys[base], keys[n++].dst_port = 0x0150; /* high byte only */
        keys[n] = keys[base], keys[n++].src[15] = 3;
        keys[n] = keys[base], keys[n++].dst[15] = 3;
    }
    REQUIRE(n == NV);

    /* Self-check: each variant differs from its base in exactly one byte. */
    for (i = 1; i < NV; i++) {
        const unsigned char *a, *c;
        int base = i < 9 ? 0 : 9;
        size_t diff = 0;
        if (i == 9)
            continue;
        a = (const unsigned char *)&keys[base];
        c = (const unsigned char *)&keys[i];
        for (b = 0; b < sizeof(tf_flow_key); b++)
            diff += a[b] != c[b];
        CHECK(diff == 1);
    }

    for (j = 0; j < (int)NSEEDS; j++) {
        tf_flowtable *t = NULL;
        REQUIRE(tf_flowtable_new(NULL, SEEDS[j], &t) == TF_OK);
        for (i = 0; i < NV; i++) {
            CHECK(tf_flowtable_open(t, &keys[i], &ids[i]) == TF_OK);
            CHECK(ids[i] == (tf_flow_id)i);
        }
        CHECK(tf_flowtable_open_count(t) == NV);
        for (i = 0; i < NV; i++)
            CHECK(tf_flowtable_find(t, &keys[i], &id) == 1 && id == (tf_flow_id)i);
        /* Closing the bases leaves every variant in place. */
        CHECK(tf_flowtable_close(t, 0) == TF_OK);
        CHECK(tf_flowtable_close(t, 9) == TF_OK);
        CHECK(tf_flowtable_find(t, &keys[0], &id) == 0);
        CHECK(tf_flowtable_find(t, &keys[9], &id) == 0);
        for (i = 0; i < NV; i++) {
            if (i == 0 || i == 9)
                continue;
            CHECK(tf_flowtable_find(t, &keys[i], &id) == 1 && id == (tf_flow_id)i);
            CHECK(tf_flowtable_open(t, &keys[i], &id) == TF_ERR_INVALID);
        }
        tf_flowtable_free(t);
    }
}

/*
 * More than a million open flows (the slot array doubles many times and the
 * flow array is reallocated), then every other one closed (backward-shift
 * deletion in long clusters).
 */
static void test_flowtable_million(void)
{
    const uint32_t n = 1050000;
    tf_flowtable *t = NULL;
    tf_flow_key k;
    tf_flow_id id;
    uint32_t i;
    uint64_t bad_open = 0, bad_find = 0, bad_dup = 0, bad_after = 0, bad_closed = 0;
    uint64_t bad_close = 0, bad_order = 0;

    REQUIRE(tf_flowtable_new(NULL, UINT64_C(0x0123456789abcdef), &t) == TF_OK);
    for (i = 0; i < n; i++) {
        make_big_key(&k, i);
        if (tf_flowtable_open(t, &k, &id) != TF_OK || id != i)
            bad_open++;
        if (i % 4 == 0 && tf_flowtable_append(t, i, i) != TF_OK)
            bad_open++;
    }
    CHECK(bad_open == 0);
    CHECK(tf_flowtable_flow_count(t) == n);
    CHECK(tf_flowtable_open_count(t) == n);

    for (i = 0; i < n; i++) {
        make_big_key(&k, i);
        if (tf_flowtable_find(t, &k, &id) != 1 || id != i)
            bad_find++;
        if (i % 97 == 0 && tf_flowtable_open(t, &k, &id) != TF_ERR_INVALID)
            bad_dup++;
    }
    CHECK(bad_find == 0);
    CHECK(bad_dup == 0);
    CHECK(tf_flowtable_flow_count(t) == n);

    /* Close the odd ids, from the top down (a different order from opening). */
    for (i = n; i-- > 0;)
        if (i % 2 == 1 && tf_flowtable_close(t, i) != TF_OK)
            bad_close++;
    CHECK(bad_close == 0);
    CHECK(tf_flowtable_open_count(t) == n / 2);
    CHECK(tf_flowtable_closed_count(t) == n / 2);

    for (i = 0; i < n; i++) {
        make_big_key(&k, i);
        if (i % 2 == 0) {
            if (tf_flowtable_find(t, &k, &id) != 1 || id != i)
                bad_after++;
        } else {
            if (tf_flowtable_find(t, &k, &id) != 0)
                bad_closed++;
        }
    }
    CHECK(bad_after == 0);
    CHECK(bad_closed == 0);
    for (i = 0; i < n / 2; i++)
        if (tf_flowtable_closed_at(t, i) != (uint64_t)(n - 1 - 2 * i))
            bad_order++;
    CHECK(bad_order == 0);

    /* Re-open a few closed keys: new ids follow on. */
    for (i = 1; i < 200; i += 2) {
        make_big_key(&k, i);
        if (tf_flowtable_open(t, &k, &id) != TF_OK || id != n + i / 2)
            bad_open++;
        if (tf_flowtable_find(t, &k, &id) != 1 || id != n + i / 2)
            bad_open++;
    }
    CHECK(bad_open == 0);
    CHECK(tf_flowtable_flow_count(t) == (uint64_t)n + 100);
    tf_flowtable_free(t);
}

/* Random open/append/close against a simple model, many seeds. */
static void test_flowtable_random_model(void)
{
    enum { NKEYS = 600, OPS = 60000 };
    static int64_t model_id[NKEYS]; /* -1: not open */
    static uint64_t model_frames[NKEYS];
    unsigned s;

    for (s = 0; s < NSEEDS; s++) {
        tf_flowtable *t = NULL;
        uint64_t rng = SEEDS[s] * 2 + 0x9e3779b97f4a7c15u;
        uint64_t next_id = 0, open = 0, closed = 0, bad = 0;
        tf_flow_key k;
        tf_flow_id id;
        int op, i;

        REQUIRE(tf_flowtable_new(NULL, SEEDS[s], &t) == TF_OK);
        for (i = 0; i < NKEYS; i++)
            model_id[i] = -1;
        for (op = 0; op < OPS; op++) {
            /* Bias towards a moving window of keys so the open count
             * rises and falls. */
            uint64_t r = rng_next(&rng);
            int ki = (int)(r % NKEYS);
            int want_open = ((op / 5000) % 2 == 0) ? (r >> 32) % 3 != 0 : (r >> 32) % 3 == 0;
            make_big_key(&k, (uint32_t)ki * 17u);
            if (model_id[ki] < 0) {
                if (want_open) {
                    if (tf_flowtable_open(t, &k, &id) != TF_OK || id != next_id)
                        bad++;
                    model_id[ki] = (int64_t)next_id++;
                    model_frames[ki] = 0;
                    open++;
                } else if (tf_flowtable_find(t, &k, &id) != 0) {
                    bad++;
                }
            } else if (want_open) {
                if (tf_flowtable_append(t, (tf_flow_id)model_id[ki], (uint64_t)op) != TF_OK)
                    bad++;
                model_frames[ki]++;
                if (tf_flowtable_open(t, &k, &id) != TF_ERR_INVALID)
                    bad++;
            } else {
                tf_flow_info info;
                if (tf_flowtable_close(t, (tf_flow_id)model_id[ki]) != TF_OK)
                    bad++;
                if (tf_flowtable_closed_at(t, closed) != (uint64_t)model_id[ki])
                    bad++;
                tf_flowtable_info(t, (tf_flow_id)model_id[ki], &info);
                if (info.open || info.frame_count != model_frames[ki])
                    bad++;
                if (op % 3 == 0)
                    tf_flowtable_release_frames(t, (tf_flow_id)model_id[ki]);
                closed++;
                open--;
                model_id[ki] = -1;
                if (tf_flowtable_find(t, &k, &id) != 0)
                    bad++;
            }
            if (op % 1000 == 999) {
                for (i = 0; i < NKEYS; i++) {
                    int found;
                    make_big_key(&k, (uint32_t)i * 17u);
                    found = tf_flowtable_find(t, &k, &id);
                    if (model_id[i] < 0 ? found != 0 : (found != 1 || id != (uint64_t)model_id[i]))
                        bad++;
                }
                if (tf_flowtable_open_count(t) != open || tf_flowtable_closed_count(t) != closed ||
                    tf_flowtable_flow_count(t) != next_id)
                    bad++;
            }
        }
        CHECK(bad == 0);
        tf_flowtable_free(t);
    }
}

/*
 * Churn at the highest load the table allows: `nopen` flows stay open (a
 * power of two, so the slot array is exactly half full and never grows),
 * and each step closes a random one and opens a fresh or previously closed
 * key.  Long clusters that wrap around the end of the slot array are then
 * common, which is where backward-shift deletion is easiest to get wrong.
 * Every open flow is looked up every `check_every` steps, the keys touched
 * by a step after every step.
 */
static void churn(uint64_t seed, uint32_t nopen, uint32_t steps, uint32_t check_every,
                  uint64_t *bad_out)
{
    tf_flowtable *t = NULL;
    uint32_t *open_key;   /* key number of each open slot of the model */
    tf_flow_id *open_id;  /* its flow id */
    uint32_t next_key = 0, s, i;
    uint64_t rng = seed ^ UINT64_C(0x243f6a8885a308d3), bad = 0, closed = 0;
    tf_flow_key k;
    tf_flow_id id;

    open_key = malloc(nopen * sizeof(*open_key));
    open_id = malloc(nopen * sizeof(*open_id));
    if (open_key == NULL || open_id == NULL || tf_flowtable_new(NULL, seed, &t) != TF_OK) {
        free(open_key);
        free(open_id);
        *bad_out += 1;
        return;
    }
    for (i = 0; i < nopen; i++) {
        open_key[i] = next_key++;
        make_big_key(&k, open_key[i]);
        if (tf_flowtable_open(t, &k, &open_id[i]) != TF_OK || open_id[i] != i)
            bad++;
    }
    for (s = 0; s < steps; s++) {
        uint64_t r = rng_next(&rng);
        uint32_t victim = (uint32_t)(r % nopen);
        uint32_t old_key = open_key[victim];
        tf_flow_key old;

        if (tf_flowtable_close(t, open_id[victim]) != TF_OK)
            bad++;
        if (tf_flowtable_closed_at(t, closed++) != open_id[victim])
            bad++;
        tf_flowtable_release_frames(t, open_id[victim]);
        make_big_key(&old, old_key);
        if (tf_flowtable_find(t, &old, &id) != 0)
            bad++;
        /* Reuse a recently closed key now and then (it may be the same). */
        if ((r >> 40) % 4 == 0 && next_key > nopen)
            open_key[victim] = (uint32_t)((r >> 8) % next_key);
        else
            open_key[victim] = next_key++;
        make_big_key(&k, open_key[victim]);
        if (tf_flowtable_find(t, &k, &id) == 1) {
            /* The reused key is still open elsewhere: take a fresh one. */
            if (tf_flowtable_open(t, &k, &id) != TF_ERR_INVALID)
                bad++;
            open_key[victim] = next_key++;
            make_big_key(&k, open_key[victim]);
        }
        if (tf_flowtable_open(t, &k, &open_id[victim]) != TF_OK ||
            open_id[victim] != nopen + s)
            bad++;
        if (tf_flowtable_find(t, &k, &id) != 1 || id != open_id[victim])
            bad++;
        if (s % check_every == 0) {
            for (i = 0; i < nopen; i++) {
                make_big_key(&k, open_key[i]);
                if (tf_flowtable_find(t, &k, &id) != 1 || id != open_id[i])
                    bad++;
            }
        }
    }
    if (tf_flowtable_open_count(t) != nopen || tf_flowtable_closed_count(t) != steps)
        bad++;
    /* Close everything: the table ends up empty. */
    for (i = 0; i < nopen; i++)
        if (tf_flowtable_close(t, open_id[i]) != TF_OK)
            bad++;
    for (i = 0; i < nopen; i++) {
        make_big_key(&k, open_key[i]);
        if (tf_flowtable_find(t, &k, &id) != 0)
            bad++;
    }
    if (tf_flowtable_open_count(t) != 0)
        bad++;
    tf_flowtable_free(t);
    free(open_key);
    free(open_id);
    *bad_out += bad;
}

static void test_flowtable_churn_full_load(void)
{
    unsigned s;
    uint64_t bad = 0;

    for (s = 0; s < NSEEDS; s++) {
        churn(SEEDS[s], 32, 100000, 1, &bad);  /* 64 slots */
        churn(SEEDS[s], 4096, 50000, 97, &bad); /* 8192 slots */
    }
    CHECK(bad == 0);
}

/* ------------------------------------------------- allocation failures */

typedef struct fail_alloc {
    long calls;    /* malloc/realloc calls so far */
    long fail_at;  /* 0: never fail */
    int sticky;    /* also fail every call after fail_at */
    long failures; /* calls that were made to fail */
    long live;     /* blocks allocated and not yet freed */
} fail_alloc;

static int fail_now(fail_alloc *fa)
{
    fa->calls++;
    if (fa->fail_at > 0 &&
        (fa->calls == fa->fail_at || (fa->sticky && fa->calls > fa->fail_at))) {
        fa->failures++;
        return 1;
    }
    return 0;
}

static void *fa_malloc(void *ctx, size_t size)
{
    fail_alloc *fa = ctx;
    void *p;

    if (fail_now(fa))
        return NULL;
    p = malloc(size);
    if (p != NULL)
        fa->live++;
    return p;
}

static void *fa_realloc(void *ctx, void *ptr, size_t size)
{
    fail_alloc *fa = ctx;
    void *p;

    if (fail_now(fa))
        return NULL;
    p = realloc(ptr, size);
    if (p != NULL && ptr == NULL)
        fa->live++;
    return p;
}

static void fa_free(void *ctx, void *ptr)
{
    fail_alloc *fa = ctx;

    if (ptr != NULL)
        fa->live--;
    free(ptr);
}

enum { SEQ_FLOWS = 100, SEQ_FRAMES = 50 };

/*
 * Create a table, open SEQ_FLOWS flows, append SEQ_FRAMES frames to every
 * third one, close some, checking every status and that a failure leaves
 * the table as it was.  Unless fa->sticky, a failed call is retried once
 * (and must then succeed).  Returns the number of TF_ERR_NOMEM seen.
 */
static long run_alloc_sequence(fail_alloc *fa, uint64_t seed)
{
    tf_allocator a;
    tf_flowtable *t = (tf_flowtable *)(void *)&a; /* must become NULL on failure */
    int64_t ids[SEQ_FLOWS];
    uint64_t nframes[SEQ_FLOWS];
    int64_t closed_order[SEQ_FLOWS];
    uint64_t nclosed = 0, nopen = 0, nflows = 0, bad = 0;
    long nomem = 0;
    tf_status st;
    tf_flow_key k;
    tf_flow_id id;
    tf_flow_info info;
    int i, j, attempt;

    a.malloc_fn = fa_malloc;
    a.realloc_fn = fa_realloc;
    a.free_fn = fa_free;
    a.ctx = fa;

    st = tf_flowtable_new(&a, seed, &t);
    if (st != TF_OK) {
        CHECK(st == TF_ERR_NOMEM);
        CHECK(t == NULL);
        CHECK(fa->live == 0);
        return 1;
    }

    for (i = 0; i < SEQ_FLOWS; i++) {
        ids[i] = -1;
        nframes[i] = 0;
        make_big_key(&k, (uint32_t)i);
        for (attempt = 0; attempt < 2; attempt++) {
            st = tf_flowtable_open(t, &k, &id);
            if (st == TF_OK) {
                if (id != nflows)
                    bad++;
                ids[i] = (int64_t)nflows++;
                nopen++;
                break;
            }
            nomem++;
            CHECK(st == TF_ERR_NOMEM);
            CHECK(tf_flowtable_flow_count(t) == nflows);
            CHECK(tf_flowtable_open_count(t) == nopen);
            CHECK(tf_flowtable_find(t, &k, &id) == 0);
            if (fa->sticky)
                break;
        }
        if (!fa->sticky)
            CHECK(ids[i] >= 0);
    }

    for (i = 0; i < SEQ_FLOWS; i += 3) {
        if (ids[i] < 0)
            continue;
        for (j = 0; j < SEQ_FRAMES; j++) {
            uint64_t frame = (uint64_t)i * 1000u + (uint64_t)j;
            for (attempt = 0; attempt < 2; attempt++) {
                st = tf_flowtable_append(t, (tf_flow_id)ids[i], frame);
                if (st == TF_OK) {
                    nframes[i]++;
                    break;
                }
                nomem++;
                CHECK(st == TF_ERR_NOMEM);
                tf_flowtable_info(t, (tf_flow_id)ids[i], &info);
                CHECK(info.frame_count == nframes[i]);
                CHECK(info.open == 1);
                if (fa->sticky)
                    break;
            }
        }
        if (!fa->sticky)
            CHECK(nframes[i] == SEQ_FRAMES);
    }

    /* Close some (including flows with frames); closing never allocates. */
    for (i = SEQ_FLOWS - 1; i >= 0; i--) {
        if (ids[i] < 0 || i % 4 == 1)
            continue;
        if (tf_flowtable_close(t, (tf_flow_id)ids[i]) != TF_OK)
            bad++;
        closed_order[nclosed++] = ids[i];
        nopen--;
    }

    /* The whole state is what the successful calls made it. */
    CHECK(tf_flowtable_flow_count(t) == nflows);
    CHECK(tf_flowtable_open_count(t) == nopen);
    CHECK(tf_flowtable_closed_count(t) == nclosed);
    for (i = 0; i < (int)nclosed; i++)
        if (tf_flowtable_closed_at(t, (uint64_t)i) != (uint64_t)closed_order[i])
            bad++;
    for (i = 0; i < SEQ_FLOWS; i++) {
        int want_open = ids[i] >= 0 && i % 4 == 1;
        make_big_key(&k, (uint32_t)i);
        if (tf_flowtable_find(t, &k, &id) != want_open || (want_open && id != (uint64_t)ids[i]))
            bad++;
        if (ids[i] < 0)
            continue;
        tf_flowtable_info(t, (tf_flow_id)ids[i], &info);
        if (info.open != want_open || info.frame_count != nframes[i] ||
            memcmp(info.key, &k, sizeof(k)) != 0 || (nframes[i] > 0 && info.frame_bytes == NULL))
            bad++;
        {
            tf_frame_iter it;
            uint64_t frame;
            tf_frames_begin(&info, &it);
            for (j = 0; j < (int)nframes[i]; j++)
                if (!tf_frames_next(&it, &frame) || frame != (uint64_t)i * 1000u + (uint64_t)j)
                    bad++;
        }
        if (!want_open && i % 2 == 0)
            tf_flowtable_release_frames(t, (tf_flow_id)ids[i]);
    }
    CHECK(bad == 0);

    tf_flowtable_free(t);
    CHECK(fa->live == 0);
    return nomem;
}

static void test_alloc_failures(void)
{
    fail_alloc fa;
    long total, n, nomem;
    int sticky;

    memset(&fa, 0, sizeof(fa));
    nomem = run_alloc_sequence(&fa, 99);
    CHECK(nomem == 0);
    CHECK(fa.failures == 0);
    total = fa.calls;
    /* every third flow gets SEQ_FRAMES frames: more than its local bytes hold */
    CHECK(total > (SEQ_FLOWS + 2) / 3);
    printf("  allocation sequence makes %ld allocator calls\n", total);

    for (sticky = 0; sticky <= 1; sticky++) {
        for (n = 1; n <= total; n++) {
            long before = g_test_failures;
            memset(&fa, 0, sizeof(fa));
            fa.fail_at = n;
            fa.sticky = sticky;
            nomem = run_alloc_sequence(&fa, 99);
            CHECK(fa.failures >= 1);
            if (!sticky) {
                CHECK(fa.failures == 1);
                CHECK(nomem == 1); /* the one failing call reported it */
            } else {
                CHECK(nomem >= 1);
            }
            if (g_test_failures != before)
                printf("  (with allocation %ld failing%s)\n", n, sticky ? " and all after" : "");
        }
    }
}

/* A pcap file of n Ethernet/IPv4/TCP frames over a few flows, some FINs. */
static void write_small_capture(FILE *fp, int n)
{
    static const uint8_t ghdr[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0xff, 0xff, 0, 0, 1, 0, 0, 0};
    uint8_t frame[54] = {0};
    uint8_t rec[16];
    int i;

    fwrite(ghdr, 1, sizeof(ghdr), fp);
    frame[12] = 0x08;            /* IPv4 */
    frame[14] = 0x45;
    frame[17] = 40;              /* total length */
    frame[23] = 6;               /* TCP */
    frame[26] = 192, frame[29] = 1;
    frame[30] = 198, frame[33] = 2;
    frame[46] = 0x50;            /* data offset 5 */
    for (i = 0; i < n; i++) {
        uint32_t ts = 1600000000u + (uint32_t)i;
        frame[34] = 0x10;
        frame[35] = (uint8_t)(i % 7); /* source port 4096 + i % 7 */
        frame[37] = 80;
        frame[47] = (uint8_t)(i % 5 == 4 ? 0x11 : 0x10); /* ACK, sometimes FIN */
        memcpy(rec, &ts, 4);     /* little-endian host assumed by the header */
        memset(rec + 4, 0, 4);
        rec[8] = rec[12] = 54;
        rec[9] = rec[10] = rec[11] = rec[13] = rec[14] = rec[15] = 0;
        fwrite(rec, 1, 16, fp);
        fwrite(frame, 1, sizeof(frame), fp);
    }
}

/* One reader + session run with allocator fa; returns the TF_ERR_NOMEM count. */
static long run_session(fail_alloc *fa, const char *path, const char *out_dir)
{
    char errbuf[TF_ERRBUF_SIZE];
    tf_allocator a = {fa_malloc, fa_realloc, fa_free, fa};
    tf_session_options opt;
    tf_reader *reader = NULL;
    tf_session *s = NULL;
    tf_status st;
    long nomem = 0;
    FILE *fp = fopen(path, "rb");

    if (fp == NULL)
        return -1;
    st = tf_reader_open(fp, &a, &reader, errbuf);
    if (st != TF_OK)
        return st == TF_ERR_NOMEM ? 1 : -1;
    memset(&opt, 0, sizeof(opt));
    opt.out_dir = out_dir;
    opt.ext = ".pcap";
    opt.max_open_files = 2;
    st = tf_session_new(reader, &opt, &a, 5, &s);
    if (st != TF_OK)
        return st == TF_ERR_NOMEM ? 1 : -1;
    do
        st = tf_session_step(s, 3, errbuf);
    while (st == TF_OK);
    if (st == TF_ERR_NOMEM)
        nomem++;
    else
        CHECK(st == TF_END);
    if (tf_session_finish(s, errbuf) == TF_ERR_NOMEM)
        nomem++;
    tf_session_free(s);
    return nomem;
}

static void test_session_alloc_failures(void)
{
    char path[] = "/tmp/tf-test-capture-XXXXXX";
    char dir[] = "/tmp/tf-test-out-XXXXXX";
    fail_alloc fa;
    long total, n;
    int fd = mkstemp(path), pass;
    FILE *fp;

    REQUIRE(fd >= 0);
    fp = fdopen(fd, "wb");
    REQUIRE(fp != NULL);
    write_small_capture(fp, 40);
    fclose(fp);
    REQUIRE(mkdtemp(dir) != NULL);
    for (pass = 0; pass < 2; pass++) {
        const char *out = pass ? dir : NULL;
        memset(&fa, 0, sizeof(fa));
        CHECK(run_session(&fa, path, out) == 0);
        CHECK(fa.live == 0);
        total = fa.calls;
        printf("  session (%s) makes %ld allocator calls\n", out ? "files" : "no files", total);
        CHECK(total > 5);
        for (n = 1; n <= total; n++) {
            memset(&fa, 0, sizeof(fa));
            fa.fail_at = n;
            CHECK(run_session(&fa, path, out) == 1); /* reported, exactly once */
            CHECK(fa.failures == 1);
            CHECK(fa.live == 0);                      /* and nothing leaked */
        }
    }
    remove(path);
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
    }
}

static void test_alloc_helpers(void)
{
    fail_alloc fa;
    tf_allocator a;
    void *p;

    memset(&fa, 0, sizeof(fa));
    a.malloc_fn = fa_malloc;
    a.realloc_fn = fa_realloc;
    a.free_fn = fa_free;
    a.ctx = &fa;

    /* Overflow is caught before the allocator is called. */
    CHECK(tf_reallocarray(&a, NULL, SIZE_MAX, 2) == NULL);
    CHECK(tf_reallocarray(&a, NULL, SIZE_MAX / 2 + 1, 2) == NULL);
    CHECK(fa.calls == 0);
    CHECK(tf_reallocarray(NULL, NULL, (SIZE_MAX >> 4) + 1, 16) == NULL);

    p = tf_malloc(&a, 0); /* size 0 still gives a block */
    CHECK(p != NULL);
    p = tf_reallocarray(&a, p, 0, 8);
    CHECK(p != NULL);
    p = tf_reallocarray(&a, p, 10, 8);
    CHECK(p != NULL);
    if (p != NULL)
        memset(p, 1, 80);
    CHECK(fa.live == 1);
    tf_free(&a, p);
    tf_free(&a, NULL);
    CHECK(fa.live == 0);

    p = tf_malloc(NULL, 16);
    CHECK(p != NULL);
    p = tf_realloc(NULL, p, 32);
    CHECK(p != NULL);
    tf_free(NULL, p);
}

/* ----------------------------------------------------------- pcap writer */

static void test_pcap_header(void)
{
    static const uint8_t le_us[24] = {0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00};
    static const uint8_t be_us[24] = {0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x02, 0x00, 0x04,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
    static const uint8_t le_ns[24] = {0x4d, 0x3c, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x04, 0x00, 0x65, 0x00, 0x00, 0x00};
    static const uint8_t be_ns[24] = {0xa1, 0xb2, 0x3c, 0x4d, 0x00, 0x02, 0x00, 0x04,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe4};
    /* A link type using all four bytes shows the byte order of that field. */
    static const uint8_t be_odd[24] = {0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x02, 0x00, 0x04,
                                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                       0x00, 0x04, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78};
    static const uint8_t le_odd[24] = {0x4d, 0x3c, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00,
                                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x04, 0x00, 0x78, 0x56, 0x34, 0x12};
    uint8_t out[24];
    tf_pcap_format f;

    f.linktype = 1, f.big_endian = 0, f.nanosecond = 0;
    memset(out, 0xee, sizeof(out));
    tf_pcap_encode_header(&f, out);
    CHECK(memcmp(out, le_us, 24) == 0);

    f.linktype = 1, f.big_endian = 1, f.nanosecond = 0;
    memset(out, 0xee, sizeof(out));
    tf_pcap_encode_header(&f, out);
    CHECK(memcmp(out, be_us, 24) == 0);

    f.linktype = 101, f.big_endian = 0, f.nanosecond = 1;
    memset(out, 0xee, sizeof(out));
    tf_pcap_encode_header(&f, out);
    CHECK(memcmp(out, le_ns, 24) == 0);

    f.linktype = 228, f.big_endian = 1, f.nanosecond = 1;
    memset(out, 0xee, sizeof(out));
    tf_pcap_encode_header(&f, out);
    CHECK(memcmp(out, be_ns, 24) == 0);

    /* Any nonzero value selects big-endian / nanoseconds. */
    f.linktype = UINT32_C(0x12345678), f.big_endian = 2, f.nanosecond = 0;
    tf_pcap_encode_header(&f, out);
    CHECK(memcmp(out, be_odd, 24) == 0);
    f.linktype = UINT32_C(0x12345678), f.big_endian = 0, f.nanosecond = -1;
    tf_pcap_encode_header(&f, out);
    CHECK(memcmp(out, le_odd, 24) == 0);
}

static void test_pcap_record(void)
{
    tf_pcap_format us_le = {1, 0, 0}, us_be = {1, 1, 0}, ns_le = {1, 0, 1}, ns_be = {1, 1, 1};
    uint8_t out[16];
    /* ts 0x01020304 s + 123456789 ns, caplen 60, origlen 1514 */
    static const uint8_t r_us_le[16] = {0x04, 0x03, 0x02, 0x01, 0x40, 0xe2, 0x01, 0x00,
                                        0x3c, 0x00, 0x00, 0x00, 0xea, 0x05, 0x00, 0x00};
    static const uint8_t r_us_be[16] = {0x01, 0x02, 0x03, 0x04, 0x00, 0x01, 0xe2, 0x40,
                                        0x00, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x05, 0xea};
    static const uint8_t r_ns_le[16] = {0x04, 0x03, 0x02, 0x01, 0x15, 0xcd, 0x5b, 0x07,
                                        0x3c, 0x00, 0x00, 0x00, 0xea, 0x05, 0x00, 0x00};
    static const uint8_t r_ns_be[16] = {0x01, 0x02, 0x03, 0x04, 0x07, 0x5b, 0xcd, 0x15,
                                        0x00, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x05, 0xea};
    /* ts 2^32-1 s + 999999999 ns (999999 us), caplen 0, origlen 0xfffffffe */
    static const uint8_t max_us_be[16] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x0f, 0x42, 0x3f,
                                          0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xfe};
    static const uint8_t max_ns_le[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xc9, 0x9a, 0x3b,
                                          0x00, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff};
    /* ts 0 s + 999 ns: truncated to 0 us */
    static const uint8_t small_us_le[16] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                            0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};
    static const uint8_t small_ns_le[16] = {0x00, 0x00, 0x00, 0x00, 0xe7, 0x03, 0x00, 0x00,
                                            0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};

    CHECK(tf_pcap_encode_record(&us_le, 0x01020304, 123456789u, 60, 1514, out) == TF_OK);
    CHECK(memcmp(out, r_us_le, 16) == 0);
    CHECK(tf_pcap_encode_record(&us_be, 0x01020304, 123456789u, 60, 1514, out) == TF_OK);
    CHECK(memcmp(out, r_us_be, 16) == 0);
    CHECK(tf_pcap_encode_record(&ns_le, 0x01020304, 123456789u, 60, 1514, out) == TF_OK);
    CHECK(memcmp(out, r_ns_le, 16) == 0);
    CHECK(tf_pcap_encode_record(&ns_be, 0x01020304, 123456789u, 60, 1514, out) == TF_OK);
    CHECK(memcmp(out, r_ns_be, 16) == 0);

    CHECK(tf_pcap_encode_record(&us_be, INT64_C(4294967295), 999999999u, 0, 0xfffffffeu, out) ==
          TF_OK);
    CHECK(memcmp(out, max_us_be, 16) == 0);
    CHECK(tf_pcap_encode_record(&ns_le, INT64_C(4294967295), 999999999u, 0, 0xfffffffeu, out) ==
          TF_OK);
    CHECK(memcmp(out, max_ns_le, 16) == 0);
    CHECK(tf_pcap_encode_record(&us_le, 0, 999u, 1, 1, out) == TF_OK);
    CHECK(memcmp(out, small_us_le, 16) == 0);
    CHECK(tf_pcap_encode_record(&ns_le, 0, 999u, 1, 1, out) == TF_OK);
    CHECK(memcmp(out, small_ns_le, 16) == 0);

    /* Out of range. */
    CHECK(tf_pcap_encode_record(&us_le, -1, 0, 0, 0, out) == TF_ERR_INVALID);
    CHECK(tf_pcap_encode_record(&ns_be, INT64_MIN, 0, 0, 0, out) == TF_ERR_INVALID);
    CHECK(tf_pcap_encode_record(&us_le, INT64_C(4294967296), 0, 0, 0, out) == TF_ERR_INVALID);
    CHECK(tf_pcap_encode_record(&ns_le, INT64_MAX, 0, 0, 0, out) == TF_ERR_INVALID);
    CHECK(tf_pcap_encode_record(&us_le, 0, 1000000000u, 0, 0, out) == TF_ERR_INVALID);
    CHECK(tf_pcap_encode_record(&ns_be, 0, 1000000000u, 0, 0, out) == TF_ERR_INVALID);
    CHECK(tf_pcap_encode_record(&ns_be, 5, UINT32_MAX, 0, 0, out) == TF_ERR_INVALID);
}

/* Reads a whole file; returns its size or -1. */
static long read_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    size_t n;

    if (fp == NULL)
        return -1;
    n = fread(buf, 1, cap, fp);
    if (ferror(fp)) {
        fclose(fp);
        return -1;
    }
    fclose(fp);
    return (long)n;
}

static const char *tmp_dir(void)
{
    const char *d = getenv("TMPDIR");
    return (d != NULL && d[0] != '\0') ? d : "/tmp";
}

static void test_pcap_file(void)
{
    /* Big-endian nanosecond file, link type 1 (Ethernet). */
    static const uint8_t expected[] = {
        /* global header */
        0xa1, 0xb2, 0x3c, 0x4d, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        /* record 1: 1700000000 s (0x6553f100) + 5 ns, caplen 4, origlen 60 */
        0x65, 0x53, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00,
        0x00, 0x3c, 0xde, 0xad, 0xbe, 0xef,
        /* record 2: empty, 1 s + 999999999 ns, origlen 0 */
        0x00, 0x00, 0x00, 0x01, 0x3b, 0x9a, 0xc9, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00,
        /* record 3: 3 bytes, 0 s + 0 ns, origlen 3 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x00, 0x03, 0x01, 0x02, 0x03};
    /* Little-endian microsecond file, link type 101. */
    static const uint8_t expected_us[] = {
        0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x65, 0x00, 0x00, 0x00,
        /* 1700000000 s + 123456789 ns -> 123456 us, caplen 2, origlen 2 */
        0x00, 0xf1, 0x53, 0x65, 0x40, 0xe2, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00,
        0x00, 0x00, 0xaa, 0xbb};
    static const uint8_t data1[4] = {0xde, 0xad, 0xbe, 0xef};
    static const uint8_t data3[3] = {1, 2, 3};
    static const uint8_t data4[2] = {0xaa, 0xbb};
    tf_pcap_format ns_be = {1, 1, 1}, us_le = {101, 0, 0};
    char path[4096], dir[4096], missing[4200];
    uint8_t buf[256];
    int fd;
    long n;

    snprintf(path, sizeof(path), "%s/tf_test_core_XXXXXX", tmp_dir());
    fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);

    CHECK(tf_pcap_create(path, &ns_be) == TF_OK);
    n = read_file(path, buf, sizeof(buf));
    CHECK(n == 24);
    CHECK(n >= 24 && memcmp(buf, expected, 24) == 0);

    CHECK(tf_pcap_append(path, &ns_be, 1700000000, 5, 60, data1, 4) == TF_OK);
    CHECK(tf_pcap_append(path, &ns_be, 1, 999999999u, 0, data1, 0) == TF_OK);
    CHECK(tf_pcap_append(path, &ns_be, 0, 0, 3, data3, 3) == TF_OK);
    /* Invalid timestamps are rejected and write nothing. */
    CHECK(tf_pcap_append(path, &ns_be, -1, 0, 4, data1, 4) == TF_ERR_INVALID);
    CHECK(tf_pcap_append(path, &ns_be, 0, 1000000000u, 4, data1, 4) == TF_ERR_INVALID);
    n = read_file(path, buf, sizeof(buf));
    CHECK(n == (long)sizeof(expected));
    CHECK(n == (long)sizeof(expected) && memcmp(buf, expected, sizeof(expected)) == 0);

    /* Create truncates. */
    CHECK(tf_pcap_create(path, &us_le) == TF_OK);
    CHECK(tf_pcap_append(path, &us_le, 1700000000, 123456789u, 2, data4, 2) == TF_OK);
    n = read_file(path, buf, sizeof(buf));
    CHECK(n == (long)sizeof(expected_us));
    CHECK(n == (long)sizeof(expected_us) && memcmp(buf, expected_us, sizeof(expected_us)) == 0);
    CHECK(unlink(path) == 0);

    /* A path in a directory that does not exist. */
    snprintf(dir, sizeof(dir), "%s/tf_test_core_dir_XXXXXX", tmp_dir());
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(missing, sizeof(missing), "%s/no_such_dir/out.pcap", dir);
    errno = 0;
    CHECK(tf_pcap_create(missing, &ns_be) == TF_ERR_IO);
    CHECK(errno == ENOENT);
    CHECK(tf_pcap_append(missing, &ns_be, 0, 0, 4, data1, 4) == TF_ERR_IO);
    CHECK(rmdir(dir) == 0); /* nothing was created inside */
}

static void test_strerror(void)
{
    static const tf_status all[] = {TF_OK, TF_ERR_NOMEM, TF_ERR_INVALID, TF_ERR_IO,
                                    TF_ERR_LIMIT};
    const size_t n = sizeof(all) / sizeof(all[0]);
    size_t i, j;

    for (i = 0; i < n; i++) {
        const char *s = tf_strerror(all[i]);
        CHECK(s != NULL);
        if (s == NULL)
            continue;
        CHECK(s[0] != '\0');
        CHECK(s == tf_strerror(all[i]) || strcmp(s, tf_strerror(all[i])) == 0);
        for (j = 0; j < i; j++) {
            const char *o = tf_strerror(all[j]);
            CHECK(o == NULL || strcmp(s, o) != 0);
        }
    }
    CHECK(tf_strerror((tf_status)99) != NULL);
}

/* ------------------------------------------------------------------ main */

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

#define TEST(fn) {#fn, fn}

static const test_case TESTS[] = {
    TEST(test_flow_key_init),
    TEST(test_frame_encoding),
    TEST(test_flowtable_basic),
    TEST(test_flowtable_many_frames),
    TEST(test_flowtable_one_byte_differences),
    TEST(test_flowtable_million),
    TEST(test_flowtable_random_model),
    TEST(test_flowtable_churn_full_load),
    TEST(test_alloc_helpers),
    TEST(test_alloc_failures),
    TEST(test_session_alloc_failures),
    TEST(test_pcap_header),
    TEST(test_pcap_record),
    TEST(test_pcap_file),
    TEST(test_strerror),
};

int main(void)
{
    size_t i, passed = 0, failed = 0;

    for (i = 0; i < sizeof(TESTS) / sizeof(TESTS[0]); i++) {
        g_test_failures = 0;
        printf("%s ...\n", TESTS[i].name);
        fflush(stdout);
        TESTS[i].fn();
        if (g_test_failures == 0) {
            passed++;
            printf("ok   %s\n", TESTS[i].name);
        } else {
            failed++;
            printf("FAIL %s (%ld failed checks)\n", TESTS[i].name, g_test_failures);
        }
        fflush(stdout);
    }
    printf("(%ld checks)\n", g_total_checks);
    printf("%zu passed, %zu failed\n", passed, failed);
    fflush(stdout);
    return failed == 0 ? 0 : 1;
}
