"""Tests of microinit.nn (a package, so that these file names cannot clash with tests of other packages)."""
