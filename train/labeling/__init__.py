"""Labeled data: reading, validation, statistics, batches for parallel readers, agreement."""
