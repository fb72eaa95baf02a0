/* test_pressure_level.c: the level's rise, hold, step-down, state sources,
 * what is sent and when, and the next deadline; every time given. */
#include "mbtest.h"
#include "membroker/protocol.h"
#include "watch/pressure_level.h"

#define MS(x) ((uint64_t)(x) * 1000000u)

static struct mbw_level make(void)
{
    struct mbw_level l;
    struct mbw_level_config c = {.moderate_hold_ns = MS(5000), .critical_hold_ns = MS(2000),
                                 .resend_interval_ns = MS(1000)};
    mbw_level_init(&l, &c);
    return l;
}

static struct mbw_pressure_event pulse(uint8_t level, uint64_t t)
{
    return (struct mbw_pressure_event){.level = level, .kind = MBW_EVENT_PULSE, .time_ns = t,
                                       .count = 1};
}

static void test_rise_and_step_down(void)
{
    struct mbw_level l = make();
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_level_update(&l, MS(10)));
    struct mbw_pressure_event e = pulse(MB_PRESSURE_CRITICAL, MS(100));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 0, &e));
    /* Critical holds 2 s, then moderate until 5 s after the pulse. */
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_update(&l, MS(2099)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(2100)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(5099)));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_level_update(&l, MS(5100)));
    /* A moderate pulse during critical does not lower it. */
    e = pulse(MB_PRESSURE_CRITICAL, MS(6000));
    mbw_level_event(&l, 0, &e);
    e = pulse(MB_PRESSURE_MODERATE, MS(7000));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 0, &e));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(8000)));
    /* Moderate is held from the latest pulse (7 s): none at 12 s. */
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(11999)));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_level_update(&l, MS(12000)));
    MBT_EQ_U64(3, l.pulses);
    MBT_EQ_U64(0, l.states);
}

static void test_states(void)
{
    struct mbw_level l = make();
    struct mbw_pressure_event e = {.level = MB_PRESSURE_MODERATE, .kind = MBW_EVENT_STATE,
                                   .time_ns = MS(1), .count = 1};
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 3, &e));
    /* A state holds without new events, however long. */
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(3600000)));
    e.level = MB_PRESSURE_CRITICAL;
    e.time_ns = MS(10);
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 4, &e));
    e.level = MB_PRESSURE_NONE;
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 4, &e)); /* source 3 still moderate */
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_level_event(&l, 3, &e));
    /* The highest of states and pulses. */
    struct mbw_pressure_event p = pulse(MB_PRESSURE_MODERATE, MS(20));
    mbw_level_event(&l, 0, &p);
    e.level = MB_PRESSURE_CRITICAL;
    e.time_ns = MS(30);
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 5, &e));
    e.level = MB_PRESSURE_NONE;
    e.time_ns = MS(40);
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 5, &e));
    MBT_EQ_U64(6, l.states);
    /* An out-of-range level counts as critical; an out-of-table source is ignored. */
    e.level = 9;
    e.kind = MBW_EVENT_STATE;
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, MBW_LEVEL_MAX_SOURCES, &e));
    p.level = 9;
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 0, &p));
}

static void test_sending(void)
{
    struct mbw_level l = make();
    uint8_t lv = 99;
    /* Nothing sent yet: NONE goes out first. */
    MBT_TRUE(mbw_level_should_send(&l, MS(0), &lv));
    MBT_EQ_INT(MB_PRESSURE_NONE, lv);
    mbw_level_sent(&l, lv, MS(0));
    MBT_FALSE(mbw_level_should_send(&l, MS(1), &lv));
    struct mbw_pressure_event e = pulse(MB_PRESSURE_MODERATE, MS(100));
    mbw_level_event(&l, 0, &e);
    MBT_TRUE(mbw_level_should_send(&l, MS(100), &lv));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, lv);
    mbw_level_sent(&l, lv, MS(100));
    /* Same level, no new event: nothing to send, even after the interval. */
    MBT_FALSE(mbw_level_should_send(&l, MS(1500), &lv));
    /* New events: resent, but only once the interval has passed. */
    e.time_ns = MS(1600);
    mbw_level_event(&l, 0, &e);
    MBT_FALSE(mbw_level_should_send(&l, MS(1099), &lv));
    MBT_TRUE(mbw_level_should_send(&l, MS(1600), &lv));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, lv);
    mbw_level_sent(&l, lv, MS(1600));
    /* A lost connection: the same level is sent again at once. */
    mbw_level_forget_sent(&l);
    MBT_TRUE(mbw_level_should_send(&l, MS(1601), &lv));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, lv);
    mbw_level_sent(&l, lv, MS(1601));
    /* Quiet: NONE is due when the hold ends. */
    MBT_FALSE(mbw_level_should_send(&l, MS(6599), &lv));
    MBT_TRUE(mbw_level_should_send(&l, MS(6600), &lv));
    MBT_EQ_INT(MB_PRESSURE_NONE, lv);
}

static void test_no_resend_interval(void)
{
    struct mbw_level l;
    struct mbw_level_config c = {.moderate_hold_ns = MS(5000), .critical_hold_ns = MS(2000)};
    mbw_level_init(&l, &c);
    uint8_t lv;
    struct mbw_pressure_event e = pulse(MB_PRESSURE_MODERATE, MS(10));
    mbw_level_event(&l, 0, &e);
    MBT_TRUE(mbw_level_should_send(&l, MS(10), &lv));
    mbw_level_sent(&l, lv, MS(10));
    e.time_ns = MS(20000);
    mbw_level_event(&l, 0, &e);
    MBT_FALSE(mbw_level_should_send(&l, MS(20000), &lv)); /* changes only */
}

static void test_deadline(void)
{
    struct mbw_level l = make();
    MBT_EQ_U64(UINT64_MAX, mbw_level_next_deadline(&l, MS(0)));
    struct mbw_pressure_event e = pulse(MB_PRESSURE_CRITICAL, MS(1000));
    mbw_level_event(&l, 0, &e);
    MBT_EQ_U64(MS(3000), mbw_level_next_deadline(&l, MS(1000)));  /* critical ends */
    MBT_EQ_U64(MS(6000), mbw_level_next_deadline(&l, MS(3000)));  /* moderate ends */
    MBT_EQ_U64(UINT64_MAX, mbw_level_next_deadline(&l, MS(6000)));
    /* With a send and a later event, the resend is due first. */
    e.time_ns = MS(7000);
    mbw_level_event(&l, 0, &e);
    mbw_level_sent(&l, MB_PRESSURE_CRITICAL, MS(7000));
    e.time_ns = MS(7100);
    mbw_level_event(&l, 0, &e);
    MBT_EQ_U64(MS(8000), mbw_level_next_deadline(&l, MS(7100)));
    /* Overdue resend: now, not the past. */
    MBT_EQ_U64(MS(8500), mbw_level_next_deadline(&l, MS(8500)));
}

static void test_names(void)
{
    MBT_EQ_STR("none", mbw_level_name(MB_PRESSURE_NONE));
    MBT_EQ_STR("moderate", mbw_level_name(MB_PRESSURE_MODERATE));
    MBT_EQ_STR("critical", mbw_level_name(MB_PRESSURE_CRITICAL));
    MBT_EQ_STR("?", mbw_level_name(3));
}

int main(void)
{
    MBT_RUN(test_rise_and_step_down);
    MBT_RUN(test_states);
    MBT_RUN(test_sending);
    MBT_RUN(test_no_resend_interval);
    MBT_RUN(test_deadline);
    MBT_RUN(test_names);
    return mbt_finish();
}
