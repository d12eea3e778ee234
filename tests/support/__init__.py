"""What the tests share: helpers only (fixtures stay in the conftest files).

Tests import from here and never from one another, so a test module can be
moved or deleted without breaking a neighbour.
"""
