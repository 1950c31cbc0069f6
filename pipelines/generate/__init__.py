"""Sample-world generator: a deterministic B2B market written as landing files + ground truth.

``generate_world`` simulates the market; ``write_landing`` writes it per docs/data-contract.md.
Run ``python -m pipelines.generate --help`` for the command line.
"""

from pipelines.generate.world import World, generate_world
from pipelines.generate.writers import write_landing

__all__ = ["World", "generate_world", "write_landing"]
