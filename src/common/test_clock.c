/* Unit tests for clock.c: conversions that saturate instead of wrapping,
 * including with a 32-bit time_t, and deadlines for poll(2). */
#include "common/clock.h"
#include "mbtest.h"

#include <limits.h>

static void test_clocks_move(void)
{
    uint64_t a = mb_clock_monotonic_ns();
    uint64_t b = mb_clock_monotonic_ns();
    MBT_CHECK(a > 0);
    MBT_CHECK(b >= a);
    /* Realtime is after 2020-01-01 and before 2200 on any sane machine. */
    uint64_t now = mb_clock_realtime_ns();
    MBT_CHECK(now > UINT64_C(1577836800) * MB_NSEC_PER_SEC);
    MBT_CHECK(now < UINT64_C(7258118400) * MB_NSEC_PER_SEC);
    struct timespec ts;
    MBT_REQUIRE(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    uint64_t c = mb_clock_monotonic_ns();
    MBT_CHECK(c >= mb_timespec_to_ns(&ts));
}

static void test_ms_ns(void)
{
    MBT_EQ_U64(0, mb_ms_to_ns(0));
    MBT_EQ_U64(1500000000, mb_ms_to_ns(1500));
    /* Above 2^32 ms: 64-bit arithmetic even on 32-bit ARM. */
    MBT_EQ_U64(UINT64_C(5000000000000000), mb_ms_to_ns(UINT64_C(5000000000)));
    MBT_EQ_U64(UINT64_MAX / 1000000 * 1000000, mb_ms_to_ns(UINT64_MAX / 1000000));
    MBT_EQ_U64(UINT64_MAX, mb_ms_to_ns(UINT64_MAX / 1000000 + 1));
    MBT_EQ_U64(UINT64_MAX, mb_ms_to_ns(UINT64_MAX));

    MBT_EQ_U64(0, mb_ns_to_ms_floor(999999));
    MBT_EQ_U64(1, mb_ns_to_ms_floor(1000000));
    MBT_EQ_U64(1, mb_ns_to_ms_floor(1999999));
    MBT_EQ_U64(0, mb_ns_to_ms_ceil(0));
    MBT_EQ_U64(1, mb_ns_to_ms_ceil(1));
    MBT_EQ_U64(1, mb_ns_to_ms_ceil(1000000));
    MBT_EQ_U64(2, mb_ns_to_ms_ceil(1000001));
    MBT_EQ_U64(UINT64_MAX / 1000000 + 1, mb_ns_to_ms_ceil(UINT64_MAX));
    MBT_EQ_U64(UINT64_MAX / 1000000, mb_ns_to_ms_floor(UINT64_MAX));
}

static void test_timespec_to_ns(void)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 0};
    MBT_EQ_U64(0, mb_timespec_to_ns(&ts));
    ts = (struct timespec){.tv_sec = 3, .tv_nsec = 250};
    MBT_EQ_U64(3000000250, mb_timespec_to_ns(&ts));
    /* 2038-01-19T03:14:07Z: the last second of a 32-bit time_t. */
    ts = (struct timespec){.tv_sec = INT32_MAX, .tv_nsec = 999999999};
    MBT_EQ_U64(UINT64_C(2147483647999999999), mb_timespec_to_ns(&ts));
    /* Unnormalised nanoseconds are carried into seconds. */
    ts = (struct timespec){.tv_sec = 1, .tv_nsec = 1500000000};
    MBT_EQ_U64(2500000000, mb_timespec_to_ns(&ts));
    ts = (struct timespec){.tv_sec = 2, .tv_nsec = -500000000};
    MBT_EQ_U64(1500000000, mb_timespec_to_ns(&ts));
    /* Before 1970 is 0. */
    ts = (struct timespec){.tv_sec = -1, .tv_nsec = 999999999};
    MBT_EQ_U64(0, mb_timespec_to_ns(&ts));
    ts = (struct timespec){.tv_sec = 0, .tv_nsec = -1};
    MBT_EQ_U64(0, mb_timespec_to_ns(&ts));
    if (sizeof(time_t) == 8) {
        /* Past UINT64_MAX ns saturates; so does the largest time_t. */
        ts = (struct timespec){.tv_sec = (time_t)(UINT64_C(18446744073)), .tv_nsec = 709551615};
        MBT_EQ_U64(UINT64_MAX, mb_timespec_to_ns(&ts));
        ts = (struct timespec){.tv_sec = (time_t)(UINT64_C(18446744073)), .tv_nsec = 709551614};
        MBT_EQ_U64(UINT64_MAX - 1, mb_timespec_to_ns(&ts));
        ts = (struct timespec){.tv_sec = (time_t)(UINT64_C(18446744074)), .tv_nsec = 0};
        MBT_EQ_U64(UINT64_MAX, mb_timespec_to_ns(&ts));
        ts = (struct timespec){.tv_sec = (time_t)INT64_MAX, .tv_nsec = 999999999};
        MBT_EQ_U64(UINT64_MAX, mb_timespec_to_ns(&ts));
    }
}

