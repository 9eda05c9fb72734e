"""FastHTML/MonsterUI components (PascalCase functions) and the vendored static assets. No business logic."""
