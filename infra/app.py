"""The jwtseal CDK app: ``cdk synth`` / ``cdk deploy`` run this file.

It makes no network, AWS or git calls of its own; with ``-c jwtseal:bundle=false``
the whole synth runs offline (see README.md).
"""

from __future__ import annotations

import aws_cdk as cdk
from jwtseal_infra import JwtsealStack, StackConfig


def build(app: cdk.App) -> JwtsealStack:
    """The one stack, configured from the app's context."""
    return JwtsealStack(app, "Jwtseal", config=StackConfig.from_context(app.node))


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
