/* compat.c: the original API (membroker/compat.h) on top of the new one.
 *
 * Handles are slots of a static table; slot 0 is the process-wide client of
 * mb_register. One mutex guards the table (which slot is used, with what
 * parameters); the calls themselves run on the client, which has its own
 * lock, so a RESERVE in one thread does not hold up a RETURN in another.
 * Unregistering is not safe against calls still running on the same handle
 * (as with the original).
 */
#include "membroker/compat.h"
#include "client/client_internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

struct compat_slot {
    struct mb_client client;
    bool used;
    bool connected_once;
    int id;
    int is_bidi;
    int source_pages;
    MbGivebackCallback fn;
    void *arg;
};

#define GLOBAL_SLOT 0
static struct compat_slot slots[MB_COMPAT_MAX_HANDLES + 1];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

static int clamp_int(uint64_t v)
{
    return v > INT_MAX ? INT_MAX : (int)v;
}

static int compat_error(int err)
{
    if (err == -EINVAL || err == MB_CLIENT_ERR(MB_ERR_INVALID) ||
        err == MB_CLIENT_ERR(MB_ERR_OVER_BALANCE))
        return MB_BAD_PARAM;
    if (err == MB_CLIENT_ERR(MB_ERR_WRONG_KIND))
        return MB_BAD_CLIENT_TYPE;
    if (err <= -MB_CLIENT_ERR_BASE)
        return MB_BAD_CODE;
    return MB_IO;
}

static uint64_t compat_giveback(struct mb_client *c, void *arg,
                                const struct mb_client_giveback *q)
{
    (void)c;
    struct compat_slot *slot = arg;
    pthread_mutex_lock(&slots_lock);
    MbGivebackCallback fn = slot->fn;
    void *fn_arg = slot->arg;
    pthread_mutex_unlock(&slots_lock);
    if (fn == NULL)
        return 0;
    int given = fn(clamp_int(q->pages), q->urgency == MB_URGENCY_URGENT, fn_arg);
    return given < 0 ? 0 : (uint64_t)given;
}

/* The slot of a handle, or NULL. */
static struct compat_slot *slot_of(MbClientHandle h)
{
    for (size_t i = 0; i <= MB_COMPAT_MAX_HANDLES; i++)
        if (h == &slots[i])
            return slots[i].used ? &slots[i] : NULL;
    return NULL;
}

/* What a registered client's fd means in the original: the descriptor for
 * a bidirectional client, 0 for a simple one. */
static int slot_fd(struct compat_slot *slot)
{
    if (!slot->is_bidi)
        return 0;
    int fd = mb_client_get_fd(&slot->client);
    return fd < 0 ? MB_IO : fd;
}

/* Registers slot (slots_lock held). Returns 0 or an MbError; on a failed
 * connect the slot stays registered (the next call retries) and MB_IO is
 * returned. */
static int slot_register(struct compat_slot *slot, int id, int is_bidi, int source_pages)
{
    if (source_pages < 0)
        return MB_BAD_PARAM;
    is_bidi = is_bidi || source_pages > 0;
    if (slot->used) {
        if (slot->is_bidi != is_bidi || slot->source_pages != source_pages)
            return MB_BAD_CLIENT_TYPE;
        return 0;
    }
    struct mb_client_options o;
    mb_client_options_init(&o);
    o.kind = source_pages > 0 ? MB_KIND_SOURCE
             : is_bidi        ? MB_KIND_BIDIRECTIONAL
                              : MB_KIND_SIMPLE;
    o.capacity = (uint64_t)source_pages;
    o.giveback = compat_giveback;
    o.giveback_arg = slot;
    if (mb_client_init(&slot->client, &o) < 0)
        return MB_OUT_OF_MEMORY;
    slot->used = true;
    slot->id = id;
    slot->is_bidi = is_bidi;
    slot->source_pages = source_pages;
    /* One attempt, as the original: a missing server fails at once. */
    return mb_client_connect_timeout(&slot->client, 0) < 0 ? MB_IO : 0;
}

