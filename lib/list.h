/*
 * lib/list.h - intrusive doubly linked lists (circular, with a head node):
 * the slab lists of threads and of (cache, node)s, the page layer's bins
 * and age lists, the cache list and the thread list.  A list has no lock of
 * its own: whoever owns it says what protects it.
 */
#ifndef NSLAB_LIST_H
#define NSLAB_LIST_H

#include <stddef.h>

struct nslab_list {
    struct nslab_list *next, *prev;
};

static inline void nslab_list_init(struct nslab_list *h)
{
    h->next = h->prev = h;
}
static inline int nslab_list_empty(const struct nslab_list *h)
{
    return h->next == h;
}

static inline void nslab_list_add(struct nslab_list *h, struct nslab_list *e)
{
    e->next = h->next;
    e->prev = h;
    h->next->prev = e;
    h->next = e;
}

static inline void nslab_list_add_tail(struct nslab_list *h, struct nslab_list *e)
{
    nslab_list_add(h->prev, e);
}

static inline void nslab_list_del(struct nslab_list *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->next = e->prev = e;
}

static inline void nslab_list_move(struct nslab_list *h, struct nslab_list *e)
{
    nslab_list_del(e);
    nslab_list_add(h, e);
}

#define nslab_container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))
#define nslab_list_first(h, type, member)                                                          \
    (nslab_list_empty(h) ? NULL : nslab_container_of((h)->next, type, member))

#endif
