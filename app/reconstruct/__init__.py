"""The Reconstruct tab: scans in, neural level-set surfaces out."""