static void slot_release(struct compat_slot *slot)
{
    mb_client_destroy(&slot->client);
    slot->used = false;
    slot->fn = NULL;
    slot->arg = NULL;
}

/* ---- the process-wide client ---- */

static int global_register(int is_bidi, int source_pages)
{
    pthread_mutex_lock(&slots_lock);
    struct compat_slot *slot = &slots[GLOBAL_SLOT];
    int rc = slot_register(slot, 0, is_bidi, source_pages);
    if (rc == 0)
        rc = slot_fd(slot);
    pthread_mutex_unlock(&slots_lock);
    return rc;
}

int mb_register(int is_bidi)
{
    return global_register(is_bidi, 0);
}

int mb_register_source(int pages)
{
    return global_register(1, pages < 0 ? 0 : pages);
}

static MbClientHandle global_handle(void)
{
    return &slots[GLOBAL_SLOT];
}

int mb_request_pages(int pages)
{
    return mb_client_request_pages(global_handle(), pages);
}

int mb_reserve_pages(int pages)
{
    return mb_client_reserve_pages(global_handle(), pages);
}

int mb_return_pages(int pages)
{
    return mb_client_return_pages(global_handle(), pages);
}

int mb_terminate(void)
{
    return mb_client_terminate(global_handle());
}

int mb_query(void)
{
    return mb_client_query(global_handle());
}

int mb_query_server(void)
{
    return mb_client_query_server(global_handle());
}

int mb_query_total(void)
{
    return mb_client_query_total(global_handle());
}

int mb_status(void)
{
    return mb_client_status(global_handle());
}

int mb_set_giveback_callback(MbGivebackCallback fn, void *arg)
{
    pthread_mutex_lock(&slots_lock);
    slots[GLOBAL_SLOT].fn = fn;
    slots[GLOBAL_SLOT].arg = arg;
    pthread_mutex_unlock(&slots_lock);
    return 0;
}

int mb_dispatch(void)
{
    return mb_client_dispatch_handle(global_handle());
}

/* ---- handles ---- */

static MbClientHandle handle_register(int id, int is_bidi, int source_pages)
{
    if (source_pages < 0)
        return NULL;
    pthread_mutex_lock(&slots_lock);
    struct compat_slot *found = NULL, *free_slot = NULL;
    for (size_t i = 1; i <= MB_COMPAT_MAX_HANDLES; i++) {
        if (slots[i].used && slots[i].id == id)
            found = &slots[i];
        else if (!slots[i].used && free_slot == NULL)
            free_slot = &slots[i];
    }
    struct compat_slot *slot = found != NULL ? found : free_slot;
    MbClientHandle h = NULL;
    if (slot != NULL) {
        int rc = slot_register(slot, id, is_bidi, source_pages);
        if (rc == 0)
            h = slot;
        else if (found == NULL && slot->used)
            slot_release(slot); /* as the original: no handle without a server */
    }
    pthread_mutex_unlock(&slots_lock);
    return h;
}

MbClientHandle mb_client_register(int id, int is_bidi)
{
    return handle_register(id, is_bidi, 0);
}

MbClientHandle mb_client_register_source(int id, int pages)
{
    return handle_register(id, 1, pages);
}

/* The client of a handle, or NULL. Registration changes under slots_lock
 * only; a handle is used by calls outside it, like the original's pointer. */
static struct mb_client *client_of(MbClientHandle h)
{
    pthread_mutex_lock(&slots_lock);
    struct compat_slot *slot = slot_of(h);
    pthread_mutex_unlock(&slots_lock);
    return slot != NULL ? &slot->client : NULL;
}

int mb_client_request_pages(MbClientHandle client, int pages)
{
    struct mb_client *c = client_of(client);
    if (c == NULL)
        return MB_BAD_ID;
    if (pages < 0)
        return MB_BAD_PARAM;
    uint64_t granted;
    int rc = mb_client_request(c, (uint64_t)pages, &granted);
    return rc < 0 ? compat_error(rc) : clamp_int(granted);
}

