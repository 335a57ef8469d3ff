"""The jwtseal CDK app: one construct per concern, composed by a thin stack."""

from .api import TokenApi
from .config import StackConfig
from .generator import KeyGenerator
from .handler import Handler
from .stack import JwtsealStack
from .storage import KeyStorage

__all__ = ["Handler", "JwtsealStack", "KeyGenerator", "KeyStorage", "StackConfig", "TokenApi"]
