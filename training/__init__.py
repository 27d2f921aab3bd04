"""Offline jobs: building datasets from logged impressions, training and evaluating rankers.

They reach the database through `storage.store`, and rank with the same `ranking` code
that serves feeds.
"""
