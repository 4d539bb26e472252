/*
 * tests/tools-asan.h - UNDER_ASAN: 1 when the planted-bug program is built
 * with AddressSanitizer (gcc's __SANITIZE_ADDRESS__ or clang's feature
 * test), 0 otherwise.  The programs print it ("asan: N") so that
 * tests/tools-check.sh knows what it is looking at.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef NSLAB_TOOLS_ASAN_H
#define NSLAB_TOOLS_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#endif /* NSLAB_TOOLS_ASAN_H */
