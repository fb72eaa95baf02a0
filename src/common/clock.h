/* clock.h: time as uint64_t nanoseconds, and deadlines for poll(2).
 *
 * Everything is uint64_t nanoseconds so nothing overflows on 32-bit ARM,
 * where time_t and long may be 32 bits: conversions saturate instead of
 * wrapping. A deadline is a CLOCK_MONOTONIC time in ns; MB_DEADLINE_NONE
 * means "no deadline". The deadline helpers take `now` as a parameter so
 * tests need no sleeps. Nothing here allocates or blocks.
 */
#ifndef MB_COMMON_CLOCK_H
#define MB_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

#define MB_NSEC_PER_USEC UINT64_C(1000)
#define MB_NSEC_PER_MSEC UINT64_C(1000000)
#define MB_NSEC_PER_SEC UINT64_C(1000000000)

/* A deadline that never comes. */
#define MB_DEADLINE_NONE UINT64_MAX

/* CLOCK_MONOTONIC in ns (time since an arbitrary point, never goes back).
 * Returns 0 only if clock_gettime fails, which Linux does not do. */
uint64_t mb_clock_monotonic_ns(void);

/* CLOCK_REALTIME in ns since 1970 (0 if the clock is set before 1970). */
uint64_t mb_clock_realtime_ns(void);

/* ms to ns, saturating at UINT64_MAX. */
uint64_t mb_ms_to_ns(uint64_t ms);

/* ns to ms, rounded down. */
uint64_t mb_ns_to_ms_floor(uint64_t ns);

/* ns to ms, rounded up (a wait of 1 ns is a wait of 1 ms, never 0). */
uint64_t mb_ns_to_ms_ceil(uint64_t ns);

/* A timespec to ns; a negative time is 0, a time past UINT64_MAX ns
 * (year 2554) saturates. tv_nsec outside [0, 1e9) is normalised. */
uint64_t mb_timespec_to_ns(const struct timespec *ts);

/* ns to a timespec; when time_t cannot hold the seconds (32-bit time_t past
 * 2038) the result saturates at the largest time_t and 999999999 ns. */
struct timespec mb_ns_to_timespec(uint64_t ns);

/* now_ns + ms, saturating at MB_DEADLINE_NONE. */
uint64_t mb_deadline_after_ms(uint64_t now_ns, uint64_t ms);

/* mb_deadline_after_ms on the monotonic clock. */
uint64_t mb_deadline_from_now_ms(uint64_t ms);

/* The timeout argument for poll(2) that waits until deadline_ns: -1 for
 * MB_DEADLINE_NONE, 0 when the deadline has passed (or is now), otherwise the
 * remaining time in ms rounded up (so poll never returns before the deadline
 * and spins) and clamped to INT_MAX. */
int mb_deadline_poll_timeout(uint64_t now_ns, uint64_t deadline_ns);

/* Remaining ns until deadline_ns: 0 when passed, UINT64_MAX for none. */
uint64_t mb_deadline_remaining_ns(uint64_t now_ns, uint64_t deadline_ns);

#endif
