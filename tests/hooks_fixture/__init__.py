"""A hook package for tests: every callback records its argument (see ``recorder``)."""
