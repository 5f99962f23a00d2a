# scripts/: checks the build runs over the whole tree.
EXTRA_DIST += scripts/check-walls scripts/check-install

# A relative #include that leaves its folder would jump the walls the -I
# flags draw (see scripts/check-walls): a plain `make` fails on one.
.PHONY: check-walls
check-walls:
	@$(SHELL) $(top_srcdir)/scripts/check-walls $(top_srcdir)
all-local: check-walls

# make installcheck (after make install, with the same DESTDIR if any):
# the installed page, program, library, headers and xensim.pc work
# without the build tree (scripts/check-install).
installcheck-local:
	@$(SHELL) $(top_srcdir)/scripts/check-install '$(bindir)' '$(libdir)' \
		'$(includedir)' '$(webdir)' '$(pkgconfigdir)' '$(top_srcdir)/web'
