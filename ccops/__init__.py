"""ccops: supervise the cc-ci claude loops and rescue their VM."""
