"""labkit: the helper package behind the course notebooks.

``lab = labkit.connect()`` points this kernel's plain ``boto3.client(...)`` calls
at the chosen backend and shows a banner. Importing labkit starts nothing.
"""

from labkit.errors import (
    BackendFailedToStart,
    BackendNotInstalled,
    BackendNotRunning,
    BackendRestarted,
    LabkitError,
    LocalStackAuthRequired,
    NoCredentials,
    PortInUse,
    RealAWSNotAllowed,
    UnknownBackend,
    WorkerFailed,
)
from labkit.lab import Lab, connect

__version__ = "0.1.0"

__all__ = [
    "BackendFailedToStart",
    "BackendNotInstalled",
    "BackendNotRunning",
    "BackendRestarted",
    "Lab",
    "LabkitError",
    "LocalStackAuthRequired",
    "NoCredentials",
    "PortInUse",
    "RealAWSNotAllowed",
    "UnknownBackend",
    "WorkerFailed",
    "__version__",
    "connect",
]
