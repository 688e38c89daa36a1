"""One APIRouter per resource; ``ROUTERS`` is what the app mounts."""
