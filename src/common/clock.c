/* clock.c: see clock.h. All arithmetic is uint64_t so 32-bit time_t and long
 * never overflow. */
#include "common/clock.h"

#include <limits.h>

/* The largest value of the signed integer type time_t, whatever its width. */
#define TIME_T_MAX ((time_t)((((uint64_t)1 << (sizeof(time_t) * CHAR_BIT - 2)) - 1) * 2 + 1))

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return mb_timespec_to_ns(&ts);
}

uint64_t mb_clock_monotonic_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

uint64_t mb_clock_realtime_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

uint64_t mb_ms_to_ns(uint64_t ms)
{
    if (ms > UINT64_MAX / MB_NSEC_PER_MSEC)
        return UINT64_MAX;
    return ms * MB_NSEC_PER_MSEC;
}

uint64_t mb_ns_to_ms_floor(uint64_t ns)
{
    return ns / MB_NSEC_PER_MSEC;
}

uint64_t mb_ns_to_ms_ceil(uint64_t ns)
{
    return ns / MB_NSEC_PER_MSEC + (ns % MB_NSEC_PER_MSEC != 0 ? 1 : 0);
}

uint64_t mb_timespec_to_ns(const struct timespec *ts)
{
    /* Normalise with 64-bit signed arithmetic: tv_nsec may be a 32-bit long. */
    int64_t sec = (int64_t)ts->tv_sec;
    int64_t nsec = (int64_t)ts->tv_nsec;
    int64_t carry = nsec / (int64_t)MB_NSEC_PER_SEC;
    nsec %= (int64_t)MB_NSEC_PER_SEC;
    if (nsec < 0) {
        nsec += (int64_t)MB_NSEC_PER_SEC;
        carry--;
    }
    if (__builtin_add_overflow(sec, carry, &sec))
        return carry > 0 ? UINT64_MAX : 0;
    if (sec < 0)
        return 0;
    uint64_t usec = (uint64_t)sec;
    if (usec > (UINT64_MAX - (uint64_t)nsec) / MB_NSEC_PER_SEC)
        return UINT64_MAX;
    return usec * MB_NSEC_PER_SEC + (uint64_t)nsec;
}

struct timespec mb_ns_to_timespec(uint64_t ns)
{
    struct timespec ts;
    uint64_t sec = ns / MB_NSEC_PER_SEC;
    if (sec > (uint64_t)TIME_T_MAX) {
        ts.tv_sec = TIME_T_MAX;
        ts.tv_nsec = (long)(MB_NSEC_PER_SEC - 1);
    } else {
        ts.tv_sec = (time_t)sec;
        ts.tv_nsec = (long)(ns % MB_NSEC_PER_SEC);
    }
    return ts;
}

uint64_t mb_deadline_after_ms(uint64_t now_ns, uint64_t ms)
{
    uint64_t delta = mb_ms_to_ns(ms);
    if (delta > MB_DEADLINE_NONE - now_ns)
        return MB_DEADLINE_NONE;
    return now_ns + delta;
}

uint64_t mb_deadline_from_now_ms(uint64_t ms)
{
    return mb_deadline_after_ms(mb_clock_monotonic_ns(), ms);
}

uint64_t mb_deadline_remaining_ns(uint64_t now_ns, uint64_t deadline_ns)
{
    if (deadline_ns == MB_DEADLINE_NONE)
        return UINT64_MAX;
    return deadline_ns > now_ns ? deadline_ns - now_ns : 0;
}

int mb_deadline_poll_timeout(uint64_t now_ns, uint64_t deadline_ns)
{
    if (deadline_ns == MB_DEADLINE_NONE)
        return -1;
    uint64_t ms = mb_ns_to_ms_ceil(mb_deadline_remaining_ns(now_ns, deadline_ns));
    return ms > (uint64_t)INT_MAX ? INT_MAX : (int)ms;
}
