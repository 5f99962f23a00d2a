# tests/gnttab.mk: Check suites for sim/gnttab*
