"""Sync of the portfolio through storage the user already has (see docs/sync.md).

``rows`` and ``merge`` are the pure core (the portfolio as keyed rows; the three-way merge),
``envelope`` the bytes of one version, ``remote``/``stores`` the storage adapters, ``engine``
status/pull/push, ``files`` and ``book_copy`` the two kinds of local copy.
"""
