"""The `vrex` command line and the flows it drives."""