int mb_client_reserve_pages(MbClientHandle client, int pages)
{
    struct mb_client *c = client_of(client);
    if (c == NULL)
        return MB_BAD_ID;
    if (pages < 0)
        return MB_BAD_PARAM;
    int rc = mb_client_reserve(c, (uint64_t)pages, 0);
    if (rc == MB_CLIENT_ERR(MB_ERR_NOMEM) || rc == MB_CLIENT_ERR(MB_ERR_TIMED_OUT) ||
        rc == MB_CLIENT_ERR(MB_ERR_CANCELLED))
        return 0;
    return rc < 0 ? compat_error(rc) : pages;
}

int mb_client_return_pages(MbClientHandle client, int pages)
{
    struct mb_client *c = client_of(client);
    if (c == NULL)
        return MB_BAD_ID;
    if (pages < 0)
        return MB_BAD_PARAM;
    uint64_t held = mb_client_balance(c);
    uint64_t n = (uint64_t)pages > held ? held : (uint64_t)pages;
    int rc = mb_client_return(c, n);
    return rc < 0 ? compat_error(rc) : 0;
}

int mb_client_terminate(MbClientHandle client)
{
    pthread_mutex_lock(&slots_lock);
    struct compat_slot *slot = slot_of(client);
    if (slot != NULL)
        slot_release(slot);
    pthread_mutex_unlock(&slots_lock);
    return slot != NULL ? 0 : MB_BAD_ID;
}

static int query(MbClientHandle client, struct mb_client_info *info)
{
    struct mb_client *c = client_of(client);
    if (c == NULL)
        return MB_BAD_ID;
    int rc = mb_client_get_info(c, info);
    return rc < 0 ? compat_error(rc) : 0;
}

int mb_client_query(MbClientHandle client)
{
    struct mb_client_info info;
    int rc = query(client, &info);
    return rc < 0 ? rc : clamp_int(info.balance);
}

int mb_client_query_server(MbClientHandle client)
{
    struct mb_client_info info;
    int rc = query(client, &info);
    return rc < 0 ? rc : clamp_int(info.pool);
}

int mb_client_query_total(MbClientHandle client)
{
    struct mb_client_info info;
    int rc = query(client, &info);
    return rc < 0 ? rc : clamp_int(info.total);
}

int mb_client_status(MbClientHandle client)
{
    struct mb_client *c = client_of(client);
    if (c == NULL)
        return MB_BAD_ID;
    struct mb_client_status_page page;
    int rc = mb_client_status_page(c, MB_STATUS_CLASSES, 0, &page);
    return rc < 0 ? compat_error(rc) : 0;
}

int mb_client_fd(MbClientHandle client)
{
    pthread_mutex_lock(&slots_lock);
    struct compat_slot *slot = slot_of(client);
    int fd = slot != NULL ? slot_fd(slot) : -1;
    pthread_mutex_unlock(&slots_lock);
    return fd;
}

int mb_client_id(MbClientHandle client)
{
    pthread_mutex_lock(&slots_lock);
    struct compat_slot *slot = slot_of(client);
    int id = slot != NULL ? slot->id : MB_BAD_ID;
    pthread_mutex_unlock(&slots_lock);
    return id;
}

int mb_client_is_bidi(MbClientHandle client)
{
    pthread_mutex_lock(&slots_lock);
    struct compat_slot *slot = slot_of(client);
    int bidi = slot != NULL ? slot->is_bidi : MB_BAD_ID;
    pthread_mutex_unlock(&slots_lock);
    return bidi;
}

int mb_client_set_giveback_callback(MbClientHandle client, MbGivebackCallback fn, void *arg)
{
    pthread_mutex_lock(&slots_lock);
    struct compat_slot *slot = slot_of(client);
    if (slot != NULL) {
        slot->fn = fn;
        slot->arg = arg;
    }
    pthread_mutex_unlock(&slots_lock);
    return slot != NULL ? 0 : MB_BAD_ID;
}

int mb_client_dispatch_handle(MbClientHandle client)
{
    struct mb_client *c = client_of(client);
    if (c == NULL)
        return MB_BAD_ID;
    int rc = mb_client_dispatch(c);
    return rc < 0 ? compat_error(rc) : rc;
}
