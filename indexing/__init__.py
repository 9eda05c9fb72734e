"""Scanning, decoding, EXIF, thumbnails, the indexing pipeline and the stores (SQLite + FAISS)."""
