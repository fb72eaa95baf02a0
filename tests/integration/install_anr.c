/* Built against the installed libanr through pkg-config: the header and
 * library a user gets work together. */
#include <anr/anr_malloc.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    if (anr_malloc_init(NULL) != 0)
        return 1;
    char *p = anr_malloc(100);
    if (p == NULL)
        return 2;
    strcpy(p, "hello");
    p = anr_realloc(p, 10000);
    if (p == NULL || strcmp(p, "hello") != 0)
        return 3;
    anr_free(p);
    char msg[128];
    if (anr_malloc_verify(msg, sizeof msg) != 0)
        return 4;
    anr_malloc_destroy();
    puts("install_anr: ok");
    return 0;
}
