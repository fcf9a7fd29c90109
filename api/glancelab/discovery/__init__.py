"""Version discovery (/, /versions) and the published JSON Schemas (/v2/schemas/...)."""
