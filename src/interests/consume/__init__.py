"""Reading the published nights without Spark or Airflow: a small Python API and the CLI commands.

    from interests.consume import NightReader
    reader = NightReader()                     # the latest published night under the config's lake
    reader.user("3f2a...").subinterests.to_pandas()
    reader.recommend("3f2a...", k=10, level="subinterest")

Every read resolves a *published* night (``publishing/nights.py``) and reads each table at the Delta
version that publication names, so staged or failed nights are never seen. Importing this package
does not import pyspark, airflow or torch.
"""

from interests.consume.errors import (
    EncoderMismatchError,
    NoPublishedNightError,
    ReaderArgumentError,
    UnknownItemError,
    UnknownUserError,
)
from interests.consume.reader import (
    LEVELS,
    NightReader,
    UserInterests,
    list_nights,
)

__all__ = [
    "LEVELS",
    "EncoderMismatchError",
    "NightReader",
    "NoPublishedNightError",
    "ReaderArgumentError",
    "UnknownItemError",
    "UnknownUserError",
    "UserInterests",
    "list_nights",
]
