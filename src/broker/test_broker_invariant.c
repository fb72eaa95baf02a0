/* Unit test for invariant.c: the witness must catch every kind of drift.
 * It reaches into the engine's records (broker_internal.h) to break one
 * book at a time, checks the error, and puts it back. */
#include "broker/broker_internal.h"
#include "broker/broker_test_util.h"

#include <errno.h>

static void expect_broken(struct mb_broker *b, const char *why_expected)
{
    const char *why = NULL;
    MBT_EQ_INT(-EFAULT, mb_broker_check(b, &why));
    MBT_EQ_STR(why_expected, why);
}

static void test_catches_drift(void)
{
    struct mb_broker *b = t_create_default(100);
    MBT_REQUIRE(b != NULL);
    mb_conn_t h = t_client(b, MB_KIND_BIDIRECTIONAL, "h", 0, 0);
    mb_conn_t a = t_client(b, MB_KIND_SIMPLE, "a", 0, 0);
    t_take(b, h, 95);
    t_amount(b, a, MB_MSG_REQUEST, 1, 10); /* 5 gathered, h asked for 5 */
    T_CHECK(b);

    b->pool++; /* a page appears from nowhere */
    expect_broken(b, "pool + balances + gathered != total + debt");
    b->pool--;

    b->clients[h].balance--; /* a page vanishes */
    expect_broken(b, "pool + balances + gathered != total + debt");
    b->clients[h].balance++;

    b->classes[0].held++;
    expect_broken(b, "class books drifted");
    b->classes[0].held--;

    b->asked_pages++;
    expect_broken(b, "asked pages sum drifted");
    b->asked_pages--;

    b->gathered++; /* the running sum, not a client's record */
    expect_broken(b, "gathered sum drifted");
    b->gathered--;

    b->lists[LIST_FIFO].count++;
    expect_broken(b, "pending FIFO is broken");
    b->lists[LIST_FIFO].count--;

    b->total++;
    b->pool++;
    expect_broken(b, "total != configured total + lent");
    b->total--;
    b->pool--;

    b->debt++; /* conserved, but an unpaid debt beside a non-empty pool */
    b->pool++;
    expect_broken(b, "pool and debt both non-zero");
    b->debt--;
    b->pool--;

    T_CHECK(b);
    mb_broker_destroy(b);
}

int main(void)
{
    MBT_RUN(test_catches_drift);
    return mbt_finish();
}
