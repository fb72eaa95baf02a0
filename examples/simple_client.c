/* simple_client: the simple client of docs/integration.md, complete.
 *
 * A "decoder" that needs a working buffer per frame: before each frame it
 * asks mbserver for the buffer's quota (REQUEST: the broker may grant less,
 * or nothing, after a bounded wait), decodes only when it got all of it
 * (otherwise it skips the frame: the device has no room now, and it says
 * so instead of being OOM-killed), and returns the quota after.
 *
 *   simple_client [--frames N] [--mib M]
 *
 * Build against an installed membroker:
 *   cc simple_client.c $(pkg-config --cflags --libs membroker)
 */
#include <membroker/client.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mb_client broker; /* the library never allocates: we own this */

/* One frame: returns 0 when decoded, 1 when skipped for lack of quota, or a
 * negative libmbclient error. */
static int decode_frame(unsigned frame, uint64_t buffer_bytes)
{
    uint64_t granted = 0;
    int rc = mb_client_request_bytes(&broker, buffer_bytes, &granted);
    if (rc < 0)
        return rc;
    if (granted < buffer_bytes) {
        /* Degrade: keep nothing we cannot use. */
        if (granted > 0 && (rc = mb_client_return_bytes(&broker, granted)) < 0)
            return rc;
        printf("frame %u: skipped, the broker granted %llu of %llu bytes\n", frame,
               (unsigned long long)granted, (unsigned long long)buffer_bytes);
        return 1;
    }
    unsigned char *buffer = malloc((size_t)buffer_bytes);
    if (buffer == NULL) {
        mb_client_return_bytes(&broker, granted);
        return -ENOMEM;
    }
    memset(buffer, (int)(frame & 0xff), (size_t)buffer_bytes); /* the "decoding" */
    unsigned sum = 0;
    for (uint64_t i = 0; i < buffer_bytes; i += 4096)
        sum += buffer[i];
    free(buffer);
    printf("frame %u: decoded with %llu bytes (checksum %u)\n", frame,
           (unsigned long long)buffer_bytes, sum);
    return mb_client_return_bytes(&broker, granted);
}

static unsigned number_arg(const char *text, const char *name, unsigned max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno != 0 || v == 0 || v > max) {
        fprintf(stderr, "simple_client: %s wants a whole number from 1 to %u\n", name, max);
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    unsigned frames = 3, mib = 8;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc)
            frames = number_arg(argv[++i], "--frames", 1000000);
        else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
            mib = number_arg(argv[++i], "--mib", 1024);
        else {
            fprintf(stderr, "usage: simple_client [--frames N] [--mib M]\n");
            return 2;
        }
    }
    struct mb_client_options opts;
    mb_client_options_init(&opts);
    opts.name = "decoder";
    int rc = mb_client_init(&broker, &opts); /* connects on first use */
    unsigned decoded = 0, skipped = 0;
    for (unsigned f = 1; rc >= 0 && f <= frames; f++) {
        rc = decode_frame(f, (uint64_t)mib << 20);
        if (rc == 0)
            decoded++;
        else if (rc == 1)
            skipped++;
    }
    if (rc < 0) {
        fprintf(stderr, "simple_client: %s\n", mb_client_strerror(rc));
        mb_client_destroy(&broker);
        return 1;
    }
    printf("decoded %u, skipped %u, balance now %llu pages\n", decoded, skipped,
           (unsigned long long)mb_client_balance(&broker));
    mb_client_destroy(&broker);
    return 0;
}
