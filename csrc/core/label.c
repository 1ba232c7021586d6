/*
 * label.c - the text of pcapkit's flow labels, without Python.
 *
 * A label is f'{src}_{srcport}-{dst}_{dstport}-{ts}' where the addresses
 * print as Python's ipaddress module prints them and ts is repr() of the
 * float nearest to the packet's exact time; ':' becomes '.' when the source
 * address is IPv6.
 *
 * IPv6 text follows RFC 5952 as Python applies it: lower-case hextets
 * without leading zeros, the longest run of two or more zero hextets
 * replaced by '::' (the first such run on a tie).  Python 3.13 started to
 * print IPv4-mapped addresses with a dotted quad; the caller says which
 * style the running Python uses (tf_label_style).
 *
 * Floats print as Python's repr(): the shortest digit string that reads back
 * as the same double, in fixed notation when the decimal exponent is within
 * (-4, 16], with '.0' added to integers, else as d.ddde+XX.  The exact time
 * sec + nsec/10^9 is converted by strtod(), which is correctly rounded, as
 * Python's float(Decimal) is.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf.h"

/* Decimal text of v (< 10^10) at p; returns the end. */
static char *put_uint(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static size_t ipv4_text(const uint8_t a[4], char *out)
{
    char *p = out;
    int i;

    for (i = 0; i < 4; i++) {
        if (i)
            *p++ = '.';
        p = put_uint(p, a[i]);
    }
    *p = '\0';
    return (size_t)(p - out);
}

static char *put_hex(char *p, unsigned v)
{
    static const char digits[] = "0123456789abcdef";
    int shift = 12;

    while (shift > 0 && (v >> shift) == 0)
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        *p++ = digits[(v >> shift) & 15];
    return p;
}

static size_t ipv6_text(const uint8_t a[16], const tf_label_style *style, char *out)
{
    unsigned h[8];
    int i, best = -1, best_len = 0, run = -1, run_len = 0;
    char *p = out;
    int mapped;

    for (i = 0; i < 8; i++)
        h[i] = ((unsigned)a[2 * i] << 8) | a[2 * i + 1];
    mapped = h[0] == 0 && h[1] == 0 && h[2] == 0 && h[3] == 0 && h[4] == 0 && h[5] == 0xffff;
    if (mapped && style != NULL && style->ipv4_mapped_dotted) {
        memcpy(p, "::ffff:", 7);
        p += 7;
        p += ipv4_text(a + 12, p);
        return (size_t)(p - out);
    }
    for (i = 0; i < 8; i++) {
        if (h[i] == 0) {
            if (run < 0) {
                run = i;
                run_len = 0;
            }
            run_len++;
            if (run_len > best_len) {
                best = run;
                best_len = run_len;
            }
        } else {
            run = -1;
        }
    }
    if (best_len < 2)
        best = -1;
    for (i = 0; i < 8; i++) {
        if (i == best) {
            *p++ = ':';
            *p++ = ':';
            i += best_len - 1;
            continue;
        }
        if (i > 0 && i != best + best_len)
            *p++ = ':';
        p = put_hex(p, h[i]);
    }
    *p = '\0';
    return (size_t)(p - out);
}

size_t tf_address_text(int family, const uint8_t addr[16], const tf_label_style *style,
                       char out[TF_ADDRESS_TEXT_MAX])
{
    if (family == TF_FAMILY_IPV4)
        return ipv4_text(addr, out);
    return ipv6_text(addr, style, out);
}

/* Increments the decimal digit string (digits only) in place; returns 1 on
 * a carry out of the first digit. */
static int increment_digits(char *d, int n)
{
    int i;

    for (i = n - 1; i >= 0; i--) {
        if (d[i] != '9') {
            d[i]++;
            return 0;
        }
        d[i] = '0';
    }
    return 1;
}

/* Digits of "%.{p-1}e" of x that read back as x, or 0 when none does.  At
 * a power of two the gap above x is twice the gap below, so a p-digit value
 * just above the nearest one may still read back as x, and Python's repr
 * takes it. */
static int digits_at(double x, int p, char *digits, int *ndigits, int *decpt)
{
    char buf[48];
    char *q;
    int n = 0, e;

    snprintf(buf, sizeof(buf), "%.*e", p - 1, x);
    for (q = buf; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            digits[n++] = *q;
    e = atoi(strchr(buf, 'e') + 1);
    if (strtod(buf, NULL) != x) {
        char alt[48];
        digits[n] = '\0';
        if (increment_digits(digits, n)) {
            digits[0] = '1';
            e++;
        }
        snprintf(alt, sizeof(alt), "%c.%se%d", digits[0], digits + 1, e);
        if (strtod(alt, NULL) != x)
            return 0;
    }
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *ndigits = n;
    *decpt = e + 1;
    return 1;
}

/* Shortest digits of a positive finite x: *ndigits digits in digits[], and
 * the decimal exponent such that x = 0.d1d2... * 10^decpt.  Distinct
 * decimals of 15 significant digits or fewer read back as distinct doubles,
 * so when the 15-digit form of a normal x reads back as x, it is the
 * shortest once its trailing zeros go; otherwise 16 or 17 digits are
 * needed. */
static void shortest_digits(double x, char *digits, int *ndigits, int *decpt)
{
    int p;

    /* subnormals carry fewer bits: search from one digit up */
    for (p = x < DBL_MIN ? 1 : 15; p <= 17; p++)
        if (digits_at(x, p, digits, ndigits, decpt))
            return;
    digits_at(x, 17, digits, ndigits, decpt); /* not reached: 17 always reads back */
}

/*
 * The same digits by integer arithmetic, for 1 <= x < 2**53 (timestamps):
 * x = m / 2**s with a 53-bit m.  The doubles' rounding interval around x is
 * (2m-1)/2**(s+1) .. (2m+1)/2**(s+1), ends included when m is even (ties
 * go to even); the first count of fraction digits d for which a multiple of
 * 10**-d lies in it gives the shortest digits, and of those the one nearest
 * x is taken, as repr does.  At m = 2**52 the interval is lopsided: 0 is
 * returned and the caller takes the printf path.
 */
static const uint64_t POW10[18] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
    1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
};

typedef unsigned __int128 u128;

static int shortest_digits_int(uint64_t m, int s, char *digits, int *ndigits, int *decpt)
{
    int d, n, len;
    char buf[24];
    uint64_t q64;

    if (m == (1ull << 52) || m >= (1ull << 53) || m < (1ull << 52) || s < 0 || s > 52)
        return 0;
    for (d = 0; d < 18; d++) {
        u128 lo = (u128)(2 * m - 1) * POW10[d];
        u128 hi = (u128)(2 * m + 1) * POW10[d];
        u128 mask = ((u128)1 << (s + 1)) - 1;
        u128 qlo = (lo >> (s + 1)) + ((lo & mask) != 0);
        u128 qhi = hi >> (s + 1);
        u128 q, rem, half;

        if ((m & 1) && (lo & mask) == 0)
            qlo++; /* an odd m does not own its interval's ends */
        if ((m & 1) && (hi & mask) == 0)
            qhi--;
        if (qlo > qhi)
            continue;
        /* nearest to x: m * 10**d / 2**s rounded, ties to even */
        q = ((u128)m * POW10[d]) >> s;
        rem = ((u128)m * POW10[d]) & (((u128)1 << s) - 1);
        half = s > 0 ? (u128)1 << (s - 1) : 0;
        if (s > 0 && (rem > half || (rem == half && (q & 1))))
            q++;
        if (q < qlo)
            q = qlo;
        if (q > qhi)
            q = qhi;
        if (q >= (u128)POW10[17] * 10)
            return 0; /* cannot happen for 17 digits or fewer; be safe */
        q64 = (uint64_t)q;
        len = 0;
        do {
            buf[len++] = (char)('0' + q64 % 10);
            q64 /= 10;
        } while (q64 != 0);
        for (n = 0; n < len; n++)
            digits[n] = buf[len - 1 - n];
        *decpt = len - d;
        while (n > 1 && digits[n - 1] == '0')
            n--;
        digits[n] = '\0';
        *ndigits = n;
        return 1;
    }
    return 0;
}

/* Python's float repr of a positive finite x from its digits. */
static size_t format_repr(const char *digits, int n, int decpt, char *p)
{
    char *start = p;
    int i;

    if (decpt <= -4 || decpt > 16) {
        int e = decpt - 1;
        *p++ = digits[0];
        if (n > 1) {
            *p++ = '.';
            memcpy(p, digits + 1, (size_t)(n - 1));
            p += n - 1;
        }
        p += sprintf(p, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    } else if (decpt <= 0) {
        *p++ = '0';
        *p++ = '.';
        for (i = 0; i < -decpt; i++)
            *p++ = '0';
        memcpy(p, digits, (size_t)n);
        p += n;
    } else if (decpt >= n) {
        memcpy(p, digits, (size_t)n);
        p += n;
        for (i = n; i < decpt; i++)
            *p++ = '0';
        *p++ = '.';
        *p++ = '0';
    } else {
        memcpy(p, digits, (size_t)decpt);
        p += decpt;
        *p++ = '.';
        memcpy(p, digits + decpt, (size_t)(n - decpt));
        p += n - decpt;
    }
    *p = '\0';
    return (size_t)(p - start);
}

size_t tf_float_repr(double x, char out[TF_FLOAT_TEXT_MAX])
{
    char digits[24];
    int n, decpt;
    char *p = out;

    if (x == 0.0)
        return (size_t)sprintf(out, signbit(x) ? "-0.0" : "0.0");
    if (isnan(x))
        return (size_t)sprintf(out, "nan");
    if (isinf(x))
        return (size_t)sprintf(out, x < 0 ? "-inf" : "inf");
    if (x < 0) {
        *p++ = '-';
        x = -x;
    }
    if (x >= 1.0 && x < 9007199254740992.0) {
        int e;
        double f = frexp(x, &e); /* x = f * 2**e, 0.5 <= f < 1 */
        uint64_t m = (uint64_t)ldexp(f, 53);
        if (shortest_digits_int(m, 53 - e, digits, &n, &decpt))
            return (size_t)(p - out) + format_repr(digits, n, decpt, p);
    }
    shortest_digits(x, digits, &n, &decpt);
    return (size_t)(p - out) + format_repr(digits, n, decpt, p);
}

/*
 * The double nearest sec + nsec/10**9 (ties to even, as strtod), for
 * 1 <= sec < 2**40, as m / 2**s; 0 when out of that range.
 */
static int time_double(int64_t sec, uint32_t nsec, uint64_t *m_out, int *s_out)
{
    u128 n, q, r;
    uint64_t m;
    int s;

    if (sec < 1 || sec >= ((int64_t)1 << 40) || nsec >= 1000000000u)
        return 0;
    s = 52 - (63 - __builtin_clzll((unsigned long long)sec));
    n = ((u128)(uint64_t)sec * 1000000000u + nsec) << s;
    q = n / 1000000000u;
    r = n % 1000000000u;
    m = (uint64_t)q;
    if (r * 2 > 1000000000u || (r * 2 == 1000000000u && (m & 1)))
        m++;
    if (m == (1ull << 53)) {
        m >>= 1;
        s--;
    }
    *m_out = m;
    *s_out = s;
    return 1;
}

size_t tf_time_repr(int64_t sec, uint32_t nsec, const char *digits, char out[TF_FLOAT_TEXT_MAX])
{
    char exact[128];

    if (nsec >= 1000000000u) {
        sec += nsec / 1000000000u;
        nsec %= 1000000000u;
    }
    if (digits == NULL) {
        uint64_t m;
        int s, n, decpt;
        char d[24];
        if (time_double(sec, nsec, &m, &s) && shortest_digits_int(m, s, d, &n, &decpt))
            return format_repr(d, n, decpt, out);
    }
    if (sec < 0 && (nsec != 0 || digits != NULL)) {
        /* sec + f = -((-sec - 1) + (1 - f)); digits are not kept here */
        snprintf(exact, sizeof(exact), "-%lld.%09u", (long long)-(sec + 1),
                 (unsigned)(1000000000u - nsec));
    } else if (digits != NULL) {
        snprintf(exact, sizeof(exact), "%lld.%.100s", (long long)sec, digits);
    } else {
        snprintf(exact, sizeof(exact), "%lld.%09u", (long long)sec, (unsigned)nsec);
    }
    return tf_float_repr(strtod(exact, NULL), out);
}

size_t tf_flow_label(const tf_flow_key *key, int64_t sec, uint32_t nsec, const char *digits,
                     const tf_label_style *style, char out[TF_LABEL_MAX])
{
    char *p = out;
    size_t n, i;

    p += tf_address_text(key->src_family, key->src, style, p);
    *p++ = '_';
    p = put_uint(p, key->src_port);
    *p++ = '-';
    p += tf_address_text(key->dst_family, key->dst, style, p);
    *p++ = '_';
    p = put_uint(p, key->dst_port);
    *p++ = '-';
    p += tf_time_repr(sec, nsec, digits, p);
    n = (size_t)(p - out);
    if (key->src_family != TF_FAMILY_IPV4)
        for (i = 0; i < n; i++)
            if (out[i] == ':')
                out[i] = '.';
    return n;
}
