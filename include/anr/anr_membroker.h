/* anr_membroker.h: an anr heap whose budget is membroker quota.
 *
 * Attaches one anr heap to mbserver through libmbclient: the heap's
 * need-more-memory callback asks the broker for quota (REQUEST, or RESERVE
 * when the allocating thread marked itself urgent) and raises the budget by
 * what was granted; quota the heap no longer uses goes back with hysteresis
 * (anr_membroker_return_surplus); and, when bidirectional, a helper thread
 * answers the broker's give-back queries by lowering the heap's budget
 * (trimming free pages as needed). docs/anr.md, "Membroker attachment".
 *
 * Promises:
 * - No heap allocation and no mmap-family call: the caller owns
 *   struct anr_membroker (static storage, say), libmbclient is heap-free.
 *   The one exception is pthread_create of the bidirectional helper thread
 *   (the new thread's stack and TLS, inside libc). So the module may be
 *   called from inside a malloc implementation (gmalloc does).
 * - Thread-safe: any thread may allocate (and so run the callback), return
 *   surplus or read the statistics at any time; one thread at a time talks
 *   to the broker for growth, the others wait and retry with what it got.
 * - Fork-safe: a forked child starts with balance 0 and opens its own
 *   connection at its first broker call (libmbclient); a bidirectional
 *   child starts its own helper thread once it has been granted quota.
 * - Nothing is printed; errors are return values (libmbclient's: negative
 *   errno or MB_CLIENT_ERR(code); mb_client_strerror names them).
 *
 * Use:
 *     static struct anr_membroker mb;
 *     struct anr_options ho;  anr_options_init(&ho);
 *     anr_membroker_hook(&mb, &ho);          // need_memory + user_data
 *     anr_heap_create(&ho, &heap);
 *     struct anr_membroker_options mo;  anr_membroker_options_init(&mo);
 *     anr_membroker_attach(&mb, heap, &mo);  // connects lazily
 *     anr_membroker_reserve_budget(&mb, ho.pool_size, 2000);  // back the pool
 *     ...   anr_membroker_return_surplus(&mb) now and then ...
 *     anr_membroker_detach(&mb);  anr_heap_destroy(heap);
 *
 * Link: libanr_membroker.a (this module), libmbclient, and libanr (or the
 * heap library in use). libanr itself does not depend on libmbclient.
 */
#ifndef ANR_ANR_MEMBROKER_H
#define ANR_ANR_MEMBROKER_H

#include "anr/anr_malloc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The caller's storage for one attachment; its contents are private.
 * Zero-filled storage (static, or memset) is "not attached". */
#define ANR_MEMBROKER_STORAGE_SIZE 4608u
struct anr_membroker {
    union {
        unsigned char bytes[ANR_MEMBROKER_STORAGE_SIZE];
        uint64_t align_u64;
        long double align_ld;
        void *align_ptr;
    } opaque;
};

struct anr_membroker_options {
    const char *socket_path; /* NULL: MEMBROKER_SOCKET, else the default socket */
    const char *name;        /* shown by mbctl status; NULL: "anr" */
    /* Register as a bidirectional client and start libmbclient's helper
     * thread, which answers give-back queries. Default false. */
    bool bidirectional;
    /* Least bytes asked per REQUEST (more when the allocation needs more).
     * Default 1 MiB. */
    uint64_t chunk_bytes;
    /* The surplus check never lowers the budget below this (typically the
     * pool the heap started with). Give-back queries ignore it: they may
     * take the budget down to the pages holding blocks. Default 0. */
    uint64_t floor_bytes;
    /* Hysteresis: surplus (budget above floor_bytes not holding blocks) is
     * returned only when it exceeds return_above_bytes, and then all of it
     * but keep_bytes. Defaults 4 and 1 times chunk_bytes. */
    uint64_t return_above_bytes;
    uint64_t keep_bytes;
    /* Longest wait for one REQUEST/RESERVE made by the callback (the
     * allocation waits that long at most). Default 2000 ms. */
    uint32_t timeout_ms;
    /* Longest wait for a RETURN of surplus. Default 100 ms. */
    uint32_t return_timeout_ms;
};

