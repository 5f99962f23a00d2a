# frontends: file lists for the top-level Makefile.am
