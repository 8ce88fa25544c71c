"""Daily digests: the subscription store, slots, building, broadcasting, and digests in groups and channels."""
