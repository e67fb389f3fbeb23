"""The built-in world (sites, cables, links, countries) and loaders for optional data packs."""

from suanwang.world.builtin import load_builtin_world, load_world_file

__all__ = ["load_builtin_world", "load_world_file"]
