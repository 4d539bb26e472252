/*
 * consumer.c - the program of the CMake consumer example: a cache, an
 * object on the local node, and the library's own word on where it is.
 * Prints "numaslab-consumer: ok: ..." and exits 0 when all went right.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <string.h>

#include "numaslab.h"

struct item {
    long key;
    char name[56];
};

int main(void)
{
    numaslab_cache_t *c = numaslab_cache_create("consumer-item", sizeof(struct item), 0, 0, NULL);
    if (!c) {
        perror("numaslab_cache_create");
        return 1;
    }
    int node = numaslab_local_node();
    struct item *it = numaslab_cache_alloc_node(c, NUMASLAB_ZERO, node);
    if (!it || it->key != 0) {
        fprintf(stderr, "numaslab-consumer: numaslab_cache_alloc_node failed\n");
        return 1;
    }
    it->key = 42;
    strcpy(it->name, "answer");
    int where = numaslab_ptr_node(it);
    numaslab_cache_free(c, it);
    if (numaslab_cache_destroy(c) != 0 || where != node) {
        fprintf(stderr, "numaslab-consumer: object on node %d, asked for %d\n", where, node);
        return 1;
    }
    printf("numaslab-consumer: ok: numaslab %d.%d, an object on node %d\n", NUMASLAB_VERSION_MAJOR,
           NUMASLAB_VERSION_MINOR, where);
    return 0;
}
