"""Data only: the shipped licence types, one ``<code>.type.json`` + ``<code>.schema.json`` each."""
