"""Lightning tasks of the plugin."""

from axion_terratorch.tasks.sar_grounding import SARGroundingTask

__all__ = ["SARGroundingTask"]
