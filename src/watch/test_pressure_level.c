/* test_pressure_level.c: the level's rise, hold, step-down, state sources
 * (held like pulses once they fall), what is sent and when, and the next
 * deadline; every time given. */
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

static struct mbw_pressure_event state(uint8_t level, uint64_t t)
{
    return (struct mbw_pressure_event){.level = level, .kind = MBW_EVENT_STATE, .time_ns = t,
                                       .count = 1};
}

static void test_states(void)
{
    struct mbw_level l = make();
    struct mbw_pressure_event e = state(MB_PRESSURE_MODERATE, MS(1));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 3, &e));
    /* A state holds without new events, however long; nothing runs out. */
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(3600000)));
    MBT_EQ_U64(UINT64_MAX, mbw_level_next_deadline(&l, MS(3600000)));
    /* Sources are independent: the highest counts. */
    e = state(MB_PRESSURE_CRITICAL, MS(10));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 4, &e));
    e = state(MB_PRESSURE_NONE, MS(20));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 4, &e)); /* held */
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_update(&l, MS(2019)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(2020))); /* source 3 */
    /* Source 3 leaves moderate at 3 s: held to 8 s, past source 4's 5.02 s. */
    e = state(MB_PRESSURE_NONE, MS(3000));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 3, &e));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(5020)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(7999)));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_level_update(&l, MS(8000)));
    MBT_EQ_U64(4, l.states);
    MBT_EQ_U64(0, l.pulses);
    /* The highest of states and pulses: a critical state over a moderate
     * pulse; once it falls, critical is held, then moderate to the later of
     * the pulse's hold and the fall's. */
    struct mbw_pressure_event p = pulse(MB_PRESSURE_MODERATE, MS(10000));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 0, &p));
    e = state(MB_PRESSURE_CRITICAL, MS(10100));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 5, &e));
    e = state(MB_PRESSURE_NONE, MS(10200));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 5, &e));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_update(&l, MS(12199)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(12200)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(15000))); /* pulse's ended */
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(15199)));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_level_update(&l, MS(15200)));
    MBT_EQ_U64(6, l.states);
    /* An out-of-range level counts as critical; an out-of-table source is ignored. */
    e = state(9, MS(20000));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_level_event(&l, MBW_LEVEL_MAX_SOURCES, &e));
    e = state(9, MS(20000));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 6, &e));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, l.state[6]);
    p = pulse(9, MS(20000));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 0, &p));
}

/* Usage rises: the level follows at once. Usage falls: the level it left
 * is held as if a pulse had just ended, until exactly the hold's expiry. */
