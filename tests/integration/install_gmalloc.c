/* Built against the installed libgmalloc through pkg-config: a program that
 * links it (instead of preloading it) gets gmalloc as its malloc, and the
 * inspection API of <anr/gmalloc.h> sees its blocks. */
#include <anr/gmalloc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    char *p = malloc(100);
    if (p == NULL)
        return 1;
    strcpy(p, "hello");
    if (!gmalloc_owns(p))
        return 2; /* the malloc linked is not gmalloc's */
    char *grown = realloc(p, 100000);
    if (grown == NULL)
        return 3;
    p = grown;
    if (strcmp(p, "hello") != 0 || !gmalloc_owns(p))
        return 3;
    struct gmalloc_stats stats;
    if (gmalloc_stats(&stats) != 0 || stats.heap.live_blocks == 0)
        return 4;
    free(p);
    char msg[128];
    if (gmalloc_verify(msg, sizeof msg) != 0)
        return 5;
    puts("install_gmalloc: ok");
    return 0;
}
