/* gateway/base/list.h: the one intrusive doubly linked list.
 *
 * A list head and its nodes are the same struct, embedded in the owner;
 * pc_list_entry() gets the owner back. An empty head points to itself, so
 * insertion and removal never branch on "first" or "last", and a removed
 * node is re-initialised: removing it twice, or testing it with
 * pc_list_linked(), is safe. No allocation, no locking: a list belongs to
 * one thread.
 */
#ifndef PC_LIST_H
#define PC_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pc_list {
    struct pc_list *prev, *next;
} pc_list_t;

#define PC_LIST_INIT(name) { &(name), &(name) }

#define pc_list_entry(node, type, member) \
    ((type *)(void *)((char *)(node) - offsetof(type, member)))

static inline void pc_list_init(pc_list_t *l)
{
    l->prev = l->next = l;
}

static inline bool pc_list_empty(const pc_list_t *head)
{
    return head->next == head;
}

/* True while n is on some list (a node is initialised when not linked). */
static inline bool pc_list_linked(const pc_list_t *n)
{
    return n->next != n && n->next != NULL;
}

static inline void pc_list_insert_after(pc_list_t *at, pc_list_t *n)
{
    n->prev = at;
    n->next = at->next;
    at->next->prev = n;
    at->next = n;
}

static inline void pc_list_push_front(pc_list_t *head, pc_list_t *n)
{
    pc_list_insert_after(head, n);
}

static inline void pc_list_push_back(pc_list_t *head, pc_list_t *n)
{
    pc_list_insert_after(head->prev, n);
}

static inline void pc_list_remove(pc_list_t *n)
{
    if (!pc_list_linked(n))
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    pc_list_init(n);
}

/* The first node, or NULL when empty. */
static inline pc_list_t *pc_list_first(const pc_list_t *head)
{
    return pc_list_empty(head) ? NULL : head->next;
}

/* Iterates over nodes; `it` may be removed (not its successor) in the body. */
#define pc_list_foreach_safe(it, tmp, head) \
    for ((it) = (head)->next, (tmp) = (it)->next; (it) != (head); (it) = (tmp), (tmp) = (it)->next)

#endif
