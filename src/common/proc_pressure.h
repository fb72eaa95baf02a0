/* proc_pressure.h: pressure stall information (PSI), parsed from a buffer.
 *
 * /proc/pressure/{memory,io,cpu} and a cgroup's memory.pressure hold
 *   some avg10=0.00 avg60=0.00 avg300=0.11 total=4698155
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
 * The averages are percentages with two decimals; they are kept as integer
 * hundredths (0.11 % is 11) so no floating point is parsed. total is the
 * cumulative stall time in microseconds. The "full" line is absent from
 * cpu before 5.13. Nothing here allocates or blocks.
 */
#ifndef MB_COMMON_PROC_PRESSURE_H
#define MB_COMMON_PROC_PRESSURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mb_pressure_line {
    uint32_t avg10;   /* hundredths of a percent: 10000 is 100.00 % */
    uint32_t avg60;
    uint32_t avg300;
    uint64_t total_us;
};

struct mb_pressure {
    bool has_some;
    bool has_full;
    struct mb_pressure_line some;
    struct mb_pressure_line full; /* zero when !has_full */
};

/* Parses buf[0..len) into *out (cleared first). Each non-blank line must be
 * "some" or "full" followed by avg10=, avg60=, avg300= (digits, '.', exactly
 * two digits) and total= (digits) in that order, separated by blanks; a last
 * line without '\n' is parsed like the others.
 * Returns 0; -ENODATA when there is no "some" line; or, with the 1-based
 * line number in *error_line (0 otherwise; error_line may be NULL),
 * -EINVAL for a malformed or repeated line and -ERANGE for a number too
 * large (an average above UINT32_MAX hundredths, a total above 64 bits). */
int mb_pressure_parse(const char *buf, size_t len, struct mb_pressure *out, size_t *error_line);

#endif
