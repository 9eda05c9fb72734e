"""Query handling, candidate search and find-similar over the vector indices."""
