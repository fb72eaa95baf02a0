/* mbtest.h: the project's unit-test helper.
 *
 * A test program is a plain main() that runs test functions with MBT_RUN and
 * ends with `return mbt_finish();`. Every check that fails prints the file,
 * line, the expression, and the expected and actual values, and the test
 * function it belongs to counts as failed. mbt_finish() prints one plain
 * summary line ("<program>: N passed, N failed") and returns the exit status.
 *
 *     static void test_parse_suffix(void) {
 *         MBT_EQ_U64(65536, parse("64K"));
 *     }
 *     int main(void) { MBT_RUN(test_parse_suffix); return mbt_finish(); }
 *
 * Header-only so each test is a single translation unit plus what it tests.
 */
#ifndef MBTEST_H
#define MBTEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A test's reproducible random stream: Marsaglia's xorshift64. Advances
 * *state (never 0) and returns the new value. */
static inline uint64_t mbt_xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

struct mbt_state {
    const char *current_test;
    unsigned tests_passed;
    unsigned tests_failed;
    unsigned long checks;
    unsigned failures_in_current;
};

static struct mbt_state mbt_state_;

static inline bool mbt_record_(bool ok, const char *file, int line, const char *what)
{
    mbt_state_.checks++;
    if (!ok) {
        mbt_state_.failures_in_current++;
        fprintf(stderr, "%s:%d: FAIL in %s: %s\n", file, line,
                mbt_state_.current_test ? mbt_state_.current_test : "(no test)", what);
    }
    return ok;
}

static inline bool mbt_eq_u64_(uint64_t expected, uint64_t actual, const char *file, int line,
                               const char *expr)
{
    bool ok = expected == actual;
    if (!mbt_record_(ok, file, line, expr))
        fprintf(stderr, "    expected %" PRIu64 " (0x%" PRIx64 "), actual %" PRIu64 " (0x%" PRIx64 ")\n",
                expected, expected, actual, actual);
    return ok;
}

static inline bool mbt_eq_i64_(int64_t expected, int64_t actual, const char *file, int line,
                               const char *expr)
{
    bool ok = expected == actual;
    if (!mbt_record_(ok, file, line, expr))
        fprintf(stderr, "    expected %" PRId64 ", actual %" PRId64 "\n", expected, actual);
    return ok;
}

static inline bool mbt_eq_str_(const char *expected, const char *actual, const char *file,
                               int line, const char *expr)
{
    bool ok = (expected == NULL && actual == NULL) ||
              (expected != NULL && actual != NULL && strcmp(expected, actual) == 0);
    if (!mbt_record_(ok, file, line, expr))
        fprintf(stderr, "    expected \"%s\"\n    actual   \"%s\"\n",
                expected ? expected : "(null)", actual ? actual : "(null)");
    return ok;
}

static inline bool mbt_eq_mem_(const void *expected, const void *actual, size_t len,
                               const char *file, int line, const char *expr)
{
    const unsigned char *e = expected, *a = actual;
    size_t i = 0;
    while (i < len && e[i] == a[i])
        i++;
    bool ok = i == len;
    if (!mbt_record_(ok, file, line, expr))
        fprintf(stderr, "    first difference at byte %zu of %zu: expected 0x%02x, actual 0x%02x\n",
                i, len, e[i], a[i]);
    return ok;
}

#define MBT_CHECK(cond) mbt_record_((cond) ? true : false, __FILE__, __LINE__, #cond)
#define MBT_TRUE(cond) MBT_CHECK(cond)
#define MBT_FALSE(cond) mbt_record_((cond) ? false : true, __FILE__, __LINE__, "!(" #cond ")")
#define MBT_EQ_U64(expected, actual) \
    mbt_eq_u64_((uint64_t)(expected), (uint64_t)(actual), __FILE__, __LINE__, #actual " == " #expected)
#define MBT_EQ_I64(expected, actual) \
    mbt_eq_i64_((int64_t)(expected), (int64_t)(actual), __FILE__, __LINE__, #actual " == " #expected)
#define MBT_EQ_INT(expected, actual) MBT_EQ_I64(expected, actual)
#define MBT_EQ_STR(expected, actual) \
    mbt_eq_str_((expected), (actual), __FILE__, __LINE__, #actual " == " #expected)
#define MBT_EQ_MEM(expected, actual, len) \
    mbt_eq_mem_((expected), (actual), (len), __FILE__, __LINE__, #actual " == " #expected)
#define MBT_EQ_PTR(expected, actual) \
    MBT_EQ_U64((uintptr_t)(const void *)(expected), (uintptr_t)(const void *)(actual))
#define MBT_NULL(ptr) MBT_CHECK((ptr) == NULL)
#define MBT_NOT_NULL(ptr) MBT_CHECK((ptr) != NULL)

/* Stops the current test function when a precondition fails. */
#define MBT_REQUIRE(cond)   \
    do {                    \
        if (!MBT_CHECK(cond)) \
            return;         \
    } while (0)

static inline void mbt_run_(void (*fn)(void), const char *name)
{
    mbt_state_.current_test = name;
    mbt_state_.failures_in_current = 0;
    fn();
    if (mbt_state_.failures_in_current == 0) {
        mbt_state_.tests_passed++;
    } else {
        mbt_state_.tests_failed++;
        fprintf(stderr, "  %s: FAILED (%u checks)\n", name, mbt_state_.failures_in_current);
    }
    mbt_state_.current_test = NULL;
}

#define MBT_RUN(fn) mbt_run_((fn), #fn)

/* Prints "<program>: N passed, N failed" and returns the exit status. */
static inline int mbt_finish_named(const char *program)
{
    const char *slash = strrchr(program, '/');
    if (slash != NULL)
        program = slash + 1;
    fflush(stdout);
    fprintf(stderr, "%s: %u passed, %u failed (%lu checks)\n", program,
            mbt_state_.tests_passed, mbt_state_.tests_failed, mbt_state_.checks);
    if (mbt_state_.tests_passed + mbt_state_.tests_failed == 0) {
        fprintf(stderr, "%s: no test ran\n", program);
        return 1;
    }
    return mbt_state_.tests_failed == 0 ? 0 : 1;
}

#ifndef MBT_PROGRAM
#define MBT_PROGRAM __FILE__
#endif
#define mbt_finish() mbt_finish_named(MBT_PROGRAM)

#endif /* MBTEST_H */
