"""The demo athlete: a year of runs written as real FIT/GPX files, plus shoes, pain entries and RPE."""