static void test_state_fall_held(void)
{
    struct mbw_level l = make();
    struct mbw_pressure_event e = state(MB_PRESSURE_MODERATE, MS(1000));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 0, &e));
    MBT_EQ_U64(UINT64_MAX, mbw_level_next_deadline(&l, MS(1000)));
    e = state(MB_PRESSURE_NONE, MS(4000));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 0, &e));
    MBT_EQ_INT(MB_PRESSURE_NONE, l.state[0]);
    MBT_EQ_U64(MS(9000), mbw_level_next_deadline(&l, MS(4000)));
    MBT_EQ_U64(MS(9000), mbw_level_next_deadline(&l, MS(8999)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(8999)));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_level_update(&l, MS(9000)));
    MBT_EQ_U64(UINT64_MAX, mbw_level_next_deadline(&l, MS(9000)));

    /* From critical straight to none: critical until CRITICAL_HOLD after
     * the fall, moderate until MODERATE_HOLD after it. */
    e = state(MB_PRESSURE_CRITICAL, MS(10000));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 0, &e)); /* at once from none */
    e = state(MB_PRESSURE_NONE, MS(11000));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 0, &e));
    MBT_EQ_U64(MS(13000), mbw_level_next_deadline(&l, MS(11000)));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_update(&l, MS(12999)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(13000)));
    MBT_EQ_U64(MS(16000), mbw_level_next_deadline(&l, MS(13000)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(15999)));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_level_update(&l, MS(16000)));
    MBT_EQ_U64(UINT64_MAX, mbw_level_next_deadline(&l, MS(16000)));

    /* Critical -> moderate -> none: critical held after the first fall, the
     * moderate state then holds however long, and moderate is held from
     * the second fall. */
    e = state(MB_PRESSURE_CRITICAL, MS(20000));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 0, &e));
    e = state(MB_PRESSURE_MODERATE, MS(21000));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 0, &e));
    MBT_EQ_U64(MS(23000), mbw_level_next_deadline(&l, MS(21000)));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_update(&l, MS(22999)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(23000)));
    /* The moderate hold of the first fall runs out unseen (the state is
     * moderate anyway): a wake-up that changes nothing. */
    MBT_EQ_U64(MS(26000), mbw_level_next_deadline(&l, MS(23000)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(26000)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(100000)));
    MBT_EQ_U64(UINT64_MAX, mbw_level_next_deadline(&l, MS(100000)));
    e = state(MB_PRESSURE_NONE, MS(100000));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 0, &e));
    MBT_EQ_U64(MS(105000), mbw_level_next_deadline(&l, MS(100000)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(104999)));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_level_update(&l, MS(105000)));

    /* The same state again (more crossings, no change) starts no hold. */
    e = state(MB_PRESSURE_MODERATE, MS(110000));
    mbw_level_event(&l, 0, &e);
    e = state(MB_PRESSURE_MODERATE, MS(111000));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 0, &e));
    MBT_EQ_U64(UINT64_MAX, mbw_level_next_deadline(&l, MS(111000)));
    MBT_EQ_U64(0, l.pulses);
    MBT_EQ_U64(9, l.states);
}

/* A new rise while a fall's hold runs. */
static void test_state_rise_during_hold(void)
{
    struct mbw_level l = make();
    /* Critical -> none at 1 s, moderate again at 2 s: critical is still
     * held to 3 s, then the moderate state holds past the 6 s hold. */
    struct mbw_pressure_event e = state(MB_PRESSURE_CRITICAL, MS(0));
    mbw_level_event(&l, 0, &e);
    e = state(MB_PRESSURE_NONE, MS(1000));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 0, &e));
    e = state(MB_PRESSURE_MODERATE, MS(2000));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 0, &e));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_update(&l, MS(2999)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(3000)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(6000)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(60000)));

    /* Moderate -> none at 60 s (held to 65 s), critical at 62 s: at once,
     * above the hold; none again at 63 s: critical to 65 s, moderate to
     * 68 s (from the new fall, not 65 s from the old one). */
    e = state(MB_PRESSURE_NONE, MS(60000));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 0, &e));
    e = state(MB_PRESSURE_CRITICAL, MS(62000));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 0, &e));
    MBT_EQ_U64(MS(65000), mbw_level_next_deadline(&l, MS(62000))); /* the old hold */
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_update(&l, MS(62999)));
    e = state(MB_PRESSURE_NONE, MS(63000));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_event(&l, 0, &e));
    MBT_EQ_U64(MS(65000), mbw_level_next_deadline(&l, MS(63000)));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, mbw_level_update(&l, MS(64999)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(65000)));
    MBT_EQ_U64(MS(68000), mbw_level_next_deadline(&l, MS(65000)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(67999)));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_level_update(&l, MS(68000)));

    /* Up and down again within the hold: the hold restarts at the last fall. */
    e = state(MB_PRESSURE_MODERATE, MS(70000));
    mbw_level_event(&l, 0, &e);
    e = state(MB_PRESSURE_NONE, MS(71000));
    mbw_level_event(&l, 0, &e);
    e = state(MB_PRESSURE_MODERATE, MS(74000));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 0, &e));
    e = state(MB_PRESSURE_NONE, MS(75000));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 0, &e));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(76000))); /* first hold's end */
    MBT_EQ_U64(MS(80000), mbw_level_next_deadline(&l, MS(76000)));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(79999)));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_level_update(&l, MS(80000)));

    /* A pulse during a fall's hold extends it like any pulse. */
    e = state(MB_PRESSURE_MODERATE, MS(90000));
    mbw_level_event(&l, 0, &e);
    e = state(MB_PRESSURE_NONE, MS(91000));
    mbw_level_event(&l, 0, &e);
    struct mbw_pressure_event p = pulse(MB_PRESSURE_MODERATE, MS(93000));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_event(&l, 0, &p));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, mbw_level_update(&l, MS(97999)));
    MBT_EQ_INT(MB_PRESSURE_NONE, mbw_level_update(&l, MS(98000)));
}

