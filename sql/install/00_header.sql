-- orders_stream: DynamoDB Streams for PostgreSQL.  This install script is
-- built by the Makefile from the files of sql/install, in name order.

\echo Use "CREATE EXTENSION orders_stream" to load this file. \quit

