"""AWS Lambda edges: thin handlers over the same library as the HTTP service.

Each module is one Lambda function of the stack in ``infra/``:

- :mod:`jwtseal.aws.keys`: the key generator (CloudFormation custom
  resource and the daily maintenance schedule): creates, rotates and
  publishes the key set;
- :mod:`jwtseal.aws.encode`: ``POST /encode``, signs with the key set read
  from Secrets Manager (cached per warm container), or with
  ``JWTSEAL_SIGNER=aws-kms`` through KMS with the key ring's public copy in
  S3 (:mod:`jwtseal.aws.keyring_object`), reading no secret;
- :mod:`jwtseal.aws.decode`: ``POST /decode``, verifies against a JWKS URI
  with the library's remote verifier; it reads nothing private.

Handlers translate the API Gateway or CloudFormation event, call the
library, and render the answer; errors are the local service's
problem+json bodies.
"""

from ._config import store_from_environ

__all__ = ["store_from_environ"]
