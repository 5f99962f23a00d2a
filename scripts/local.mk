# scripts/: checks the build runs over the whole tree.
EXTRA_DIST += scripts/check-walls

# A relative #include that leaves its folder would jump the walls the -I
# flags draw (see scripts/check-walls): a plain `make` fails on one.
.PHONY: check-walls
check-walls:
	@$(SHELL) $(top_srcdir)/scripts/check-walls $(top_srcdir)
all-local: check-walls
