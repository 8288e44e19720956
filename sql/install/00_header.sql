/* orders_stream: DynamoDB Streams for PostgreSQL.  The install script is
 * sql/install/*.sql concatenated in name order by the Makefile. */

\echo Use "CREATE EXTENSION orders_stream" to load this file. \quit

