/* Start the workers now: capture creates the slot once this transaction commits. */
SELECT orders_stream_internal.launch_workers();
