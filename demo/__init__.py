"""The demo instance: seed data and generators, outside the domain. Only the
command line (views.cli) imports this package."""

from demo.seed import DEMO_ACTOR, DEMO_PASSWORD, current_code, describe
from demo.seed import seed as seed_demo

__all__ = ["DEMO_ACTOR", "DEMO_PASSWORD", "current_code", "describe", "seed_demo"]
