/*
 * lib/parse.h - the one strict parser of numaslab's numbers, sizes and
 * node lists, for lib/ (the NUMASLAB_* variables, numaslab_init's strings,
 * numaslab_fail_pages), numa/ (NUMASLAB_NODES) and numaslab-stat(1).
 *
 * Strict means what a typo must not get past: decimal digits only, no
 * blank, sign, base prefix or trailing character, and a value that
 * overflows is an error, never a wrapped or clamped number.  Every
 * function returns 0, or -EINVAL with its output untouched.  No
 * allocation, no locale, no errno: callable anywhere, even before the
 * library is initialised.
 */
#ifndef NSLAB_PARSE_H
#define NSLAB_PARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * A decimal number at most max.  With end NULL the whole string must be
 * the number; otherwise *end gets the first character after its digits
 * (a caller's separator), and at least one digit is still required.
 */
int nslab_parse_u64(const char *s, uint64_t max, const char **end, uint64_t *out);

/* A number in lo..hi, the whole string. */
int nslab_parse_count(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* A size in bytes: a number, then optionally K, M, G or T (binary units,
 * either case), then optionally B: "4096", "64K", "8MB", "1T". */
int nslab_parse_size(const char *s, size_t *out);

/*
 * A node list "0,2-3": items separated by commas, an item an id or a
 * range "a-b" with a <= b, every id below nbits.  Sets mask (nbits / 64
 * words, rounded up) to exactly the listed ids.
 */
int nslab_parse_nodelist(const char *s, unsigned nbits, uint64_t *mask);

#endif /* NSLAB_PARSE_H */