/* Statistics of one attachment (a racy snapshot of atomic counters). */
struct anr_membroker_stats {
    bool attached;
    bool budget_backed;       /* anr_membroker_reserve_budget succeeded */
    uint64_t balance_bytes;   /* quota held, libmbclient's count */
    uint64_t requests;        /* REQUESTs made by the callback */
    uint64_t reserves;        /* RESERVEs made by the callback (urgent) */
    uint64_t granted_bytes;   /* quota they brought that raised the budget */
    uint64_t refusals;        /* callback calls that gave up (refused, broker absent, limit) */
    uint64_t returned_bytes;  /* surplus RETURNed */
    uint64_t giveback_queries; /* give-back queries answered */
    uint64_t giveback_bytes;  /* quota they gave back */
};

/* Fills *opts with the defaults above. Never blocks. */
ANR_API void anr_membroker_options_init(struct anr_membroker_options *opts);

/* Sets heap_opts->need_memory to anr_membroker_need_memory and
 * heap_opts->user_data to mb, before anr_heap_create. Until attach, the
 * callback gives up (the budget is the limit). Never blocks. */
ANR_API void anr_membroker_hook(struct anr_membroker *mb, struct anr_options *heap_opts);

/* The callback itself, for users that chain it from their own (user_data
 * must be the struct anr_membroker *). Raises the heap's budget by what the
 * broker grants (REQUEST of at least chunk_bytes; RESERVE when the thread
 * is urgent), never past the heap's hard limit. Returns ANR_NEED_RETRY when
 * the budget went up (by this call or by another thread meanwhile),
 * ANR_NEED_GIVE_UP when the broker refused, is absent, or the hard limit is
 * reached. Blocks up to timeout_ms (plus libmbclient's cancel grace). */
ANR_API enum anr_need_result anr_membroker_need_memory(anr_heap *heap, size_t bytes,
                                                       unsigned attempt, void *mb);

/* Attaches mb (zeroed, or detached) to heap: sets up the client (no I/O:
 * it connects at its first call). opts NULL means the defaults. Returns 0,
 * -EALREADY when mb is attached, -EINVAL (heap NULL, keep_bytes >
 * return_above_bytes), or mb_client_init's error (-ENAMETOOLONG,
 * -EMFILE...). The heap must outlive the attachment. Does not block. */
ANR_API int anr_membroker_attach(struct anr_membroker *mb, anr_heap *heap,
                                 const struct anr_membroker_options *opts);

/* RESERVEs `bytes` (all or nothing) to back budget the heap already has
 * (its pool): the budget does not change. Starts the helper thread of a
 * bidirectional attachment. Returns 0, -ENODEV when not attached, or the
 * RESERVE's error. Blocks up to timeout_ms. */
ANR_API int anr_membroker_reserve_budget(struct anr_membroker *mb, uint64_t bytes,
                                         uint32_t timeout_ms);

/* The calling thread's allocations are urgent (true) or not (false): while
 * urgent, the callback RESERVEs (the broker takes quota back from other
 * clients, at urgent level) instead of REQUESTing. Returns the previous
 * value. Per thread, for every attachment; never blocks. */
ANR_API bool anr_membroker_set_urgent(bool urgent);

/* Hysteresis check: when the heap's budget above floor_bytes exceeds the
 * pages holding blocks by more than return_above_bytes, lowers the budget
 * (free pages go back to the kernel as needed) and RETURNs all of that
 * surplus but keep_bytes. Never waits for another thread talking to the
 * broker (it then does nothing); takes the heap's lock briefly. Returns
 * the bytes returned (0 when there was nothing to return). Blocks up to
 * return_timeout_ms when it returns something. */
ANR_API uint64_t anr_membroker_return_surplus(struct anr_membroker *mb);

/* Fills *out (zeroed when not attached). Never blocks. */
ANR_API void anr_membroker_get_stats(struct anr_membroker *mb, struct anr_membroker_stats *out);

/* Stops the helper thread and closes the connection: the broker takes the
 * balance back (the heap's budget does not change). Safe on zeroed or
 * detached storage. No other call may use mb meanwhile; the heap must not
 * allocate during the call. Blocks to join the helper thread. */
ANR_API void anr_membroker_detach(struct anr_membroker *mb);

#ifdef __cplusplus
}
#endif

#endif /* ANR_ANR_MEMBROKER_H */
