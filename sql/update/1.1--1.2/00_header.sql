-- orders_stream 1.1 -> 1.2.  This update script is built by the Makefile
-- from the files of sql/update/1.1--1.2, in name order: each change to
-- sql/install brings a fragment here that takes a 1.1 database to the same
-- state (t/096_upgrade.pl compares an updated database with a fresh one);
-- a file of sql/install that is new in 1.2 can be linked here as it is.
-- It runs in ALTER EXTENSION orders_stream UPDATE on a live database: the
-- workers of a new library wait meanwhile, and resume after its commit.

\echo Use "ALTER EXTENSION orders_stream UPDATE" to load this file. \quit
