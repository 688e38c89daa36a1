"""The shipped service definitions, one ``<CODE>.service.json`` each (see ../__init__.py)."""
