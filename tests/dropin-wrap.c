/*
 * tests/dropin-wrap.c - an empty library that needs tests/dropin-early.c:
 * preloaded after libnumaslab-malloc, it makes the dynamic linker load
 * the early library after libnuma, so initialise it before libnuma.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
extern int nslab_early_before_libnuma;

int nslab_wrap_marker(void)
{
    return nslab_early_before_libnuma;
}
