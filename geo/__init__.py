"""Geography on the ground floor: the gazetteer (a GPS position to the place a person would name), the
geocoder (place names and the location grammar to areas) and the country outlines. Imports nothing of
StyleSeek's but settings-free helpers; indexing, search and ui import it."""
