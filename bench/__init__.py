"""The benchmark (`make bench`): how fast the suite observes the platform, and what it costs."""
