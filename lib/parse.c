/*
 * lib/parse.c - the strict parser of lib/parse.h.  By hand rather than
 * with strtoul and friends, which accept leading blanks, signs and
 * base prefixes, and saturate on overflow.
 */
#include "lib/parse.h"

#include <errno.h>
#include <string.h>

int nslab_parse_u64(const char *s, uint64_t max, const char **end, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (!s || *p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    if (end)
        *end = p;
    else if (*p != '\0')
        return -EINVAL;
    *out = v;
    return 0;
}

int nslab_parse_count(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t v;
    if (nslab_parse_u64(s, hi, NULL, &v) || v < lo)
        return -EINVAL;
    *out = v;
    return 0;
}

int nslab_parse_size(const char *s, size_t *out)
{
    const char *p;
    uint64_t v;
    unsigned shift = 0;
    if (nslab_parse_u64(s, SIZE_MAX, &p, &v))
        return -EINVAL;
    /* K, M, G, T in either case (a letter's case is its 0x20 bit). */
    static const char units[] = "KMGT";
    const char *u = *p ? strchr(units, *p & ~0x20) : NULL;
    if (u) {
        shift = 10 * (unsigned)(u - units + 1);
        p++;
    }
    if (*p == 'B' || *p == 'b')
        p++;
    if (*p != '\0' || (shift && v > ((uint64_t)SIZE_MAX >> shift)))
        return -EINVAL;
    *out = (size_t)(v << shift);
    return 0;
}

int nslab_parse_nodelist(const char *s, unsigned nbits, uint64_t *mask)
{
    enum { MAXW = 64 }; /* 4096 ids, more than any mask of the library */
    uint64_t m[MAXW] = {0};
    size_t words = (nbits + 63) / 64;
    if (!s || !*s || nbits == 0 || words > MAXW)
        return -EINVAL;
    for (;;) {
        uint64_t a, b;
        if (nslab_parse_u64(s, nbits - 1, &s, &a))
            return -EINVAL;
        b = a;
        if (*s == '-' && (nslab_parse_u64(s + 1, nbits - 1, &s, &b) || b < a))
            return -EINVAL;
        for (uint64_t n = a; n <= b; n++)
            m[n / 64] |= UINT64_C(1) << (n % 64);
        if (*s == '\0')
            break;
        if (*s++ != ',')
            return -EINVAL;
    }
    memcpy(mask, m, words * sizeof(*mask));
    return 0;
}