static void test_ns_to_timespec(void)
{
    struct timespec ts = mb_ns_to_timespec(0);
    MBT_EQ_I64(0, ts.tv_sec);
    MBT_EQ_I64(0, ts.tv_nsec);
    ts = mb_ns_to_timespec(UINT64_C(1795325425123456789));
    MBT_EQ_I64(INT64_C(1795325425), (int64_t)ts.tv_sec);
    MBT_EQ_I64(123456789, ts.tv_nsec);
    ts = mb_ns_to_timespec(UINT64_C(2147483647999999999));
    MBT_EQ_I64(INT32_MAX, ts.tv_sec);
    MBT_EQ_I64(999999999, ts.tv_nsec);
    /* One second past a 32-bit time_t: saturates there, exact elsewhere. */
    ts = mb_ns_to_timespec(UINT64_C(2147483648000000001));
    if (sizeof(time_t) == 4) {
        MBT_EQ_I64(INT32_MAX, ts.tv_sec);
        MBT_EQ_I64(999999999, ts.tv_nsec);
    } else {
        MBT_EQ_I64(INT64_C(2147483648), (int64_t)ts.tv_sec);
        MBT_EQ_I64(1, ts.tv_nsec);
    }
    ts = mb_ns_to_timespec(UINT64_MAX);
    if (sizeof(time_t) == 4) {
        MBT_EQ_I64(INT32_MAX, ts.tv_sec);
        MBT_EQ_I64(999999999, ts.tv_nsec);
    } else {
        MBT_EQ_I64(INT64_C(18446744073), (int64_t)ts.tv_sec);
        MBT_EQ_I64(709551615, ts.tv_nsec);
    }
    /* Round trip. */
    ts = mb_ns_to_timespec(UINT64_C(987654321012345678));
    MBT_EQ_U64(UINT64_C(987654321012345678), mb_timespec_to_ns(&ts));
}

static void test_deadlines(void)
{
    const uint64_t now = UINT64_C(5000000000000); /* any monotonic time */
    MBT_EQ_U64(now, mb_deadline_after_ms(now, 0));
    MBT_EQ_U64(now + 250 * MB_NSEC_PER_MSEC, mb_deadline_after_ms(now, 250));
    MBT_EQ_U64(MB_DEADLINE_NONE, mb_deadline_after_ms(now, UINT64_MAX));
    MBT_EQ_U64(MB_DEADLINE_NONE, mb_deadline_after_ms(UINT64_MAX - 1, 1));
    MBT_EQ_U64(UINT64_MAX - 1000000, mb_deadline_after_ms(UINT64_MAX - 2000000, 1));

    uint64_t deadline = mb_deadline_after_ms(now, 250);
    MBT_EQ_INT(250, mb_deadline_poll_timeout(now, deadline));
    MBT_EQ_INT(1, mb_deadline_poll_timeout(deadline - 1, deadline)); /* 1 ns left: 1 ms */
    MBT_EQ_INT(1, mb_deadline_poll_timeout(deadline - 1000000, deadline));
    MBT_EQ_INT(2, mb_deadline_poll_timeout(deadline - 1000001, deadline));
    MBT_EQ_INT(0, mb_deadline_poll_timeout(deadline, deadline));
    MBT_EQ_INT(0, mb_deadline_poll_timeout(deadline + 1, deadline));
    MBT_EQ_INT(-1, mb_deadline_poll_timeout(now, MB_DEADLINE_NONE));
    /* Far deadlines clamp to INT_MAX ms (24.8 days). */
    MBT_EQ_INT(INT_MAX, mb_deadline_poll_timeout(0, UINT64_MAX - 1));
    MBT_EQ_INT(INT_MAX, mb_deadline_poll_timeout(now, mb_deadline_after_ms(now, (uint64_t)INT_MAX + 1)));
    MBT_EQ_INT(INT_MAX, mb_deadline_poll_timeout(now, mb_deadline_after_ms(now, INT_MAX)));
    MBT_EQ_INT(INT_MAX - 1, mb_deadline_poll_timeout(now, mb_deadline_after_ms(now, INT_MAX - 1)));

    MBT_EQ_U64(250 * MB_NSEC_PER_MSEC, mb_deadline_remaining_ns(now, deadline));
    MBT_EQ_U64(0, mb_deadline_remaining_ns(deadline + 5, deadline));
    MBT_EQ_U64(UINT64_MAX, mb_deadline_remaining_ns(now, MB_DEADLINE_NONE));

    uint64_t before = mb_clock_monotonic_ns();
    uint64_t live = mb_deadline_from_now_ms(1000);
    uint64_t after = mb_clock_monotonic_ns();
    MBT_CHECK(live >= before + 1000 * MB_NSEC_PER_MSEC);
    MBT_CHECK(live <= after + 1000 * MB_NSEC_PER_MSEC);
}

int main(void)
{
    MBT_RUN(test_clocks_move);
    MBT_RUN(test_ms_ns);
    MBT_RUN(test_timespec_to_ns);
    MBT_RUN(test_ns_to_timespec);
    MBT_RUN(test_deadlines);
    return mbt_finish();
}
