/* client_table.c: the fixed array of client slots and the intrusive lists
 * threaded through it. Every operation is O(1) except a sorted insert,
 * which walks from the tail (O(1) for same-length timeouts). */
#include "broker/broker_internal.h"

#include <string.h>

void table_init(struct mb_broker *b)
{
    for (size_t l = 0; l < LIST_COUNT; l++)
        b->lists[l] = (struct list){IDX_NONE, IDX_NONE, 0};
    for (uint32_t i = 0; i < b->max_clients; i++) {
        memset(&b->clients[i], 0, sizeof(b->clients[i]));
        for (size_t l = 0; l < LIST_COUNT; l++)
            b->clients[i].links[l] = (struct link){IDX_NONE, IDX_NONE};
        list_push_back(b, LIST_FREE, i);
    }
}

struct client *table_get(struct mb_broker *b, mb_conn_t conn)
{
    if (conn >= b->max_clients || b->clients[conn].state == SLOT_FREE)
        return NULL;
    return &b->clients[conn];
}

uint32_t table_index(const struct mb_broker *b, const struct client *c)
{
    return (uint32_t)(c - b->clients);
}

uint32_t table_alloc(struct mb_broker *b)
{
    uint32_t idx = b->lists[LIST_FREE].head;
    if (idx == IDX_NONE)
        return IDX_NONE;
    list_remove(b, LIST_FREE, idx);
    struct client *c = &b->clients[idx];
    memset(c, 0, sizeof(*c));
    for (size_t l = 0; l < LIST_COUNT; l++)
        c->links[l] = (struct link){IDX_NONE, IDX_NONE};
    c->deadline_ns = UINT64_MAX;
    b->connected++;
    return idx;
}

void table_release(struct mb_broker *b, uint32_t idx)
{
    b->clients[idx].state = SLOT_FREE;
    b->connected--;
    list_push_back(b, LIST_FREE, idx);
}

bool list_linked(const struct mb_broker *b, enum list_id l, uint32_t idx)
{
    const struct link *k = &b->clients[idx].links[l];
    return k->prev != IDX_NONE || k->next != IDX_NONE || b->lists[l].head == idx;
}

void list_push_back(struct mb_broker *b, enum list_id l, uint32_t idx)
{
    struct list *ls = &b->lists[l];
    struct link *k = &b->clients[idx].links[l];
    k->prev = ls->tail;
    k->next = IDX_NONE;
    if (ls->tail != IDX_NONE)
        b->clients[ls->tail].links[l].next = idx;
    else
        ls->head = idx;
    ls->tail = idx;
    ls->count++;
}

void list_insert_sorted(struct mb_broker *b, enum list_id l, uint32_t idx, uint64_t key,
                        uint64_t (*key_of)(const struct client *))
{
    struct list *ls = &b->lists[l];
    uint32_t after = ls->tail;
    while (after != IDX_NONE && key_of(&b->clients[after]) > key)
        after = b->clients[after].links[l].prev;
    struct link *k = &b->clients[idx].links[l];
    k->prev = after;
    k->next = after == IDX_NONE ? ls->head : b->clients[after].links[l].next;
    if (after == IDX_NONE)
        ls->head = idx;
    else
        b->clients[after].links[l].next = idx;
    if (k->next == IDX_NONE)
        ls->tail = idx;
    else
        b->clients[k->next].links[l].prev = idx;
    ls->count++;
}

void list_remove(struct mb_broker *b, enum list_id l, uint32_t idx)
{
    struct list *ls = &b->lists[l];
    struct link *k = &b->clients[idx].links[l];
    if (k->prev != IDX_NONE)
        b->clients[k->prev].links[l].next = k->next;
    else
        ls->head = k->next;
    if (k->next != IDX_NONE)
        b->clients[k->next].links[l].prev = k->prev;
    else
        ls->tail = k->prev;
    k->prev = k->next = IDX_NONE;
    ls->count--;
}