/* What goes to the broker when usage falls: nothing until the hold ends,
 * then the lower level; the fall itself asks for no resend. */
static void test_state_fall_sending(void)
{
    struct mbw_level l = make();
    uint8_t lv = 99;
    MBT_TRUE(mbw_level_should_send(&l, MS(0), &lv));
    mbw_level_sent(&l, lv, MS(0));
    struct mbw_pressure_event e = state(MB_PRESSURE_CRITICAL, MS(100));
    mbw_level_event(&l, 0, &e);
    MBT_TRUE(mbw_level_should_send(&l, MS(100), &lv));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, lv);
    mbw_level_sent(&l, lv, MS(100));
    e = state(MB_PRESSURE_NONE, MS(500));
    mbw_level_event(&l, 0, &e);
    MBT_FALSE(l.event_since_send);
    /* Past the resend interval, but no event at the level: nothing. */
    MBT_FALSE(mbw_level_should_send(&l, MS(1500), &lv));
    MBT_EQ_INT(MB_PRESSURE_CRITICAL, lv);
    MBT_EQ_U64(MS(2500), mbw_level_next_deadline(&l, MS(1500)));
    MBT_FALSE(mbw_level_should_send(&l, MS(2499), &lv));
    MBT_TRUE(mbw_level_should_send(&l, MS(2500), &lv));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, lv);
    mbw_level_sent(&l, lv, MS(2500));
    MBT_EQ_U64(MS(5500), mbw_level_next_deadline(&l, MS(2500)));
    MBT_FALSE(mbw_level_should_send(&l, MS(5499), &lv));
    MBT_TRUE(mbw_level_should_send(&l, MS(5500), &lv));
    MBT_EQ_INT(MB_PRESSURE_NONE, lv);
    mbw_level_sent(&l, lv, MS(5500));
    MBT_EQ_U64(UINT64_MAX, mbw_level_next_deadline(&l, MS(5500)));
    /* A rise during a hold that keeps the sent level: resent as a new
     * give-back round once the interval has passed, as for pulses. */
    e = state(MB_PRESSURE_MODERATE, MS(6000));
    mbw_level_event(&l, 0, &e);
    MBT_TRUE(mbw_level_should_send(&l, MS(6000), &lv));
    mbw_level_sent(&l, lv, MS(6000));
    e = state(MB_PRESSURE_NONE, MS(6100));
    mbw_level_event(&l, 0, &e);
    e = state(MB_PRESSURE_MODERATE, MS(6200));
    mbw_level_event(&l, 0, &e);
    MBT_TRUE(l.event_since_send);
    MBT_EQ_U64(MS(7000), mbw_level_next_deadline(&l, MS(6200)));
    MBT_FALSE(mbw_level_should_send(&l, MS(6999), &lv));
    MBT_TRUE(mbw_level_should_send(&l, MS(7000), &lv));
    MBT_EQ_INT(MB_PRESSURE_MODERATE, lv);
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
    MBT_RUN(test_state_fall_held);
    MBT_RUN(test_state_rise_during_hold);
    MBT_RUN(test_state_fall_sending);
    MBT_RUN(test_sending);
    MBT_RUN(test_no_resend_interval);
    MBT_RUN(test_deadline);
    MBT_RUN(test_names);
    return mbt_finish();
}
