/* broker.c: gmalloc's membroker quota (USE_MEMBROKER), a thin user of the
 * anr membroker attachment (anr/anr_membroker.h, src/anr/membroker.c).
 *
 * At start gmalloc reserves POOL_SIZE from the broker; the heap's budget
 * beyond the pool is always quota the broker granted: the attachment's
 * need-more-memory callback REQUESTs at least a chunk (1 MiB) while malloc
 * waits and raises the budget by what was granted (never past HARD_LIMIT).
 * Quota the heap no longer uses goes back with hysteresis: when the budget
 * above the pool exceeds the pages holding blocks by more than four chunks,
 * the budget is lowered and all but one chunk of the surplus is RETURNed.
 * That check runs at most once per 1024 frees of a thread (and on
 * malloc_trim), never waits for another broker call, and costs one round
 * trip to the broker when it returns something.
 *
 * With BROKER_BIDIRECTIONAL the attachment's helper thread answers the
 * broker's give-back queries by lowering the budget, down to the pages
 * holding blocks (the pool is no floor there).
 *
 * A forked child starts with its parent's budget copy and a balance of 0
 * (libmbclient opens the child's own connection at its first call); its
 * growth is requested from the broker as the parent's is.
 */
#include "gmalloc/gm_internal.h"

#include "anr/anr_membroker.h"
#include "common/strbuf.h"
#include "membroker/client.h"

static struct anr_membroker broker;
bool gm_broker_on;

static void say_error(const char *what, int rc)
{
    char msg[256];
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, msg, sizeof msg);
    mb_strbuf_append(&sb, "gmalloc: USE_MEMBROKER: ");
    mb_strbuf_append(&sb, what);
    mb_strbuf_append(&sb, ": ");
    mb_strbuf_append(&sb, mb_client_strerror(rc));
    mb_strbuf_append_char(&sb, '\n');
    gm_write_all(2, msg, sb.len);
}

void gm_broker_prepare(struct anr_options *o)
{
    if (gm_set.use_membroker && !gm_set.no_autorequest_memory)
        anr_membroker_hook(&broker, o);
}

void gm_broker_start(void)
{
    anr_heap *h = atomic_load_explicit(&gm_heap, memory_order_acquire);
    if (!gm_set.use_membroker || h == NULL)
        return;
    struct anr_membroker_options o;
    anr_membroker_options_init(&o);
    o.name = "gmalloc";
    o.bidirectional = gm_set.broker_bidirectional;
    o.floor_bytes = gm_set.pool_size;
    int rc = anr_membroker_attach(&broker, h, &o);
    if (rc != 0) {
        say_error("cannot set up the client", rc);
        return;
    }
    gm_broker_on = true;
    rc = anr_membroker_reserve_budget(&broker, gm_set.pool_size, 2000);
    if (rc != 0)
        say_error("cannot reserve POOL_SIZE (running on the pool unbacked)", rc);
}

void gm_broker_return_surplus(void)
{
    if (gm_broker_on)
        (void)anr_membroker_return_surplus(&broker);
}

void gm_broker_stats(struct gmalloc_stats *out)
{
    struct anr_membroker_stats s;
    anr_membroker_get_stats(&broker, &s);
    out->broker_active = s.attached;
    out->broker_pool_backed = s.budget_backed;
    out->broker_requests = s.requests + s.reserves;
    out->broker_granted_bytes = s.granted_bytes;
    out->broker_returned_bytes = s.returned_bytes;
    out->broker_giveback_queries = s.giveback_queries;
    out->broker_giveback_bytes = s.giveback_bytes;
    out->broker_balance_bytes = s.balance_bytes;
}
