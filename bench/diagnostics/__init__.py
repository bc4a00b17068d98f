"""One-off model diagnostics whose figures docs/MODEL.md quotes (not benchmark sections: they print F1, not time)."""
