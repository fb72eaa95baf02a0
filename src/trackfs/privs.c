/* privs.c: the kernel's rules for what a write takes from a file. */
#include "trackfs/privs.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

mode_t tfs_privs_kill_bits(mode_t mode)
{
    if (!S_ISREG(mode))
        return 0;
    mode_t kill = 0;
    if (mode & S_ISUID)
        kill |= S_ISUID;
    if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
        kill |= S_ISGID;
    return kill;
}

int tfs_privs_status_has_cap(const char *status, unsigned cap)
{
    static const char key[] = "CapEff:";
    if (cap > 63)
        return -EINVAL;
    for (const char *line = status; line != NULL && *line != '\0';) {
        if (strncmp(line, key, sizeof key - 1) == 0) {
            const char *at = line + sizeof key - 1;
            while (*at == ' ' || *at == '\t')
                at++;
            if (!isxdigit((unsigned char)*at)) /* strtoull would take a sign */
                return -EINVAL;
            char *end;
            errno = 0;
            unsigned long long set = strtoull(at, &end, 16);
            if (end == at || errno != 0 || (*end != '\n' && *end != '\0'))
                return -EINVAL;
            return (int)((set >> cap) & 1u);
        }
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return -EINVAL;
}
