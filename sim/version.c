/*
 * The library's version, as configure wrote it into <xensim/version.h>:
 * a program compares it with the header's XENSIM_VERSION_STRING to see
 * which library it runs with.
 */
#include <xensim/version.h>

const char *xensim_version(void)
{
    return XENSIM_VERSION_STRING;
}
